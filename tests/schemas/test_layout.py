"""The output layout: shard names, their one regex, split-name rules (shared by pipeline and training)."""

from __future__ import annotations

import pytest

from negforge.schemas import layout


@pytest.mark.parametrize("split", ["train", "validation", "val2014", "test.hard", "dev_1", "ünïcode"])
def test_valid_splits_round_trip_through_shard_names(split):
    name = layout.shard_name(split, 3, 16)
    assert name == f"{split}-00003-of-00016.parquet"
    assert layout.parse_shard_name(name) == layout.ShardName(split, 3, 16)
    assert layout.split_data_files(split) == f"data/{split}-*.parquet"


@pytest.mark.parametrize(
    ("split", "why"),
    [
        ("val-2014", "no '-'"),  # the card's glob "val-*" would also match this split's shards
        ("val/2014", "no '-', '/'"),  # would be a sub-folder of data/
        ("my split", "spaces"),
        ("", "must not be empty"),
        (".train", "not a valid split name"),
        ("train.", "not a valid split name"),
        ("x" * 65, "over 64"),
        (2014, "must be a string"),
    ],
)
def test_invalid_splits_say_why(split, why):
    problem = layout.split_problem(split)
    assert problem is not None and why in problem
    with pytest.raises(ValueError, match="split"):
        layout.check_split(split)


def test_split_names_are_what_datasets_accepts():
    """The rule is the Hub's: the names ``datasets`` accepts, and only those."""
    splits = pytest.importorskip("datasets.splits")
    for name in ["train", "val2014", "test.hard", "a_b.c_d"]:
        splits.NamedSplit(name)  # accepted by datasets
        assert layout.split_problem(name) is None
    for name in ["val-2014", "val/2014", "a b", ".x"]:
        with pytest.raises(ValueError):
            splits.NamedSplit(name)
        assert layout.split_problem(name) is not None


@pytest.mark.parametrize(
    "name",
    ["train-3-of-16.parquet", "train-00016-of-00016.parquet", "a-b-00000-of-00001.parquet",
     "train-00000-of-00001.parquet.tmp", ".tmp-x-train-00000-of-00001.parquet", "notes.parquet"],
)  # fmt: skip
def test_non_shard_names_do_not_parse(name):
    assert layout.parse_shard_name(name) is None


def test_shard_name_bounds_and_paths():
    with pytest.raises(ValueError, match="index"):
        layout.shard_name("train", 16, 16)
    with pytest.raises(ValueError, match="total"):
        layout.shard_name("train", 0, layout.MAX_SHARDS + 1)
    assert layout.data_shard_path("train", 0, 2) == "data/train-00000-of-00002.parquet"
    assert layout.error_shard_path(1, 2) == "errors/errors-00001-of-00002.parquet"


def test_shard_index_is_crc32_and_stable():
    import zlib

    assert layout.shard_index("j0", 3) == zlib.crc32(b"j0") % 3
    assert layout.shard_index("\udc80", 7) == zlib.crc32("\udc80".encode("utf-8", "surrogatepass")) % 7


def test_one_shard_regex_in_the_project():
    """Pipeline and training use layout's; no module defines its own shard-name pattern."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = []
    for folder in ("pipeline", "training", "generators", "schemas"):
        for path in (root / folder).rglob("*.py"):
            if path.name == "layout.py":
                continue
            if re.search(r"of-.{0,12}\\d\{5\}|\d\{5\}\)-of-", path.read_text()):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []
