"""``negforge publish``: push a build output folder to the Hugging Face Hub."""

from __future__ import annotations

import argparse

HELP = "publish a build output folder to the Hugging Face Hub as a dataset repo"
DESCRIPTION = """\
Publish the folder `negforge build --output OUT_DIR` wrote (data/, errors/,
manifest.json, README.md) as a Hugging Face dataset repo. The dataset card is
rewritten from manifest.json first; remote shards that the folder no longer has
are deleted in the same commit, so the repo always equals the folder.

The token comes from HF_TOKEN or `hf auth login`; it is never printed.
OUT_DIR may be a local path or any Beam filesystem URL (gs://...).

examples:
  negforge publish out/coco-negs --repo-id my-org/coco-hard-negatives --dry-run
  HF_TOKEN=hf_... negforge publish out/coco-negs --repo-id my-org/coco-hard-negatives --private
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output_dir", metavar="OUT_DIR", help="build output folder (local or gs://...)")
    parser.add_argument("--repo-id", required=True, metavar="ORG/NAME", help="target dataset repo")
    parser.add_argument("--private", action="store_true", help="create the repo private (new repos only)")
    parser.add_argument("--revision", default=None, metavar="BRANCH",
                        help="branch to commit to, created from main if missing (default: main)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be uploaded; write nothing, send nothing, need no token")
    parser.add_argument("--message", default=None, help="commit message")
    parser.add_argument("--license", default=None,
                        help="license for the card (default: the build config's, else 'unknown')")
    parser.add_argument("--no-card", action="store_true", help="upload README.md as it is")
    parser.add_argument("--endpoint", default=None, help="Hub URL (default: HF_ENDPOINT or huggingface.co)")
    parser.add_argument("--max-attempts", type=int, default=5, help="tries per Hub operation (default 5)")


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def run(args: argparse.Namespace) -> int:
    from negforge.pipeline.publish import PublishConfig, PublishError, publish

    try:
        config = PublishConfig(
            output_dir=args.output_dir,
            repo_id=args.repo_id,
            private=args.private,
            revision=args.revision,
            commit_message=args.message,
            license=args.license,
            update_card=not args.no_card,
            endpoint=args.endpoint,
            max_attempts=args.max_attempts,
        )
    except ValueError as exc:
        print(f"negforge publish: {exc}")
        return 2
    try:
        result = publish(config, dry_run=args.dry_run)
    except PublishError as exc:
        print(f"negforge publish: {exc}")
        return 1
    except Exception as exc:  # Hub errors: show the server's reason, not a traceback
        status = getattr(getattr(exc, "response", None), "status_code", None)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"negforge publish: failed{f' (HTTP {status})' if status else ''}: {reason}")
        return 1

    verb = "would upload" if result.dry_run else "uploaded"
    print(f"{verb} {len(result.files)} files ({_human(result.total_bytes)}) to dataset {result.repo_id}"
          + (f" @ {config.revision}" if config.revision else ""))
    for f in result.files:
        print(f"  {f.path_in_repo:<48} {_human(f.size):>10}")
    if result.dry_run:
        print("dry run: nothing written or sent" + ("; README.md would be regenerated from manifest.json"
                                                     if config.update_card else ""))
    else:
        print(f"repo:   {result.repo_url}")
        if result.commit_url:
            print(f"commit: {result.commit_url}")
    return 0
