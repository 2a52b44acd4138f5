"""``negforge shapes``: write the shapes world to disk."""

from __future__ import annotations

import argparse
import json
import logging
import time

HELP = "write the procedural shapes world (images, captions, exact scene graphs, eval sets)"
DESCRIPTION = """\
Render the shapes world (DESIGN §7): PIL scenes of colored shapes with sizes,
counts and spatial relations, each with captions and the exact scene graph
aligned to every caption. The test split holds out color-shape pairs and
(shape, relation, shape) triples that train and val never show.

Writes into --out:
  {train,val,test}.jsonl + images/<split>/*.png   records with exact scene graphs
  sugarcrepe/<type>.json + sugarcrepe/images/     SugarCrepe-format test (true negatives)
  zero_shot/<class>/*.png, classnames.json, templates.json   (from val)
  retrieval/{val,test}.jsonl                      image -> all its captions
  world.json                                      config, vocabulary, held-out combinations

examples:
  negforge shapes --out out/shapes --n 10000
  negforge shapes --out out/shapes --n 50000 --seed 1 --image-size 96 --workers 2
"""

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--n", type=int, default=10_000, help="train scenes (default 10000)")
    parser.add_argument("--n-val", type=int, default=None, help="val scenes (default: n/10, at least 1)")
    parser.add_argument("--n-test", type=int, default=None, help="test scenes (default: n/10, at least 1)")
    parser.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
    parser.add_argument("--image-size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--captions-per-image", type=int, default=2, help="captions per scene (default 2)")
    parser.add_argument("--zero-shot-per-class", type=int, default=20, help="zero-shot images per class")
    parser.add_argument(
        "--zero-shot-classes",
        choices=("shape", "color_shape"),
        default="shape",
        help="zero-shot classes: the shape, or the color-shape pair (default shape)",
    )
    parser.add_argument(
        "--truth-negatives",
        type=int,
        default=0,
        help="exact negatives per type attached to every JSONL row (shapes:truth@1; default 0)",
    )
    parser.add_argument("--workers", type=int, default=1, help="rendering processes (default 1)")


def run(args: argparse.Namespace) -> int:
    from negforge.generators.shapes import ShapesConfig, materialise

    default_eval = max(1, args.n // 10)
    try:
        config = ShapesConfig(
            seed=args.seed,
            image_size=args.image_size,
            n_train=args.n,
            n_val=default_eval if args.n_val is None else args.n_val,
            n_test=default_eval if args.n_test is None else args.n_test,
            captions_per_image=args.captions_per_image,
            zero_shot_per_class=args.zero_shot_per_class,
            zero_shot_classes=args.zero_shot_classes,
            truth_negatives_per_type=args.truth_negatives,
        )
        if args.workers < 1:
            raise ValueError(f"workers must be >= 1, got {args.workers!r}")
    except ValueError as exc:
        logger.error("%s", exc)
        return 2
    t0 = time.perf_counter()
    materialise(config, args.out, workers=args.workers)
    with open(f"{args.out}/world.json", encoding="utf-8") as f:
        world = json.load(f)
    counts = ", ".join(
        f"{s} {c['images']} images / {c['records']} captions" for s, c in world["counts"].items()
    )
    print(f"shapes world in {args.out} ({time.perf_counter() - t0:.1f} s): {counts}")
    print(f"sugarcrepe types: {', '.join(world['sugarcrepe'])}; zero-shot: {world['zero_shot']}")
    return 0
