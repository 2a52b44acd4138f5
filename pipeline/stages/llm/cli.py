"""`negforge build` flags of the LLM stage, and the config they build.

Flags default to None and only the ones given reach :class:`LLMConfig`, so the
dataclass's defaults are the only ones (the help strings name them).
"""

from __future__ import annotations

import argparse

from negforge.generators.llm_families import FAMILIES, PROMPT_VERSIONS
from negforge.pipeline.llm_models import SHIPPED

from .config import BACKENDS, LLMConfig

#: flag dest -> LLMConfig field, for flags that map one to one.
_FIELDS = {
    "llm_backend": "backend",
    "llm_model_name": "model_name",
    "llm_family": "family",
    "llm_prompt_version": "prompt_version",
    "llm_temperature": "temperature",
    "llm_top_p": "top_p",
    "llm_max_tokens": "max_tokens",
    "llm_batch_size": "batch_size",
    "llm_dtype": "dtype",
    "llm_max_model_len": "max_model_len",
    "llm_python": "server_python",
    "llm_server_url": "server_url",
    "llm_model_cache": "model_cache",
}


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the LLM stage (active when --types has llm_* names)."""
    g = parser.add_argument_group("LLM negatives (types llm_<type>, e.g. llm_replace_obj)")
    g.add_argument("--llm-model", help="a shipped model (" + ", ".join(SHIPPED) + "), a .gguf file (converted "
                   "once to a cached HF folder), or an HF model folder/name vLLM loads")  # fmt: skip
    g.add_argument("--llm-backend", choices=BACKENDS, default=None,
                   help="server (default): a vLLM server process per worker, from the worker's .venv-llm / "
                        "$NEGFORGE_LLM_PYTHON; engine: in-process vllm.LLM (the pipeline's python must have vllm)")  # fmt: skip
    g.add_argument("--llm-python", help="interpreter with vLLM for the server (default: resolved on each worker: "
                                        "$NEGFORGE_LLM_PYTHON, else the checkout's .venv-llm)")  # fmt: skip
    g.add_argument("--llm-server-url", help="use this running OpenAI-compatible vLLM server instead")
    g.add_argument("--llm-model-name", help="model name in Negative.generator (default: shipped name, file stem "
                                            "or folder name)")  # fmt: skip
    g.add_argument("--llm-family", choices=[f.name for f in FAMILIES],
                   help="prompt family (default: from the model name; small models get slot-filling prompts)")
    g.add_argument("--llm-prompt-version", choices=PROMPT_VERSIONS,
                   help="v1: the model rewrites the caption (instruction models); fill-v1: it fills a slot "
                        "the rules picked (small models). Default: the family's")  # fmt: skip
    g.add_argument("--llm-temperature", type=float, help="sampling temperature (default 0.7)")
    g.add_argument("--llm-top-p", type=float, help="nucleus sampling (default 0.95)")
    g.add_argument("--llm-max-tokens", type=int, help="completion budget (default 160)")
    g.add_argument("--llm-batch-size", type=int, help="records per completion batch (default 32)")
    g.add_argument("--llm-dtype", help="auto (default) = float32 on CPU, bfloat16 for converted GGUF on GPU")
    g.add_argument("--llm-max-model-len", type=int, help="context length cap (default: the model's; 4096 on CPU)")
    g.add_argument("--llm-model-cache", help="where converted GGUF folders are kept (default: resolved on each "
                                             "worker: $NEGFORGE_MODEL_CACHE or ~/.cache/negforge/models)")  # fmt: skip
    g.add_argument("--llm-enforce-eager", action=argparse.BooleanOptionalAction, default=None,
                   help="no graph compilation: faster start, slower steps (default: on CPU only)")
    g.add_argument("--llm-no-checks", action="store_true", help="skip the shared grammar/identity checks")


def llm_config_from_args(args: argparse.Namespace, llm_types: list[str]) -> LLMConfig | None:
    """The stage config for ``llm_<type>`` selectors, or None when none was asked for."""
    if not llm_types:
        return None
    if not getattr(args, "llm_model", None):
        raise SystemExit("--llm-model is required for LLM types " + ",".join(llm_types))
    types = tuple(dict.fromkeys(t.removeprefix("llm_") for t in llm_types))
    given = {field: getattr(args, dest) for dest, field in _FIELDS.items() if getattr(args, dest, None) is not None}
    if getattr(args, "llm_enforce_eager", None) is not None:
        given["enforce_eager"] = args.llm_enforce_eager
    if getattr(args, "llm_no_checks", False):
        given["use_checks"] = False
    try:
        return LLMConfig(model=args.llm_model, types=types, **given)
    except ValueError as exc:
        raise SystemExit(f"LLM stage: {exc}") from exc
