"""The build pipeline: read → dedup → [embed images] → parse → generate → [LLM] → [shapes truth filter]
→ [score] → shard + write.

Beam is orchestration only: every step calls a plain function from
``pipeline.io``, ``generators`` or ``pipeline.sinks``. DoFns load heavy state
(spaCy, WordNet resources) once per worker in ``setup``, count with ``Metrics``
and route failures to a dead-letter output, so every input unit ends up either
in a data shard or in ``errors/``, and the manifest's counts add up:
``read == written + dead_lettered``.

Statistics for the manifest are computed from the data itself (each write
returns its counts; they are summed with ``CombinePerKey``), not from Beam
metrics, because metrics are best-effort on some runners and the manifest must
be exact.
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
from apache_beam.utils import shared

from negforge.generators import registry
from negforge.generators.config import GenerationConfig
from negforge.generators.scene_graph import DEFAULT_SPACY_MODEL
from negforge.schemas import CaptionRecord

from . import io as nf_io
from . import manifest as nf_manifest
from . import sinks
from .errors import DeadLetter

logger = logging.getLogger(__name__)

METRICS_NAMESPACE = "negforge"
DEAD = "dead"
STATS = "stats"
STATS_FILE = "_stats.json"
SHAPES_CHUNK = 256  # scenes per shapes-world work item


@dataclass(frozen=True)
class BuildConfig:
    inputs: tuple[str, ...] = ()  # files, globs or directories (any Beam filesystem)
    output: str = "out"  # output folder: data/, errors/, manifest.json, README.md
    format: str | None = None  # one of io.FORMATS; None = detect per file from its name
    shards: int = 16  # data shards per split
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
    overwrite: bool = False  # replace an existing build in `output`

    def __post_init__(self) -> None:
        if self.shards < 1:
            raise ValueError(f"shards must be >= 1, got {self.shards!r}")
        if self.format is not None and self.format not in nf_io.FORMATS:
            raise ValueError(f"format must be one of {nf_io.FORMATS}, got {self.format!r}")
        if self.format != "shapes" and not self.inputs:
            raise ValueError("inputs must name at least one file, glob or directory")
        if self.shapes_filter not in ("none", "true", "outside"):
            raise ValueError(f"shapes_filter must be one of none/true/outside, got {self.shapes_filter!r}")
        if self.parse_batch_size < 1:
            raise ValueError(f"parse_batch_size must be >= 1, got {self.parse_batch_size!r}")
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
# DoFns
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


class _EmbedImageDoFn(beam.DoFn):
    """Copy the referenced image into the record; an unreadable image dead-letters the record."""

    def __init__(self) -> None:
        self._embedded = Metrics.counter(METRICS_NAMESPACE, "images_embedded")

    def process(self, record: CaptionRecord) -> Iterator[Any]:
        from .images import ImageError, embed_image

        try:
            out = embed_image(record)
        except (ImageError, OSError) as exc:
            uri = record.image.uri if record.image else None
            yield beam.pvalue.TaggedOutput(DEAD, DeadLetter(uri or record.id, "image", str(exc), record.id, record.caption))
            return
        self._embedded.inc()
        yield out


class _Progress:
    """Per-worker progress lines on long runs, at most one every ``every_s`` seconds."""

    def __init__(self, what: str, every_s: float = 30.0):
        self._what = what
        self._every_s = every_s
        self._count = 0
        self._start = self._last = None

    def add(self, n: int) -> None:
        now = time.monotonic()
        if self._start is None:
            self._start = self._last = now
        self._count += n
        if now - self._last >= self._every_s:
            self._last = now
            rate = self._count / max(now - self._start, 1e-9)
            logger.info("%s %d captions on this worker (%.0f/s)", self._what, self._count, rate)

    def __getstate__(self) -> dict:  # fresh counters on every worker
        return {"_what": self._what, "_every_s": self._every_s, "_count": 0, "_start": None, "_last": None}


class _NlpHolder:
    """Weak-referenceable holder so ``shared.Shared`` can cache one pipeline per process."""

    def __init__(self, model: str):
        from negforge.generators.scene_graph import load_nlp

        self.nlp = load_nlp(model)


class _ParseDoFn(beam.DoFn):
    """Batches of records → records with scene graphs, one ``nlp.pipe`` call per batch."""

    def __init__(self, model: str):
        self._model = model
        self._shared = shared.Shared()
        self._parsed = Metrics.counter(METRICS_NAMESPACE, "parsed_captions")
        self._latency = Metrics.distribution(METRICS_NAMESPACE, "parse_batch_latency_ms")
        self._nlp = None
        self._progress = _Progress("parsed")

    def setup(self) -> None:
        self._nlp = self._shared.acquire(lambda: _NlpHolder(self._model), tag=f"spacy:{self._model}").nlp

    def process(self, batch: Sequence[CaptionRecord]) -> Iterator[Any]:
        from negforge.generators.scene_graph import graph_from_doc, parse_captions

        todo = [r for r in batch if r.scene_graph is None]
        for r in batch:
            if r.scene_graph is not None:
                yield r  # exact graphs (shapes world) are kept, not re-parsed
        if not todo:
            return
        started = time.monotonic()
        try:
            graphs = parse_captions(self._nlp, [r.caption for r in todo])
        except Exception:  # noqa: BLE001 - isolate the bad record below
            graphs = None
        self._latency.update(int((time.monotonic() - started) * 1000))
        self._progress.add(len(todo))
        if graphs is not None:
            self._parsed.inc(len(todo))
            for record, graph in zip(todo, graphs, strict=True):
                yield dataclasses.replace(record, scene_graph=graph)
            return
        for record in todo:  # one record broke the batch: find it, keep the rest
            try:
                graph = graph_from_doc(self._nlp(record.caption))
            except Exception as exc:  # noqa: BLE001 - any parser failure is a dead letter
                yield beam.pvalue.TaggedOutput(
                    DEAD, DeadLetter(record.id, "parse", f"{type(exc).__name__}: {exc}", record.id, record.caption)
                )
                continue
            self._parsed.inc()
            yield dataclasses.replace(record, scene_graph=graph)


class _ResourcesHolder:
    def __init__(self) -> None:
        from negforge.generators.resources import load_resources

        self.resources = load_resources()


class _GenerateDoFn(beam.DoFn):
    """Record with a scene graph → record with rule negatives (pure generators inside)."""

    def __init__(self, config: GenerationConfig):
        self._config = config
        self._shared = shared.Shared()
        self._counters: dict[str, Any] = {}
        self._failed = Metrics.counter(METRICS_NAMESPACE, "generate_failed")

    def setup(self) -> None:
        self._resources = self._shared.acquire(_ResourcesHolder, tag="negforge-resources").resources
        self._specs = registry.select(self._config.types)

    def process(self, record: CaptionRecord) -> Iterator[Any]:
        try:
            negatives = registry.generate(
                record.caption, record.scene_graph, record.id, self._specs, self._resources, self._config
            )
        except Exception as exc:  # noqa: BLE001 - a generator bug must not lose the record
            self._failed.inc()
            yield beam.pvalue.TaggedOutput(
                DEAD,
                DeadLetter(record.id, "generate", f"{type(exc).__name__}: {exc}", record.id, record.caption),
            )
            return
        for neg in negatives:
            counter = self._counters.get(neg.type)
            if counter is None:
                counter = self._counters[neg.type] = Metrics.counter(METRICS_NAMESPACE, f"negatives_{neg.type}")
            counter.inc()
        yield dataclasses.replace(record, negatives=tuple(negatives))


class _WriteShardDoFn(beam.DoFn):
    def __init__(self, output: str, num_shards: int):
        self._output = output
        self._num_shards = num_shards

    def process(self, element: tuple[tuple[str, int], Iterable[CaptionRecord | None]]) -> Iterator[Any]:
        (split, index), records = element
        stats = sinks.write_shard(self._output, split, index, self._num_shards, (r for r in records if r is not None))
        yield from stats.items()


def _write_stats(stats: dict[str, float], output: str) -> None:
    payload = json.dumps(dict(sorted(stats.items())), indent=1).encode()
    sinks.write_atomic(FileSystems.join(output, STATS_FILE), payload)


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
    else:
        read = (
            p
            | "InputFiles" >> beam.Create(list(files))
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadFiles" >> beam.ParDo(_ReadFileDoFn(config.format, config.read)).with_outputs(DEAD, STATS, main="items")
        )
        dead_parts.append(read[DEAD])
    stat_parts.append(read[STATS])

    dedup = (
        read["items"]
        | "KeyById" >> beam.Map(lambda item: (item.record.id, item))
        | "GroupById" >> beam.GroupByKey()
        | "Dedup" >> beam.ParDo(_DedupDoFn()).with_outputs(DEAD, main="records")
    )
    dead_parts.append(dedup[DEAD])
    records = dedup["records"]
    if config.embed_images:
        embedded = records | "EmbedImages" >> beam.ParDo(_EmbedImageDoFn()).with_outputs(DEAD, main="records")
        dead_parts.append(embedded[DEAD])
        records = embedded["records"]

    parsed = (
        records
        | "BatchForParse" >> beam.BatchElements(min_batch_size=8, max_batch_size=config.parse_batch_size)
        | "Parse" >> beam.ParDo(_ParseDoFn(config.spacy_model)).with_outputs(DEAD, main="records")
    )
    dead_parts.append(parsed[DEAD])

    generated = parsed["records"] | "Generate" >> beam.ParDo(_GenerateDoFn(config.generation)).with_outputs(
        DEAD, main="records"
    )
    dead_parts.append(generated[DEAD])
    records = generated["records"]

    if config.llm is not None:
        from .stages.llm import LLMNegatives

        out = records | "LLMNegatives" >> LLMNegatives(config.llm, seed=config.seed)
        records = out.records
        dead_parts.append(out.dead)
        stat_parts.append(out.stats)
    if config.format == "shapes" and config.shapes_filter != "none":
        from .stages.shapes_filter import ShapesTruthFilter

        out = records | "ShapesTruthFilter" >> ShapesTruthFilter(
            config.shapes, drop_outside=config.shapes_filter == "outside"
        )
        records = out.records
        dead_parts.append(out.dead)
        stat_parts.append(out.stats)
    if config.scoring is not None:
        from .stages.score import ScoreNegatives

        out = records | "ScoreNegatives" >> ScoreNegatives(config.scoring, seed=config.seed)
        records = out.records
        dead_parts.append(out.dead)
        stat_parts.append(out.stats)

    n = config.shards
    keyed = records | "KeyByShard" >> beam.Map(lambda r: ((r.split, sinks.shard_index(r.id, n)), r))
    # Every split present gets all N shard files, even empty ones, so the layout is complete.
    empty = (
        records
        | "Splits" >> beam.Map(lambda r: r.split)
        | "DistinctSplits" >> beam.Distinct()
        | "AllShards" >> beam.FlatMap(lambda s: [((s, i), None) for i in range(n)])
    )
    shard_stats = (
        (keyed, empty)
        | "MergeShardKeys" >> beam.Flatten()
        | "GroupByShard" >> beam.GroupByKey()
        | "WriteShards" >> beam.ParDo(_WriteShardDoFn(config.output, n))
    )
    stat_parts.append(shard_stats)

    error_stats = (
        tuple(dead_parts)
        | "MergeDeadLetters" >> beam.Flatten()
        | "CollectDeadLetters" >> beam.combiners.ToList()
        | "WriteErrors" >> beam.FlatMap(lambda dead: sinks.write_errors(config.output, dead).items())
    )
    stat_parts.append(error_stats)

    _ = (
        tuple(stat_parts)
        | "MergeStats" >> beam.Flatten()
        | "SumStats" >> beam.CombinePerKey(sum)
        | "StatsDict" >> beam.combiners.ToDict()
        | "WriteStats" >> beam.Map(_write_stats, config.output)
    )


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


class BuildError(RuntimeError):
    """A build that cannot run or produced nothing; the message names the files."""


def _prepare_output(config: BuildConfig) -> None:
    manifest_path = FileSystems.join(config.output, nf_manifest.MANIFEST_FILE)
    if FileSystems.exists(manifest_path) and not config.overwrite:
        raise BuildError(f"{config.output!r} already holds a build (manifest.json); pass --overwrite to replace it")
    stale = []
    for sub in (sinks.DATA_DIR, sinks.ERRORS_DIR):
        pattern = FileSystems.join(config.output, sub, "*.parquet")
        stale += [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    for name in (nf_manifest.MANIFEST_FILE, STATS_FILE):
        path = FileSystems.join(config.output, name)
        if FileSystems.exists(path):
            stale.append(path)
    if stale:
        logger.info("removing %d files of the previous build in %s", len(stale), config.output)
        FileSystems.delete(stale)


def pipeline_options(pipeline_args: Sequence[str]) -> PipelineOptions:
    options = PipelineOptions(list(pipeline_args))
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = "DirectRunner"
    return options


def run_build(config: BuildConfig, pipeline_args: Sequence[str] = ()) -> dict[str, Any]:
    """Run the build end to end and return the manifest (also written to ``output``)."""
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
    _prepare_output(config)
    inputs = nf_manifest.fingerprint_inputs(files)
    logger.info("building %s from %d input file(s) into %s", config.format or "auto", len(files), config.output)

    options = pipeline_options(pipeline_args)
    with beam.Pipeline(options=options) as p:
        build_pipeline(p, config, files)
    result = p.result

    stats_path = FileSystems.join(config.output, STATS_FILE)
    with FileSystems.open(stats_path) as f:
        stats = json.loads(f.read())
    FileSystems.delete([stats_path])
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
    counts = manifest["counts"]
    if counts["read"] != counts["written"] + counts["dead_lettered"]:
        raise BuildError(f"accounting mismatch: {counts} (please report this as a bug)")
    return manifest
