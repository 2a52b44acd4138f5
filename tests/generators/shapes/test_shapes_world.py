"""Scenes, rendering, captions and splits of the shapes world."""

from __future__ import annotations

import io
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from negforge.generators.shapes import SPLITS, ShapesConfig, heldout, scene_records, split_sizes
from negforge.generators.shapes.captions import CaptionSpec, NounPhrase, spec_holds, write_caption
from negforge.generators.shapes.records import scene_item
from negforge.generators.shapes.scene import (
    group_relation_holds,
    sample_scene,
    scene_pairs,
    scene_triples,
    uses_heldout,
)
from negforge.generators.shapes.vocab import (
    COLORS,
    NUMBER_WORDS,
    RELATION_PHRASES,
    SHAPES,
    SIZES,
    relation_of_phrase,
)
from negforge.schemas import records_to_table

SMALL = ShapesConfig(n_train=60, n_val=20, n_test=40)


def test_same_seed_gives_identical_bytes():
    a = scene_records(SMALL, "train", 0, 15)
    b = scene_records(ShapesConfig(n_train=60, n_val=20, n_test=40), "train", 0, 15)
    assert a == b  # dataclass equality covers captions, graphs and PNG bytes
    assert [r.image.bytes for r in a] == [r.image.bytes for r in b]


def test_other_seed_gives_other_world():
    a = scene_records(SMALL, "train", 0, 10)
    b = scene_records(replace(SMALL, seed=1), "train", 0, 10)
    assert [r.image.bytes for r in a] != [r.image.bytes for r in b]
    assert heldout(SMALL) != heldout(replace(SMALL, seed=1))


def test_chunking_does_not_change_records():
    whole = scene_records(SMALL, "test", 0, 12)
    chunked = (
        scene_records(SMALL, "test", 0, 5)
        + scene_records(SMALL, "test", 5, 7)
        + scene_records(SMALL, "test", 7, 12)
    )
    assert whole == chunked
    # Scene i does not depend on the split's size either.
    assert scene_records(replace(SMALL, n_test=500), "test", 7, 12) == scene_records(SMALL, "test", 7, 12)


def test_records_have_stable_ids_and_decodable_images():
    records = scene_records(SMALL, "val", 3, 6)
    assert [r.id for r in records] == [f"shapes-val-{i:06d}-c{j}" for i in range(3, 6) for j in range(2)]
    for r in records:
        assert r.source == "shapes-world" and r.split == "val" and r.negatives == ()
        assert (r.image.width, r.image.height) == (64, 64)
        img = Image.open(io.BytesIO(r.image.bytes))
        assert img.format == "PNG" and img.size == (64, 64) and img.mode == "RGB"
    # Records fit the Arrow schema the pipeline writes.
    assert records_to_table(records).num_rows == len(records)


def test_image_size_is_configurable():
    r = scene_records(replace(SMALL, image_size=96), "train", 0, 1)[0]
    assert Image.open(io.BytesIO(r.image.bytes)).size == (96, 96)
    assert (r.image.width, r.image.height) == (96, 96)


