"""Throughput of the shapes world: scenes/s for records in memory and for `negforge shapes` on disk.

Target (issue 5): 50k scenes in under a few minutes on 2 cores.

    .venv/bin/python benchmarks/shapes_generation.py --n 50000 --workers 2
    .venv/bin/python benchmarks/shapes_generation.py --n 5000 --workers 1 --disk
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

from negforge.generators.shapes import ShapesConfig, materialise, scene_records

CHUNK = 500


def _chunk(args: tuple[ShapesConfig, int, int]) -> tuple[int, int]:
    config, start, stop = args
    records = scene_records(config, "train", start, stop)
    return len(records), sum(len(r.image.bytes) for r in records) // config.captions_per_image


def bench_records(config: ShapesConfig, workers: int) -> dict[str, float]:
    chunks = [(config, s, min(s + CHUNK, config.n_train)) for s in range(0, config.n_train, CHUNK)]
    t0 = time.perf_counter()
    if workers == 1:
        results = [_chunk(c) for c in chunks]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_chunk, chunks))
    seconds = time.perf_counter() - t0
    n_records = sum(r[0] for r in results)
    png_bytes = sum(r[1] for r in results)
    return {
        "scenes": config.n_train,
        "records": n_records,
        "seconds": round(seconds, 2),
        "scenes_per_s": round(config.n_train / seconds, 1),
        "mean_png_bytes": round(png_bytes / config.n_train, 1),
    }


def bench_disk(config: ShapesConfig, workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        materialise(config, tmp, workers=workers)
        seconds = time.perf_counter() - t0
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(tmp) for f in fs)
    scenes = config.n_train + config.n_val + config.n_test
    return {
        "scenes": scenes,
        "seconds": round(seconds, 2),
        "scenes_per_s": round(scenes / seconds, 1),
        "disk_mb": round(size / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=50_000, help="train scenes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--disk", action="store_true", help="also time materialise() (JSONL + PNG files)")
    args = parser.parse_args()
    config = ShapesConfig(n_train=args.n, n_val=args.n // 10, n_test=args.n // 10, image_size=args.image_size)
    result = {
        "config": {
            "n": args.n,
            "workers": args.workers,
            "image_size": args.image_size,
            "cpus": os.cpu_count(),
        }
    }
    result["records_in_memory"] = bench_records(config, args.workers)
    if args.disk:
        result["materialise"] = bench_disk(config, args.workers)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
