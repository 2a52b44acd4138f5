"""Shapes-world truth filter: drop "negatives" that are actually true of the image.

On shapes world every scene is known exactly, so unlike on real data a negative
can be *checked*: ``generators.shapes.judge`` reads a caption back into the
world's grammar and evaluates it against the scene. Rule generators sometimes
write a caption that still holds (e.g. ``add_att`` adding the object's real size
when the caption left it out); training on those teaches the model the opposite
of the truth. This stage drops them, and optionally negatives that leave the
world's language ("outside": words or grammar the world never produces, which a
blind text model spots), counting every verdict per type in the manifest stats.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any

import apache_beam as beam

from negforge.schemas import CaptionRecord

from . import STATS, DoFnStage


def judge_negatives(record: CaptionRecord, shapes_config: Any, drop_outside: bool) -> tuple[CaptionRecord, Counter]:
    """Pure part: the record with false-of-the-scene negatives only, and verdict counts."""
    from negforge.generators.shapes import judge, scene_of

    scene = scene_of(shapes_config, record.id)
    kept = []
    counts: Counter[str] = Counter()
    for neg in record.negatives:
        verdict = judge(neg.text, scene)
        counts[f"shapes.judge.{verdict}.{neg.type}"] += 1
        if verdict == "true" or (verdict == "outside" and drop_outside):
            counts[f"shapes.dropped.{neg.type}"] += 1
            continue
        kept.append(neg)
    return dataclasses.replace(record, negatives=tuple(kept)), counts


class _JudgeDoFn(beam.DoFn):
    def __init__(self, shapes_config: Any, drop_outside: bool):
        self._config = shapes_config
        self._drop_outside = drop_outside

    def process(self, record: CaptionRecord) -> Iterator[Any]:
        out, counts = judge_negatives(record, self._config, self._drop_outside)
        yield out
        for item in counts.items():
            yield beam.pvalue.TaggedOutput(STATS, item)


class ShapesTruthFilter(DoFnStage):
    """Stage (see ``pipeline.stages``): never dead-letters; only negatives are dropped."""

    def __init__(self, shapes_config: Any, drop_outside: bool = False):
        super().__init__(_JudgeDoFn(shapes_config, drop_outside))
