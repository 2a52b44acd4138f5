"""The in-process vLLM engine backend in a real Beam pipeline.

It only runs in an interpreter that has vLLM (.venv-llm): the main venv's suite
reaches it through ``test_llm_stage.py::test_engine_backend_in_llm_venv``, which
runs this file under ``.venv-llm/bin/python -m pytest`` with a tiny GGUF it wrote
(converted here, by the vLLM venv's own transformers).
"""

from __future__ import annotations

import importlib.util
import os
from collections import Counter
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None,
        reason="vLLM is not importable here; run from .venv-llm (see test_llm_stage.py, `make setup-llm`)",
    ),
]

EVENTS: list[str] = []


def recording_completer(config, seed):
    """The real engine completer, with its opening and closing recorded."""
    from negforge.pipeline.stages.llm.dofn import make_completer

    completer = make_completer(config, seed)
    EVENTS.append("open")
    close = completer.close

    def recorded_close():
        EVENTS.append("close")
        close()

    completer.close = recorded_close
    return completer


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    path = os.environ.get("NEGFORGE_TINY_GGUF")
    if path:
        return Path(path)
    from llm_fixtures import build_tiny_llama, write_tiny_gguf

    root = tmp_path_factory.mktemp("llm")
    return write_tiny_gguf(build_tiny_llama(root / "tiny-llama"), root / "tiny-llama.Q8_0.gguf")


@pytest.fixture(autouse=True)
def _model_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("NEGFORGE_MODEL_CACHE", str(tmp_path_factory.getbasetemp() / "model-cache"))


def _records():
    from negforge.schemas import CaptionRecord, Negative

    keep = Negative(text="A cat sitting on a red couch.", type="replace_obj", generator="rule:replace_obj@1")
    return [
        CaptionRecord(id="r1", caption="A dog sitting on a red couch.", source="t", negatives=(keep,)),
        CaptionRecord(id="r2", caption="two people riding bikes down a busy street", source="t"),
        CaptionRecord(id="r3", caption="A white plate with a sandwich on a wooden table.", source="t"),
    ]


def test_engine_backend_pipeline(tiny_gguf):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from negforge.pipeline.stages.llm import LLMConfig
    from negforge.pipeline.stages.llm.dofn import DEAD, STATS, LLMDoFn

    config = LLMConfig(
        model=str(tiny_gguf), types=("replace_obj", "swap_att"), backend="engine", model_name="tiny",
        max_tokens=96, max_negative_chars=40, max_model_len=2048, batch_size=2,
    )  # fmt: skip
    assert config.style == "rewrite"  # the tiny model's name matches no small-model family: JSON schema prompts

    def check_records(got):
        assert sorted(r.id for r in got) == ["r1", "r2", "r3"]
        by_id = {r.id: r for r in got}
        assert by_id["r1"].negatives[0].generator == "rule:replace_obj@1"  # rule negatives kept, first
        for r in got:
            for neg in r.negatives:
                if neg.generator.startswith("llm:"):
                    assert neg.generator == "llm:tiny@v1" and neg.type in config.types and neg.text != r.caption

    def check_stats(kvs):
        totals = Counter()
        for k, v in kvs:
            totals[k] += v
        for t in config.types:
            rejected = sum(v for k, v in totals.items() if k.startswith(f"llm.rejected_by_type.{t}."))
            assert totals[f"llm.requests.{t}"] == 3 and totals[f"llm.generated.{t}"] + rejected == 3
        # Random weights write nonsense, but constrained decoding keeps it to the schema.
        assert totals["llm.rejected.not_json"] == 0 and totals["llm.rejected.bad_schema"] == 0

    EVENTS.clear()
    with TestPipeline() as p:
        out = (
            p
            | beam.Create(_records())
            | beam.BatchElements(min_batch_size=1, max_batch_size=config.batch_size)
            | beam.ParDo(LLMDoFn(config, 0, make=recording_completer)).with_outputs(DEAD, STATS, main="records")
        )
        assert_that(out["records"], check_records, label="records")
        assert_that(out[STATS], check_stats, label="stats")
        assert_that(out[DEAD], equal_to([]), label="dead")
    assert EVENTS == ["open", "close"], "one engine per worker, released at teardown"


def test_engine_is_deterministic_whatever_the_batch(tiny_gguf):
    """Same seed, same prompts → same completions, alone or batched with others."""
    from negforge.pipeline.stages.llm import Constraint, LLMConfig, LLMRequest
    from negforge.pipeline.stages.llm.engine import EngineCompleter

    config = LLMConfig(model=str(tiny_gguf), types=("replace_att",), backend="engine", max_tokens=48,
                       max_model_len=2048)  # fmt: skip
    engine = EngineCompleter(config, 0)
    try:
        word = Constraint("regex", "[a-z]{2,15}", ("dog",))
        choice = Constraint("choice", ("red", "blue", "green"))
        reqs = [
            LLMRequest("a", "replace_att", "Caption: a dog", 1, word),
            LLMRequest("b", "replace_att", "Caption: a red car", 2, choice),
            LLMRequest("c", "swap_att", "Caption: two cats", 3, Constraint("json", config.json_schema)),
        ]
        full = engine.complete(reqs)
        assert engine.complete(reqs) == full
        assert engine.complete(reqs[1:2]) == full[1:2]
        assert full[1].text in ("red", "blue", "green")
        assert full[0].text.isalpha() and full[0].text != "dog"
    finally:
        engine.close()
