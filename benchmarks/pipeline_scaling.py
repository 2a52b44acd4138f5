#!/usr/bin/env python3
"""Worker scaling of the build on DirectRunner ``multi_processing``: 1 vs 2 (or more) workers.

The same captions (split over several input files, so reading parallelises too)
are built with ``--direct_num_workers=1`` and ``=2``; the speedup is printed
(goal: >= 1.7x on 2 idle cores) and the output of every worker count must be
byte-identical to the 1-worker output (data/ and errors/), since shard contents
are a function of the records only (``crc32(id) % N``, sorted by id).

Each worker loads spaCy and WordNet once, a fixed cost that says nothing about
throughput, so every worker count is timed at two sizes and the *marginal*
speedup ``(t1(N) - t1(n0)) / (tW(N) - tW(n0))`` is reported beside the
end-to-end one. The 1-minute load average is printed with the results: on a
shared machine, other processes' CPU use is the main source of error.

    .venv/bin/python benchmarks/pipeline_scaling.py [--n 6000] [--n0 500] [--workers 1,2] [--files 4]

Exit status 1 if outputs differ across worker counts (the ratio is reported, not enforced).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import random
import tempfile
import time
from pathlib import Path

from negforge.pipeline.build import BuildConfig, run_build

SUBJECTS = ["a dog", "two cats", "a young man", "a woman", "three birds", "a small child", "an old car", "a horse"]
ATTRS = ["red", "brown", "white", "wooden", "large", "small", "black", "green"]
OBJECTS = ["table", "couch", "tree", "umbrella", "bench", "fence", "boat", "building"]
RELATIONS = ["next to", "on top of", "under", "behind", "in front of", "near", "beside", "above"]
VERBS = ["sitting", "standing", "lying", "waiting", "playing", "resting"]


def captions(n: int, seed: int = 0) -> list[str]:
    """COCO-like captions (~10 words) with objects, attributes and relations for every generator."""
    rng = random.Random(seed)
    return [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(RELATIONS)} a {rng.choice(ATTRS)} "
        f"{rng.choice(OBJECTS)} with a {rng.choice(ATTRS)} {rng.choice(OBJECTS)}"
        for _ in range(n)
    ]


def write_inputs(folder: Path, texts: list[str], files: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(files):
        path = folder / f"part-{k:02d}.jsonl"
        with open(path, "w") as f:
            for i in range(k, len(texts), files):
                f.write(json.dumps({"id": f"c{i:07d}", "caption": texts[i]}) + "\n")
        paths.append(str(path))
    return paths


def build(inputs: list[str], out: Path, workers: int, shards: int) -> tuple[float, dict]:
    args = ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
    t = time.perf_counter()
    manifest = run_build(BuildConfig(inputs=tuple(inputs), output=str(out), shards=shards), args)
    return time.perf_counter() - t, manifest


def output_bytes(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for sub in ("data", "errors")
        for p in sorted((out / sub).glob("*.parquet"))
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=6000, help="captions in the measured build")
    parser.add_argument("--n0", type=int, default=500, help="captions in the start-up-cost build")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated (first is the baseline)")
    parser.add_argument("--files", type=int, default=4, help="input files the captions are split over")
    parser.add_argument("--shards", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    worker_counts = [int(w) for w in args.workers.split(",")]

    with tempfile.TemporaryDirectory(prefix="negforge-scaling-") as tmp:
        root = Path(tmp)
        big = write_inputs(root / "in-big", captions(args.n), args.files)
        small = write_inputs(root / "in-small", captions(args.n0, seed=1), args.files)
        build(small, root / "warmup", worker_counts[0], args.shards)  # imports, caches, page cache

        results = {}
        for w in worker_counts:
            t0, _ = build(small, root / f"small-{w}", w, args.shards)
            t, manifest = build(big, root / f"big-{w}", w, args.shards)
            results[w] = {"t_small_s": t0, "t_s": t, "counts": dataclasses.asdict(manifest.counts),
                          "files": output_bytes(root / f"big-{w}")}

        base = results[worker_counts[0]]
        identical = True
        print(f"{args.n} captions in {args.files} files, {args.shards} shards; cpu_count={os.cpu_count()}, "
              f"load average (1 min) {os.getloadavg()[0]:.2f}")
        print(f"{'workers':>7} {'wall s':>8} {'capt/s':>8} {'speedup':>8} {'marginal':>9}  outputs")
        for w in worker_counts:
            r = results[w]
            same = r["files"] == base["files"] and r["counts"] == base["counts"]
            identical &= same
            speedup = base["t_s"] / r["t_s"]
            marginal = (base["t_s"] - base["t_small_s"]) / max(1e-9, r["t_s"] - r["t_small_s"])
            r.update(speedup=speedup, marginal_speedup=marginal)
            print(f"{w:>7} {r['t_s']:>8.2f} {args.n / r['t_s']:>8.0f} {speedup:>7.2f}x {marginal:>8.2f}x  "
                  f"{'byte-identical' if same else 'DIFFERENT'} ({len(r['files'])} files)")
        summary = {
            "n": args.n, "n0": args.n0, "cpu_count": os.cpu_count(), "load_avg_1m": os.getloadavg()[0],
            "workers": {w: {k: v for k, v in r.items() if k not in ("files", "counts")} for w, r in results.items()},
            "byte_identical": identical,
        }
        print(json.dumps(summary))
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
