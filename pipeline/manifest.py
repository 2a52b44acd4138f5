"""``manifest.json``: what was built, from what, with which config, and exact counts.

The counts come from the data written (summed per shard), so they are exact on
every runner: ``read == written + dead_lettered``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

from apache_beam.io.filesystems import FileSystems

from negforge.schemas import SCHEMA_VERSION

logger = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"


def negforge_version() -> str:
    try:
        return metadata.version("negforge")
    except metadata.PackageNotFoundError:
        return "unknown"


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the config (sorted keys), first 16 hex digits."""
    canonical = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def fingerprint_inputs(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Size and checksum of each input file.

    Local files get a sha256 of their bytes; remote files (``gs://`` …) use the
    filesystem's own checksum so the driver does not download the whole input.
    """
    out = []
    for path in paths:
        size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
        if "://" in path:
            try:
                checksum = f"{FileSystems.get_filesystem(path).scheme()}:{FileSystems.checksum(path)}"
            except Exception as exc:  # noqa: BLE001 - a missing checksum must not fail the build
                checksum = f"unavailable: {exc}"
        else:
            h = hashlib.sha256()
            with FileSystems.open(path) as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            checksum = f"sha256:{h.hexdigest()}"
        out.append({"path": path, "size_bytes": size, "checksum": checksum})
    return out


def _group(stats: Mapping[str, float], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: int(v) for k, v in sorted(stats.items()) if k.startswith(prefix)}


def make_manifest(
    config: Mapping[str, Any],
    inputs: list[dict[str, Any]],
    stats: Mapping[str, float],
    wall_time_s: float,
    runner: str,
) -> dict[str, Any]:
    counts = {
        "read": int(stats.get("read", 0)),
        "written": int(stats.get("written", 0)),
        "dead_lettered": int(stats.get("dead_lettered", 0)),
        "dead_lettered_by_stage": _group(stats, "dead."),
        "records_per_split": _group(stats, "split."),
        "records_with_negatives": int(stats.get("records_with_negatives", 0)),
        "negatives_total": int(sum(v for k, v in stats.items() if k.startswith("negatives."))),
        "negatives_per_type": _group(stats, "negatives."),
        "negatives_per_generator": _group(stats, "generators."),
    }
    known = {"read", "written", "dead_lettered", "records_with_negatives"}
    known_prefixes = ("dead.", "split.", "negatives.", "generators.")
    stage_stats = {
        k: v for k, v in sorted(stats.items()) if k not in known and not k.startswith(known_prefixes)
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "negforge_version": negforge_version(),
        "config": dict(config),
        "config_hash": config_hash(config),
        "inputs": inputs,
        "counts": counts,
        "stats": stage_stats,
        "runner": runner,
        "wall_time_s": round(wall_time_s, 3),
    }


def write_manifest(output: str, manifest: Mapping[str, Any]) -> None:
    from .sinks import write_atomic

    data = json.dumps(manifest, indent=2, sort_keys=False, default=str).encode() + b"\n"
    write_atomic(FileSystems.join(output, MANIFEST_FILE), data)


def read_manifest(output: str) -> dict[str, Any]:
    path = FileSystems.join(output, MANIFEST_FILE)
    if not FileSystems.exists(path):
        raise FileNotFoundError(f"no {MANIFEST_FILE} in {output!r}: is it a `negforge build` output folder?")
    with FileSystems.open(path) as f:
        return json.loads(f.read())


def log_metrics(result: Any) -> None:
    """Print the run's Beam counters (best effort: some runners report none)."""
    try:
        counters = result.metrics().query()["counters"]
    except Exception:  # noqa: BLE001 - metrics are informative only
        return
    for c in sorted(counters, key=lambda c: c.key.metric.name):
        if c.key.metric.namespace == "negforge":
            logger.info("metric %s = %s", c.key.metric.name, c.committed)
