"""Fluency / plausibility scores and the filters built on them (DESIGN §5).

A negative a blind text model can spot teaches the vision-language model
nothing about the image (SugarCrepe). This module holds the pure parts — no
model, no Beam: turning per-token log-probabilities into scores, deciding which
negatives a fluency or similarity threshold drops, and the per-type blind-bias
balance. ``negforge.pipeline.stages.score`` runs the models and calls in here.

Definitions (all per negative, against its own positive):

- ``fluency_nll``: mean negative log-likelihood per token of the negative under a
  small causal LM (lower = more fluent).
- ``text_sim``: cosine similarity of sentence embeddings of negative and positive.
- ``plausibility``: ``sigmoid(nll_pos - nll_neg)``, the probability that the blind
  LM prefers the negative over the positive; 0.5 means it cannot tell them apart.
- The *blind scorer* picks the caption with the lower mean NLL; it is *correct*
  on a pair when it picks the positive (``nll_neg > nll_pos``). Blind accuracy per
  type is the fraction of pairs it gets right; 50% means the type carries no
  text-only shortcut for this scorer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .seeding import stable_seed


@dataclass(frozen=True)
class FilterThresholds:
    max_nll_gap: float | None = 1.0  # drop if nll(neg) - nll(pos) exceeds this (nats/token); None = off
    min_text_sim: float | None = None  # drop negatives less similar than this to the positive; None = off
    max_text_sim: float | None = None  # drop near-paraphrases more similar than this; None = off
    blind_balance: bool = True  # per-type blind-accuracy balancing (SugarCrepe adversarial refinement)
    target_blind_accuracy: float = 0.5  # blind accuracy the balance aims for, per type
    balance_tolerance: float = 0.02  # types already within target + tolerance are left alone

    def __post_init__(self) -> None:
        if self.max_nll_gap is not None and self.max_nll_gap < 0:
            raise ValueError(f"max_nll_gap must be >= 0 or None, got {self.max_nll_gap!r}")
        for name in ("min_text_sim", "max_text_sim"):
            value = getattr(self, name)
            if value is not None and not -1.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [-1, 1] or None, got {value!r}")
        if not 0.0 < self.target_blind_accuracy < 1.0:
            raise ValueError(f"target_blind_accuracy must be in (0, 1), got {self.target_blind_accuracy!r}")
        if not 0.0 <= self.balance_tolerance < 0.5:
            raise ValueError(f"balance_tolerance must be in [0, 0.5), got {self.balance_tolerance!r}")


def mean_nll(token_logprobs: Sequence[float]) -> float:
    """Mean negative log-likelihood per token; ``nan`` for an empty sequence."""
    if not token_logprobs:
        return math.nan
    return -math.fsum(token_logprobs) / len(token_logprobs)


def plausibility(nll_positive: float, nll_negative: float) -> float:
    """P(blind LM prefers the negative) = sigmoid(nll_pos - nll_neg), numerically stable."""
    x = nll_positive - nll_negative
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(math.fsum(x * x for x in a))
    nb = math.sqrt(math.fsum(y * y for y in b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return dot / (na * nb)


def filter_reason(
    nll_positive: float, nll_negative: float, text_sim: float | None, thresholds: FilterThresholds
) -> str | None:
    """Why a threshold drops this negative (``"fluency"``, ``"text_sim_low"``, ``"text_sim_high"``), or None."""
    gap = thresholds.max_nll_gap
    if gap is not None and nll_negative - nll_positive > gap:
        return "fluency"
    if text_sim is not None:
        if thresholds.min_text_sim is not None and text_sim < thresholds.min_text_sim:
            return "text_sim_low"
        if thresholds.max_text_sim is not None and text_sim > thresholds.max_text_sim:
            return "text_sim_high"
    return None


@dataclass(frozen=True)
class Candidate:
    """One (positive, negative) pair as the blind balance sees it."""

    record_id: str
    index: int  # position of the negative in the record's negatives
    type: str
    margin: float  # nll(neg) - nll(pos): > 0 means the blind scorer picks the positive

    @property
    def blind_correct(self) -> bool:
        return self.margin > 0.0


@dataclass(frozen=True)
class BalanceResult:
    type: str
    dropped: tuple[Candidate, ...]  # candidates to remove
    correct_before: int
    total_before: int
    correct_after: int
    total_after: int


def _tiebreak(seed: int, c: Candidate) -> int:
    return stable_seed(seed, c.record_id, c.index, "blind_balance")


def balance_type(
    candidates: Iterable[Candidate], type_: str, thresholds: FilterThresholds, seed: int = 0
) -> BalanceResult:
    """Drop blind-detectable pairs of one type until blind accuracy is at the target.

    Every pair the blind scorer gets wrong is kept (it carries no shortcut). Of
    the pairs it gets right, the hardest (smallest margin, i.e. closest to
    indistinguishable) are kept, as many as the target accuracy allows:
    ``k = floor(target / (1 - target) * wrong)``. Ties are broken by a stable
    hash of (seed, record id, index), so the result does not depend on input
    order or worker count.
    """
    cands = sorted(candidates, key=lambda c: (c.record_id, c.index))
    correct = [c for c in cands if c.blind_correct]
    wrong = len(cands) - len(correct)
    total = len(cands)
    target = thresholds.target_blind_accuracy
    if (
        not thresholds.blind_balance
        or total == 0
        or len(correct) / total <= target + thresholds.balance_tolerance
    ):
        return BalanceResult(type_, (), len(correct), total, len(correct), total)
    keep = math.floor(target / (1.0 - target) * wrong + 1e-9)
    ranked = sorted(correct, key=lambda c: (c.margin, _tiebreak(seed, c)))
    dropped = tuple(ranked[keep:])
    return BalanceResult(
        type_, dropped, len(correct), total, len(correct) - len(dropped), total - len(dropped)
    )


def balance(
    candidates: Iterable[Candidate], thresholds: FilterThresholds, seed: int = 0
) -> list[BalanceResult]:
    """:func:`balance_type` for every type present, in type-name order."""
    by_type: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates:
        by_type[c.type].append(c)
    return [balance_type(by_type[t], t, thresholds, seed) for t in sorted(by_type)]


def balance_stats(result: BalanceResult) -> list[tuple[str, float]]:
    """Manifest stats (numerator/denominator keys, so they sum across workers)."""
    t = result.type
    return [
        (f"score.blind_correct.before.{t}", result.correct_before),
        (f"score.blind_total.before.{t}", result.total_before),
        (f"score.blind_correct.after.{t}", result.correct_after),
        (f"score.blind_total.after.{t}", result.total_after),
        (f"score.dropped.blind_balance.{t}", len(result.dropped)),
    ]
