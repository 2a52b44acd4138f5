"""Tiny random causal LMs and vLLM-venv discovery shared by the LLM and scoring tests.

The model is a real Llama (hidden 64, 2 heads of 32 — vLLM's CPU attention needs
head_dim >= 32 — 2 layers) with a byte-level BPE tokenizer trained here on the
prompt text, saved with ``save_pretrained``: vLLM and transformers load it like
any hub checkpoint, in seconds. Random weights write nonsense, so tests built on
it check plumbing (prompting, structured output, validation, counts), not prose.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: A minimal ChatML template, so the chat-template code path is exercised.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _corpus() -> list[str]:
    prompts = json.loads((REPO / "generators" / "prompts" / "negatives_v1.json").read_text())
    lines = [prompts["system"]]
    for spec in prompts["types"].values():
        lines.append(spec["instruction"])
        for ex in spec["examples"]:
            lines += [ex["caption"], ex["negative"], json.dumps(ex)]
    lines += [
        "A dog is sitting on a red couch.",
        "Two people riding bikes down a busy street.",
        '{"negative": "A cat", "edited_words": ["cat"]}',
    ]
    return lines * 4


def build_tiny_llama(path: Path, chat_template: bool = True, seed: int = 0) -> Path:
    """Write a random tiny Llama + BPE tokenizer to ``path`` (idempotent); return it."""
    if (path / "config.json").exists():
        return path
    from negforge.training.compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    specials = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="</s>",
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(tmp)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=4096,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config).to(torch.float32)
    model.save_pretrained(tmp)
    os.replace(tmp, path)
    return path


def llm_python() -> Path | None:
    """The vLLM virtualenv's interpreter (NEGFORGE_LLM_PYTHON, else .venv-llm), if it works."""
    candidate = os.environ.get("NEGFORGE_LLM_PYTHON") or str(REPO / ".venv-llm" / "bin" / "python")
    if not Path(candidate).exists():
        return None
    probe = subprocess.run(
        [candidate, "-c", "import importlib.util as u; assert u.find_spec('vllm')"],
        capture_output=True,
        timeout=60,
    )
    return Path(candidate) if probe.returncode == 0 else None


SKIP_REASON = "needs the vLLM virtualenv: run `make setup-llm` (creates .venv-llm)"
