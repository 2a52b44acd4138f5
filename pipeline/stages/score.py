"""Scoring stage (placeholder until issue 7 lands): scoring off means no stage."""

from __future__ import annotations

import argparse
from typing import Any


def add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    """No scoring options yet."""


def scoring_config_from_args(args: argparse.Namespace) -> Any:
    return None


def ScoreNegatives(config: Any, seed: int = 0):  # noqa: N802 - PTransform factory placeholder
    raise NotImplementedError("scoring stage not available")