def test_split_sizes_and_range_checks():
    assert split_sizes(SMALL) == {"train": 60, "val": 20, "test": 40}
    with pytest.raises(ValueError, match="split"):
        scene_records(SMALL, "dev", 0, 1)
    with pytest.raises(ValueError, match="start <= stop"):
        scene_records(SMALL, "val", 0, 21)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"image_size": 8}, "image_size"),
        ({"n_train": -1}, "n_train"),
        ({"heldout_pairs": 99}, "heldout_pairs"),
        ({"captions_per_image": 0}, "captions_per_image"),
        ({"zero_shot_classes": "x"}, "zero_shot_classes"),
        ({"heldout_pairs": 0, "heldout_triples": 0}, "n_test"),
    ],
)
def test_config_validation(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ShapesConfig(**kwargs)


def test_heldout_combinations_split_train_from_test():
    held = heldout(SMALL)
    assert len(held.pairs) == 7 and len(held.triples) == 8
    # Every color and every shape still occurs in train: held-out pairs use each at most once.
    assert len({c for c, _ in held.pairs}) == len(held.pairs) == len({s for _, s in held.pairs})
    config = replace(SMALL, n_train=400, n_val=100, n_test=150)
    train_pairs, train_triples = set(), set()
    for split in ("train", "val"):
        for i in range(split_sizes(config)[split]):
            scene = sample_scene(config, split, i)
            assert not uses_heldout(scene, held), (split, i, scene)
            train_pairs |= scene_pairs(scene)
            train_triples |= scene_triples(scene)
    assert not train_pairs & held.pairs and not train_triples & held.triples
    # Apart from the held-out ones, train covers (nearly) every pair: the test is compositional, not OOV.
    assert len(train_pairs) == len(SHAPES) * len(COLORS) - len(held.pairs)
    n_pair = n_triple = 0
    for i in range(config.n_test):
        scene = sample_scene(config, "test", i)
        assert uses_heldout(scene, held)
        n_pair += bool(scene_pairs(scene) & held.pairs)
        n_triple += bool(scene_triples(scene) & held.triples)
    assert n_pair > 30 and n_triple > 30  # both kinds of held-out combination are tested


def test_held_out_pairs_never_named_in_train_captions():
    held = heldout(SMALL)
    names = {f"{c} {s}" for c, s in held.pairs} | {f"{c} {SHAPES[s]}" for c, s in held.pairs}
    for r in scene_records(replace(SMALL, n_train=200), "train", 0, 200):
        text = r.caption.replace("small ", "").replace("large ", "")
        assert not any(n in text for n in names), r.caption


def _assert_aligned(caption: str, graph) -> None:
    for obj in graph.objects:
        assert caption[obj.start : obj.end] == obj.text
        assert obj.lemma in SHAPES and obj.count in (1, 2, 3, 4)
        assert obj.text == (obj.lemma if obj.count == 1 else SHAPES[obj.lemma])
        for att in obj.attributes:
            assert caption[att.start : att.end] == att.text
            assert att.text in COLORS or att.text in SIZES or att.text in NUMBER_WORDS.values()
        # Numerals are attributes (the parser's convention, which the count rule relies on).
        numerals = [a.text for a in obj.attributes if a.text in NUMBER_WORDS.values()]
        assert numerals == ([] if obj.count == 1 else [NUMBER_WORDS[obj.count]])
        assert all(a.end < obj.start for a in obj.attributes)
    for rel in graph.relations:
        assert caption[rel.start : rel.end] == rel.predicate
        assert relation_of_phrase(rel.predicate) is not None
        assert graph.objects[rel.subject].end < rel.start < rel.end < graph.objects[rel.object].start


@pytest.mark.parametrize("split", SPLITS)
def test_captions_agree_with_scene_graph_and_scene(split):
    config = replace(SMALL, captions_per_image=3)
    for i in range(split_sizes(config)[split]):
        item = scene_item(config, split, i)
        assert 1 <= len(item.specs) <= 3
        captions = [write_caption(s)[0] for s in item.specs]
        assert len(set(captions)) == len(captions)
        for spec in item.specs:
            caption, graph = write_caption(spec)
            assert spec_holds(spec, item.scene), caption
            _assert_aligned(caption, graph)
            # The graph says what the scene says: every object is a group with that count and color.
            for obj in graph.objects:
                colors = [a.text for a in obj.attributes if a.text in COLORS]
                assert any(
                    g.shape == obj.lemma and g.color == colors[0] and g.count == obj.count
                    for g in item.scene.groups
                )


def test_relations_are_geometrically_exact():
    for i in range(40):
        scene = sample_scene(SMALL, "train", i)
        if scene.relation is not None:
            assert group_relation_holds(scene, 0, scene.relation, 1)
        objs = scene.objects
        for a in range(len(objs)):  # objects never overlap
            for b in range(a + 1, len(objs)):
                dist = ((objs[a].x - objs[b].x) ** 2 + (objs[a].y - objs[b].y) ** 2) ** 0.5
                assert dist > objs[a].radius + objs[b].radius
            assert 0 <= objs[a].x - objs[a].radius and objs[a].x + objs[a].radius <= 1


def test_rendered_colors_appear_in_the_image():
    """The image shows what the caption says: each group's color covers some pixels."""
    item = scene_item(SMALL, "train", 2)
    img = Image.open(io.BytesIO(item.png)).convert("RGB")
    pixels = list(img.getdata())
    for group in item.scene.groups:
        ref = COLORS[group.color]
        near = sum(1 for p in pixels if sum(abs(a - b) for a, b in zip(p, ref, strict=True)) < 60)
        assert near >= 4 * group.count, group


_np = st.builds(
    NounPhrase,
    shape=st.sampled_from(sorted(SHAPES)),
    color=st.sampled_from(sorted(COLORS)),
    size=st.sampled_from([None, *sorted(SIZES)]),
    count=st.integers(1, 4),
)


@settings(max_examples=150, deadline=None)
@given(
    nps=st.lists(_np, min_size=1, max_size=3),
    rel=st.sampled_from([None, *RELATION_PHRASES]),
    template=st.sampled_from(["plain", "there"]),
    k=st.integers(0, 2),
)
def test_writer_offsets_hold_for_any_spec(nps, rel, template, k):
    if rel is not None and len(nps) < 2:
        rel = None
    phrase = None if rel is None else RELATION_PHRASES[rel][k % len(RELATION_PHRASES[rel])]
    caption, graph = write_caption(CaptionSpec(tuple(nps), rel, phrase, template))
    _assert_aligned(caption, graph)
    assert len(graph.objects) == len(nps) and len(graph.relations) == (rel is not None)
    assert "  " not in caption and caption == caption.strip()
    assert " a orange" not in caption and not caption.startswith("a orange")
    first = nps[0]
    if template == "there":
        assert caption.startswith("there is " if first.count == 1 else "there are ")


def test_caption_rng_is_per_scene():
    """Caption choice depends on (seed, split, index) only, not on global random state."""
    random.seed(123)
    a = scene_records(SMALL, "train", 4, 5)
    random.seed(999)
    assert scene_records(SMALL, "train", 4, 5) == a


def test_records_can_carry_exact_negatives():
    config = replace(SMALL, truth_negatives_per_type=2)
    records = scene_records(config, "test", 0, 10)
    assert scene_records(config, "test", 0, 10) == records  # seeded per record id
    assert [r.caption for r in records] == [r.caption for r in scene_records(SMALL, "test", 0, 10)]
    types = set()
    for r in records:
        assert r.negatives
        per_type = {}
        for neg in r.negatives:
            per_type[neg.type] = per_type.get(neg.type, 0) + 1
            assert neg.text != r.caption and neg.generator == "shapes:truth@1"
            assert r.caption[: neg.edit.start] + neg.edit.after + r.caption[neg.edit.end :] == neg.text
        assert max(per_type.values()) <= 2
        types |= set(per_type)
    assert {"replace_obj", "replace_att", "add_obj"} <= types
    assert records_to_table(records).num_rows == len(records)


_DIGEST = """
import hashlib, sys
from negforge.generators.shapes import ShapesConfig, scene_records
h = hashlib.sha256()
for split in ("train", "test"):
    for r in scene_records(ShapesConfig(n_train=8, n_test=8, truth_negatives_per_type=1), split, 0, 8):
        h.update(r.id.encode() + r.caption.encode() + r.image.bytes + repr(r.scene_graph).encode())
        h.update(repr(r.negatives).encode())
sys.stdout.write(h.hexdigest())
"""


def test_identical_bytes_across_processes_and_hash_seeds():
    """Beam workers are separate processes with their own PYTHONHASHSEED: the world must not care."""
    import os
    import subprocess
    import sys

    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", _DIGEST], env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout)
    assert len(digests) == 1
