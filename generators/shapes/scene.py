"""Scene sampling for the shapes world: groups of identical shapes, laid out so relations hold.

A scene has one or two *groups*; a group is ``count`` objects of one shape,
color and size ("two small blue squares"). Two groups are laid out in disjoint
halves of the canvas so that "group 0 <relation> group 1" holds for every pair
of their objects, which makes relations exact rather than approximately true.

Splits are compositional: a seeded set of color-shape pairs and of
(shape, relation, shape) triples is held out. ``train`` and ``val`` scenes
contain none of them; every ``test`` scene contains at least one. Each scene
is a pure function of (config, split, index), so chunked and parallel
generation give identical scenes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from negforge.generators.seeding import stable_seed

from .config import ShapesConfig
from .vocab import BACKGROUNDS, COLORS, INVERSE, SHAPES, SIZES

SPLITS: tuple[str, ...] = ("train", "val", "test")

_MARGIN = 0.04  # free border of the canvas, as a fraction of its side
_GAP = 0.05  # free band between two groups' regions
_PAD = 0.02  # minimum clearance between two objects of one group
_RADIUS_JITTER = 0.08  # relative jitter of an object's radius
_ROTATION_DEG = 15.0  # polygons are rotated by up to this many degrees either way
_COLOR_JITTER = 14  # per-channel jitter of object colors
_BACKGROUND_JITTER = 6  # per-channel jitter of the background tone
_MAX_TRIES = 200  # rejection-sampling attempts before giving up (never reached in practice)


@dataclass(frozen=True)
class Group:
    """``count`` identical objects: the unit a noun phrase describes."""

    shape: str
    color: str
    size: str
    count: int


@dataclass(frozen=True)
class PlacedObject:
    """One drawn object; coordinates are fractions of the image side."""

    group: int
    x: float
    y: float
    radius: float
    rotation: float  # degrees
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class Scene:
    groups: tuple[Group, ...]
    objects: tuple[PlacedObject, ...]
    relation: str | None  # how group 0 was laid out relative to group 1 (None for one group)
    background: tuple[int, int, int]


@dataclass(frozen=True)
class HeldOut:
    """Combinations that never occur in train/val scenes."""

    pairs: frozenset[tuple[str, str]]  # (color, shape)
    triples: frozenset[tuple[str, str, str]]  # (shape, "left" | "above", shape), canonical


def canonical_triple(subject: str, relation: str, obj: str) -> tuple[str, str, str]:
    """ "B right of A" and "A left of B" are one fact: write it with "left"/"above"."""
    if relation in ("right", "below"):
        return (obj, INVERSE[relation], subject)
    return (subject, relation, obj)


@lru_cache(maxsize=64)
def _heldout(seed: int, n_pairs: int, n_triples: int) -> HeldOut:
    rng = random.Random(stable_seed(seed, "shapes-world", "heldout"))
    shapes = sorted(SHAPES)
    colors = sorted(COLORS)
    rng.shuffle(shapes)
    rng.shuffle(colors)
    # Distinct shapes and distinct colors: every color and every shape still occurs in train.
    pairs = frozenset(zip(colors[:n_pairs], shapes[:n_pairs], strict=False))
    all_triples = sorted((a, rel, b) for a in SHAPES for b in SHAPES for rel in ("left", "above"))
    triples = frozenset(rng.sample(all_triples, n_triples))
    return HeldOut(pairs=pairs, triples=triples)


def heldout(config: ShapesConfig) -> HeldOut:
    """The held-out combinations of this world (a function of the seed and the counts only)."""
    return _heldout(config.seed, config.heldout_pairs, config.heldout_triples)


def _holds(a: PlacedObject, b: PlacedObject, relation: str) -> bool:
    """Whether object ``a`` is strictly ``relation`` of ``b`` (bounding boxes, y grows downwards)."""
    if relation == "left":
        return a.x + a.radius < b.x - b.radius
    if relation == "right":
        return a.x - a.radius > b.x + b.radius
    if relation == "above":
        return a.y + a.radius < b.y - b.radius
    if relation == "below":
        return a.y - a.radius > b.y + b.radius
    raise ValueError(f"relation must be one of left/right/above/below, got {relation!r}")


def group_relation_holds(scene: Scene, subject: int, relation: str, obj: int) -> bool:
    """ "group ``subject`` is ``relation`` group ``obj``": true when it holds for every object pair."""
    subs = [o for o in scene.objects if o.group == subject]
    objs = [o for o in scene.objects if o.group == obj]
    return bool(subs and objs) and all(_holds(a, b, relation) for a in subs for b in objs)


def scene_pairs(scene: Scene) -> set[tuple[str, str]]:
    return {(g.color, g.shape) for g in scene.groups}


def scene_triples(scene: Scene) -> set[tuple[str, str, str]]:
    """Every canonical (shape, relation, shape) fact that holds between two groups."""
    out: set[tuple[str, str, str]] = set()
    for i, gi in enumerate(scene.groups):
        for j, gj in enumerate(scene.groups):
            if i != j:
                for rel in ("left", "above"):
                    if group_relation_holds(scene, i, rel, j):
                        out.add((gi.shape, rel, gj.shape))
    return out


def uses_heldout(scene: Scene, held: HeldOut) -> bool:
    return bool(scene_pairs(scene) & held.pairs) or bool(scene_triples(scene) & held.triples)


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------


def _sample_counts(rng: random.Random, n_groups: int, max_objects: int) -> tuple[int, ...]:
    if n_groups == 1:
        options = [c for c in (1, 2, 3, 4) if c <= max_objects]
        weights = [0.4, 0.25, 0.2, 0.15][: len(options)]
        return (rng.choices(options, weights=weights)[0],)
    options2 = [(a, b) for a in (1, 2, 3) for b in (1, 2, 3) if a + b <= max_objects]
    weights2 = [1.0 / (a + b - 1) for a, b in options2]
    return rng.choices(options2, weights=weights2)[0]


def _place_group(
    rng: random.Random, box: tuple[float, float, float, float], radii: list[float]
) -> list[tuple[float, float]] | None:
    """Centers for objects of ``radii`` inside ``box`` on a jittered grid; None when they can't fit."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    n = len(radii)
    need = 2 * max(radii) + _PAD
    grids = [
        (cols, rows)
        for cols in range(1, n + 1)
        for rows in range(1, n + 1)
        if cols * rows >= n and (cols - 1) * rows < n and w / cols >= need and h / rows >= need
    ]
    if not grids:
        return None
    cols, rows = rng.choice(grids)
    cells = rng.sample(range(cols * rows), n)
    cw, ch = w / cols, h / rows
    centers = []
    for cell, r in zip(cells, radii, strict=True):
        cx0, cy0 = x0 + (cell % cols) * cw, y0 + (cell // cols) * ch
        slack_x, slack_y = (cw - 2 * r - _PAD) / 2, (ch - 2 * r - _PAD) / 2
        centers.append(
            (cx0 + cw / 2 + rng.uniform(-slack_x, slack_x), cy0 + ch / 2 + rng.uniform(-slack_y, slack_y))
        )
    return centers


def _regions(rng: random.Random, relation: str | None) -> list[tuple[float, float, float, float]]:
    """One box per group: the whole canvas, or two halves split across ``relation``'s axis."""
    lo, hi = _MARGIN, 1.0 - _MARGIN
    if relation is None:
        return [(lo, lo, hi, hi)]
    split = 0.5 + rng.uniform(-0.05, 0.05)
    first, second = (lo, split - _GAP / 2), (split + _GAP / 2, hi)
    if relation in ("right", "below"):
        first, second = second, first
    if relation in ("left", "right"):
        return [(first[0], lo, first[1], hi), (second[0], lo, second[1], hi)]
    return [(lo, first[0], hi, first[1]), (lo, second[0], hi, second[1])]


def _jitter_rgb(rng: random.Random, rgb: tuple[int, int, int], amount: int) -> tuple[int, int, int]:
    r, g, b = (min(255, max(0, c + rng.randint(-amount, amount))) for c in rgb)
    return (r, g, b)


def _layout(
    rng: random.Random, groups: tuple[Group, ...], relation: str | None
) -> tuple[PlacedObject, ...] | None:
    placed: list[PlacedObject] = []
    for gi, (group, box) in enumerate(zip(groups, _regions(rng, relation), strict=True)):
        base = SIZES[group.size]
        radii = [base * (1 + rng.uniform(-_RADIUS_JITTER, _RADIUS_JITTER)) for _ in range(group.count)]
        centers = _place_group(rng, box, radii)
        if centers is None:
            return None
        for (x, y), r in zip(centers, radii, strict=True):
            rotation = 0.0 if group.shape == "circle" else rng.uniform(-_ROTATION_DEG, _ROTATION_DEG)
            placed.append(
                PlacedObject(gi, x, y, r, rotation, _jitter_rgb(rng, COLORS[group.color], _COLOR_JITTER))
            )
    return tuple(placed)


def _sample_groups(
    rng: random.Random, config: ShapesConfig, held: HeldOut, force: str | None
) -> tuple[tuple[Group, ...], str | None]:
    """Groups and the layout relation; ``force`` = "pair" or "triple" plants a held-out combination."""
    shapes, colors, sizes = sorted(SHAPES), sorted(COLORS), sorted(SIZES)
    if force == "triple":
        n_groups = 2
    else:
        n_groups = 1 if config.max_objects < 2 or rng.random() < 0.4 else 2
    counts = _sample_counts(rng, n_groups, config.max_objects)
    groups = [Group(rng.choice(shapes), rng.choice(colors), rng.choice(sizes), c) for c in counts]
    relation = rng.choice(("left", "right", "above", "below")) if n_groups == 2 else None
    if force == "pair":
        color, shape = rng.choice(sorted(held.pairs))
        k = rng.randrange(n_groups)
        groups[k] = Group(shape, color, groups[k].size, groups[k].count)
    elif force == "triple":
        a, rel, b = rng.choice(sorted(held.triples))
        if rng.random() < 0.5:
            shapes01, relation = (a, b), rel
        else:
            shapes01, relation = (b, a), INVERSE[rel]
        groups = [Group(s, g.color, g.size, g.count) for s, g in zip(shapes01, groups, strict=True)]
    return tuple(groups), relation


def single_object_scene(rng: random.Random, shape: str, color: str, size: str) -> Scene:
    """A one-object scene (zero-shot classification images)."""
    group = Group(shape, color, size, 1)
    objects = _layout(rng, (group,), None)
    if objects is None:  # one object always fits the canvas
        raise RuntimeError(f"could not place a single {size} {shape}")
    background = _jitter_rgb(rng, rng.choice(BACKGROUNDS), _BACKGROUND_JITTER)
    return Scene((group,), objects, None, background)


def sample_scene(config: ShapesConfig, split: str, index: int) -> Scene:
    """Scene ``index`` of ``split``: a pure function of (config, split, index)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index!r}")
    held = heldout(config)
    rng = random.Random(stable_seed(config.seed, "shapes-world", "scene", split, index))
    for _ in range(_MAX_TRIES):
        force = None
        if split == "test":
            kinds = []
            if held.pairs:
                kinds.append("pair")
            if held.triples and config.max_objects >= 2:
                kinds.append("triple")
            force = rng.choice(kinds)
        groups, relation = _sample_groups(rng, config, held, force)
        if len(groups) == 2 and (groups[0].color, groups[0].shape) == (groups[1].color, groups[1].shape):
            continue  # two groups must be told apart by their noun phrases alone
        objects = _layout(rng, groups, relation)
        if objects is None:
            continue
        background = _jitter_rgb(rng, rng.choice(BACKGROUNDS), _BACKGROUND_JITTER)
        scene = Scene(groups, objects, relation, background)
        if relation is not None and not group_relation_holds(scene, 0, relation, 1):
            continue
        if uses_heldout(scene, held) == (split == "test"):
            return scene
    raise RuntimeError(f"could not sample scene {split}[{index}] in {_MAX_TRIES} tries; config={config!r}")
