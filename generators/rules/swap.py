"""Swap generators: exchange two objects (SugarCrepe ``swap_obj``)."""

from __future__ import annotations

import random
from typing import Any

from negforge.schemas import Edit, Negative, SceneGraph

from ..registry import register


@register("swap_obj", type="swap_obj", version=1)
def swap_obj(caption: str, graph: SceneGraph, rng: random.Random, resources: Any) -> list[Negative]:
    """Exchange the texts of two different objects; the edit spans both."""
    objs = graph.objects
    pairs = [
        (i, j)
        for i in range(len(objs))
        for j in range(i + 1, len(objs))
        if objs[i].text.lower() != objs[j].text.lower()
    ]
    rng.shuffle(pairs)
    out: list[Negative] = []
    for i, j in pairs:
        a, b = objs[i], objs[j]
        start, end = a.start, b.end
        before = caption[start:end]
        after = b.text + caption[a.end : b.start] + a.text
        text = caption[:start] + after + caption[end:]
        if text != caption:
            out.append(Negative(text, "swap_obj", "rule:swap_obj@1", Edit(start, end, before, after)))
    return out
