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
            "--jobs",
            "1",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    header = printed.splitlines()[0].split()
    assert header == ["metric", "clip-only", "negclip", "fsc-clip"]
    for row in (
        "sugarcrepe/mean",
        "zero_shot/top1",
        "zero_shot/top5",
        "retrieval/i2t_r1",
        "retrieval/t2i_r1",
    ):
        assert row in printed
    results = json.loads((out / "results.json").read_text())
    assert set(results["runs"]) == {"fsc-clip", "negclip", "clip-only"}
    for run in results["runs"].values():
        assert run["sugarcrepe"]["types"] and 0 <= run["zero_shot"]["top1"] <= 100
        assert 0 <= run["retrieval"]["i2t_r1"] <= 100
    assert set(results["delta"]) == {"fsc-clip - clip-only", "fsc-clip - negclip"}
    assert (out / "loss.png").stat().st_size > 1000
    # Same model, seed and steps; the runs differ only in their losses.
    configs = results["config"]
    assert configs["negclip"]["loss"] == "fsc" and configs["negclip"]["lambda_local"] == 0.0
    assert configs["negclip"]["gamma"] == 0.0 and configs["negclip"]["beta"] == 0.0
    assert configs["fsc-clip"]["lambda_local"] > 0 and configs["fsc-clip"]["gamma"] > 0
    same = {k for k in configs["fsc-clip"] if k not in ("loss", "output", "lambda_local", "gamma", "beta")}
    assert all(configs[r][k] == configs["fsc-clip"][k] for r in configs for k in same)

    def metrics(run):
        return [json.loads(x) for x in (out / "runs" / run / "metrics.jsonl").read_text().splitlines()]

    assert all(m["global_hn"] == 0.0 and m["local_hn"] == 0.0 for m in metrics("clip-only"))
    assert all(m["global_hn"] > 0.0 and m["local_hn"] == 0.0 for m in metrics("negclip"))
    assert all(m["global_hn"] > 0.0 and m["local_hn"] > 0.0 for m in metrics("fsc-clip"))
    # The frozen trunk ran once per distinct image, beside the build: the re-rendered scenes
    # have the build's very bytes, so the three runs and their evaluations never miss.
    cache = results["trunk_cache"]
    assert cache["warmed"] >= 2 * 20 + 40 and cache["misses"] == cache["images"] == 0 and cache["hits"] > 0


@pytest.mark.slow
def test_demo_parallel_runs_equal_sequential_runs(tmp_path, capsys):
    """--jobs 2: the three runs in forked processes sharing the trunk feature memo filled
    beside the build: the same losses step by step and the same evaluation as one after
    another in-process."""
    out = tmp_path / "demo"
    args = ["demo", "--output", str(out), "--scenes", "24", "--eval-scenes", "12", "--steps", "3",
            "--batch-size", "6", "--set", "log_every=1"]  # fmt: skip

    def run(jobs):
        assert main([*args, "--jobs", str(jobs)]) == 0
        results = json.loads((out / "results.json").read_text())
        metrics = {
            name: [json.loads(x) for x in (out / "runs" / name / "metrics.jsonl").read_text().splitlines()]
            for name in results["runs"]
        }
        return results, metrics

    seq, seq_metrics = run(1)
    par, par_metrics = run(2)
    assert (seq["jobs"], par["jobs"]) == (1, 2)
    assert list(par["runs"]) == ["clip-only", "negclip", "fsc-clip"]  # ablation order, not finish order
    for name in seq_metrics:
        for a, b in zip(seq_metrics[name], par_metrics[name], strict=True):
            for key in ("loss", "clip", "global_hn", "local_hn"):
                assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-5), (name, a["step"], key)
        assert par["runs"][name]["zero_shot"]["top5"] == pytest.approx(seq["runs"][name]["zero_shot"]["top5"])
        for t, v in seq["runs"][name]["sugarcrepe"]["types"].items():
            assert par["runs"][name]["sugarcrepe"]["types"][t]["accuracy"] == pytest.approx(
                v["accuracy"], abs=10
            ), (name, t)
    # Every image went through the frozen trunk once, in the warm-up process; the forked runs
    # inherited the memo and missed nothing.
    assert par["trunk_cache"]["warmed"] == seq["trunk_cache"]["warmed"] > 0
    assert par["trunk_cache"]["misses"] == seq["trunk_cache"]["misses"] == 0
    assert "clip-only" in capsys.readouterr().out


def test_demo_rebuilds_a_dataset_made_by_rules_that_changed_since():
    """A reused dataset must come from this negforge's rules: an older rule version is stale."""
    from types import SimpleNamespace

    from negforge.generators import registry
    from negforge.pipeline.commands.demo import _stale_generators

    current = registry.available()["swap_obj"].generator_id
    old = current.rsplit("@", 1)[0] + "@0"
    manifest = SimpleNamespace(
        counts=SimpleNamespace(negatives_per_generator={current: 4, old: 3, "shapes:truth@1": 9})
    )
    assert _stale_generators(manifest) == [old]
    manifest.counts.negatives_per_generator = {current: 4, "shapes:truth@1": 9}
    assert _stale_generators(manifest) == []
