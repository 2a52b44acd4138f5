"""Captions written from a structured spec, with the exact scene graph aligned to each one.

A caption is never parsed back: it is *written* from a :class:`CaptionSpec`
(noun phrases + an optional relation), and the writer records the character
offsets of every shape word, attribute and relation phrase as it appends them.
So the graph slices the caption exactly, and a spec can be checked against the
scene it describes (:func:`spec_holds`), which is what makes the true
negatives in :mod:`.negatives` true by construction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from negforge.schemas import Attribute, Relation, SceneGraph, SceneObject

from .scene import HeldOut, Scene, canonical_triple, group_relation_holds
from .vocab import INVERSE, NUMBER_WORDS, RELATION_PHRASES, SHAPES, article

TEMPLATES: tuple[str, ...] = ("plain", "there")


@dataclass(frozen=True)
class NounPhrase:
    """ "two small blue squares": count, optional size, color, shape."""

    shape: str
    color: str | None  # None: the caption does not say (never in the world's own captions)
    size: str | None  # None: the caption does not say
    count: int


@dataclass(frozen=True)
class CaptionSpec:
    """What a caption says. With a relation, ``nps[0] <relation> nps[1]``; further nps are listed."""

    nps: tuple[NounPhrase, ...]
    relation: str | None = None  # canonical: left | right | above | below
    phrase: str | None = None  # surface form of the relation, one of RELATION_PHRASES[relation]
    template: str = "plain"  # "plain": "a red circle …"; "there": "there is a red circle …"

    def __post_init__(self) -> None:
        if not self.nps:
            raise ValueError(f"nps must not be empty, got {self.nps!r}")
        if self.relation is not None:
            if len(self.nps) < 2:
                raise ValueError(f"a relation needs at least two noun phrases, got {len(self.nps)!r}")
            if self.phrase not in RELATION_PHRASES.get(self.relation, ()):
                raise ValueError(f"phrase must be a surface form of {self.relation!r}, got {self.phrase!r}")
        if self.template not in TEMPLATES:
            raise ValueError(f"template must be one of {TEMPLATES}, got {self.template!r}")


class _Writer:
    """Appends text and remembers where each piece landed."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0

    def add(self, text: str) -> tuple[int, int]:
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        return start, self.length

    def text(self) -> str:
        return "".join(self.parts)


def _write_np(w: _Writer, np: NounPhrase) -> SceneObject:
    """Append "two small blue squares"; number words are attributes, as the spaCy parser has them.

    Rules such as ``count`` find the numeral among the attributes, so exact
    graphs follow the parser's convention: "two"/"three"/"four" are attributes
    (and ``count`` holds the value); the articles "a"/"an" are not.
    """
    attributes = []
    if np.count == 1:
        w.add(article(np.size or np.color or np.shape) + " ")
    else:
        number = NUMBER_WORDS[np.count]
        start, end = w.add(number)
        w.add(" ")
        attributes.append(Attribute(text=number, lemma=number, start=start, end=end))
    for word in (np.size, np.color):
        if word is None:
            continue
        start, end = w.add(word)
        w.add(" ")
        attributes.append(Attribute(text=word, lemma=word, start=start, end=end))
    noun = np.shape if np.count == 1 else SHAPES[np.shape]
    start, end = w.add(noun)
    return SceneObject(
        text=noun, lemma=np.shape, start=start, end=end, count=np.count, attributes=tuple(attributes)
    )


