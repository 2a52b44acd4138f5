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


def test_dry_run_prints_every_op_with_parity(tmp_path, capsys):
    bench = _load()
    out_json = tmp_path / "rows.json"
    assert bench.main(["--dry-run", "--json", str(out_json)]) == 0
    table = capsys.readouterr().out
    assert "CPU (interpreter)" in table
    import json

    rows = json.loads(out_json.read_text())
    assert {r["op"] for r in rows} == {"lhn", "scr", "clip"}
    for row in rows:
        assert row["ref_ms"] > 0 and row["fused_ms"] > 0
        assert row["max_abs_diff"] < 1e-4, row  # the two paths agree on the benchmark inputs too


def test_cuda_run_without_a_gpu_exits_with_a_message(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the real benchmark would run")
    assert _load().main(["--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err
