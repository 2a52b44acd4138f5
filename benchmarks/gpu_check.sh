#!/usr/bin/env bash
# One unattended device check of the training fast path, for whenever a GPU is lent.
#
#   bash benchmarks/gpu_check.sh [RESULTS.json]          # on the GPU machine (≤ 8 minutes)
#   bash benchmarks/gpu_check.sh --cpu-smoke [RESULTS]   # the same plumbing on CPU, tiny shapes
#
# Steps, in order of value, each under its own timeout and a total budget (BUDGET_S, 470 s):
#   1. gpu_tests   the CUDA-only tests (pytest -m gpu tests/training): the kernels compile, run
#                  under backend="auto" without falling back, and match the fp32 reference
#   2. fused_bench benchmarks/fused_losses.py at B=256, K=4, P=196 in bf16 (+ the contrastive loss
#                  at B=16384): time, peak memory and gradient parity of reference, torch.compile
#                  and fused
#   3. train_steps benchmarks/train_step.py: ViT-B-32 (random init), B=256, K=4, bf16 autocast,
#                  50 steps each of CLIP-only / FSC-CLIP with the fused and the reference losses
#   4. kernel_suite the whole kernel parity suite on CUDA, if time is left
# Whatever happens (a failing step, a timeout, Ctrl-C), ONE results file is written at the end:
# $OUT/gpu_check.json when $OUT is set (the device tool's output folder), else
# out/gpu_check/gpu_check.json, or the path given. It holds every step's status, wall time, log
# tail and parsed results, plus the goals (fused LHN ≥ 3× faster and ≥ 10× less peak memory than
# the reference; an FSC-CLIP step ≤ 1.15× a CLIP-only step) with their measured values.
#
# The device machine has python3 with torch, triton, timm and pytest but no network, no
# open_clip and no negforge install. Before the run, on the development machine:
#   bash benchmarks/gpu_check.sh --fetch-wheels     # open_clip_torch, ftfy, wcwidth into .whl/
# then run there, e.g. with the device tool: command "bash benchmarks/gpu_check.sh",
# carry [".whl"], timeout ~560 s. The script installs .whl/*.whl into a private folder when
# open_clip is missing and puts this checkout on PYTHONPATH as the negforge namespace when
# negforge is not installed.
set -euo pipefail

MODE=gpu
RESULTS=""
for arg in "$@"; do
  case "$arg" in
    --cpu-smoke) MODE=cpu-smoke ;;
    --fetch-wheels) MODE=fetch-wheels ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    -*) echo "gpu_check: unknown option $arg" >&2; exit 2 ;;
    *) RESULTS="$arg" ;;
  esac
done
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ -z "$RESULTS" ]]; then
  RESULTS="${OUT:-$ROOT/out/gpu_check}/gpu_check.json"
fi
mkdir -p "$(dirname "$RESULTS")"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"; else PY="$(command -v python3)"; fi
fi
if [[ "$MODE" == fetch-wheels ]]; then
  # Pure-Python wheels (py3-none-any) of what the device image lacks, pinned to this venv's versions.
  grep -qxF '/.whl/' "$(git rev-parse --git-common-dir)/info/exclude" 2>/dev/null \
    || echo '/.whl/' >> "$(git rev-parse --git-common-dir)/info/exclude"
  pins=()
  for pkg in open_clip_torch ftfy wcwidth; do
    version="$("$PY" -m pip show "$pkg" 2>/dev/null | sed -n 's/^Version: //p')"
    pins+=("$pkg${version:+==$version}")
  done
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d "$ROOT/.whl" "${pins[@]}"
  ls -l "$ROOT/.whl"
  exit 0
fi
BUDGET_S="${BUDGET_S:-470}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"
START=$SECONDS
export PYTHONUNBUFFERED=1

