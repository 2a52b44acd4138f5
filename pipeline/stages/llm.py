"""LLM negatives stage (placeholder until issue 7 lands): no LLM configured means no stage."""

from __future__ import annotations

import argparse
from typing import Any


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    """No LLM options yet."""


def llm_config_from_args(args: argparse.Namespace, llm_types: list[str]) -> Any:
    if llm_types:
        raise SystemExit(f"LLM generators {llm_types} are not available in this build")
    return None


def LLMNegatives(config: Any, seed: int = 0):  # noqa: N802 - PTransform factory placeholder
    raise NotImplementedError("LLM stage not available")
