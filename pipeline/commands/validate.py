"""``negforge validate DIR``: check every shard against schema v1 and the manifest."""

from __future__ import annotations

import argparse

HELP = "check a build's shards against the record schema and its manifest counts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", metavar="DIR", help="a `negforge build` output folder (or one .parquet file)")
    parser.add_argument("--max-errors", type=int, default=50, help="violations to print (default 50)")


def run(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    from negforge.pipeline.manifest import ManifestError, read_manifest
    from negforge.schemas import layout, validate_file

    if args.output.endswith(".parquet"):
        files, manifest = [args.output], None
    else:
        pattern = FileSystems.join(args.output, layout.DATA_DIR, "*.parquet")
        files = sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)
        try:
            manifest = read_manifest(args.output)
        except (FileNotFoundError, ManifestError) as exc:
            print(f"negforge validate: {exc}")
            return 1
    if not files:
        print(f"negforge validate: no Parquet shards under {args.output}/data")
        return 1
    violations = []
    rows = 0
    rows_per_split: dict[str, int] = {}
    seen_ids: dict[str, str] = {}
    for path in files:
        shard = layout.parse_shard_name(path.rsplit("/", 1)[-1])
        if manifest is not None and shard is None:
            violations.append(f"{path}: not named {{split}}-NNNNN-of-NNNNN.parquet")
        violations.extend(validate_file(path))
        try:
            ids = pq.read_table(path, columns=["id"]).column("id").to_pylist()
        except Exception:  # noqa: BLE001 - already reported by validate_file
            continue
        rows += len(ids)
        if shard is not None:
            rows_per_split[shard.split] = rows_per_split.get(shard.split, 0) + len(ids)
        for rid in ids:
            if rid in seen_ids:
                violations.append(f"{path}: record {rid!r}: id: duplicate (also in {seen_ids[rid]})")
            seen_ids[rid] = path
    if manifest is not None:
        if manifest.counts.written != rows:
            violations.append(f"manifest says {manifest.counts.written} records written, shards hold {rows}")
        expected = {k: v for k, v in manifest.counts.records_per_split.items() if v}
        found = {k: v for k, v in rows_per_split.items() if v}
        if expected != found:
            violations.append(f"manifest says records per split {expected}, shards hold {found}")
        violations += [f"manifest: {p}" for p in manifest.counts.accounting_problems()]
    for v in violations[: args.max_errors]:
        print(v)
    if len(violations) > args.max_errors:
        print(f"... and {len(violations) - args.max_errors} more")
    status = "OK" if not violations else f"{len(violations)} violation(s)"
    print(f"negforge validate: {len(files)} shard(s), {rows} records: {status}")
    return 0 if not violations else 1
