"""The LLM stage's config: what the user asked for, nothing resolved on the launching machine.

Everything here is a plain, picklable value that means the same on any worker:
a model *spec* (shipped name, ``.gguf`` path, HF folder or hub name), types, prompt
choice and sampling settings. Interpreter paths, the converted model folder and
CPU-vs-GPU server flags are resolved on the worker (``runtime.py``), because the
launcher's ``.venv-llm`` does not exist in a Dataflow ``worker-llm`` image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from negforge.generators import llm as gen_llm
from negforge.generators import llm_families
from negforge.generators.llm_fill import FILL_TYPES
from negforge.pipeline.llm_models import SHIPPED

BACKENDS = ("engine", "server")


@dataclass(frozen=True)
class LLMConfig:
    model: str  # shipped name (smollm2-135m-instruct, gemma3-270m), a .gguf file, an HF folder or hub name
    types: tuple[str, ...]  # negative types to request, e.g. ("replace_obj", "swap_att")
    backend: str = "server"  # "server" (vLLM OpenAI server process per worker) or "engine" (in-process vllm.LLM)
    model_name: str | None = None  # name in Negative.generator; default: shipped name, file stem or folder name
    family: str | None = None  # prompt family (generators.llm_families); default: from the model name
    prompt_version: str | None = None  # default: the family's (fill-v1 for small models, v1 otherwise)
    chat_template: bool | None = None  # render with the tokenizer's chat template; default: the family's
    temperature: float = 0.7  # sampling temperature (0 = greedy)
    top_p: float = 0.95  # nucleus sampling
    max_tokens: int = 160  # completion budget; a cut-off answer is rejected as "truncated"
    max_negative_chars: int = 200  # rewrite prompts: longest negative accepted
    max_len_ratio: float = 2.0  # rewrite prompts: reject negatives this much longer/shorter than the positive
    batch_size: int = 32  # records per completion batch
    dtype: str = "auto"  # model dtype ("auto": float32 on CPU, the model's own on GPU)
    max_model_len: int | None = None  # context length cap (None: the model's; 4096 on CPU)
    enforce_eager: bool | None = None  # skip graph compilation; None: on CPU (its compile takes minutes), not on GPU
    use_checks: bool = True  # run generators.checks.check_negative on every output
    server_python: str | None = None  # server backend: interpreter with vLLM; None = resolved on the worker
    server_url: str | None = None  # server backend: use this running server, start none
    server_args: tuple[str, ...] = ()  # server backend: extra `vllm serve` flags
    startup_timeout_s: float = 600.0  # server backend: give up starting after this long
    model_cache: str | None = None  # converted GGUF folders; None = $NEGFORGE_MODEL_CACHE or ~/.cache on the worker
    # ask only for the types a record has no negative of yet (the rules' gaps): the LLM then adds
    # coverage where the rules refused, at a fraction of the requests
    fill_gaps: bool = False

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError(f"model must be a shipped name, .gguf file, folder or model name, got {self.model!r}")
        if isinstance(self.types, (list, str)):
            object.__setattr__(self, "types", (self.types,) if isinstance(self.types, str) else tuple(self.types))
        if not self.types:
            raise ValueError(f"types must name at least one type, got {self.types!r}")
        for t in self.types:
            if t not in gen_llm.LLM_TYPES:
                raise ValueError(f"types must be among {gen_llm.LLM_TYPES}, got {t!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.prompt_version is not None and self.prompt_version not in llm_families.PROMPT_VERSIONS:
            raise ValueError(
                f"prompt_version must be one of {llm_families.PROMPT_VERSIONS}, got {self.prompt_version!r}"
            )
        llm_families.family_for(self.display_name, self.family)  # raises on an unknown family
        if self.style == "fill":
            unsupported = [t for t in self.types if t not in FILL_TYPES]
            if unsupported:
                raise ValueError(
                    f"types {unsupported} have no slot-filling prompt ({self.resolved_prompt_version} supports "
                    f"{', '.join(FILL_TYPES)}); pass prompt_version='v1' (--llm-prompt-version v1) "
                    "for a rewriting prompt, which suits instruction models of a few billion parameters"
                )
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.max_tokens < 8:
            raise ValueError(f"max_tokens must be >= 8, got {self.max_tokens!r}")
        if self.max_negative_chars < 8:
            raise ValueError(f"max_negative_chars must be >= 8, got {self.max_negative_chars!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if self.startup_timeout_s <= 0:
            raise ValueError(f"startup_timeout_s must be > 0, got {self.startup_timeout_s!r}")
        gen_llm.LengthBounds(max_chars=self.max_negative_chars, max_len_ratio=self.max_len_ratio)

    @property
    def display_name(self) -> str:
        """The model's name in outputs: explicit, else shipped name, GGUF stem or folder name."""
        if self.model_name:
            return self.model_name
        if self.model in SHIPPED:
            return self.model
        path = Path(self.model.rstrip("/"))
        return (path.stem if path.suffix == ".gguf" else path.name) or self.model

    @property
    def prompt_family(self) -> llm_families.PromptFamily:
        family = self.family or (SHIPPED[self.model].family if self.model in SHIPPED else None)
        return llm_families.family_for(self.display_name, family)

    @property
    def resolved_prompt_version(self) -> str:
        return self.prompt_version or self.prompt_family.prompt_version

    @property
    def style(self) -> str:
        """ "fill" (the model fills a slot the rules picked) or "rewrite" (it writes the negative)."""
        return llm_families.prompt_style(self.resolved_prompt_version)

    @property
    def use_chat_template(self) -> bool:
        return self.prompt_family.chat if self.chat_template is None else self.chat_template

    @property
    def generator(self) -> str:
        return gen_llm.generator_id(self.display_name, self.resolved_prompt_version)

    @property
    def bounds(self) -> gen_llm.LengthBounds:
        return gen_llm.LengthBounds(max_chars=self.max_negative_chars, max_len_ratio=self.max_len_ratio)

    @property
    def json_schema(self) -> dict[str, Any]:
        return gen_llm.negative_json_schema(self.max_negative_chars)
