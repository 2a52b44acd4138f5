"""Rule stage: records with scene graphs → records with rule negatives (pure generators inside).

Negatives a reader already attached (the shapes world's exact ``shapes:truth`` negatives) are
kept, first; rule negatives are added after them unless one says the same text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from negforge.generators import registry
from negforge.generators.config import GenerationConfig
from negforge.schemas import CaptionRecord

from ..errors import DeadLetter
from . import DEAD, METRICS_NAMESPACE, DoFnStage, Loaded, acquire_shared

STAGE = "generate"


def _load_resources() -> Any:
    """WordNet + curated vocabularies."""
    from negforge.generators.resources import load_resources

    return load_resources()


class _GenerateDoFn(beam.DoFn):
    def __init__(self, config: GenerationConfig):
        self._config = config
        self._shared = shared.Shared()
        self._counters: dict[str, Any] = {}
        self._failed = Metrics.counter(METRICS_NAMESPACE, "generate_failed")
        self._resources: Loaded | None = None

    def setup(self) -> None:
        self._resources = acquire_shared(self._shared, "negforge-resources", _load_resources)
        self._specs = registry.select(self._config.types)

    def teardown(self) -> None:
        self._resources = None

    def process(self, record: CaptionRecord) -> Iterator[Any]:
        try:
            negatives = registry.generate(
                record.caption, record.scene_graph, record.id, self._specs, self._resources.value, self._config
            )
        except Exception as exc:  # noqa: BLE001 - a generator bug must not lose the record
            self._failed.inc()
            yield beam.pvalue.TaggedOutput(DEAD, DeadLetter.from_exception(record, STAGE, exc))
            return
        for neg in negatives:
            counter = self._counters.get(neg.type)
            if counter is None:
                counter = self._counters[neg.type] = Metrics.counter(METRICS_NAMESPACE, f"negatives_{neg.type}")
            counter.inc()
        yield dataclasses.replace(record, negatives=merge_negatives(record.negatives, negatives))


def merge_negatives(existing, added) -> tuple:
    """``existing`` (in order), then each of ``added`` whose text is not there yet."""
    seen = {n.text for n in existing}
    out = list(existing)
    for neg in added:
        if neg.text not in seen:
            seen.add(neg.text)
            out.append(neg)
    return tuple(out)


class RuleNegatives(DoFnStage):
    """Every selected rule generator on every record (``GenerationConfig`` caps apply)."""

    def __init__(self, config: GenerationConfig):
        super().__init__(_GenerateDoFn(config))
