"""``benchmarks/gpu_check.sh``: its CPU smoke mode end to end, and the report's goal arithmetic."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _report():
    spec = importlib.util.spec_from_file_location("gpu_check_report", ROOT / "benchmarks" / "gpu_check_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bench_row(ref_ms, fused_ms, ref_peak, fused_peak):
    impl = lambda ms, peak: {"ms": ms, "peak_mb": peak, "saved_mb": 1.0, "out_err": 0.0,  # noqa: E731
                             "grad_err": 0.01, "error": ""}  # fmt: skip
    return {"op": "lhn", "batch": 256, "negatives": 4, "patches": 196, "dtype": "bf16",
            "impls": {"ref": impl(ref_ms, ref_peak), "fused": impl(fused_ms, fused_peak)}}  # fmt: skip


def test_report_merges_steps_and_scores_the_goals(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "step-fused_bench.json").write_text(json.dumps({"name": "fused_bench", "rc": 0, "wall_s": 40}))
    (work / "fused_bench.log").write_text("table\n")
    (work / "step-train_steps.json").write_text(json.dumps({"name": "train_steps", "rc": 124, "wall_s": 170}))
    (work / "train_steps.log").write_text("x" * 10_000)
    (work / "step-kernel_suite.json").write_text('{"name": "kernel_suite", "status": "skipped"}')
    (work / "fused_bench.json").write_text(json.dumps({"rows": [_bench_row(9.0, 2.0, 800.0, 60.0)]}))
    (work / "gpu_tests.xml").write_text(
        '<testsuites><testsuite tests="3" failures="1" errors="0" skipped="0">'
        '<testcase classname="t" name="a"/><testcase classname="t" name="b"><failure/></testcase>'
        '<testcase classname="t" name="c"/></testsuite></testsuites>'
    )
    out = tmp_path / "gpu_check.json"
    assert _report().main(["--work", str(work), "--out", str(out), "--mode", "gpu", "--wall", "300"]) == 0
    result = json.loads(out.read_text())
    steps = result["steps"]
    assert {n: s["status"] for n, s in steps.items()} == {
        "fused_bench": "ok", "train_steps": "timeout", "kernel_suite": "skipped"
    }  # fmt: skip
    assert len(steps["train_steps"]["log_tail"]) == 3000
    assert result["gpu_tests"] == {"tests": 3, "failures": 1, "errors": 0, "skipped": 0, "passed": 2,
                                   "failed": ["t::b"]}  # fmt: skip
    goals = result["goals"]
    assert goals["lhn_speedup_vs_reference"] == {"value": 4.5, "target": 3.0, "met": True}
    assert goals["lhn_peak_memory_ratio_vs_reference"] == {"value": 13.333, "target": 10.0, "met": True}
    assert goals["fsc_step_over_clip_step_fused"]["met"] is None  # the train step timed out
    assert result["kernel_suite"] is None and result["env"] is None


@pytest.mark.slow
def test_cpu_smoke_run_writes_one_results_file(tmp_path):
    """The unattended script end to end on CPU: every step runs (GPU tests skipped, kernels in the
    interpreter) and one JSON file holds the steps, the benchmark rows and the train-step times."""
    results = tmp_path / "gpu_check.json"
    env = {**os.environ, "PYTHON": sys.executable, "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--cpu-smoke", str(results)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not [p for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith("gpu_check.")]  # work removed
    result = json.loads(results.read_text())
    assert {n: s["status"] for n, s in result["steps"].items()} == {
        "gpu_tests": "ok", "fused_bench": "ok", "train_steps": "ok"
    }  # fmt: skip
    assert result["gpu_tests"]["tests"] >= 10 and result["gpu_tests"]["skipped"] == result["gpu_tests"]["tests"]
    assert {r["op"] for r in result["fused_bench"]["rows"]} == {"lhn", "scr", "clip"}
    assert set(result["train_steps"]["step_ms"]) == {"fused/clip", "fused/fsc", "reference/clip", "reference/fsc"}
    assert result["train_steps"]["fallbacks"] == {} and result["goals"]["no_kernel_fallback"]["met"] is True
    assert result["goals"]["train_step_fused_vs_reference_loss_rel_diff"]["met"] is True  # fp32 here
    assert result["env"]["torch"] and result["mode"] == "cpu-smoke"
