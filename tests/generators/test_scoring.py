"""Pure scoring math: NLL aggregation, plausibility, threshold filters, blind balance."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negforge.generators.scoring import (
    Candidate,
    FilterThresholds,
    balance,
    balance_stats,
    balance_type,
    cosine,
    filter_reason,
    mean_nll,
    plausibility,
)


def test_mean_nll_and_plausibility():
    assert mean_nll([-1.0, -3.0]) == pytest.approx(2.0)
    assert math.isnan(mean_nll([]))
    assert plausibility(2.0, 2.0) == 0.5
    assert plausibility(2.0, 3.0) == pytest.approx(1 / (1 + math.e))  # negative less fluent: < 0.5
    assert plausibility(2.0, 3.0) + plausibility(3.0, 2.0) == pytest.approx(1.0)
    assert plausibility(0.0, 1000.0) == 0.0 and plausibility(1000.0, 0.0) == 1.0  # no overflow


def test_cosine():
    assert cosine([1.0, 0.0], [2.0, 0.0]) == pytest.approx(1.0)
    assert cosine([1.0, 0.0], [0.0, 3.0]) == pytest.approx(0.0)
    assert cosine([0.0, 0.0], [1.0, 1.0]) == 0.0


def test_filter_reason_thresholds():
    t = FilterThresholds(max_nll_gap=1.0, min_text_sim=0.5, max_text_sim=0.99)
    assert filter_reason(3.0, 4.5, 0.9, t) == "fluency"
    assert filter_reason(3.0, 3.9, 0.9, t) is None
    assert filter_reason(3.0, 2.0, 0.4, t) == "text_sim_low"
    assert filter_reason(3.0, 2.0, 0.995, t) == "text_sim_high"
    assert filter_reason(3.0, 9.0, None, FilterThresholds(max_nll_gap=None)) is None


def test_thresholds_validate():
    with pytest.raises(ValueError, match="max_nll_gap must be"):
        FilterThresholds(max_nll_gap=-1.0)
    with pytest.raises(ValueError, match="target_blind_accuracy must be"):
        FilterThresholds(target_blind_accuracy=1.0)
    with pytest.raises(ValueError, match="min_text_sim must be"):
        FilterThresholds(min_text_sim=2.0)


def _cands(margins, type_="replace_obj"):
    return [Candidate(f"r{i:02d}", 0, type_, m) for i, m in enumerate(margins)]


def test_balance_keeps_hardest_detectable_pairs():
    # 8 pairs the blind LM gets right (margin > 0), 2 it gets wrong: accuracy 0.8.
    cands = _cands([0.1, 2.0, 0.5, 3.0, 0.05, 1.0, 0.7, 4.0, -0.2, -1.0])
    result = balance_type(cands, "replace_obj", FilterThresholds())
    assert (result.correct_before, result.total_before) == (8, 10)
    assert (result.correct_after, result.total_after) == (2, 4)  # 50%
    kept_correct = {c.record_id for c in cands if c.blind_correct} - {c.record_id for c in result.dropped}
    assert kept_correct == {"r00", "r04"}  # the two smallest margins: nearly indistinguishable
    stats = dict(balance_stats(result))
    assert stats["score.blind_correct.before.replace_obj"] == 8
    assert stats["score.blind_total.after.replace_obj"] == 4
    assert stats["score.dropped.blind_balance.replace_obj"] == 6


def test_balance_leaves_balanced_types_and_respects_switch():
    cands = _cands([0.3, -0.3, 0.1, -0.1])
    assert balance_type(cands, "t", FilterThresholds()).dropped == ()
    skewed = _cands([1.0, 1.0, 1.0, -1.0])
    assert balance_type(skewed, "t", FilterThresholds(blind_balance=False)).dropped == ()
    # Nothing the blind scorer gets wrong: every pair is a shortcut, none is kept.
    assert len(balance_type(_cands([1.0, 2.0]), "t", FilterThresholds()).dropped) == 2


def test_balance_is_order_independent_and_per_type():
    rng = random.Random(0)
    cands = [
        Candidate(f"r{i}", i % 3, t, rng.choice([1.0, 0.5, 0.5, -0.5])) for i in range(60) for t in ("a", "b")
    ]
    first = balance(cands, FilterThresholds(), seed=7)
    shuffled = cands[:]
    rng.shuffle(shuffled)
    assert balance(shuffled, FilterThresholds(), seed=7) == first
    assert [r.type for r in first] == ["a", "b"]


@settings(max_examples=60, deadline=None)
@given(
    margins=st.lists(st.floats(min_value=-5, max_value=5, allow_nan=False), min_size=1, max_size=40),
    target=st.floats(min_value=0.2, max_value=0.8),
)
def test_balance_properties(margins, target):
    cands = _cands(margins)
    t = FilterThresholds(target_blind_accuracy=target, balance_tolerance=0.0)
    result = balance_type(cands, "t", t)
    dropped = set(result.dropped)
    assert all(c.blind_correct for c in dropped)  # pairs the blind scorer misses are never dropped
    assert result.total_after == len(cands) - len(dropped)
    if result.total_after:
        assert (
            result.correct_after / result.total_after
            <= max(target, result.correct_before / len(cands)) + 1e-9
        )
    if result.correct_before / len(cands) > target:
        assert result.correct_after / max(result.total_after, 1) <= target + 1e-9
