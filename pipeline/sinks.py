"""Deterministic Parquet shards, written atomically through Beam ``FileSystems``.

Beam's ``WriteToParquet(num_shards=N)`` assigns rows to shards by bundle, so the
same input gives different files on different runs and can leave empty shards.
Here a record's shard is ``crc32(id) % N``, rows inside a shard are sorted by id,
and the file bytes are produced by one pyarrow call with fixed options: same
records ⇒ byte-identical files, whatever the runner, mode or worker count.

Each file is written to a temporary name in the same folder and renamed into
place, so a reader (or a retried bundle) never sees a half-written shard, on a
local disk or on ``gs://``.
"""

from __future__ import annotations

import io
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from negforge.schemas import ERROR_SCHEMA, CaptionRecord, layout, records_to_table
from negforge.schemas.layout import shard_index as shard_index

from .errors import DeadLetter

#: Fixed writer options: part of the byte-identity contract, change with care.
PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, use_dictionary=True, write_statistics=True)
ROW_GROUP_SIZE = 10_000


def table_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=ROW_GROUP_SIZE, **PARQUET_OPTIONS)
    return buf.getvalue()


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary sibling and a rename (any Beam filesystem)."""
    directory, name = path.rsplit("/", 1) if "/" in path else (".", path)
    tmp = FileSystems.join(directory, f".tmp-{uuid.uuid4().hex}-{name}")
    with FileSystems.create(tmp) as f:
        f.write(data)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def write_shard(
    output: str, split: str, index: int, num_shards: int, records: Iterable[CaptionRecord]
) -> dict[str, float]:
    """Write one shard (possibly empty) and return the statistics the manifest sums."""
    rows = sorted(records, key=lambda r: r.id)
    path = FileSystems.join(output, layout.data_shard_path(split, index, num_shards))
    write_atomic(path, table_bytes(records_to_table(rows)))
    return shard_stats(split, rows)


def shard_stats(split: str, rows: Sequence[CaptionRecord]) -> dict[str, float]:
    stats: Counter[str] = Counter()
    stats["written"] = len(rows)
    stats[f"split.{split}"] = len(rows)
    for record in rows:
        if record.negatives:
            stats["records_with_negatives"] += 1
        for neg in record.negatives:
            stats[f"negatives.{neg.type}"] += 1
            stats[f"generators.{neg.generator}"] += 1
    return dict(stats)


def write_error_shard(output: str, index: int, num_shards: int, dead: Iterable[DeadLetter]) -> dict[str, float]:
    """Write dead-letter shard ``errors/errors-{index}-of-{num_shards}.parquet`` (sorted; possibly empty).

    Dead letters are sharded like the data (``shard_index(letter.shard_key(), N)``),
    so a build with millions of bad rows never gathers them on one worker.
    """
    letters = sorted(dead, key=DeadLetter.sort_key)
    table = pa.Table.from_pylist([d.to_row() for d in letters], schema=ERROR_SCHEMA)
    write_atomic(FileSystems.join(output, layout.error_shard_path(index, num_shards)), table_bytes(table))
    return error_stats(letters)


def error_stats(letters: Sequence[DeadLetter]) -> dict[str, float]:
    stats: Counter[str] = Counter()
    stats["dead_lettered"] = len(letters)
    for d in letters:
        stats[f"dead.{d.stage}"] += 1
    return dict(stats)
