#!/usr/bin/env bash
# Prove that `pip install negforge` (no extras) gives a working `negforge build` without torch:
# a fresh virtualenv, a regular (non-editable) install of this checkout under the same
# constraints as every other pip call, then a real build on JSONL. Prints the venv size,
# the pip install set of a CPU Dataflow worker image (the Beam SDK image plus this).
#
#   bash scripts/check_minimal_install.sh [DIR]     (default: a temp dir, removed at the end)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
DIR="${1:-}"
if [[ -z "$DIR" ]]; then
    DIR="$(mktemp -d -t negforge-minimal-XXXXXX)"
    trap 'rm -rf "$DIR"' EXIT
fi
VENV="$DIR/venv"
start=$(date +%s)

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$ROOT/constraints.txt" "$ROOT"
installed=$(( $(date +%s) - start ))

# 1. None of the extras' heavy packages came along.
"$VENV/bin/python" - <<'PYEOF'
import importlib.util
heavy = ["torch", "torchvision", "open_clip", "timm", "transformers", "sentence_transformers", "triton",
         "openai", "vllm", "accelerate", "gguf"]
present = [name for name in heavy if importlib.util.find_spec(name) is not None]
assert not present, f"the pipeline-only install pulled {present}"
print("no torch, open_clip, transformers, triton, openai in the pipeline-only install")
PYEOF

# 2. The CLI works: --version, then a real build (spaCy parse, WordNet rules, shards, card).
"$VENV/bin/negforge" --version
"$VENV/bin/python" "$ROOT/scripts/install_wordnet.py" --dest "$VENV/nltk_data" >/dev/null
cat > "$DIR/captions.jsonl" <<'JSONL'
{"id": "a", "caption": "A brown dog sitting on a red sofa."}
{"id": "b", "caption": "Two men riding horses on the beach.", "split": "validation"}
{"id": "c", "caption": "A woman holding an umbrella next to a bus."}
{"id": "d", "caption": }
JSONL
"$VENV/bin/negforge" build --input "$DIR/captions.jsonl" --output "$DIR/out" --shards 2 2>"$DIR/build.log" \
    || { tail -40 "$DIR/build.log"; exit 1; }
"$VENV/bin/negforge" validate "$DIR/out"
"$VENV/bin/python" - "$DIR/out" <<'PYEOF'
import sys
from negforge.pipeline.manifest import read_manifest
m = read_manifest(sys.argv[1])
c = m.counts
assert (c.read, c.written, c.dead_lettered) == (4, 3, 1), c
assert c.negatives_total > 0 and c.records_per_split == {"train": 2, "validation": 1}, c
print(f"build: {c.written} records, {c.negatives_total} negatives, {c.dead_lettered} dead letter; "
      f"input sha256 {m.inputs[0].sha256[:16]}...")
PYEOF
echo "check_minimal_install: OK (install ${installed} s); venv $(du -sh "$VENV" | cut -f1), site-packages" \
     "$(du -sh "$VENV"/lib/python3*/site-packages | cut -f1)"
