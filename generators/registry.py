"""One registry of rule generators, enumerated by the pipeline and the CLI.

A generator is a pure function ``(caption, graph, rng, resources, limit=8) -> list[Negative]``
(``limit`` caps how many checked negatives it builds: checking candidates is most of the cost
of generation, so the registry asks for no more than the config keeps)
that returns ``[]`` when no edit applies and never raises on odd text.
Registration happens at import of ``negforge.generators.rules``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from negforge.schemas import NEGATIVE_TYPES, Negative, SceneGraph

from .config import GenerationConfig
from .seeding import rng_for

logger = logging.getLogger(__name__)

GeneratorFn = Callable[..., list[Negative]]  # (caption, graph, rng, resources, limit=...)


@dataclass(frozen=True)
class GeneratorSpec:
    name: str  # registry key and CLI selector, e.g. "replace_obj"
    type: str  # negative type from the taxonomy (DESIGN §3)
    version: int  # bump when the output for the same input changes
    fn: GeneratorFn

    @property
    def generator_id(self) -> str:
        """The provenance string stored in ``Negative.generator``."""
        return f"rule:{self.name}@{self.version}"


_REGISTRY: dict[str, GeneratorSpec] = {}


def register(name: str, type: str, version: int = 1) -> Callable[[GeneratorFn], GeneratorFn]:
    """Decorator adding a generator under ``name``; names are unique."""
    if type not in NEGATIVE_TYPES:
        raise ValueError(f"type must be one of {NEGATIVE_TYPES}, got {type!r}")

    def deco(fn: GeneratorFn) -> GeneratorFn:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"generator {name!r} registered twice")
        _REGISTRY[name] = GeneratorSpec(name=name, type=type, version=version, fn=fn)
        return fn

    return deco


def _load_builtin() -> None:
    from . import rules  # noqa: F401  (import registers)


def available() -> dict[str, GeneratorSpec]:
    """All registered generators by name, in taxonomy order (DESIGN §3), then by name."""
    _load_builtin()
    order = {t: k for k, t in enumerate(NEGATIVE_TYPES)}
    return dict(sorted(_REGISTRY.items(), key=lambda kv: (order[kv[1].type], kv[0])))


def select(names: Sequence[str] | None) -> list[GeneratorSpec]:
    """Specs for ``names`` (None = all); unknown names raise with the list of known ones."""
    specs = available()
    if names is None:
        return list(specs.values())
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ValueError(f"unknown generator(s) {unknown}; available: {sorted(specs)}")
    return [specs[n] for n in names]


def generate(
    caption: str,
    graph: SceneGraph,
    record_id: str,
    specs: Sequence[GeneratorSpec],
    resources: Any,
    config: GenerationConfig,
) -> list[Negative]:
    """Run ``specs`` on one caption with per-generator seeded streams and apply the caps.

    Duplicates (same text from two generators) keep the first; a negative equal
    to the caption is dropped whatever a generator returned.
    """
    seen = {caption}
    per_spec: list[list[Negative]] = []
    for spec in specs:
        rng = rng_for(config.seed, record_id, spec.name)
        kept: list[Negative] = []
        for neg in spec.fn(caption, graph, rng, resources, limit=config.max_per_type):
            if neg.text in seen:
                continue
            seen.add(neg.text)
            kept.append(neg)
            if len(kept) >= config.max_per_type:
                break
        per_spec.append(kept)
    total = sum(len(k) for k in per_spec)
    if total <= config.max_per_caption:
        return [n for kept in per_spec for n in kept]
    # Over the cap: every type that produced something keeps one negative before any keeps a
    # second (a caption's coverage of a type must not depend on how many other rules fired);
    # within a round, types are drawn by weight without replacement, deterministic per record.
    rng = rng_for(config.seed, record_id, "__cap__")
    chosen: list[tuple[int, int]] = []
    for rank in range(max(len(k) for k in per_spec)):
        pool = [i for i, kept in enumerate(per_spec) if len(kept) > rank]
        weights = [config.type_weights.get(specs[i].name, 1.0) for i in pool]
        while pool and sum(weights) > 0 and len(chosen) < config.max_per_caption:
            k = rng.choices(range(len(pool)), weights=weights)[0]
            chosen.append((pool.pop(k), rank))
            weights.pop(k)
    return [per_spec[i][j] for i, j in sorted(chosen)]
