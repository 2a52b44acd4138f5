"""Small synthetic negforge shards with real PNG bytes, for data/trainer/CLI tests."""

from __future__ import annotations

import io
import os
import random

import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw

from negforge.schemas import CaptionRecord, ImageRef, Negative, records_to_table

COLORS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 180, 60), "yellow": (230, 210, 40)}
SHAPES = ("square", "circle")


def png(color: str, shape: str, size: int = 32) -> bytes:
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    box = (size // 4, size // 4, 3 * size // 4, 3 * size // 4)
    (draw.rectangle if shape == "square" else draw.ellipse)(box, fill=COLORS[color])
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def synthetic_records(n: int, seed: int = 0, split: str = "train") -> list[CaptionRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        color, shape = rng.choice(sorted(COLORS)), rng.choice(SHAPES)
        other_color = rng.choice([c for c in sorted(COLORS) if c != color])
        other_shape = next(s for s in SHAPES if s != shape)
        negatives = [
            Negative(f"a {other_color} {shape}", "replace_att", "rule:test@1"),
            Negative(f"a {color} {other_shape}", "replace_obj", "rule:test@1"),
        ][: i % 3]  # 0, 1 or 2 negatives: exercises padding
        records.append(
            CaptionRecord(
                id=f"{split}-{i:04d}",
                caption=f"a {color} {shape}",
                source="synthetic",
                split=split,
                image=ImageRef(bytes=png(color, shape), width=32, height=32),
                negatives=tuple(negatives),
            )
        )
    return records


def write_shards(root: str, n: int, num_shards: int, split: str = "train", seed: int = 0) -> str:
    """``root/data/{split}-{i:05d}-of-{N:05d}.parquet``, rows dealt round-robin."""
    records = synthetic_records(n, seed, split)
    os.makedirs(os.path.join(root, "data"), exist_ok=True)
    for s in range(num_shards):
        table = records_to_table(records[s::num_shards])
        pq.write_table(table, os.path.join(root, "data", f"{split}-{s:05d}-of-{num_shards:05d}.parquet"))
    return root


@pytest.fixture(scope="session")
def shard_dir(tmp_path_factory) -> str:
    return write_shards(str(tmp_path_factory.mktemp("shards")), n=48, num_shards=3)


@pytest.fixture(scope="session")
def make_shards():
    """``write_shards`` as a fixture (test modules here are not a package, so no imports)."""
    return write_shards


@pytest.fixture(scope="session")
def make_png():
    """``png(color, shape)`` as a fixture."""
    return png