def write_caption(spec: CaptionSpec) -> tuple[str, SceneGraph]:
    """The caption text and its scene graph (offsets index the returned text)."""
    w = _Writer()
    if spec.template == "there":
        w.add("there is " if spec.nps[0].count == 1 else "there are ")
    objects = [_write_np(w, spec.nps[0])]
    relations: list[Relation] = []
    rest = list(spec.nps[1:])
    if spec.relation is not None:
        w.add(" ")
        start, end = w.add(str(spec.phrase))
        w.add(" ")
        objects.append(_write_np(w, rest.pop(0)))
        relations.append(Relation(subject=0, predicate=str(spec.phrase), object=1, start=start, end=end))
    for k, np in enumerate(rest):
        # "A and B", "A, B and C"; after a relation clause: "A left of B and C".
        w.add(" and " if k == len(rest) - 1 else ", ")
        objects.append(_write_np(w, np))
    return w.text(), SceneGraph(objects=tuple(objects), relations=tuple(relations))


def _denotation(scene: Scene, np: NounPhrase) -> list[int]:
    """Groups the noun phrase can refer to (color and shape, and size when said)."""
    return [
        i
        for i, g in enumerate(scene.groups)
        if g.shape == np.shape
        and (np.color is None or g.color == np.color)
        and (np.size is None or g.size == np.size)
    ]


def spec_holds(spec: CaptionSpec, scene: Scene) -> bool:
    """Whether everything the spec says is true of the scene.

    Each noun phrase must pick out objects that exist, in exactly its count;
    the relation must hold between every object of the first phrase and every
    object of the second.
    """
    referents: list[list[int]] = []
    for np in spec.nps:
        groups = _denotation(scene, np)
        if sum(scene.groups[i].count for i in groups) != np.count:
            return False
        referents.append(groups)
    if spec.relation is not None:
        return all(
            group_relation_holds(scene, a, spec.relation, b) for a in referents[0] for b in referents[1]
        ) and bool(referents[0] and referents[1])
    return True


def _np_for(scene: Scene, group: int, rng: random.Random, size_prob: float) -> NounPhrase:
    g = scene.groups[group]
    return NounPhrase(g.shape, g.color, g.size if rng.random() < size_prob else None, g.count)


def sample_spec(scene: Scene, rng: random.Random, size_prob: float) -> CaptionSpec:
    """One true description of the scene, in a random style."""
    template = rng.choice(TEMPLATES)
    if len(scene.groups) == 1:
        return CaptionSpec((_np_for(scene, 0, rng, size_prob),), template=template)
    order = (0, 1) if rng.random() < 0.5 else (1, 0)
    nps = tuple(_np_for(scene, i, rng, size_prob) for i in order)
    if scene.relation is None or rng.random() < 1 / 3:
        return CaptionSpec(nps, template=template)
    relation = scene.relation if order == (0, 1) else INVERSE[scene.relation]
    return CaptionSpec(nps, relation, rng.choice(RELATION_PHRASES[relation]), template)


def scene_specs(scene: Scene, rng: random.Random, n: int, size_prob: float) -> list[CaptionSpec]:
    """Up to ``n`` specs with distinct captions, each true of the scene."""
    specs: list[CaptionSpec] = []
    seen: set[str] = set()
    for _ in range(20 * n):
        spec = sample_spec(scene, rng, size_prob)
        caption, _ = write_caption(spec)
        if caption in seen:
            continue
        if not spec_holds(spec, scene):  # a bug, never a data condition
            raise RuntimeError(f"caption {caption!r} is false of its own scene {scene!r}")
        seen.add(caption)
        specs.append(spec)
        if len(specs) == n:
            break
    return specs


def heldout_signature(spec: CaptionSpec, held: HeldOut) -> tuple[int, bool]:
    """(held-out color-shape pairs named, whether the stated relation triple is held out)."""
    pairs = sum((np.color, np.shape) in held.pairs for np in spec.nps)
    triple = spec.relation is not None and (
        canonical_triple(spec.nps[0].shape, spec.relation, spec.nps[1].shape) in held.triples
    )
    return pairs, triple


def names_heldout(spec: CaptionSpec, held: HeldOut) -> bool:
    """Whether the caption itself states a held-out color-shape pair or relation triple."""
    pairs, triple = heldout_signature(spec, held)
    return pairs > 0 or triple
