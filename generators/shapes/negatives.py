"""True hard negatives written from a caption's spec and checked against the scene.

Rule generators edit caption text and hope the result is false; here the scene
is known, so every candidate is a rewritten :class:`CaptionSpec`, written by
the same grammatical caption writer, and kept only when :func:`spec_holds`
says it is false of the image. Types follow SugarCrepe (DESIGN §3).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from negforge.schemas import SUGARCREPE_TYPES, Edit, Negative

from .captions import CaptionSpec, NounPhrase, spec_holds, write_caption
from .scene import Scene
from .vocab import COLORS, RELATION_PHRASES, RELATIONS, SHAPES, SIZES

#: The SugarCrepe types this world can produce (all seven), in export order.
WORLD_TYPES: tuple[str, ...] = SUGARCREPE_TYPES
GENERATOR_ID = "shapes:truth@1"


def _with_np(spec: CaptionSpec, k: int, np: NounPhrase) -> CaptionSpec:
    nps = list(spec.nps)
    nps[k] = np
    return replace(spec, nps=tuple(nps))


def _replace_obj(spec: CaptionSpec, scene: Scene) -> list[CaptionSpec]:
    present = {g.shape for g in scene.groups}
    return [
        _with_np(spec, k, replace(np, shape=shape))
        for k, np in enumerate(spec.nps)
        for shape in sorted(SHAPES)
        if shape not in present
    ]


def _replace_att(spec: CaptionSpec, scene: Scene) -> list[CaptionSpec]:
    out = [
        _with_np(spec, k, replace(np, color=color))
        for k, np in enumerate(spec.nps)
        for color in sorted(COLORS)
        if color != np.color
    ]
    out += [
        _with_np(spec, k, replace(np, size=size))
        for k, np in enumerate(spec.nps)
        if np.size is not None
        for size in sorted(SIZES)
        if size != np.size
    ]
    return out


def _replace_rel(spec: CaptionSpec, scene: Scene) -> list[CaptionSpec]:
    if spec.relation is None:
        return []
    return [
        replace(spec, relation=rel, phrase=phrase)
        for rel in RELATIONS
        if rel != spec.relation
        for phrase in RELATION_PHRASES[rel][:1]
    ]


def _swap(field: str) -> Callable[[CaptionSpec, Scene], list[CaptionSpec]]:
    def swap(spec: CaptionSpec, scene: Scene) -> list[CaptionSpec]:
        out = []
        for i in range(len(spec.nps)):
            for j in range(i + 1, len(spec.nps)):
                a, b = spec.nps[i], spec.nps[j]
                if getattr(a, field) != getattr(b, field):
                    swapped = _with_np(spec, i, replace(a, **{field: getattr(b, field)}))
                    out.append(_with_np(swapped, j, replace(b, **{field: getattr(a, field)})))
        return out

    return swap


def _add_obj(spec: CaptionSpec, scene: Scene) -> list[CaptionSpec]:
    if len(spec.nps) >= 3:
        return []
    present = {(g.color, g.shape) for g in scene.groups}
    return [
        replace(spec, nps=spec.nps + (NounPhrase(shape, color, None, 1),))
        for shape in sorted(SHAPES)
        for color in sorted(COLORS)
        if (color, shape) not in present
    ]


def _add_att(spec: CaptionSpec, scene: Scene) -> list[CaptionSpec]:
    return [
        _with_np(spec, k, replace(np, size=size))
        for k, np in enumerate(spec.nps)
        if np.size is None
        for size in sorted(SIZES)
    ]


_CANDIDATES: dict[str, Callable[[CaptionSpec, Scene], list[CaptionSpec]]] = {
    "replace_obj": _replace_obj,
    "replace_att": _replace_att,
    "replace_rel": _replace_rel,
    "swap_obj": _swap("shape"),
    "swap_att": _swap("color"),
    "add_obj": _add_obj,
    "add_att": _add_att,
}


def negative_specs(spec: CaptionSpec, scene: Scene, type: str) -> list[CaptionSpec]:
    """Every rewrite of ``spec`` of ``type`` that is false of ``scene``, in a fixed order."""
    if type not in _CANDIDATES:
        raise ValueError(f"type must be one of {WORLD_TYPES}, got {type!r}")
    positive, _ = write_caption(spec)
    return [
        cand
        for cand in _CANDIDATES[type](spec, scene)
        if write_caption(cand)[0] != positive and not spec_holds(cand, scene)
    ]


def _edit(before: str, after: str) -> Edit:
    """The smallest span of ``before`` that changed (common prefix/suffix removed)."""
    p = 0
    while p < min(len(before), len(after)) and before[p] == after[p]:
        p += 1
    s = 0
    while s < min(len(before), len(after)) - p and before[-1 - s] == after[-1 - s]:
        s += 1
    return Edit(
        start=p, end=len(before) - s, before=before[p : len(before) - s], after=after[p : len(after) - s]
    )


def true_negatives(
    spec: CaptionSpec,
    scene: Scene,
    rng: random.Random,
    types: tuple[str, ...] = WORLD_TYPES,
    per_type: int = 1,
) -> list[Negative]:
    """Up to ``per_type`` negatives of each type, chosen with ``rng``, each false of the scene."""
    positive, _ = write_caption(spec)
    out: list[Negative] = []
    for type in types:
        candidates = negative_specs(spec, scene, type)
        for cand in rng.sample(candidates, min(per_type, len(candidates))):
            text, _ = write_caption(cand)
            out.append(Negative(text=text, type=type, generator=GENERATOR_ID, edit=_edit(positive, text)))
    return out
