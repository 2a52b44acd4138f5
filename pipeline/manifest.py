"""``manifest.json``: what was built, from what, with which config, and exact counts.

One typed :class:`Manifest` is the contract between the build (which writes it)
and everything that reads a build folder: the dataset card, ``negforge
inspect``, ``validate``, ``publish`` and ``demo``. Readers use attributes, not
string keys, so a renamed field breaks loudly in every reader (and in the card
test that compares every field with the card), never silently as a 0.

The counts come from the data written (each write step returns its counts and
the build sums them), so they are exact on every runner:
``read == written + dead_lettered``. Beam metrics are not used for them: see
``pipeline.stages``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apache_beam.io.filesystems import FileSystems

from negforge.schemas import SCHEMA_VERSION
from negforge.schemas.layout import MANIFEST_FILE

from .stages import METRICS_NAMESPACE
from .version import dist_version, negforge_version

logger = logging.getLogger(__name__)

#: Version of this file's layout; readers refuse other versions with a clear error.
MANIFEST_FORMAT = 1


class ManifestError(ValueError):
    """A manifest.json that is not one this negforge writes; the message names the file and key."""


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the config (sorted keys), first 16 hex digits."""
    canonical = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Versions:
    manifest: int  # MANIFEST_FORMAT of this file
    schema: str  # record schema version in the shards (schemas.SCHEMA_VERSION)
    negforge: str
    python: str
    apache_beam: str
    pyarrow: str
    spacy: str

    @classmethod
    def current(cls) -> Versions:
        """The versions of this process (the launcher's; Dataflow workers must match its Beam)."""
        return cls(
            manifest=MANIFEST_FORMAT,
            schema=SCHEMA_VERSION,
            negforge=negforge_version(),
            python=platform.python_version(),
            apache_beam=dist_version("apache-beam"),
            pyarrow=dist_version("pyarrow"),
            spacy=dist_version("spacy"),
        )


@dataclass(frozen=True)
class InputFile:
    path: str  # as expanded from --input (any Beam filesystem)
    size_bytes: int  # bytes as stored (a .gz input: its compressed size)
    sha256: str  # hex sha256 of those bytes

    def __post_init__(self) -> None:
        if not _is_count(self.size_bytes):
            raise ValueError(f"size_bytes must be an integer >= 0, got {self.size_bytes!r}")
        if not isinstance(self.sha256, str) or len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {self.sha256!r}")


@dataclass(frozen=True)
class Counts:
    read: int  # input units: rows, samples, and files that could not be read at all
    written: int  # records in data/ shards
    dead_lettered: int  # rows in errors/ shards
    dead_lettered_by_stage: dict[str, int] = field(default_factory=dict)  # read, dedup, parse, ...
    records_per_split: dict[str, int] = field(default_factory=dict)
    records_with_negatives: int = 0
    negatives_total: int = 0
    negatives_per_type: dict[str, int] = field(default_factory=dict)  # DESIGN §3 type names
    negatives_per_generator: dict[str, int] = field(default_factory=dict)  # "rule:swap_att@1", "llm:..."

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                bad = {k: v for k, v in value.items() if not isinstance(k, str) or not _is_count(v)}
                if bad:
                    raise ValueError(f"{f.name} must map names to counts >= 0, got {bad!r}")
            elif not _is_count(value):
                raise ValueError(f"{f.name} must be an integer >= 0, got {value!r}")

    @classmethod
    def from_stats(cls, stats: Mapping[str, float]) -> Counts:
        """From the summed write statistics (``sinks.shard_stats`` / ``sinks.error_stats`` keys)."""
        per_type = _group(stats, "negatives.")
        return cls(
            read=int(stats.get("read", 0)),
            written=int(stats.get("written", 0)),
            dead_lettered=int(stats.get("dead_lettered", 0)),
            dead_lettered_by_stage=_group(stats, "dead."),
            records_per_split=_group(stats, "split."),
            records_with_negatives=int(stats.get("records_with_negatives", 0)),
            negatives_total=sum(per_type.values()),
            negatives_per_type=per_type,
            negatives_per_generator=_group(stats, "generators."),
        )

    def accounting_problems(self) -> list[str]:
        """Broken invariants of a build (each is a negforge bug, not bad input)."""
        problems = []
        if self.read != self.written + self.dead_lettered:
            problems.append(f"read {self.read} != written {self.written} + dead_lettered {self.dead_lettered}")
        checks = (
            ("dead_lettered_by_stage", self.dead_lettered_by_stage, self.dead_lettered),
            ("records_per_split", self.records_per_split, self.written),
            ("negatives_per_type", self.negatives_per_type, self.negatives_total),
            ("negatives_per_generator", self.negatives_per_generator, self.negatives_total),
        )
        for name, parts, total in checks:
            if sum(parts.values()) != total:
                problems.append(f"{name} sums to {sum(parts.values())}, not {total}")
        return problems


#: Stats keys that become ``Counts``; every other key is a stage statistic.
_COUNT_KEYS = frozenset({"read", "written", "dead_lettered", "records_with_negatives"})
_COUNT_PREFIXES = ("dead.", "split.", "negatives.", "generators.")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _group(stats: Mapping[str, float], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: int(v) for k, v in sorted(stats.items()) if k.startswith(prefix)}


def stage_stats(stats: Mapping[str, float]) -> dict[str, float]:
    """The statistics stages reported (``llm.*``, ``score.*``, ``shapes.*``), sorted by key."""
    return {
        k: v for k, v in sorted(stats.items()) if k not in _COUNT_KEYS and not k.startswith(_COUNT_PREFIXES)
    }


