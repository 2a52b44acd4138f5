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


def write_tiny_gguf(hf_dir: Path, out: Path, quantize: bool = True) -> Path:
    """Write the tiny Llama at ``hf_dir`` as a GGUF file, the way llama.cpp's converter does.

    Tensor names follow gguf's Llama map, Q/K rows are permuted as llama.cpp permutes
    them (transformers undoes it on load), 2-D weights are Q8_0-quantised when
    ``quantize`` (so loading really dequantises), and the byte-level BPE vocabulary,
    merges, special ids and chat template go in as ``tokenizer.ggml.*`` metadata.
    """
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    config = json.loads((hf_dir / "config.json").read_text())
    tok = json.loads((hf_dir / "tokenizer.json").read_text())
    tok_config = json.loads((hf_dir / "tokenizer_config.json").read_text())
    n_head, n_kv = config["num_attention_heads"], config["num_key_value_heads"]

    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_dimension_count(config["head_dim"])
    writer.add_rope_freq_base(float(config.get("rope_theta") or config["rope_parameters"]["rope_theta"]))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if quantize else gguf.LlamaFileType.ALL_F32)

    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
    added = {t["content"]: t["id"] for t in tok["added_tokens"]}
    tokens = [t for t, _ in vocab]
    for content, idx in added.items():
        while len(tokens) <= idx:
            tokens.append(f"[PAD{len(tokens)}]")
        tokens[idx] = content
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if t in added else 1 for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(config["bos_token_id"])
    writer.add_eos_token_id(config["eos_token_id"])
    writer.add_pad_token_id(config["pad_token_id"])
    writer.add_unk_token_id(added["<unk>"])
    writer.add_add_bos_token(False)
    template = tok_config.get("chat_template")
    if template is None and (hf_dir / "chat_template.jinja").exists():
        template = (hf_dir / "chat_template.jinja").read_text()
    if template:
        writer.add_chat_template(template)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config["num_hidden_layers"])
    weights = load_file(str(hf_dir / "model.safetensors"))
    for hf_name, array in sorted(weights.items()):
        array = array.astype(np.float32)
        if hf_name.endswith("q_proj.weight"):
            array = _llama_permute(array, n_head, n_head)
        elif hf_name.endswith("k_proj.weight"):
            array = _llama_permute(array, n_head, n_kv)
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise KeyError(f"no GGUF name for {hf_name}")
        if quantize and array.ndim == 2:
            qtype = gguf.GGMLQuantizationType.Q8_0
            writer.add_tensor(name, gguf.quants.quantize(array, qtype), raw_dtype=qtype)
        else:
            writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def _llama_permute(weights, n_head: int, n_kv: int):
    """llama.cpp's convert_hf_to_gguf permutation of Q/K rows (rotary halves interleaved)."""
    if n_kv != n_head:
        n_head = n_kv
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )
