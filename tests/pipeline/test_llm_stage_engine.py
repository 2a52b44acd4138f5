"""The in-process vLLM engine backend in a real Beam pipeline.

It only runs in an interpreter that has vLLM (.venv-llm): the main venv's suite
reaches it through ``test_llm_stage.py::test_engine_backend_in_llm_venv``, which
runs this file under ``.venv-llm/bin/python -m pytest``.
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


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from llm_fixtures import build_tiny_llama

    path = os.environ.get("NEGFORGE_TINY_LLAMA")
    if path:
        return Path(path)
    return build_tiny_llama(tmp_path_factory.mktemp("llm") / "tiny-llama")


def _records():
    from negforge.schemas import CaptionRecord, Negative

    keep = Negative(text="A cat sitting on a red couch.", type="replace_obj", generator="rule:replace_obj@1")
    return [
        CaptionRecord(id="r1", caption="A dog sitting on a red couch.", source="t", negatives=(keep,)),
        CaptionRecord(id="r2", caption="two people riding bikes down a busy street", source="t"),
        CaptionRecord(id="r3", caption="A white plate with a sandwich on a wooden table.", source="t"),
    ]


def test_engine_backend_pipeline(tiny_model):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from negforge.pipeline.stages.llm import _ENGINES, LLMConfig, LLMNegatives

    config = LLMConfig(
        model=str(tiny_model),
        types=("replace_obj", "swap_att"),
        backend="engine",
        max_tokens=96,
        max_negative_chars=40,
        max_model_len=2048,
        enforce_eager=True,
        batch_size=2,
    )
    records = _records()

    def check_records(got):
        assert sorted(r.id for r in got) == ["r1", "r2", "r3"]
        by_id = {r.id: r for r in got}
        assert by_id["r1"].negatives[0].generator == "rule:replace_obj@1"  # rule negatives kept, first
        for r in got:
            for neg in r.negatives:
                if neg.generator.startswith("llm:"):
                    assert neg.generator == f"llm:{tiny_model.name}@v1"
                    assert neg.type in config.types
                    assert neg.text != r.caption

    def check_stats(kvs):
        totals = Counter()
        for k, v in kvs:
            totals[k] += v
        for t in config.types:
            assert totals[f"llm.requests.{t}"] == 3
            assert totals[f"llm.generated.{t}"] + totals[f"llm.rejected_by_type.{t}"] == 3
        rejected = sum(v for k, v in totals.items() if k.startswith("llm.rejected."))
        generated = sum(v for k, v in totals.items() if k.startswith("llm.generated."))
        assert rejected + generated == 6
        print("engine stats:", dict(sorted(totals.items())))
        # Random weights: outputs are constrained JSON but nonsense; every rejection has a reason key.
        assert rejected > 0

    with TestPipeline() as p:
        out = p | beam.Create(records) | LLMNegatives(config, seed=0)
        assert_that(out.records, check_records, label="records")
        assert_that(out.stats, check_stats, label="stats")
        assert_that(out.dead, equal_to([]), label="dead")
    assert not _ENGINES, "engine not released at teardown"


def test_engine_is_deterministic(tiny_model):
    """Same seed, same prompts → same completions, whatever the batch size."""
    from negforge.pipeline.stages.llm import LLMConfig, acquire_engine, release_engine

    config = LLMConfig(
        model=str(tiny_model), types=("replace_att",), backend="engine", max_tokens=48,
        max_negative_chars=40, max_model_len=2048, enforce_eager=True,
    )  # fmt: skip
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    engine = acquire_engine(config, 0)
    try:
        structured = StructuredOutputsParams(json=config.json_schema)

        def run(prompts):
            params = [
                SamplingParams(
                    temperature=0.7, top_p=0.95, max_tokens=48, seed=i, structured_outputs=structured
                )
                for i in range(len(prompts))
            ]
            return [o.outputs[0].text for o in engine.llm.generate(prompts, params, use_tqdm=False)]

        prompts = ["Caption: a dog", "Caption: a red car", "Caption: two cats"]
        assert run(prompts) == run(prompts)
        assert run(prompts[:1]) == run(prompts)[:1]
    finally:
        release_engine(config, 0)
