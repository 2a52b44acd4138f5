"""`negforge build --format shapes`: embedded images, exact graphs, truth filter accounting."""

from __future__ import annotations

import io
import json
from collections import Counter

import pyarrow.parquet as pq
import pytest
from PIL import Image

from negforge.generators.shapes import ShapesConfig, judge, scene_of
from negforge.pipeline.cli import main
from negforge.schemas import from_row


@pytest.fixture(scope="module")
def shapes_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("shapes") / "out"
    code = main([
        "build", "--format", "shapes", "--output", str(out), "--shards", "2", "--seed", "3",
        "--shapes-train", "30", "--shapes-val", "6", "--shapes-test", "6", "--image-size", "32",
        "--shapes-truth-negatives", "1",
    ])
    assert code == 0
    rows = [r for p in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    return out, rows, json.loads((out / "manifest.json").read_text())


def test_all_splits_written_with_png_images_and_exact_graphs(shapes_build):
    out, rows, manifest = shapes_build
    assert {f.name.split("-")[0] for f in (out / "data").glob("*.parquet")} == {"train", "val", "test"}
    assert manifest["counts"]["read"] == manifest["counts"]["written"] == len(rows) > 0
    for row in rows[:10]:
        with Image.open(io.BytesIO(row["image"]["bytes"])) as im:
            assert im.format == "PNG" and im.size == (32, 32) == (row["image"]["width"], row["image"]["height"])
        for obj in row["scene_graph"]["objects"]:
            assert row["caption"][obj["start"] : obj["end"]] == obj["text"]


def test_no_kept_negative_is_true_of_its_scene(shapes_build):
    _, rows, _ = shapes_build
    config = ShapesConfig(seed=3, n_train=30, n_val=6, n_test=6, image_size=32)
    checked = 0
    for row in rows:
        record = from_row(row)
        scene = scene_of(config, record.id)
        for neg in record.negatives:
            assert judge(neg.text, scene) != "true", (record.caption, neg)
            checked += 1
    assert checked > 0


def test_filter_counts_add_up_per_type(shapes_build):
    _, _, manifest = shapes_build
    stats = manifest["stats"]
    judged: Counter[str] = Counter()
    for key, value in stats.items():
        if key.startswith("shapes.judge."):
            judged[key.split(".")[3]] += int(value)
    for neg_type, total in judged.items():
        kept = manifest["counts"]["negatives_per_type"].get(neg_type, 0)
        assert total - int(stats.get(f"shapes.dropped.{neg_type}", 0)) == kept, neg_type


def test_card_shows_the_manifest_with_stage_statistics(shapes_build):
    """Generated records (no input files) and stage statistics: the card still states the manifest exactly."""
    from test_card_manifest import disagreements

    out, _, manifest = shapes_build
    assert manifest["inputs"] == [] and manifest["stats"]
    text = (out / "README.md").read_text()
    assert disagreements(text, manifest) == []
    assert "None: the records were generated" in text and "Stage statistics" in text


def test_truth_negatives_survive_the_rule_stage(shapes_build):
    """The reader's exact negatives (shapes:truth, one per type) reach the shards beside the
    rule negatives, first and without a repeated text; add_att has truth negatives even where
    no rule writes one."""
    _, rows, manifest = shapes_build
    truth_types: Counter[str] = Counter()
    for row in rows:
        record = from_row(row)
        texts = [n.text for n in record.negatives]
        assert len(texts) == len(set(texts)), record.caption
        generators = [n.generator.split("@")[0] for n in record.negatives]
        assert "shapes:truth" in generators, record.caption
        first_rule = next((i for i, g in enumerate(generators) if g != "shapes:truth"), len(generators))
        assert all(g != "shapes:truth" for g in generators[first_rule:])
        truth_types.update(n.type for n in record.negatives if n.generator.startswith("shapes:truth"))
    assert {"add_att", "swap_att", "replace_rel"} <= set(truth_types)
    assert manifest["counts"]["negatives_per_generator"]["shapes:truth@1"] == sum(truth_types.values())
