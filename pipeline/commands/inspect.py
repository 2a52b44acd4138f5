"""``negforge inspect DIR``: manifest statistics and a few sample rows."""

from __future__ import annotations

import argparse
import json
import random

HELP = "print a build's manifest statistics and a few sample rows with their negatives"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", metavar="DIR", help="a `negforge build` output folder")
    parser.add_argument("-n", "--samples", type=int, default=3, help="sample rows to show (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="which samples (default 0)")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")


def _data_files(output: str) -> list[str]:
    from apache_beam.io.filesystems import FileSystems

    from negforge.schemas.layout import DATA_DIR

    pattern = FileSystems.join(output, DATA_DIR, "*.parquet")
    return sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)


def run(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    from negforge.pipeline.commands.build import print_summary
    from negforge.pipeline.manifest import ManifestError, read_manifest

    try:
        manifest = read_manifest(args.output)
    except (FileNotFoundError, ManifestError) as exc:
        print(f"negforge inspect: {exc}")
        return 1
    if args.json:
        print(json.dumps(manifest.to_dict(), indent=2))
        return 0
    print_summary(manifest, args.output)
    v = manifest.versions
    print(f"  schema v{v.schema}  negforge {v.negforge}  beam {v.apache_beam}"
          f"  config {manifest.config_hash}  runner {manifest.runner}")
    for i in manifest.inputs:
        print(f"  input {i.path}  {i.size_bytes:,} bytes  sha256 {i.sha256}")
    files = [f for f in _data_files(args.output)]
    rng = random.Random(args.seed)
    rows = []
    for path in files:
        with FileSystems.open(path) as f:
            table = pq.read_table(f, columns=["id", "caption", "negatives"])
        rows.extend(table.slice(0, 50).to_pylist())
        if len(rows) >= 200:
            break
    for row in rng.sample(rows, min(args.samples, len(rows))):
        print(f"\n[{row['id']}] {row['caption']}")
        for neg in row["negatives"] or []:
            print(f"   {neg['type']:<12} {neg['text']}   ({neg['generator']})")
    return 0
