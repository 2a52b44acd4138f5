"""The build pipeline: read → dedup → stages (embed images, parse, rules, LLM, shapes filter, score)
→ shard + write.

Beam is orchestration only: every step calls a plain function from
``pipeline.io``, ``generators`` or ``pipeline.sinks``. The stages
(``pipeline.stages``) load heavy state (spaCy, WordNet, scoring models) once per
worker in ``setup`` through ``shared.Shared``, count with ``Metrics`` and route
failures to a dead-letter output, so every input unit ends up either in a data
shard or in an ``errors/`` shard, and the manifest's counts add up:
``read == written + dead_lettered``.

Statistics for the manifest are computed from the data itself (each write
returns its counts; they are summed with ``CombinePerKey``), not from Beam
metrics, because metrics are best-effort on some runners and the manifest must
be exact. Input fingerprints (size, sha256) are computed on workers too, so the
launcher never downloads a remote input.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from negforge.generators import registry
from negforge.generators.config import GenerationConfig
from negforge.generators.scene_graph import DEFAULT_SPACY_MODEL
from negforge.schemas import CaptionRecord, layout

from . import io as nf_io
from . import manifest as nf_manifest
from . import sinks
from .errors import DeadLetter
from .stages import DEAD, METRICS_NAMESPACE, STATS, apply_stages

logger = logging.getLogger(__name__)

#: Written by the pipeline's last step, read and removed by the launcher.
BUILD_RESULT_FILE = "_build.json"
SHAPES_CHUNK = 256  # scenes per shapes-world work item


@dataclass(frozen=True)
class BuildConfig:
    inputs: tuple[str, ...] = ()  # files, globs or directories (any Beam filesystem)
    output: str = "out"  # output folder: data/, errors/, manifest.json, README.md
    format: str | None = None  # one of io.FORMATS; None = detect per file from its name
    shards: int = 16  # data shards per split, and dead-letter shards
    seed: int = 0  # global seed: negatives are a function of (seed, record id, generator)
    read: nf_io.ReadConfig = field(default_factory=nf_io.ReadConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    spacy_model: str = DEFAULT_SPACY_MODEL  # any installed spaCy pipeline name or path
    parse_batch_size: int = 256  # upper bound for BatchElements before nlp.pipe
    shapes: Any = None  # negforge.generators.shapes.ShapesConfig when format == "shapes"
    llm: Any = None  # LLM stage config (pipeline.stages.llm), None = off
    scoring: Any = None  # scoring stage config (pipeline.stages.score), None = off
    shapes_filter: str = "true"  # shapes world: drop negatives judged "true" of the scene, or "outside" too, or "none"
    embed_images: bool = False  # copy referenced image bytes into the shards (default: keep references)
    license: str | None = None  # dataset card license (a Hub license id, e.g. "cc-by-4.0"); None = unknown
    overwrite: bool = False  # replace an existing build in `output`

    def __post_init__(self) -> None:
        if not 1 <= self.shards <= layout.MAX_SHARDS:
            raise ValueError(f"shards must be in 1..{layout.MAX_SHARDS}, got {self.shards!r}")
        if self.format is not None and self.format not in nf_io.FORMATS:
            raise ValueError(f"format must be one of {nf_io.FORMATS}, got {self.format!r}")
        if self.format != "shapes" and not self.inputs:
            raise ValueError("inputs must name at least one file, glob or directory")
        if self.shapes_filter not in ("none", "true", "outside"):
            raise ValueError(f"shapes_filter must be one of none/true/outside, got {self.shapes_filter!r}")
        if self.parse_batch_size < 1:
            raise ValueError(f"parse_batch_size must be >= 1, got {self.parse_batch_size!r}")
        if self.license is not None and (not self.license.strip() or any(c.isspace() for c in self.license)):
            raise ValueError(f"license must be a license id without spaces (e.g. cc-by-4.0), got {self.license!r}")
        if isinstance(self.inputs, (str, list)):
            object.__setattr__(self, "inputs", (self.inputs,) if isinstance(self.inputs, str) else tuple(self.inputs))
        # One seed: the generation config follows the build's.
        if self.generation.seed != self.seed:
            object.__setattr__(self, "generation", dataclasses.replace(self.generation, seed=self.seed))

    def fingerprint_dict(self) -> dict[str, Any]:
        """What determines the output bytes (the output location does not)."""
        d = dataclasses.asdict(self)
        for key in ("output", "overwrite"):
            d.pop(key)
        return d


# ---------------------------------------------------------------------------
# Reading and writing DoFns (the stages in between live in pipeline.stages)
# ---------------------------------------------------------------------------


class _ReadFileDoFn(beam.DoFn):
    """One input file → ReadItems with records; dead letters and read counts as side outputs."""

    def __init__(self, fmt: str | None, config: nf_io.ReadConfig):
        self._fmt = fmt
        self._config = config
        self._read = Metrics.counter(METRICS_NAMESPACE, "read_records")
        self._bad = Metrics.counter(METRICS_NAMESPACE, "read_dead_lettered")

    def process(self, path: str) -> Iterator[Any]:
        count = 0
        started = time.monotonic()
        for item in nf_io.read_file(path, self._fmt, self._config):
            count += 1
            if item.dead is not None:
                self._bad.inc()
                yield beam.pvalue.TaggedOutput(DEAD, item.dead)
            else:
                self._read.inc()
                yield item
            if count % 50_000 == 0:
                logger.info("reading %s: %d rows (%.0f rows/s)", path, count, count / (time.monotonic() - started))
        yield beam.pvalue.TaggedOutput(STATS, ("read", count))


class _FingerprintDoFn(beam.DoFn):
    """One input file → its size and sha256 (streamed; on a worker, not the launcher).

    A file that cannot be opened has no fingerprint; the reader dead-letters it.
    """

    def process(self, path: str) -> Iterator[nf_manifest.InputFile]:
        try:
            yield nf_manifest.fingerprint_file(path)
        except OSError as exc:
            logger.warning("no fingerprint for %s: %s", path, exc)


class _ShapesDoFn(beam.DoFn):
    """A chunk of shapes-world scenes → records with exact scene graphs."""

    def __init__(self, config: Any):
        self._config = config

    def process(self, chunk: tuple[str, int, int]) -> Iterator[Any]:
        from negforge.generators.shapes import scene_records

        split, start, stop = chunk
        records = scene_records(self._config, split, start, stop)
        for i, record in enumerate(records):
            yield nf_io.ReadItem((f"shapes:{split}", start + i), f"shapes:{split}:{start + i}", record=record)
        yield beam.pvalue.TaggedOutput(STATS, ("read", len(records)))


class _DedupDoFn(beam.DoFn):
    """Keep the first record of each id in input order; later ones are dead letters."""

    def __init__(self) -> None:
        self._dups = Metrics.counter(METRICS_NAMESPACE, "duplicate_ids")

    def process(self, element: tuple[str, Iterable[nf_io.ReadItem]]) -> Iterator[Any]:
        rid, items = element
        ordered = sorted(items, key=lambda it: it.order)
        first = ordered[0]
        yield first.record
        for dup in ordered[1:]:
            self._dups.inc()
            yield beam.pvalue.TaggedOutput(
                DEAD,
                DeadLetter(
                    dup.ref,
                    "dedup",
                    f"duplicate id {rid!r} (first seen at {first.ref})",
                    record_id=rid,
                    raw=dup.record.caption,
                ),
            )


class _WriteShardDoFn(beam.DoFn):
    def __init__(self, output: str, num_shards: int):
        self._output = output
        self._num_shards = num_shards

    def process(self, element: tuple[tuple[str, int], Iterable[CaptionRecord | None]]) -> Iterator[Any]:
        (split, index), records = element
        stats = sinks.write_shard(self._output, split, index, self._num_shards, (r for r in records if r is not None))
        yield from stats.items()


class _WriteErrorShardDoFn(beam.DoFn):
    def __init__(self, output: str, num_shards: int):
        self._output = output
        self._num_shards = num_shards

    def process(self, element: tuple[int, Iterable[DeadLetter | None]]) -> Iterator[Any]:
        index, letters = element
        stats = sinks.write_error_shard(self._output, index, self._num_shards, (d for d in letters if d is not None))
        yield from stats.items()


def _write_result(_: Any, output: str, stats: dict[str, float], inputs: list[nf_manifest.InputFile]) -> None:
    payload = {
        "stats": dict(sorted(stats.items())),
        "inputs": [dataclasses.asdict(i) for i in sorted(inputs, key=lambda i: i.path)],
    }
    sinks.write_atomic(FileSystems.join(output, BUILD_RESULT_FILE), json.dumps(payload, indent=1).encode())


# ---------------------------------------------------------------------------
# Graph
# ---------------------------------------------------------------------------


def _shapes_chunks(shapes_config: Any) -> list[tuple[str, int, int]]:
    from negforge.generators.shapes import split_sizes

    return [
        (split, start, min(start + SHAPES_CHUNK, n))
        for split, n in split_sizes(shapes_config).items()
        for start in range(0, n, SHAPES_CHUNK)
    ]


def record_stages(config: BuildConfig) -> list[tuple[str, beam.PTransform]]:
    """The stages between dedup and the write, in order, as ``(step label, transform)``."""
    from .stages.generate import RuleNegatives
    from .stages.parse import ParseCaptions

    stages: list[tuple[str, beam.PTransform]] = []
    if config.embed_images:
        from .stages.embed import EmbedImages

        stages.append(("EmbedImages", EmbedImages()))
    stages.append(("Parse", ParseCaptions(config.spacy_model, config.parse_batch_size)))
    stages.append(("Generate", RuleNegatives(config.generation)))
    if config.llm is not None:
        from .stages.llm import LLMNegatives

        stages.append(("LLMNegatives", LLMNegatives(config.llm, seed=config.seed)))
    if config.format == "shapes" and config.shapes_filter != "none":
        from .stages.shapes_filter import ShapesTruthFilter

        stages.append(
            ("ShapesTruthFilter", ShapesTruthFilter(config.shapes, drop_outside=config.shapes_filter == "outside"))
        )
    if config.scoring is not None:
        from .stages.score import ScoreNegatives

        stages.append(("ScoreNegatives", ScoreNegatives(config.scoring, seed=config.seed)))
    return stages


def _all_keys(n: int, split: str | None = None) -> Any:
    """``(key, None)`` for every shard, so each shard file is written even when empty (complete layout)."""
    if split is None:
        return [(i, None) for i in range(n)]
    return [((split, i), None) for i in range(n)]


def build_pipeline(p: beam.Pipeline, config: BuildConfig, files: Sequence[str]) -> None:
    """Add the whole build to ``p`` (writes are side effects of the final steps)."""
    dead_parts: list[beam.PCollection] = []
    stat_parts: list[beam.PCollection] = []

    if config.format == "shapes":
        read = (
            p
            | "ShapesChunks" >> beam.Create(_shapes_chunks(config.shapes))
            | "SpreadChunks" >> beam.Reshuffle()
            | "RenderShapes" >> beam.ParDo(_ShapesDoFn(config.shapes)).with_outputs(STATS, main="items")
        )
        inputs = p | "NoInputFiles" >> beam.Create([])
    else:
        spread = p | "InputFiles" >> beam.Create(list(files)) | "SpreadFiles" >> beam.Reshuffle()
        read = spread | "ReadFiles" >> beam.ParDo(_ReadFileDoFn(config.format, config.read)).with_outputs(
            DEAD, STATS, main="items"
        )
        dead_parts.append(read[DEAD])
        inputs = spread | "FingerprintInputs" >> beam.ParDo(_FingerprintDoFn())
    stat_parts.append(read[STATS])

    dedup = (
        read["items"]
        | "KeyById" >> beam.Map(lambda item: (item.record.id, item))
        | "GroupById" >> beam.GroupByKey()
        | "Dedup" >> beam.ParDo(_DedupDoFn()).with_outputs(DEAD, main="records")
    )
    dead_parts.append(dedup[DEAD])

    chained = apply_stages(dedup["records"], record_stages(config))
    records = chained.records
    dead_parts += chained.dead
    stat_parts += chained.stats

    n = config.shards
    keyed = records | "KeyByShard" >> beam.Map(lambda r: ((r.split, sinks.shard_index(r.id, n)), r))
    # Every split present gets all N shard files, even empty ones, so the layout is complete.
    empty = (
        records
        | "Splits" >> beam.Map(lambda r: r.split)
        | "DistinctSplits" >> beam.Distinct()
        | "AllShards" >> beam.FlatMap(lambda s: _all_keys(n, s))
    )
    shard_stats = (
        (keyed, empty)
        | "MergeShardKeys" >> beam.Flatten()
        | "GroupByShard" >> beam.GroupByKey()
        | "WriteShards" >> beam.ParDo(_WriteShardDoFn(config.output, n))
    )
    stat_parts.append(shard_stats)

    # Dead letters are sharded like the data: N files, every one written (even empty).
    keyed_dead = (
        tuple(dead_parts)
        | "MergeDeadLetters" >> beam.Flatten()
        | "KeyByErrorShard" >> beam.Map(lambda d: (sinks.shard_index(d.shard_key(), n), d))
    )
    error_stats = (
        (keyed_dead, p | "AllErrorShards" >> beam.Create(_all_keys(n)))
        | "MergeErrorKeys" >> beam.Flatten()
        | "GroupByErrorShard" >> beam.GroupByKey()
        | "WriteErrorShards" >> beam.ParDo(_WriteErrorShardDoFn(config.output, n))
    )
    stat_parts.append(error_stats)

    stats = (
        tuple(stat_parts)
        | "MergeStats" >> beam.Flatten()
        | "SumStats" >> beam.CombinePerKey(sum)
        | "StatsDict" >> beam.combiners.ToDict()
    )
    fingerprints = inputs | "CollectInputs" >> beam.combiners.ToList()
    _ = (
        p
        | "Result" >> beam.Create([None])
        | "WriteResult"
        >> beam.Map(
            _write_result,
            config.output,
            stats=beam.pvalue.AsSingleton(stats),
            inputs=beam.pvalue.AsSingleton(fingerprints),
        )
    )


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


class BuildError(RuntimeError):
    """A build that cannot run or produced nothing; the message names the files."""


def _prepare_output(config: BuildConfig) -> None:
    manifest_path = FileSystems.join(config.output, layout.MANIFEST_FILE)
    if FileSystems.exists(manifest_path) and not config.overwrite:
        raise BuildError(f"{config.output!r} already holds a build (manifest.json); pass --overwrite to replace it")
    stale = []
    for sub in (layout.DATA_DIR, layout.ERRORS_DIR):
        pattern = FileSystems.join(config.output, sub, "*.parquet")
        stale += [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    for name in (layout.MANIFEST_FILE, BUILD_RESULT_FILE):
        path = FileSystems.join(config.output, name)
        if FileSystems.exists(path):
            stale.append(path)
    if stale:
        logger.info("removing %d files of the previous build in %s", len(stale), config.output)
        FileSystems.delete(stale)


#: What the optional stages import where they run, and the extra that installs it.
_STAGE_NEEDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "scoring": ("score", ("torch", "transformers", "sentence_transformers")),
    "llm": ("llm", ("openai",)),
}


def missing_extras(config: BuildConfig) -> list[str]:
    """``"stage needs pkg: pip install 'negforge[extra]'"`` for each stage whose packages are absent here."""
    import importlib.util

    problems = []
    for stage, (extra, packages) in _STAGE_NEEDS.items():
        if getattr(config, stage) is None:
            continue
        absent = [p for p in packages if importlib.util.find_spec(p) is None]
        if absent:
            problems.append(f"the {stage} stage needs {', '.join(absent)}: pip install 'negforge[{extra}]'")
    return problems


def pipeline_options(pipeline_args: Sequence[str]) -> PipelineOptions:
    options = PipelineOptions(list(pipeline_args))
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = "DirectRunner"
    return options


def _read_result(output: str) -> tuple[dict[str, float], list[nf_manifest.InputFile]]:
    path = FileSystems.join(output, BUILD_RESULT_FILE)
    with FileSystems.open(path) as f:
        payload = json.loads(f.read())
    FileSystems.delete([path])
    return payload["stats"], [nf_manifest.InputFile(**i) for i in payload["inputs"]]


def run_build(config: BuildConfig, pipeline_args: Sequence[str] = ()) -> nf_manifest.Manifest:
    """Run the build end to end and return the manifest (also written to ``output``, with the card)."""
    started = time.time()
    if config.format == "shapes":
        if config.shapes is None:
            from negforge.generators.shapes import ShapesConfig

            config = dataclasses.replace(config, shapes=ShapesConfig(seed=config.seed))
        files: list[str] = []
    else:
        try:
            files = nf_io.expand_inputs(config.inputs)
        except FileNotFoundError as exc:
            raise BuildError(str(exc)) from exc
    registry.select(config.generation.types)  # fail fast on unknown generator names
    options = pipeline_options(pipeline_args)
    if options.view_as(StandardOptions).runner in ("DirectRunner", "direct"):
        # The stages run in this environment: fail now, not in a worker after the read.
        # (On Dataflow they run in the worker image, which the launcher cannot check.)
        problems = missing_extras(config)
        if problems:
            raise BuildError("; ".join(problems))
    _prepare_output(config)
    logger.info("building %s from %d input file(s) into %s", config.format or "auto", len(files), config.output)

    with beam.Pipeline(options=options) as p:
        build_pipeline(p, config, files)
    result = p.result

    stats, inputs = _read_result(config.output)
    manifest = nf_manifest.make_manifest(
        config=config.fingerprint_dict(),
        inputs=inputs,
        stats=stats,
        wall_time_s=time.time() - started,
        runner=str(options.view_as(StandardOptions).runner),
    )
    nf_manifest.write_manifest(config.output, manifest)
    from .card import write_card

    write_card(config.output, manifest)
    nf_manifest.log_metrics(result)
    problems = manifest.counts.accounting_problems()
    if problems:
        raise BuildError(f"accounting mismatch: {'; '.join(problems)} (please report this as a bug)")
    return manifest
