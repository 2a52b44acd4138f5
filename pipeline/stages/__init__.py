"""Pipeline stages and the plumbing they share.

Contract: a stage is a ``PTransform`` over ``PCollection[CaptionRecord]`` whose
``expand`` returns a :class:`StageOutput`: the records that go on, the
:class:`~negforge.pipeline.errors.DeadLetter` s of records that failed (a record
that fails a stage is dead-lettered whole, never silently dropped), and
``(key, value)`` statistics that the build sums into ``manifest.json["stats"]``
(e.g. ``("llm.rejected.not_parsed", 1)``). Ratios are reported as numerator and
denominator keys so they sum correctly across workers.

A stage whose work is one ``DoFn`` (yield records; ``TaggedOutput(DEAD, ...)``
for failures, ``TaggedOutput(STATS, (key, value))`` for statistics) is just
``DoFnStage(MyDoFn(...))``; the build chains stages with :func:`apply_stages`.

Metrics: every DoFn counts under :data:`METRICS_NAMESPACE`. They are for
watching a run (Dataflow's UI, logs); the manifest's counts do not come from
them, because runners report metrics best-effort (DirectRunner in
``multi_processing`` mode and retried bundles can under- or over-count) while
the manifest must be exact: its counts are summed from the data each write
step actually wrote (see ``pipeline.build``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.utils import shared

#: The one Beam metrics namespace of negforge.
METRICS_NAMESPACE = "negforge"
#: Output tags of every stage DoFn (the main output is the records).
RECORDS = "records"
DEAD = "dead"
STATS = "stats"


class Loaded:
    """A weak-referenceable box around a loaded model (``shared.Shared`` keeps weak references,
    which a spaCy pipeline, a dict or a tokenizer may not support)."""

    def __init__(self, value: Any):
        self.value = value


def acquire_shared(handle: shared.Shared, tag: str, load: Callable[[], Any]) -> Loaded:
    """Load once per worker process through ``handle`` (create it in the DoFn's ``__init__``).

    Call from ``DoFn.setup`` and keep the returned box on the DoFn; drop it in
    ``teardown`` (``self._x = None``). Every DoFn instance and thread of a
    process that shares ``handle`` (Beam deserialises one per thread) gets the
    same object; ``tag`` reloads when the config behind it changes.
    """
    return handle.acquire(lambda: Loaded(load()), tag=tag)


class StageOutput(NamedTuple):
    records: beam.PCollection
    dead: beam.PCollection
    stats: beam.PCollection


class DoFnStage(beam.PTransform):
    """A stage that is one ``DoFn`` over records, or over batches of them when ``batch_size`` is set.

    ``min_batch_size`` / ``batch_size`` bound Beam's ``BatchElements``, which
    sizes batches adaptively; a DoFn that loads a model amortises one call over
    the batch.
    """

    def __init__(self, dofn: beam.DoFn, batch_size: int | None = None, min_batch_size: int = 1):
        super().__init__()
        if batch_size is not None and not 1 <= min_batch_size <= batch_size:
            raise ValueError(f"need 1 <= min_batch_size <= batch_size, got {min_batch_size!r}, {batch_size!r}")
        self._dofn = dofn
        self._batch_size = batch_size
        self._min_batch_size = min_batch_size

    def expand(self, records: beam.PCollection) -> StageOutput:
        pcoll = records
        if self._batch_size is not None:
            pcoll = pcoll | "Batch" >> beam.BatchElements(
                min_batch_size=self._min_batch_size, max_batch_size=self._batch_size
            )
        out = pcoll | "Run" >> beam.ParDo(self._dofn).with_outputs(DEAD, STATS, main=RECORDS)
        return StageOutput(out[RECORDS], out[DEAD], out[STATS])


class Chained(NamedTuple):
    """The records after the last stage, and every stage's dead letters and statistics."""

    records: beam.PCollection
    dead: list[beam.PCollection]
    stats: list[beam.PCollection]


def apply_stages(records: beam.PCollection, stages: Iterable[tuple[str, beam.PTransform]]) -> Chained:
    """Run ``stages`` (``(label, transform)``) one after the other, collecting their side outputs."""
    dead: list[beam.PCollection] = []
    stats: list[beam.PCollection] = []
    for label, stage in stages:
        out = records | label >> stage
        if not isinstance(out, StageOutput):
            raise TypeError(f"stage {label!r} must return a StageOutput, got {type(out).__name__}")
        records = out.records
        dead.append(out.dead)
        stats.append(out.stats)
    return Chained(records, dead, stats)
