"""Optional pipeline stages plugged in after rule generation.

Contract: a stage is a ``PTransform`` over ``PCollection[CaptionRecord]`` whose
``expand`` returns a :class:`StageOutput`: the records that go on, the
:class:`~negforge.pipeline.errors.DeadLetter` s of records that failed (a record
that fails a stage is dead-lettered whole, never silently dropped), and
``(key, value)`` statistics that the build sums into ``manifest.json["stats"]``
(e.g. ``("llm.rejected.not_parsed", 1)``). Ratios are reported as numerator and
denominator keys so they sum correctly across workers.
"""

from __future__ import annotations

from typing import NamedTuple

import apache_beam as beam


class StageOutput(NamedTuple):
    records: beam.PCollection
    dead: beam.PCollection
    stats: beam.PCollection
