"""The dataset card: YAML the Hub and ``datasets`` understand, prose people can check."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest
import yaml
from sample_output import write_sample_output

from negforge.pipeline import card
from negforge.schemas.record import RECORD_SCHEMA


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    block = text.split("---\n", 2)[1]
    return yaml.safe_load(block)


def test_features_yaml_matches_datasets_for_record_schema():
    datasets = pytest.importorskip("datasets")
    expected = datasets.Features.from_arrow_schema(RECORD_SCHEMA)._to_yaml_list()
    assert card.features_yaml(RECORD_SCHEMA) == expected
    # And it round-trips into the same Features the shards load with.
    assert datasets.Features._from_yaml_list(card.features_yaml()) == datasets.Features.from_arrow_schema(
        RECORD_SCHEMA
    )


def test_features_yaml_other_types_match_datasets():
    datasets = pytest.importorskip("datasets")
    schema = pa.schema(
        [
            pa.field("tags", pa.list_(pa.string())),
            pa.field("x", pa.float64()),
            pa.field("ok", pa.bool_()),
            pa.field("n", pa.int64()),
            pa.field("nested", pa.list_(pa.list_(pa.int32()))),
        ]
    )
    assert card.features_yaml(schema) == datasets.Features.from_arrow_schema(schema)._to_yaml_list()


@pytest.mark.parametrize(
    ("rows", "expected"),
    [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (99_999, "10K<n<100K"), (2_500_000, "1M<n<10M")],
)
def test_size_category(rows, expected):
    assert card.size_category(rows) == expected


def test_write_card_front_matter_and_sections(tmp_path):
    manifest = write_sample_output(tmp_path)
    card.write_card(str(tmp_path), manifest)
    text = (tmp_path / "README.md").read_text()
    meta = _front_matter(text)

    assert meta["license"] == "cc-by-4.0"  # from the build config
    assert meta["size_categories"] == ["n<1K"]
    assert "zero-shot-image-classification" in meta["task_categories"]
    assert meta["configs"] == [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": "data/train-*.parquet"},
                {"split": "validation", "path": "data/validation-*.parquet"},
            ],
        }
    ]
    info = meta["dataset_info"]
    assert info["features"] == card.features_yaml(RECORD_SCHEMA)
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == {"train": 10, "validation": 4}
    shard_bytes = sum(p.stat().st_size for p in (tmp_path / "data").glob("*.parquet"))
    assert info["download_size"] == shard_bytes
    assert all(s["num_bytes"] > 0 for s in info["splits"])
    assert "## Examples" in text and "rule:test@1" in text
    for key in ("hsieh2023sugarcrepe", "yuksekgonul2023when", "oh2024preserving"):
        assert key in text
    assert not (tmp_path / "README.md.tmp").exists()


def test_write_card_is_deterministic_and_overwrites(tmp_path):
    manifest = write_sample_output(tmp_path)
    (tmp_path / "README.md").write_text("old card")
    card.write_card(str(tmp_path), manifest)
    first = (tmp_path / "README.md").read_text()
    card.write_card(str(tmp_path), manifest)
    assert (tmp_path / "README.md").read_text() == first != "old card"


def test_publish_options_change_title_license_and_snippet(tmp_path):
    manifest = write_sample_output(tmp_path)
    card.write_card(str(tmp_path), manifest, license="mit", repo_id="acme/neg-coco", pretty_name="Neg COCO")
    text = (tmp_path / "README.md").read_text()
    meta = _front_matter(text)
    assert meta["license"] == "mit" and meta["pretty_name"] == "Neg COCO"
    assert 'load_dataset("acme/neg-coco")' in text and "# Neg COCO" in text


def test_pick_examples_new_types_first_then_fill():
    rows = [
        {"caption": "a", "negatives": [{"type": "swap_att", "text": "a1", "generator": "g"},
                                       {"type": "replace_obj", "text": "a2", "generator": "g"}]},
        {"caption": "b", "negatives": [{"type": "replace_obj", "text": "b1", "generator": "g"}]},
        {"caption": "c", "negatives": [{"type": "replace_obj", "text": "c1", "generator": "g"},
                                       {"type": "count", "text": "c2", "generator": "g"}]},
        {"caption": "d", "negatives": []},
    ]
    examples = card.pick_examples(rows, limit=5)
    # Taxonomy order inside a record (replace_obj before swap_att); then unused records fill up.
    assert [(e["caption"], e["type"]) for e in examples] == [("a", "replace_obj"), ("c", "count"),
                                                              ("b", "replace_obj")]
    assert card.pick_examples(rows, limit=1) == examples[:1]
    assert card.pick_examples(rows, limit=2) == examples[:2]


def test_card_markdown_escapes_pipes(tmp_path):
    manifest = dataclasses.replace(write_sample_output(tmp_path, {"train": (1, 1)}), config={})
    splits = [card.SplitInfo("train", num_examples=1, num_bytes=1, download_size=1)]
    text = card.render_card(manifest, splits, [{"caption": "a | b", "type": "swap_obj", "negative": "b | a",
                                                "generator": "rule:x@1"}])
    assert "a \\| b" in text and "b \\| a" in text
    assert _front_matter(text)["license"] == card.DEFAULT_LICENSE  # the config names no license


def test_unknown_files_in_data_are_ignored(tmp_path, caplog):
    manifest = write_sample_output(tmp_path, {"train": (3, 1)})
    (tmp_path / "data" / "notes.parquet").write_bytes(b"junk")
    card.write_card(str(tmp_path), manifest)
    meta = _front_matter((tmp_path / "README.md").read_text())
    assert [s["name"] for s in meta["dataset_info"]["splits"]] == ["train"]
    assert "notes.parquet" in caplog.text


def test_load_dataset_reads_the_folder_with_splits_and_features(tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "out"
    manifest = write_sample_output(out)
    card.write_card(str(out), manifest)
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert set(ds) == {"train", "validation"}
    assert ds["train"].num_rows == 10 and ds["validation"].num_rows == 4
    assert ds["train"].features == datasets.Features.from_arrow_schema(RECORD_SCHEMA)
    row = ds["train"].sort("id")[0]
    assert row["id"] == "train-0000" and len(row["negatives"]) == 2
    assert row["negatives"][0]["type"] == "replace_obj"
    # errors/ and manifest.json are not data.
    assert "errors" not in ds