finish() {
  local rc=$?
  trap - EXIT INT TERM
  "$PY" "$ROOT/benchmarks/gpu_check_report.py" --work "$WORK" --mode "$MODE" --out "$RESULTS" \
    --wall "$((SECONDS - START))" || echo "gpu_check: report failed; raw step files in $WORK" >&2
  [[ -f "$RESULTS" ]] && echo "gpu_check: results in $RESULTS" && rm -rf "$WORK"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# Bootstrap on a bare machine: carried wheels for open_clip, this checkout as the negforge namespace.
SITE="$WORK/site"
has() { "$PY" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)" 2>/dev/null; }
if ! has open_clip && compgen -G "$ROOT/.whl/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$ROOT"/.whl/*.whl \
    > "$WORK/bootstrap.log" 2>&1 || echo "gpu_check: installing .whl failed (see bootstrap log)" >&2
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! has negforge.training; then
  mkdir -p "$SITE/negforge"  # a PEP 420 namespace, as the installed package is (DESIGN §9)
  for part in schemas generators pipeline training; do ln -sfn "$ROOT/$part" "$SITE/negforge/$part"; done
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
has open_clip || echo "gpu_check: open_clip is missing: run --fetch-wheels on a machine with pip access and carry .whl" >&2

# run_step NAME TIMEOUT_S CMD...: never aborts the script; records rc, wall time and the log.
run_step() {
  local name="$1" limit="$2"
  shift 2
  local left=$((BUDGET_S - (SECONDS - START)))
  if (( left < 20 )); then
    printf '{"name": "%s", "status": "skipped", "reason": "total budget of %ss spent"}\n' "$name" "$BUDGET_S" \
      > "$WORK/step-$name.json"
    echo "gpu_check: $name skipped (budget spent)" >&2
    return 0
  fi
  (( limit > left )) && limit=$left
  echo "gpu_check: $name (timeout ${limit}s): $*" >&2
  local t0=$SECONDS rc=0
  timeout --kill-after=10 "$limit" "$@" > "$WORK/$name.log" 2>&1 || rc=$?
  printf '{"name": "%s", "rc": %d, "timeout_s": %d, "wall_s": %d, "command": "%s"}\n' \
    "$name" "$rc" "$limit" "$((SECONDS - t0))" "$(echo "$*" | sed 's/"/\\"/g')" > "$WORK/step-$name.json"
  echo "gpu_check: $name rc=$rc in $((SECONDS - t0))s" >&2
  return 0
}

"$PY" - > "$WORK/env.json" 2>"$WORK/env.log" <<'PYEOF' || true
import json, platform, subprocess
info = {"python": platform.python_version()}
try:
    import torch
    info["torch"] = torch.__version__
    info["cuda_available"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["capability"] = list(torch.cuda.get_device_capability(0))
        info["cuda"] = torch.version.cuda
except Exception as exc:  # noqa: BLE001 - recorded, not fatal
    info["torch_error"] = repr(exc)
try:
    import triton
    info["triton"] = triton.__version__
except Exception as exc:  # noqa: BLE001
    info["triton_error"] = repr(exc)
for key, cmd in (("commit", ["git", "rev-parse", "HEAD"]), ("nvidia_smi", ["nvidia-smi", "-L"])):
    try:
        info[key] = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception as exc:  # noqa: BLE001
        info[key] = repr(exc)
import os
info["pythonpath"] = os.environ.get("PYTHONPATH", "")
try:
    from negforge.training.model import import_open_clip
    open_clip = import_open_clip()
    info["open_clip"] = open_clip.__version__
except Exception as exc:  # noqa: BLE001
    info["open_clip_error"] = repr(exc)
print(json.dumps(info))
PYEOF

if [[ "$MODE" == gpu ]]; then
  run_step gpu_tests 150 "$PY" -m pytest -m gpu tests/training -q -p no:cacheprovider \
    --junitxml="$WORK/gpu_tests.xml"
  run_step fused_bench 170 "$PY" benchmarks/fused_losses.py --device cuda --dtype bf16 \
    --batches 256 --negatives 4 --patches 196 --clip-batches 16384 --json "$WORK/fused_bench.json"
  run_step train_steps 170 "$PY" benchmarks/train_step.py --model ViT-B-32 --device cuda \
    --batch-size 256 --negatives 4 --backends fused,reference --amp bf16 --steps 50 --warmup 3 \
    --json "$WORK/train_steps.json"
  run_step kernel_suite 120 "$PY" -m pytest tests/training/kernels -q -p no:cacheprovider -x \
    --junitxml="$WORK/kernel_suite.xml"
else
  # CPU: the GPU tests are collected and skipped, the kernels run in Triton's interpreter.
  export TRITON_INTERPRET=1
  run_step gpu_tests 150 "$PY" -m pytest -m gpu tests/training -q -p no:cacheprovider \
    --junitxml="$WORK/gpu_tests.xml"
  run_step fused_bench 170 "$PY" benchmarks/fused_losses.py --dry-run --json "$WORK/fused_bench.json"
  run_step train_steps 170 "$PY" benchmarks/train_step.py --model tiny --device cpu --batch-size 4 \
    --negatives 2 --words 3,6 --backends fused,reference --steps 1 --warmup 0 \
    --json "$WORK/train_steps.json"
fi
