"""``benchmarks/fused_losses.py --dry-run`` runs end to end through the Triton interpreter."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton", reason="triton is not installed: the fused kernels cannot run")

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "fused_losses.py"


def _load():
    spec = importlib.util.spec_from_file_location("fused_losses_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_dry_run_prints_every_op_with_time_memory_and_parity(tmp_path, capsys):
    from negforge.training.kernels._common import interpreter_enabled

    if not interpreter_enabled():  # a GPU machine: kernels here were defined for CUDA, not the CPU
        pytest.skip("the dry run runs the kernels in the Triton interpreter, which is off in this process")
    bench = _load()
    out_json = tmp_path / "rows.json"
    assert bench.main(["--dry-run", "--json", str(out_json)]) == 0
    table = capsys.readouterr().out
    assert "CPU (interpreter)" in table and "grad err" in table and "peak" in table
    import json

    rows = json.loads(out_json.read_text())["rows"]
    assert {r["op"] for r in rows} == {"lhn", "scr", "clip"}
    for row in rows:
        assert set(row["impls"]) == {"ref", "compiled", "fused"}, row
        for name, m in row["impls"].items():
            assert not m["error"], (row["op"], name, m["error"])
            assert m["ms"] > 0 and m["peak_mb"] > 0 and m["saved_mb"] >= 0, (row["op"], name, m)
            # every implementation agrees with the fp32 truth, values and gradients
            assert m["out_err"] < 1e-4 and m["grad_err"] < 1e-4, (row["op"], name, m)
    # The LHN reference materialises (B, C, T, P) tensors the kernels never store.
    lhn = next(r for r in rows if r["op"] == "lhn")["impls"]
    assert lhn["fused"]["saved_mb"] < lhn["ref"]["saved_mb"]


def test_memory_is_measured_from_a_clean_state():
    """Leftover gradients from the warm-up run must not be counted (nor hide the new ones)."""
    import torch

    bench = _load().Bench(torch.device("cpu"), "none")
    x = torch.randn(256, 256, requires_grad=True)
    forward = lambda: (x @ x).relu()  # noqa: E731

    def backward(out):
        out.sum().backward()

    backward(forward())  # leaves x.grad (256 KiB) behind
    saved, peak = bench.memory_mb(forward, backward, [x])
    one = 256 * 256 * 4 / 2**20  # one 256×256 fp32 tensor, in MiB
    assert saved == pytest.approx(one, rel=0.05)  # the output, which relu also saves for backward
    assert peak >= 2 * one * 0.99  # x@x and its relu during the forward; ∂x during the backward
    assert x.grad is None  # the gradient the measured backward made is gone again
    assert bench.memory_mb(forward, backward, [x]) == pytest.approx((saved, peak), rel=0.05)


def test_cuda_run_without_a_gpu_exits_with_a_message(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the real benchmark would run")
    assert _load().main(["--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err
