"""``negforge eval``: compositional (SugarCrepe format), zero-shot and retrieval evaluation."""

from __future__ import annotations

import argparse
import json
import logging
import os

#: The install extra this command needs as a whole (torch, open_clip).
EXTRA = "train"
HELP = "evaluate a checkpoint: SugarCrepe-format compositionality, zero-shot, retrieval"
DESCRIPTION = """\
Evaluate a negforge training checkpoint (or an open_clip model by name) on any of:
  --sugarcrepe DIR   <type>.json files {id: {filename, caption, negative_caption}} + images
  --zero-shot DIR    DIR/<class>/*.png, classnames.json, templates.json
  --retrieval FILE   JSONL {image_path, captions: [...]}, paths relative to the file
Prints a table (one column per checkpoint) and writes JSON with --json.

examples:
  negforge eval --checkpoint runs/fsc/checkpoints/last.pt --sugarcrepe out/world/sugarcrepe
  negforge eval --checkpoint fsc=runs/fsc/checkpoints/last.pt --checkpoint clip=runs/clip/checkpoints/last.pt \\
      --sugarcrepe out/world/sugarcrepe --zero-shot out/world/zero_shot --json results.json
  negforge eval --model ViT-B-32 --pretrained openai --sugarcrepe sugar_crepe/ --image-root coco/val2017
"""

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="negforge checkpoint (repeatable; NAME labels its column)",
    )
    parser.add_argument("--model", default=None, help="open_clip model name instead of a checkpoint")
    parser.add_argument("--pretrained", default=None, help="open_clip pretrained tag or file for --model")
    parser.add_argument("--sugarcrepe", default=None, help="folder of SugarCrepe-format <type>.json files")
    parser.add_argument(
        "--image-root", default=None, help="image folder for --sugarcrepe (default DIR/images)"
    )
    parser.add_argument("--zero-shot", dest="zero_shot", default=None, help="image-folder classification set")
    parser.add_argument("--retrieval", default=None, help="caption-set JSONL for recall@k")
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--json", dest="json_out", default=None, help="write all results to this JSON file")


def evaluate(bundle, sugarcrepe=None, image_root=None, zero_shot=None, retrieval=None) -> dict:
    """Every requested benchmark for one model."""
    from negforge.training import eval as ev

    results = {}
    if sugarcrepe:
        results["sugarcrepe"] = ev.eval_sugarcrepe(bundle, sugarcrepe, image_root)
    if zero_shot:
        results["zero_shot"] = ev.eval_zero_shot(bundle, zero_shot)
    if retrieval:
        results["retrieval"] = ev.eval_retrieval(bundle, retrieval)
    return results


def run(args: argparse.Namespace) -> int:
    if not (args.sugarcrepe or args.zero_shot or args.retrieval):
        logger.error("nothing to evaluate: give --sugarcrepe, --zero-shot and/or --retrieval")
        return 2
    if not args.checkpoint and not args.model:
        logger.error("give --checkpoint PATH (repeatable) or --model NAME")
        return 2
    from negforge.training import eval as ev

    models: dict[str, dict] = {}
    specs = [
        (s.split("=", 1) if "=" in s else (os.path.basename(os.path.dirname(os.path.dirname(s))) or s, s))
        for s in args.checkpoint
    ]
    if args.model:
        specs.append((args.model if not args.pretrained else f"{args.model}:{args.pretrained}", None))
    for name, path in specs:
        bundle = ev.load_for_eval(
            checkpoint=path,
            model=None if path else args.model,
            pretrained=args.pretrained,
            device=args.device,
        )
        models[name] = evaluate(bundle, args.sugarcrepe, args.image_root, args.zero_shot, args.retrieval)
    print(ev.format_table(models))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(models, f, indent=1)
    return 0
