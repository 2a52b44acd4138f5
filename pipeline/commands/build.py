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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags default to None: a flag left out keeps the config dataclass's default."""
    from negforge.generators.config import GenerationConfig
    from negforge.pipeline.build import BuildConfig
    from negforge.pipeline.io import FORMATS, ReadConfig

    from .args import csv_list, default_of, flag
    from .stage_args import add_llm_arguments, add_scoring_arguments

    parser.set_defaults(accepts_pipeline_args=True)
    io = parser.add_argument_group("input / output (defaults: BuildConfig's and ReadConfig's)")
    io.add_argument("--input", action="append", default=[], metavar="PATH",
                    help="file, glob or directory (any Beam filesystem: local, gs://); repeatable")
    flag(io, "--format", choices=FORMATS, help="input format (default: detect from each file name)")
    io.add_argument("--output", required=True, help="output folder (data/, errors/, manifest.json, README.md)")
    flag(io, "--shards", type=int, help=f"data shards per split, and dead-letter shards ({default_of(BuildConfig, 'shards')})")
    flag(io, "--overwrite", action="store_true", help="replace an existing build in --output")
    flag(io, "--source", help="value of the `source` column (default: input file name)")
    flag(io, "--split", help=f"split for rows that name none ({default_of(ReadConfig, 'split')}); letters, digits, '_', '.'")
    flag(io, "--image-root", help="prefix for relative image paths in the input")
    flag(io, "--embed-images", action="store_true",
         help="copy referenced image files into the shards (default: keep paths/URLs)")  # fmt: skip
    flag(io, "--max-caption-chars", type=int, help=f"longer captions are dead-lettered ({default_of(ReadConfig, 'max_caption_chars')})")
    flag(io, "--license", help="dataset card license, a Hub license id such as cc-by-4.0 (default: unknown)")
    gen = parser.add_argument_group("negatives (defaults: GenerationConfig's)")
    flag(gen, "--types", type=csv_list,
         help="comma-separated generators to run (default: all rule generators); "
              "llm_<type> selects the LLM's variant, e.g. llm_replace_obj")  # fmt: skip
    flag(gen, "--seed", type=int, help=f"global seed ({default_of(BuildConfig, 'seed')})")
    flag(gen, "--max-per-type", type=int, help=f"negatives per generator per caption ({default_of(GenerationConfig, 'max_per_type')})")
    flag(gen, "--max-per-caption", type=int, help=f"negatives per caption in all ({default_of(GenerationConfig, 'max_per_caption')})")
    flag(gen, "--spacy-model", help=f"spaCy pipeline ({default_of(BuildConfig, 'spacy_model')})")
    shapes = parser.add_argument_group("shapes world (--format shapes; defaults: ShapesConfig's)")
    flag(shapes, "--shapes-train", type=int, help="train scenes")
    flag(shapes, "--shapes-val", type=int, help="val scenes")
    flag(shapes, "--shapes-test", type=int, help="compositional test scenes")
    flag(shapes, "--image-size", type=int, help="rendered image size in pixels")
    flag(shapes, "--shapes-captions-per-image", type=int, help="captions (records) per scene")
    flag(shapes, "--shapes-max-objects", type=int, help="most objects in one scene")
    flag(shapes, "--shapes-truth-negatives", type=int,
         help="also attach N exact negatives per type made from the scene (generator shapes:truth)")  # fmt: skip
    flag(shapes, "--shapes-filter", choices=("none", "true", "outside"),
         help="drop rule/LLM negatives that are true of the scene ('true'), also those outside the "
              f"world's language ('outside'), or keep all ('none'); {default_of(BuildConfig, 'shapes_filter')}")  # fmt: skip
    add_llm_arguments(parser)
    add_scoring_arguments(parser)


def config_from_args(args: argparse.Namespace):
    """Translate CLI arguments into a BuildConfig (raises ValueError on bad values).

    Only flags given on the command line are passed on; every other field keeps
    its dataclass default (BuildConfig, ReadConfig, GenerationConfig, ShapesConfig,
    the stage configs), so no default is restated here.
    """
    from negforge.generators.config import GenerationConfig
    from negforge.pipeline.build import BuildConfig
    from negforge.pipeline.io import ReadConfig

    from .args import given
    from .stage_args import llm_config, scoring_config

    types = args.types
    llm_types = [t for t in types or () if t.startswith("llm_")]
    rule_types = None if types is None else tuple(t for t in types if not t.startswith("llm_"))
    seed = given(seed=args.seed)
    shapes = None
    if args.format == "shapes":
        from negforge.generators.shapes import ShapesConfig

        shapes = ShapesConfig(
            **seed,
            **given(
                n_train=args.shapes_train,
                n_val=args.shapes_val,
                n_test=args.shapes_test,
                image_size=args.image_size,
                captions_per_image=args.shapes_captions_per_image,
                max_objects=args.shapes_max_objects,
                truth_negatives_per_type=args.shapes_truth_negatives,
            ),
        )
    read = ReadConfig(
        **given(source=args.source, split=args.split, max_caption_chars=args.max_caption_chars,
                image_root=args.image_root)  # fmt: skip
    )
    generation = GenerationConfig(
        types=rule_types,
        **seed,
        **given(max_per_type=args.max_per_type, max_per_caption=args.max_per_caption),
    )
    return BuildConfig(
        inputs=tuple(args.input),
        output=args.output,
        read=read,
        generation=generation,
        shapes=shapes,
        llm=llm_config(args, llm_types),
        scoring=scoring_config(args),
        **seed,
        **given(
            format=args.format,
            shards=args.shards,
            spacy_model=args.spacy_model,
            embed_images=args.embed_images,
            shapes_filter=args.shapes_filter,
            license=args.license,
            overwrite=args.overwrite,
        ),
    )


def print_summary(manifest, output: str, file=None) -> None:
    """A build's counts for people (``manifest``: a ``pipeline.manifest.Manifest``)."""
    file = file or sys.stdout
    c = manifest.counts
    print(f"\nnegforge build → {output}", file=file)
    print(f"  read {c.read}  written {c.written}  dead-lettered {c.dead_lettered}"
          f"  ({manifest.wall_time_s:.1f} s)", file=file)
    for stage, n in c.dead_lettered_by_stage.items():
        print(f"    dead letters at {stage}: {n}  (see {output}/errors/)", file=file)
    for split, n in c.records_per_split.items():
        print(f"  split {split}: {n} records", file=file)
    print(f"  negatives: {c.negatives_total} on {c.records_with_negatives} records", file=file)
    for t, n in c.negatives_per_type.items():
        print(f"    {t:<12} {n}", file=file)
    for key, value in manifest.stats.items():
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
    counts = manifest.counts
    if counts.read == 0 or counts.written == 0 and counts.dead_lettered_by_stage.get("read", 0) == counts.read:
        files = ", ".join(i.path for i in manifest.inputs) or "(no files)"
        print(f"negforge build: nothing could be read from {files}; see {config.output}/errors/", file=sys.stderr)
        return 1
    return 0
