"""Parse stage: records → records with scene graphs (spaCy, one ``nlp.pipe`` call per batch)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from negforge.schemas import CaptionRecord

from ..errors import DeadLetter
from . import DEAD, METRICS_NAMESPACE, DoFnStage, Loaded, acquire_shared

logger = logging.getLogger(__name__)

STAGE = "parse"


class Progress:
    """Per-worker progress lines on long runs, at most one every ``every_s`` seconds."""

    def __init__(self, what: str, every_s: float = 30.0):
        self._what = what
        self._every_s = every_s
        self._count = 0
        self._start: float | None = None
        self._last: float | None = None

    def add(self, n: int) -> None:
        now = time.monotonic()
        if self._start is None or self._last is None:
            self._start = self._last = now
        self._count += n
        if now - self._last >= self._every_s:
            self._last = now
            rate = self._count / max(now - self._start, 1e-9)
            logger.info("%s %d captions on this worker (%.0f/s)", self._what, self._count, rate)

    def __getstate__(self) -> dict:  # fresh counters on every worker
        return {"_what": self._what, "_every_s": self._every_s, "_count": 0, "_start": None, "_last": None}


def _load_nlp(model: str) -> Any:
    from negforge.generators.scene_graph import load_nlp

    return load_nlp(model)


class _ParseDoFn(beam.DoFn):
    """Batches of records → records with scene graphs; a record the parser fails on is a dead letter."""

    def __init__(self, model: str):
        self._model = model
        self._shared = shared.Shared()
        self._parsed = Metrics.counter(METRICS_NAMESPACE, "parsed_captions")
        self._latency = Metrics.distribution(METRICS_NAMESPACE, "parse_batch_latency_ms")
        self._nlp: Loaded | None = None
        self._progress = Progress("parsed")

    def setup(self) -> None:
        self._nlp = acquire_shared(self._shared, f"spacy:{self._model}", lambda: _load_nlp(self._model))

    def teardown(self) -> None:
        self._nlp = None  # Shared frees the pipeline once no DoFn of this process holds it

    def process(self, batch: Sequence[CaptionRecord]) -> Iterator[Any]:
        from negforge.generators.scene_graph import parse_captions

        nlp = self._nlp.value
        todo = [r for r in batch if r.scene_graph is None]
        for r in batch:
            if r.scene_graph is not None:
                yield r  # exact graphs (shapes world) are kept, not re-parsed
        if not todo:
            return
        started = time.monotonic()
        try:
            graphs = parse_captions(nlp, [r.caption for r in todo])
        except Exception:  # noqa: BLE001 - isolate the bad record below
            graphs = None
        self._latency.update(int((time.monotonic() - started) * 1000))
        self._progress.add(len(todo))
        if graphs is not None:
            self._parsed.inc(len(todo))
            for record, graph in zip(todo, graphs, strict=True):
                yield dataclasses.replace(record, scene_graph=graph)
            return
        for record in todo:  # one record broke the batch: find it, keep the rest
            try:
                graph = parse_captions(nlp, [record.caption])[0]
            except Exception as exc:  # noqa: BLE001 - any parser failure is a dead letter
                yield beam.pvalue.TaggedOutput(DEAD, DeadLetter.from_exception(record, STAGE, exc))
                continue
            self._parsed.inc()
            yield dataclasses.replace(record, scene_graph=graph)


class ParseCaptions(DoFnStage):
    """The parse stage: batches of 8..``batch_size`` records per ``nlp.pipe`` call."""

    def __init__(self, model: str, batch_size: int):
        super().__init__(_ParseDoFn(model), batch_size=batch_size, min_batch_size=min(8, batch_size))
