"""True negatives, SugarCrepe / zero-shot / retrieval exports and the `negforge shapes` command."""

from __future__ import annotations

import io
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from negforge.generators.shapes import ShapesConfig, export_sugarcrepe, export_zero_shot, heldout
from negforge.generators.shapes.captions import names_heldout, spec_holds, write_caption
from negforge.generators.shapes.negatives import WORLD_TYPES, negative_specs, true_negatives
from negforge.generators.shapes.records import scene_item
from negforge.pipeline.cli import main
from negforge.schemas import NEGATIVE_TYPES

SMALL = ShapesConfig(n_train=30, n_val=10, n_test=40, zero_shot_per_class=3)


def test_negatives_are_false_of_the_scene_and_differ():
    seen_types = set()
    for i in range(SMALL.n_test):
        item = scene_item(SMALL, "test", i)
        for spec in item.specs:
            positive, _ = write_caption(spec)
            for type in WORLD_TYPES:
                for cand in negative_specs(spec, item.scene, type):
                    text, _ = write_caption(cand)
                    assert text != positive and not spec_holds(cand, item.scene), (type, positive, text)
                    seen_types.add(type)
    assert seen_types == set(WORLD_TYPES)


def test_negative_types_edit_what_they_say():
    item = scene_item(SMALL, "test", 0)
    spec = item.specs[0]
    for cand in negative_specs(spec, item.scene, "replace_obj"):
        assert [n.shape for n in cand.nps] != [n.shape for n in spec.nps]
        assert [(n.color, n.count) for n in cand.nps] == [(n.color, n.count) for n in spec.nps]
    for cand in negative_specs(spec, item.scene, "add_obj"):
        assert len(cand.nps) == len(spec.nps) + 1
    for type in ("swap_obj", "swap_att"):
        for cand in negative_specs(spec, item.scene, type):
            key = "shape" if type == "swap_obj" else "color"
            assert sorted(getattr(n, key) for n in cand.nps) == sorted(getattr(n, key) for n in spec.nps)


def test_true_negatives_carry_type_generator_and_exact_edit():
    item = scene_item(SMALL, "test", 3)
    caption, _ = write_caption(item.specs[0])
    negatives = true_negatives(item.specs[0], item.scene, random.Random(0))
    assert negatives and len({n.type for n in negatives}) == len(negatives)
    for neg in negatives:
        assert neg.type in NEGATIVE_TYPES and neg.generator == "shapes:truth@1"
        e = neg.edit
        assert caption[e.start : e.end] == e.before
        assert caption[: e.start] + e.after + caption[e.end :] == neg.text != caption


def test_sugarcrepe_export_loads_and_is_deterministic(tmp_path):
    paths = export_sugarcrepe(SMALL, tmp_path / "a")
    assert set(paths) == set(WORLD_TYPES)
    total = 0
    for type, path in paths.items():
        table = json.loads(Path(path).read_text())
        assert Path(path).name == f"{type}.json" and table
        for key, entry in table.items():
            assert set(entry) == {"filename", "caption", "negative_caption"}
            assert entry["negative_caption"] != entry["caption"]
            assert key.startswith("shapes-test-")
            img = Image.open(tmp_path / "a" / "images" / entry["filename"])
            assert img.size == (64, 64)
            total += 1
    assert total >= 4 * SMALL.n_test
    export_sugarcrepe(SMALL, tmp_path / "b")
    for type in paths:
        assert (tmp_path / "a" / f"{type}.json").read_bytes() == (
            tmp_path / "b" / f"{type}.json"
        ).read_bytes()
    for png in (tmp_path / "a" / "images").iterdir():
        assert png.read_bytes() == (tmp_path / "b" / "images" / png.name).read_bytes()


def test_sugarcrepe_positives_name_held_out_combinations(tmp_path):
    """The compositional test: most positives *say* a combination train never showed."""
    held = heldout(SMALL)
    table = json.loads(Path(export_sugarcrepe(SMALL, tmp_path)["replace_att"]).read_text())
    named = 0
    for key, entry in table.items():
        _, split, index, caption = key.split("-")
        spec = scene_item(SMALL, split, int(index)).specs[int(caption[1:])]
        assert entry["caption"] == write_caption(spec)[0]
        named += names_heldout(spec, held)
    assert named >= 0.9 * len(table)


@pytest.mark.parametrize("classes, n_classes", [("shape", 7), ("color_shape", 7 * 8 - 7)])
def test_zero_shot_export_layout(tmp_path, classes, n_classes):
    config = replace(SMALL, zero_shot_classes=classes, zero_shot_per_class=2)
    info = export_zero_shot(config, tmp_path)
    classnames = json.loads((tmp_path / "classnames.json").read_text())
    templates = json.loads((tmp_path / "templates.json").read_text())
    folders = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert info["n_classes"] == len(classnames) == len(folders) == n_classes
    assert [c.replace(" ", "_") for c in classnames] == folders  # class k is folder k (ImageFolder order)
    assert templates and all("{}" in t for t in templates)
    assert info["n_images"] == 2 * n_classes
    for folder in folders:
        files = sorted((tmp_path / folder).iterdir())
        assert len(files) == 2 and all(f.suffix == ".png" for f in files)
        assert Image.open(files[0]).size == (64, 64)


def test_shapes_cli_materialises_the_world(tmp_path, capsys):
    out = tmp_path / "world"
    rc = main(
        [
            "shapes",
            "--out",
            str(out),
            "--n",
            "20",
            "--n-test",
            "12",
            "--seed",
            "3",
            "--image-size",
            "48",
            "--zero-shot-per-class",
            "2",
        ]
    )
    assert rc == 0
    assert "shapes world in" in capsys.readouterr().out
    world = json.loads((out / "world.json").read_text())
    assert world["config"]["seed"] == 3 and world["split_sizes"] == {"train": 20, "val": 2, "test": 12}
    for split, n in world["split_sizes"].items():
        lines = [json.loads(line) for line in (out / f"{split}.jsonl").read_text().splitlines()]
        assert len(lines) == world["counts"][split]["records"] == 2 * n
        for row in lines:
            assert {"id", "caption", "image_path", "split", "scene_graph"} <= set(row)
            assert row["split"] == split
            assert Image.open(out / row["image_path"]).size == (48, 48)
            for obj in row["scene_graph"]["objects"]:
                assert row["caption"][obj["start"] : obj["end"]] == obj["text"]
    retrieval = [json.loads(line) for line in (out / "retrieval" / "test.jsonl").read_text().splitlines()]
    assert len(retrieval) == 12 and all(len(r["captions"]) == 2 for r in retrieval)
    assert (out / "retrieval" / retrieval[0]["image_path"]).is_file()
    assert sorted(p.name for p in (out / "sugarcrepe").glob("*.json")) == sorted(
        f"{t}.json" for t in world["sugarcrepe"]
    )
    assert (out / "zero_shot" / "classnames.json").is_file()
    img = (out / "images" / "train" / "shapes-train-000000.png").read_bytes()
    assert Image.open(io.BytesIO(img)).format == "PNG"


def test_shapes_cli_rejects_bad_config(tmp_path):
    assert main(["shapes", "--out", str(tmp_path), "--n", "5", "--image-size", "4"]) == 2
