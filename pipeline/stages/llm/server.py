"""The server backend: a vLLM OpenAI-compatible server process per worker, reached over HTTP.

The server runs from the interpreter that has vLLM (``.venv-llm``, or the
``worker-llm`` image's ``NEGFORGE_LLM_PYTHON``), so the pipeline's own venv keeps
torchvision and triton. It is started in ``DoFn.setup`` and stopped in
``teardown`` through the stage's lease (dofn.py); pipeline/llm_server.py owns the
process group, its watchdog and the ``atexit`` sweep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from negforge.pipeline import llm_server

from .config import LLMConfig
from .requests import Completion, LLMRequest
from .runtime import plan_server

logger = logging.getLogger(__name__)


def load_tokenizer(path: str) -> Any:
    """The model's tokenizer, for its chat template (the pipeline venv's transformers)."""
    from negforge.training.compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


class ServerCompleter:
    """A started (or reached) vLLM server and the tokenizer that renders its prompts."""

    def __init__(self, config: LLMConfig, seed: int):
        for name in ("httpx", "httpx2"):  # the OpenAI client logs every request at INFO
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger(name).level))
        plan = plan_server(config, seed)  # resolves interpreter and model here, on the worker
        self._config = config
        self._served_name = plan.served_name
        self.tokenizer = load_tokenizer(plan.model_path)
        self.server = llm_server.VLLMServer(plan.spec).start()  # stops itself if it cannot start

    async def _complete(self, requests: Sequence[LLMRequest]) -> list[Any]:
        from openai import AsyncOpenAI

        cfg = self._config
        async with AsyncOpenAI(api_key="EMPTY", base_url=f"{self.server.base_url}/v1", max_retries=2) as client:
            calls = [
                client.completions.create(
                    model=self._served_name,
                    prompt=r.prompt,
                    max_tokens=cfg.max_tokens,
                    temperature=cfg.temperature,
                    top_p=cfg.top_p,
                    seed=r.seed,
                    extra_body={
                        "structured_outputs": r.constraint.structured_outputs(),
                        "bad_words": list(r.constraint.forbidden),
                    },
                )
                for r in requests
            ]
            return await asyncio.gather(*calls, return_exceptions=True)

    def complete(self, requests: Sequence[LLMRequest]) -> list[Completion | None]:
        """One completion per request; a request the server failed is ``None`` (counted, logged)."""
        self.server.check_alive()
        out: list[Completion | None] = []
        for req, resp in zip(requests, asyncio.run(self._complete(requests)), strict=True):
            if isinstance(resp, BaseException):
                logger.warning("completion failed for %s/%s: %s", req.record_id, req.type, resp)
                out.append(None)
            else:
                out.append(Completion(resp.choices[0].text, resp.choices[0].finish_reason))
        return out

    def close(self) -> None:
        self.server.stop()
