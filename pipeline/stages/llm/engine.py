"""The in-process backend: a ``vllm.LLM`` in the worker's own interpreter.

Needs vLLM importable by the pipeline's interpreter (run the pipeline from
``.venv-llm``, or a GPU worker image with vLLM installed). One engine per
(config, seed) per worker process, owned by the stage's lease (dofn.py).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence
from typing import Any

from .config import LLMConfig
from .requests import Completion, LLMRequest
from .runtime import configure_vllm_env, engine_kwargs, resolve_model

logger = logging.getLogger(__name__)


class EngineCompleter:
    """A loaded ``vllm.LLM``: batched ``generate`` with per-request seeds and constraints."""

    def __init__(self, config: LLMConfig, seed: int):
        configure_vllm_env()
        import torch
        from vllm import LLM

        cpu = not torch.cuda.is_available()
        resolved = resolve_model(config, cpu)
        self._config = config
        self.llm: Any = LLM(**engine_kwargs(config, seed, cpu, resolved.path))
        self.tokenizer = self.llm.get_tokenizer()

    def complete(self, requests: Sequence[LLMRequest]) -> list[Completion | None]:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        cfg = self._config
        params = [
            SamplingParams(
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                max_tokens=cfg.max_tokens,
                seed=r.seed,
                structured_outputs=StructuredOutputsParams(**r.constraint.structured_outputs()),
                bad_words=list(r.constraint.forbidden) or None,
            )
            for r in requests
        ]
        # One call: vLLM's prefix cache shares the prompts' common blocks (system text and
        # few-shot turns) between requests of one batch (measured: num_cached_tokens > 0).
        outputs = self.llm.generate([r.prompt for r in requests], params, use_tqdm=False)
        return [
            Completion(out.outputs[0].text, out.outputs[0].finish_reason) if out.outputs else None
            for out in outputs
        ]

    def close(self) -> None:
        llm, self.llm = self.llm, None
        if llm is None:
            return
        engine = getattr(llm, "llm_engine", None)
        shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        del llm
        gc.collect()
        logger.info("vLLM engine released")
