"""`negforge demo` end to end at toy sizes (build → train both → eval → table)."""

from __future__ import annotations

import json

import pytest

from negforge.pipeline.cli import main


@pytest.mark.slow
def test_demo_smoke(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(
        [
            "demo",
            "--output",
            str(out),
            "--scenes",
            "40",
            "--eval-scenes",
            "20",
            "--steps",
            "2",
            "--batch-size",
            "8",
            "--set",
            "log_every=1",
            "--set",
            "model_overrides={vision_cfg: {image_size: 64, patch_size: 8, layers: 1}, text_cfg: {layers: 1}}",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "fsc-clip" in printed and "clip-only" in printed and "sugarcrepe/mean" in printed
    results = json.loads((out / "results.json").read_text())
    assert set(results["runs"]) == {"fsc-clip", "clip-only"}
    for run in results["runs"].values():
        assert run["sugarcrepe"]["types"] and 0 <= run["zero_shot"]["top1"] <= 100
    assert (out / "loss.png").stat().st_size > 1000
    # The CLIP-only run never sees a hard-negative term.
    clip_metrics = [
        json.loads(x) for x in (out / "runs" / "clip-only" / "metrics.jsonl").read_text().splitlines()
    ]
    assert all(m["global_hn"] == 0.0 for m in clip_metrics)
