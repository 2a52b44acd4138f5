#!/usr/bin/env python3
"""Merge the step records of ``benchmarks/gpu_check.sh`` into its one results file, with the goals.

Reads the work folder the script filled (``env.json``, ``step-<name>.json``, ``<name>.log``, the
pytest JUnit files and the benchmarks' JSON), tolerating any of them missing or truncated (a step
that timed out), and writes one JSON document:

    {"mode", "wall_s", "env", "steps": {name: {status, rc, wall_s, log_tail, ...}},
     "gpu_tests": {...}, "fused_bench": {...}, "train_steps": {...}, "goals": {...}}

Goals (issue 16): fused LHN ≥ 3× faster and ≥ 10× less peak memory than the reference at
B = 256, K = 4, P = 196; an FSC-CLIP step ≤ 1.15× a CLIP-only step (fused losses); no kernel fell
back to the reference; and two parity checks: the fused LHN gradients and the trainer's first-step
losses (fused vs reference, same weights and batch) agree within bf16 tolerance. Each goal records its value, target and ``met`` (None when not measured).
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
import xml.etree.ElementTree as ET
from typing import Any

LOG_TAIL = 3000  # characters of each step's log kept in the results


def _load_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        return {"unreadable": f"{os.path.basename(path)}: {exc}"} if os.path.exists(path) else None


def _tail(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()[-LOG_TAIL:]
    except OSError:
        return ""


def junit_summary(path: str) -> dict[str, Any] | None:
    """Counts and the failed test ids of a pytest JUnit XML file."""
    if not os.path.exists(path):
        return None
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        return {"unreadable": str(exc)}
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    failed = [
        f"{case.get('classname')}::{case.get('name')}"
        for case in root.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    ]
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return {**counts, "failed": failed}


def _status(step: dict[str, Any]) -> str:
    if step.get("status"):
        return step["status"]
    rc = step.get("rc")
    if rc == 0:
        return "ok"
    if rc in (124, 137):
        return "timeout"
    return "failed"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or b <= 0:
        return None
    return round(a / b, 3)


def _goal(value: float | None, target: float, higher_is_better: bool) -> dict[str, Any]:
    met = None if value is None else (value >= target if higher_is_better else value <= target)
    return {"value": value, "target": target, "met": met}


def goals(bench: Any, steps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lhn = None
    if isinstance(bench, dict):
        lhn = next(
            (r for r in bench.get("rows", []) if (r["op"], r["batch"], r["negatives"], r["patches"]) == ("lhn", 256, 4, 196)),
            None,
        )  # fmt: skip
    ref = (lhn or {}).get("impls", {}).get("ref", {})
    fused = (lhn or {}).get("impls", {}).get("fused", {})
    out["lhn_speedup_vs_reference"] = _goal(_ratio(ref.get("ms"), fused.get("ms")), 3.0, True)
    out["lhn_peak_memory_ratio_vs_reference"] = _goal(_ratio(ref.get("peak_mb"), fused.get("peak_mb")), 10.0, True)
    out["lhn_fused_grad_err"] = _goal(fused.get("grad_err"), 5e-2, False)  # bf16 inputs and gradients
    fsc_over_clip = None
    fallbacks = None
    if isinstance(steps, dict) and "step_ms" in steps:
        fsc_over_clip = (steps.get("fsc_over_clip_time") or {}).get("fused")
        fallbacks = steps.get("fallbacks")
    out["fsc_step_over_clip_step_fused"] = _goal(fsc_over_clip, 1.15, False)
    first = (steps or {}).get("first_step_losses", {}) if isinstance(steps, dict) else {}
    fused_fsc, ref_fsc = first.get("fused/fsc"), first.get("reference/fsc")
    diff = None
    if fused_fsc and ref_fsc:  # same weights and batch: the two loss paths must agree (bf16 tolerance)
        diff = round(max(abs(fused_fsc[k] - ref_fsc[k]) / max(abs(ref_fsc[k]), 1e-6) for k in ref_fsc), 5)
    out["train_step_fused_vs_reference_loss_rel_diff"] = _goal(diff, 2e-2, False)
    out["no_kernel_fallback"] = {"value": fallbacks, "target": {}, "met": None if fallbacks is None else not fallbacks}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="the script's work folder")
    parser.add_argument("--out", required=True, help="results file to write")
    parser.add_argument("--mode", default="gpu")
    parser.add_argument("--wall", type=float, default=None, help="total wall seconds")
    args = parser.parse_args(argv)

    steps: dict[str, Any] = {}
    for path in sorted(glob.glob(os.path.join(args.work, "step-*.json"))):
        step = _load_json(path) or {}
        name = step.get("name") or os.path.basename(path)[5:-5]
        step["status"] = _status(step)
        step["log_tail"] = _tail(os.path.join(args.work, f"{name}.log"))
        steps[name] = step
    bench = _load_json(os.path.join(args.work, "fused_bench.json"))
    train = _load_json(os.path.join(args.work, "train_steps.json"))
    result = {
        "mode": args.mode,
        "wall_s": args.wall,
        "env": _load_json(os.path.join(args.work, "env.json")),
        "steps": steps,
        "gpu_tests": junit_summary(os.path.join(args.work, "gpu_tests.xml")),
        "kernel_suite": junit_summary(os.path.join(args.work, "kernel_suite.xml")),
        "fused_bench": bench,
        "train_steps": train,
        "goals": goals(bench, train),
    }
    tmp = f"{args.out}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, args.out)
    summary = {name: s["status"] for name, s in steps.items()}
    print(f"gpu_check: steps {summary}", file=sys.stderr)
    for name, g in result["goals"].items():
        print(f"gpu_check: goal {name}: {g['value']} (target {g['target']}, met {g['met']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