@dataclass(frozen=True)
class Manifest:
    versions: Versions
    config: dict[str, Any]  # BuildConfig.fingerprint_dict(): everything that determines the output bytes
    config_hash: str  # config_hash(config)
    inputs: tuple[InputFile, ...]  # every input file, sorted by path (none for shapes world)
    counts: Counts
    stats: dict[str, float]  # stage statistics, summed over workers
    runner: str  # Beam runner that ran the build
    wall_time_s: float  # launcher wall time of the build

    @property
    def license(self) -> str | None:
        """The license the build was given (``--license``), if any."""
        value = self.config.get("license")
        return value if isinstance(value, str) and value else None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["inputs"] = [dataclasses.asdict(i) for i in self.inputs]
        return d

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, default=str).encode() + b"\n"

    @classmethod
    def from_dict(cls, data: Any, source: str = MANIFEST_FILE) -> Manifest:
        """Parse and check a manifest; ``ManifestError`` names ``source`` and the offending key."""
        top = _fields(data, cls, source, "")
        versions = _fields(top["versions"], Versions, source, "versions.")
        if versions["manifest"] != MANIFEST_FORMAT:
            raise ManifestError(
                f"{source}: manifest format {versions['manifest']!r}, this negforge reads {MANIFEST_FORMAT}"
            )
        if not isinstance(top["inputs"], list):
            raise ManifestError(f"{source}: 'inputs' must be a list, got {type(top['inputs']).__name__}")
        raw_inputs = [_fields(item, InputFile, source, f"inputs[{i}].") for i, item in enumerate(top["inputs"])]
        counts = _fields(top["counts"], Counts, source, "counts.")
        for key in ("config", "stats"):
            if not isinstance(top[key], dict):
                raise ManifestError(f"{source}: {key!r} must be an object, got {type(top[key]).__name__}")
        bad = {k: v for k, v in top["stats"].items() if isinstance(v, bool) or not isinstance(v, (int, float))}
        if bad:
            raise ManifestError(f"{source}: 'stats' values must be numbers, got {bad!r}")
        try:
            return cls(
                versions=Versions(**versions),
                config=top["config"],
                config_hash=str(top["config_hash"]),
                inputs=tuple(InputFile(**item) for item in raw_inputs),
                counts=Counts(**counts),
                stats=top["stats"],
                runner=str(top["runner"]),
                wall_time_s=float(top["wall_time_s"]),
            )
        except (TypeError, ValueError) as exc:
            raise ManifestError(f"{source}: {exc}") from exc


def _fields(data: Any, cls: type, source: str, where: str) -> dict[str, Any]:
    """``data`` as exactly the fields of dataclass ``cls``: a missing or unknown key is an error."""
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: {where.rstrip('.') or 'the file'} must be an object, got {type(data).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    missing = [n for n in names if n not in data]
    unknown = sorted(set(data) - set(names))
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f"'{where}{n}'" for n in missing))
        if unknown:
            parts.append("unknown " + ", ".join(f"'{where}{n}'" for n in unknown))
        raise ManifestError(f"{source}: not a negforge manifest of format {MANIFEST_FORMAT}: {'; '.join(parts)}")
    return {n: data[n] for n in names}


def fingerprint_file(path: str, block_bytes: int = 1 << 20) -> InputFile:
    """Size and sha256 of a file's stored bytes, streamed (never whole in memory).

    Compressed inputs are hashed as stored, not decompressed, so the checksum can
    be compared with ``sha256sum`` of the file. The build runs this on workers,
    one file per element, so a driver never downloads a remote input.
    """
    from apache_beam.io.filesystem import CompressionTypes

    digest = hashlib.sha256()
    size = 0
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        while block := f.read(block_bytes):
            digest.update(block)
            size += len(block)
    return InputFile(path=path, size_bytes=size, sha256=digest.hexdigest())


def make_manifest(
    config: Mapping[str, Any],
    inputs: list[InputFile],
    stats: Mapping[str, float],
    wall_time_s: float,
    runner: str,
) -> Manifest:
    return Manifest(
        versions=Versions.current(),
        config=dict(config),
        config_hash=config_hash(config),
        inputs=tuple(sorted(inputs, key=lambda i: i.path)),
        counts=Counts.from_stats(stats),
        stats=stage_stats(stats),
        runner=runner,
        wall_time_s=round(wall_time_s, 3),
    )


def write_manifest(output: str, manifest: Manifest) -> None:
    from .sinks import write_atomic

    write_atomic(FileSystems.join(output, MANIFEST_FILE), manifest.to_json())


def read_manifest(output: str) -> Manifest:
    """The manifest of build folder ``output`` (any Beam filesystem).

    ``FileNotFoundError`` when there is none, ``ManifestError`` when it is not one
    this negforge writes; both name the folder.
    """
    path = FileSystems.join(output, MANIFEST_FILE)
    if not FileSystems.exists(path):
        raise FileNotFoundError(f"no {MANIFEST_FILE} in {output!r}: is it a `negforge build` output folder?")
    with FileSystems.open(path) as f:
        raw = f.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON: {exc}") from exc
    return Manifest.from_dict(data, source=path)


def log_metrics(result: Any) -> None:
    """Log the run's Beam counters (best effort: some runners report none)."""
    try:
        counters = result.metrics().query()["counters"]
    except Exception:  # noqa: BLE001 - metrics are informative only
        return
    for c in sorted(counters, key=lambda c: c.key.metric.name):
        if c.key.metric.namespace == METRICS_NAMESPACE:
            logger.info("metric %s = %s", c.key.metric.name, c.committed)
