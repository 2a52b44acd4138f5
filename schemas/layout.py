"""The output folder layout (DESIGN §1, §8, §9), defined once for every writer and reader.

``negforge build`` writes, ``negforge publish`` uploads, the dataset card
declares and ``training`` reads the same folder::

    OUT/
      data/{split}-{i:05d}-of-{N:05d}.parquet     records (schema v1)
      errors/errors-{i:05d}-of-{N:05d}.parquet    dead letters
      manifest.json                               what was built, from what
      README.md                                   the dataset card

Split names are what the Hugging Face Hub and ``datasets`` accept
(``datasets.splits._split_re``: word characters, dot-separated parts). A split
name is also part of a file name and of a glob in the card's YAML, so a ``-``
would make ``{split}-*.parquet`` match another split's shards and a ``/`` would
make a sub-folder: both are rejected where the split is first seen (the
``--split`` flag, or a row's ``split`` field, which is then dead-lettered).

Pure Python, no dependencies: the pipeline, the card and the trainer import it.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

DATA_DIR = "data"
ERRORS_DIR = "errors"
MANIFEST_FILE = "manifest.json"
CARD_FILE = "README.md"
#: Dead-letter shards use the shard naming with this in place of the split.
ERRORS_PREFIX = "errors"
#: Five digits in the shard names: more shards would not sort or match.
MAX_SHARDS = 99_999
#: Longest split name accepted (file names stay far below filesystem limits).
MAX_SPLIT_CHARS = 64

#: The Hub's split-name rule (``datasets``: ``^\w+(\.\w+)*$``).
SPLIT_PATTERN = r"\w+(?:\.\w+)*"
_SPLIT_RE = re.compile(rf"^{SPLIT_PATTERN}$")
#: ``{split}-{i:05d}-of-{N:05d}.parquet``; the one shard-name regex of the project.
SHARD_RE = re.compile(rf"^(?P<split>{SPLIT_PATTERN})-(?P<index>\d{{5}})-of-(?P<total>\d{{5}})\.parquet$")


def split_problem(split: object) -> str | None:
    """Why ``split`` cannot be a split name, or None when it can."""
    if not isinstance(split, str):
        return f"split must be a string, got {type(split).__name__}"
    if not split:
        return "split must not be empty"
    if len(split) > MAX_SPLIT_CHARS:
        return f"split has {len(split)} characters, over {MAX_SPLIT_CHARS}"
    if not _SPLIT_RE.match(split):
        return (
            f"split {split!r} is not a valid split name: use letters, digits and '_', "
            "optionally dot-separated ('train', 'val2014', 'test.hard'); no '-', '/' or spaces"
        )
    return None


def check_split(split: str) -> str:
    """``split`` if it is a valid split name, else ``ValueError`` saying why."""
    problem = split_problem(split)
    if problem is not None:
        raise ValueError(problem)
    return split


def _check_count(index: int, total: int) -> None:
    if not 1 <= total <= MAX_SHARDS:
        raise ValueError(f"shard total must be in 1..{MAX_SHARDS}, got {total!r}")
    if not 0 <= index < total:
        raise ValueError(f"shard index must be in 0..{total - 1}, got {index!r}")


def shard_name(split: str, index: int, total: int) -> str:
    """``{split}-{index:05d}-of-{total:05d}.parquet`` (DESIGN §8)."""
    check_split(split)
    _check_count(index, total)
    return f"{split}-{index:05d}-of-{total:05d}.parquet"


def data_shard_path(split: str, index: int, total: int) -> str:
    """Path of a data shard relative to the output folder (always ``/``-separated)."""
    return f"{DATA_DIR}/{shard_name(split, index, total)}"


def error_shard_path(index: int, total: int) -> str:
    """Path of a dead-letter shard relative to the output folder."""
    return f"{ERRORS_DIR}/{shard_name(ERRORS_PREFIX, index, total)}"


def split_data_files(split: str) -> str:
    """The card's ``data_files`` glob for one split (matches no other split: names hold no '-')."""
    return f"{DATA_DIR}/{check_split(split)}-*.parquet"


@dataclass(frozen=True)
class ShardName:
    split: str  # split (or ERRORS_PREFIX for dead-letter shards)
    index: int  # 0-based shard number
    total: int  # shards in the set


def parse_shard_name(file_name: str) -> ShardName | None:
    """The parts of a shard file's base name, or None when it is not one."""
    match = SHARD_RE.match(file_name)
    if match is None:
        return None
    index, total = int(match["index"]), int(match["total"])
    if not 0 <= index < total:
        return None
    return ShardName(match["split"], index, total)


def shard_index(key: str, num_shards: int) -> int:
    """The shard ``key`` (a record id) lands in: crc32, stable across processes (not salted ``hash``)."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % num_shards
