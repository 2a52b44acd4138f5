"""``negforge train``: FSC-CLIP fine-tuning of an open_clip model on negforge shards."""

from __future__ import annotations

import argparse
import json
import logging

#: The install extra this command needs as a whole (torch, open_clip).
EXTRA = "train"
HELP = "fine-tune an open_clip model on the shards with FSC-CLIP (or CLIP-only) losses"
DESCRIPTION = """\
Fine-tune CLIP with FSC-CLIP (arXiv 2410.05210): L = L_clip + 0.5 L_globalHN + 0.2 L_localHN,
where the hard-negative terms use SCR (focal + label smoothing) over each image's positive and
K hard negatives from the shards. Resumes from OUTPUT/checkpoints/last.pt when present.

Settings come from (later wins): defaults, --config (a YAML file or a name under
training/configs: tiny, vit-b-32), the flags below, then --set name=value.

examples:
  negforge train --data out/shapes --config tiny --output runs/fsc
  negforge train --data out/shapes --config tiny --loss clip --output runs/clip
  negforge train --data out/coco --config vit-b-32 --set lora_rank=16 --set lr=1e-5
  torchrun --nproc_per_node 8 -m negforge.pipeline.cli train --data out/coco --config vit-b-32
"""

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="dataset folder written by `negforge build` (holds data/)")
    parser.add_argument("--output", help="run folder (checkpoints/, metrics.jsonl, loss.png)")
    parser.add_argument("--config", default=None, help="YAML config file or built-in name (tiny, vit-b-32)")
    parser.add_argument("--model", default=None, help="open_clip model name or 'tiny'")
    parser.add_argument("--pretrained", default=None, help="open_clip pretrained tag or checkpoint file")
    parser.add_argument(
        "--loss", choices=("fsc", "clip"), default=None, help="FSC-CLIP or CLIP-only baseline"
    )
    parser.add_argument("--steps", dest="max_steps", type=int, default=None, help="optimizer steps")
    parser.add_argument(
        "--batch-size", dest="batch_size", type=int, default=None, help="images per batch per rank"
    )
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate")
    parser.add_argument("--seed", type=int, default=None, help="seed of init, data order, negative sampling")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda")
    parser.add_argument(
        "--backend", choices=("reference", "fused", "auto"), default=None, help="loss implementation"
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override any config field (YAML value), repeatable",
    )
    parser.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def run(args: argparse.Namespace) -> int:
    from negforge.training.config import load_config

    overrides = {
        k: getattr(args, k)
        for k in (
            "data",
            "output",
            "model",
            "pretrained",
            "loss",
            "max_steps",
            "batch_size",
            "lr",
            "seed",
            "device",
            "backend",
        )
    }
    try:
        config = load_config(args.config, overrides, args.sets)
    except (ValueError, FileNotFoundError) as exc:
        logger.error("%s", exc)
        return 2
    if args.print_config:
        print(json.dumps(config.to_dict(), indent=1))
        return 0
    if not config.data:
        logger.error("--data is required (a folder written by `negforge build`)")
        return 2
    from negforge.training.train import train

    summary = train(config, resume=not args.no_resume)
    print(json.dumps(summary, indent=1))
    return 0
