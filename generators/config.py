"""Configuration of negative generation (shared by rules and the LLM stage)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GenerationConfig:
    seed: int = 0  # global seed; per-record streams derive from (seed, id, generator)
    types: tuple[str, ...] | None = None  # generator names to run; None = every registered rule
    max_per_type: int = 2  # cap on negatives of one generator for one caption
    max_per_caption: int = 12  # cap on all negatives of one caption (after per-type caps)
    # Relative weights used when max_per_caption forces a choice between types;
    # missing types weigh 1.0.
    type_weights: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_per_type < 1:
            raise ValueError(f"max_per_type must be >= 1, got {self.max_per_type!r}")
        if self.max_per_caption < 1:
            raise ValueError(f"max_per_caption must be >= 1, got {self.max_per_caption!r}")
        for name, weight in self.type_weights.items():
            if weight < 0:
                raise ValueError(f"type_weights[{name!r}] must be >= 0, got {weight!r}")
