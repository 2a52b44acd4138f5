"""``negforge demo``: the whole system end to end on the embedded shapes world (``make demo``).

shapes world → ``negforge build`` (hard negatives, Parquet shards) → train the tiny open_clip
model twice with the same seed, data and steps — FSC-CLIP losses and CLIP-only — → evaluate
both on the compositional test split (SugarCrepe format: held-out color-shape pairs and
relation triples) and on in-distribution zero-shot classification → side-by-side table,
loss curves, results.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time

#: The install extra this command needs as a whole (torch, open_clip).
EXTRA = "train"
HELP = "end-to-end demo on the shapes world: build negatives, train FSC-CLIP vs CLIP, evaluate"
DESCRIPTION = """\
Runs on CPU in minutes (default sizes take about 10 minutes on 2 cores):
  1. build: shapes-world captions + rule hard negatives → OUTPUT/dataset (Parquet shards)
  2. export: compositional test split in SugarCrepe format, zero-shot val set
  3. train: the `tiny` config twice (FSC-CLIP losses; CLIP loss only), same seed and steps
  4. eval: both models side by side; OUTPUT/results.json, OUTPUT/loss.png

examples:
  negforge demo --output out/demo
  negforge demo --output out/demo --steps 100 --scenes 1000     # quicker, noisier
"""

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="demo folder (dataset/, eval/, runs/, results.json)")
    parser.add_argument("--scenes", type=int, default=2000, help="training scenes in the shapes world")
    parser.add_argument("--eval-scenes", type=int, default=300, help="test (and val) scenes")
    parser.add_argument("--steps", type=int, default=300, help="training steps per model")
    parser.add_argument("--batch-size", type=int, default=32, help="images per batch")
    parser.add_argument("--seed", type=int, default=0, help="world, build and training seed")
    parser.add_argument("--config", default="demo", help="training config (YAML file or built-in name)")
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a training config field for both runs, repeatable",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the dataset even if it exists")
    parser.add_argument("--truth-negatives", type=int, default=1,
                        help="image-verified negatives per type per record (generator shapes:truth), besides rules")
    parser.add_argument("--shapes-filter", choices=("none", "true", "outside"), default="outside",
                        help="drop rule negatives true of the scene / also those outside the world's language")


def _build(out: str, shapes_config, seed: int, rebuild: bool, shapes_filter: str):
    from negforge.pipeline.build import BuildConfig, run_build
    from negforge.pipeline.manifest import ManifestError, read_manifest

    if not rebuild:
        try:
            manifest = read_manifest(out)
        except (FileNotFoundError, ManifestError):
            manifest = None  # none yet, or from another negforge: rebuild
        cfg = manifest.config if manifest is not None else {}
        if cfg.get("shapes") == _asdict(shapes_config) and cfg.get("shapes_filter") == shapes_filter:
            logger.info("reusing the dataset in %s", out)
            return manifest
    config = BuildConfig(
        inputs=(), format="shapes", output=out, shards=4, seed=seed, shapes=shapes_config,
        shapes_filter=shapes_filter, overwrite=True,
    )
    return run_build(config, pipeline_args=[])


def _asdict(obj) -> dict:
    import dataclasses

    return dataclasses.asdict(obj)


def run(args: argparse.Namespace) -> int:
    from negforge.generators.shapes import ShapesConfig, export_sugarcrepe, export_zero_shot
    from negforge.training import eval as ev
    from negforge.training.config import load_config
    from negforge.training.train import plot_losses, read_metrics, train

    started = time.perf_counter()
    out = os.path.abspath(args.output)
    os.makedirs(out, exist_ok=True)
    shapes = ShapesConfig(
        seed=args.seed, n_train=args.scenes, n_val=args.eval_scenes, n_test=args.eval_scenes,
        truth_negatives_per_type=args.truth_negatives,
    )
    timings: dict[str, float] = {}

    t = time.perf_counter()
    manifest = _build(os.path.join(out, "dataset"), shapes, args.seed, args.rebuild, args.shapes_filter)
    timings["build_s"] = time.perf_counter() - t
    logger.info(
        "dataset: %s records, %s negatives",
        manifest.counts.written,
        manifest.counts.negatives_total,
    )

    t = time.perf_counter()
    sugarcrepe_dir = os.path.join(out, "eval", "sugarcrepe")
    zero_shot_dir = os.path.join(out, "eval", "zero_shot")
    export_sugarcrepe(shapes, sugarcrepe_dir, split="test")
    export_zero_shot(shapes, zero_shot_dir, split="val")
    timings["export_s"] = time.perf_counter() - t

    runs: dict[str, dict] = {}
    curves: dict[str, list] = {}
    for name, loss in (("fsc-clip", "fsc"), ("clip-only", "clip")):
        config = load_config(
            args.config,
            overrides={
                "data": os.path.join(out, "dataset"),
                "output": os.path.join(out, "runs", name),
                "loss": loss,
                "max_steps": args.steps,
                "batch_size": args.batch_size,
                "seed": args.seed,
            },
            sets=args.sets,
        )
        t = time.perf_counter()
        summary = train(config, resume=False)  # same steps and seed for both, every time
        timings[f"train_{name}_s"] = time.perf_counter() - t
        curves[name] = read_metrics(config.output)
        t = time.perf_counter()
        bundle = ev.load_for_eval(checkpoint=summary["checkpoint"])
        runs[name] = {
            "sugarcrepe": ev.eval_sugarcrepe(bundle, sugarcrepe_dir),
            "zero_shot": ev.eval_zero_shot(bundle, zero_shot_dir),
        }
        timings[f"eval_{name}_s"] = time.perf_counter() - t

    plot = plot_losses(curves, os.path.join(out, "loss.png"))
    fsc, clip = runs["fsc-clip"], runs["clip-only"]
    delta = {
        "sugarcrepe_mean": fsc["sugarcrepe"]["mean"] - clip["sugarcrepe"]["mean"],
        "zero_shot_top1": fsc["zero_shot"]["top1"] - clip["zero_shot"]["top1"],
    }
    timings["total_s"] = time.perf_counter() - started
    results = {
        "runs": runs,
        "delta": delta,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "steps": args.steps,
        "seed": args.seed,
        "plot": plot,
    }
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)

    print(ev.format_table(runs))
    print()
    print(
        f"FSC-CLIP − CLIP-only: compositional (SugarCrepe mean) {delta['sugarcrepe_mean']:+.1f} points, "
        f"zero-shot top-1 {delta['zero_shot_top1']:+.1f} points"
    )
    print(f"loss curves: {plot}")
    print(f"results: {os.path.join(out, 'results.json')}  ({timings['total_s']:.0f} s)")
    return 0
