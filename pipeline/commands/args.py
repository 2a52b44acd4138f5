"""Command-line plumbing shared by the commands: flags default to ``None``, configs keep their defaults.

A flag's default is not restated here: a flag left out is ``None`` and is not
passed to the config dataclass, so the dataclass field's default applies (one
source of truth, the one ``negforge train`` already follows). Help texts say
"default: the config's"; ``--help`` of the config field is its comment.
"""

from __future__ import annotations

import argparse
from typing import Any


def given(**values: Any) -> dict[str, Any]:
    """The keyword arguments whose value was given on the command line (not ``None``)."""
    return {k: v for k, v in values.items() if v is not None}


def csv_list(value: str) -> tuple[str, ...]:
    """``"a, b,,c"`` → ``("a", "b", "c")``."""
    return tuple(v.strip() for v in value.split(",") if v.strip())


def flag(parser: Any, *names: str, **kwargs: Any) -> argparse.Action:
    """``add_argument`` with ``default=None`` enforced (``store_true`` flags too: None = not given)."""
    if "default" in kwargs:
        raise ValueError(f"{names[0]}: pass no default; the config dataclass owns it")
    return parser.add_argument(*names, default=None, **kwargs)


def default_of(cls: type, name: str) -> str:
    """``"default: X"`` for field ``name`` of config dataclass ``cls``, for help texts that read it, not restate it."""
    import dataclasses

    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f"default: {f.default}"
            if f.default_factory is not dataclasses.MISSING:
                return f"default: {f.default_factory()}"
            return "required"
    raise ValueError(f"{cls.__name__} has no field {name!r}")
