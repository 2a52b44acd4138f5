"""Embed stage: copy each record's referenced image into the record (``--embed-images``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from negforge.schemas import CaptionRecord

from ..errors import DeadLetter
from . import DEAD, METRICS_NAMESPACE, DoFnStage

STAGE = "image"


class _EmbedImageDoFn(beam.DoFn):
    """An unreadable image dead-letters its record, naming the image."""

    def __init__(self) -> None:
        self._embedded = Metrics.counter(METRICS_NAMESPACE, "images_embedded")

    def process(self, record: CaptionRecord) -> Iterator[Any]:
        from ..images import ImageError, embed_image

        try:
            out = embed_image(record)
        except (ImageError, OSError) as exc:
            uri = record.image.uri if record.image else None
            yield beam.pvalue.TaggedOutput(DEAD, DeadLetter(uri or record.id, STAGE, str(exc), record.id, record.caption))
            return
        self._embedded.inc()
        yield out


class EmbedImages(DoFnStage):
    def __init__(self) -> None:
        super().__init__(_EmbedImageDoFn())
