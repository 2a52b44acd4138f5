"""A small build output folder written by hand, for card/publish tests.

It has the exact layout ``negforge build`` writes (DESIGN §1): schema-v1 shards
named ``data/{split}-{i:05d}-of-{N:05d}.parquet``, a dead-letter shard, and a
typed manifest written by the build's own writer (so its keys cannot drift from
what the build writes). It is for tests of publishing and the card's YAML that
need every negative type in a few rows; tests of what a build reports use a real
build (``test_card.py``, ``test_build.py``).
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from negforge.pipeline.manifest import Counts, InputFile, Manifest, Versions, config_hash, write_manifest
from negforge.schemas import layout
from negforge.schemas.record import (
    ERROR_SCHEMA,
    SCHEMA_VERSION,
    Attribute,
    CaptionRecord,
    Edit,
    ImageRef,
    Negative,
    SceneGraph,
    SceneObject,
    Scores,
    records_to_table,
)

CAPTIONS = [
    "a red car next to a tree",
    "two dogs on a white couch",
    "a man riding a brown horse",
    "a small cat under a wooden table",
    "three birds above a blue lake",
    "a woman holding a green umbrella",
]
NEG_TYPES = ["replace_obj", "replace_att", "swap_att", "count", "negation", "shuffle"]


def make_record(i: int, split: str) -> CaptionRecord:
    caption = CAPTIONS[i % len(CAPTIONS)]
    words = caption.split()
    before = words[1]
    start = caption.index(before)
    negatives = []
    for j in range(2):
        neg_type = NEG_TYPES[(i + j) % len(NEG_TYPES)]
        after = f"{before}x{j}"
        edit = None if neg_type == "shuffle" else Edit(start, start + len(before), before, after)
        text = caption.replace(before, after, 1)
        negatives.append(
            Negative(text=text, type=neg_type, generator="rule:test@1", edit=edit,
                     scores=Scores(fluency_nll=1.5 + j, text_sim=0.9, plausibility=None))
        )
    graph = SceneGraph(objects=(SceneObject(text=words[-1], lemma=words[-1], start=len(caption) - len(words[-1]),
                                            end=len(caption), count=1,
                                            attributes=(Attribute("x", "x", 0, 1),)),))
    return CaptionRecord(
        id=f"{split}-{i:04d}",
        caption=caption,
        source="sample",
        split=split,
        image=ImageRef(uri=f"images/{i}.jpg", width=64, height=48),
        scene_graph=graph,
        negatives=tuple(negatives),
    )


def write_sample_output(out: Path, splits: dict[str, tuple[int, int]] | None = None) -> Manifest:
    """Write ``out/`` with ``{split: (records, shards)}``; return the manifest written."""
    splits = splits or {"train": (10, 2), "validation": (4, 1)}
    data = out / layout.DATA_DIR
    data.mkdir(parents=True, exist_ok=True)
    per_type: dict[str, int] = {}
    with_negatives = 0
    for split, (n, shards) in splits.items():
        records = [make_record(i, split) for i in range(n)]
        for r in records:
            with_negatives += bool(r.negatives)
            for neg in r.negatives:
                per_type[neg.type] = per_type.get(neg.type, 0) + 1
        buckets: list[list[CaptionRecord]] = [[] for _ in range(shards)]
        for r in records:
            buckets[zlib.crc32(r.id.encode()) % shards].append(r)
        for k, bucket in enumerate(buckets):
            table = records_to_table(sorted(bucket, key=lambda r: r.id))
            pq.write_table(table, out / layout.data_shard_path(split, k, shards))
    (out / layout.ERRORS_DIR).mkdir(exist_ok=True)
    errors = pa.Table.from_pylist(
        [{"input": "in.jsonl:3", "record_id": None, "stage": "read", "error": "no caption", "raw": "{}"}],
        schema=ERROR_SCHEMA,
    )
    pq.write_table(errors, out / layout.error_shard_path(0, 1))
    written = sum(n for n, _ in splits.values())
    config = {"seed": 0, "shards": 2, "negative_types": NEG_TYPES, "license": "cc-by-4.0"}
    manifest = Manifest(
        versions=Versions(manifest=1, schema=SCHEMA_VERSION, negforge="0.1.0", python="3.11.7",
                          apache_beam="2.77.0", pyarrow="25.0.1", spacy="3.8.18"),
        config=config,
        config_hash=config_hash(config),
        inputs=(InputFile("in.jsonl", 1234, hashlib.sha256(b"in.jsonl").hexdigest()),),
        counts=Counts(
            read=written + 1,
            written=written,
            dead_lettered=1,
            dead_lettered_by_stage={"read": 1},
            records_per_split={s: n for s, (n, _) in splits.items()},
            records_with_negatives=with_negatives,
            negatives_total=sum(per_type.values()),
            negatives_per_type=dict(sorted(per_type.items())),
            negatives_per_generator={"rule:test@1": sum(per_type.values())},
        ),
        stats={"shapes.dropped.count": 0},
        runner="DirectRunner",
        wall_time_s=1.25,
    )
    write_manifest(str(out), manifest)
    assert not manifest.counts.accounting_problems()
    return manifest
