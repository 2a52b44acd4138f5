"""Reading captions back into specs and judging them against scenes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negforge.generators.shapes import ShapesConfig, scene_of, scene_records
from negforge.generators.shapes.captions import CaptionSpec, NounPhrase, write_caption
from negforge.generators.shapes.judge import judge, parse_spec
from negforge.generators.shapes.negatives import WORLD_TYPES, negative_specs
from negforge.generators.shapes.records import scene_item
from negforge.generators.shapes.vocab import COLORS, RELATION_PHRASES, SHAPES, SIZES

_np = st.builds(
    NounPhrase,
    shape=st.sampled_from(sorted(SHAPES)),
    color=st.sampled_from([None, *sorted(COLORS)]),  # rules write color-less phrases ("and a circle")
    size=st.sampled_from([None, *sorted(SIZES)]),
    count=st.integers(1, 4),
)


@settings(max_examples=200, deadline=None)
@given(
    nps=st.lists(_np, min_size=1, max_size=3),
    rel=st.sampled_from([None, *RELATION_PHRASES]),
    template=st.sampled_from(["plain", "there"]),
    k=st.integers(0, 2),
)
def test_parse_spec_inverts_the_writer(nps, rel, template, k):
    if rel is not None and len(nps) < 2:
        rel = None
    phrase = None if rel is None else RELATION_PHRASES[rel][k % len(RELATION_PHRASES[rel])]
    spec = CaptionSpec(tuple(nps), rel, phrase, template)
    assert parse_spec(write_caption(spec)[0]) == spec


def test_parse_spec_rejects_what_the_world_never_says():
    for caption in [
        "two red circle",  # agreement
        "a red circles",
        "a orange star",  # article
        "there is two red circles",
        "there are a red circle",
        "a red circle and a blue ring",  # vocabulary
        "an circle",
        "a crimson circle",
        "a red circle, a blue square",  # list without "and"
        "a red circle.",  # punctuation
        "A red circle",  # casing
        "a red circle next to a blue square",  # relation
        "",
    ]:
        assert parse_spec(caption) is None, caption


def test_judge_agrees_with_the_truth():
    config = ShapesConfig(n_test=20)
    for i in range(20):
        item = scene_item(config, "test", i)
        for spec in item.specs:
            assert judge(write_caption(spec)[0], item.scene) == "true"
            for type in WORLD_TYPES:
                for cand in negative_specs(spec, item.scene, type)[:3]:
                    assert judge(write_caption(cand)[0], item.scene) == "false"
        assert judge("a red circle and a blue ring", item.scene) == "outside"


def test_scene_of_record_id_judges_downstream_negatives():
    config = ShapesConfig(n_val=5)
    for record in scene_records(config, "val", 0, 5):
        scene = scene_of(config, record.id)
        assert judge(record.caption, scene) == "true"
    with pytest.raises(ValueError, match="record_id"):
        scene_of(config, "coco-123")
