"""Swaps keep the bag of words and change who is where (SugarCrepe ``swap_obj``/``swap_att``).

swap_obj exchanges two objects' names, re-inflected for the slot they move to ("a dog chasing a
cat" → "a cat chasing a dog", "a girl in a pink dress next to a boy" → "a boy in a pink dress
next to a girl"). Each noun must fit every slot of the other (``fit.noun_fits``: its verbs,
prepositions and attributes, by counted captions), so a swap that a text model rejects on world
knowledge alone — "a sofa sitting on a boy", "a cup holding a woman", "a bikini in a girl" — is
never made. Pairs joined only by "and"/"or"/"," are symmetric ("a dog and a cat") and skipped,
as are containers and their contents ("a plate of food").

swap_att exchanges the attributes of two different objects ("a white dog and a black cat" →
"a black dog and a white cat"): SugarCrepe's definition, an exchange, never a move of one
attribute onto a bare noun. Each attribute must suit its new noun (``fit.adjective_fits``), and
attributes of the same property swap first (color ↔ color); across properties only when
neither object keeps an attribute of the property it receives ("a large red circle" never
becomes "a blue red circle").
"""

from __future__ import annotations

import random
import re
from typing import Any

from negforge.schemas import Edit, Negative, SceneGraph, SceneObject

from ..grammar import apply_edit, fix_articles, last_gendered_pronoun
from ..registry import register
from .common import (
    MAX_NEGATIVES,
    Candidate,
    bare_singular,
    finish,
    glued_modifier,
    inflect_like,
    object_lemma,
)
from .fit import adjective_fits, editable_object, noun_fits, same_kind
from .replace_att import is_replaceable

SWAP_OBJ_VERSION = 3  # 3: both nouns must fit each other's slots (counted captions)
SWAP_OBJ = f"rule:swap_obj@{SWAP_OBJ_VERSION}"
SWAP_ATT_VERSION = 3  # 3: exchanges only, each attribute suits its new noun
SWAP_ATT = f"rule:swap_att@{SWAP_ATT_VERSION}"
_SYMMETRIC_GAP = re.compile(
    r"^[\s,]*(?:(?:and|or|&)\s+)?(?:(?:a|an|the|one|two|three|some|another)\s+)?$", re.I
)
_POSSESSIVE = re.compile(r"\b(his|her|its|their|my|your|our)\s+(\w+\s+){0,2}$", re.I)
#: Properties that fit almost any made or living thing, so a swap across them can stay plausible.
_CROSS = frozenset({"color", "size", "material", "pattern", "cleanliness", "condition", "quality"})


def _two_span_edit(caption: str, a: tuple[int, int, str], b: tuple[int, int, str]) -> tuple[str, Edit]:
    """Replace two non-overlapping spans (a before b) with one edit covering both; fix articles."""
    (a0, a1, a_new), (b0, b1, b_new) = a, b
    middle = fix_articles(caption[a1:b0] + b_new)
    return apply_edit(caption, a0, b1, a_new + middle)


def _uncap(word: str) -> str:
    """A sentence-initial word as it reads mid-sentence ("Fresh" -> "fresh", "TV" stays)."""
    return word[:1].lower() + word[1:] if word[:1].isupper() and word[1:] == word[1:].lower() else word


def _movable(caption: str, att, obj: SceneObject, resources: Any) -> bool:
    """A pre-noun, non-numeric attribute that is not half of a coordination ("red and white") or
    of a longer modifier ("stainless steel")."""
    if not is_replaceable(att) or att.end > obj.start or glued_modifier(caption, att, obj, resources):
        return False
    before, after = caption[max(0, att.start - 5) : att.start], caption[att.end : att.end + 5]
    return not re.search(r"(\band|,)\s*$", before) and not re.match(r"\s*(and\b|,)", after)


def _clashes(atts, leaving, groups: set[str], resources: Any) -> bool:
    """Whether an attribute other than ``leaving`` shares a property with the incoming one (or has none)."""
    for t in atts:
        if t is leaving:
            continue
        own = set(resources.adjective_group.get(t.lemma, ()))
        if not own or own & groups:
            return True
    return False


def _people_with_pronouns(caption: str, a: SceneObject, b: SceneObject, resources: Any) -> bool:
    """Two people and a "his"/"her" after them: swapping them would leave the pronoun pointing
    at the wrong one ("a man hugs a girl with his arm" -> "a girl hugs a man with his arm")."""
    lex = resources.lexicon
    both_people = lex.class_of(object_lemma(a)) == "person" and lex.class_of(object_lemma(b)) == "person"
    return both_people and last_gendered_pronoun(caption[a.start :]) is not None


@register("swap_obj", type="swap_obj", version=SWAP_OBJ_VERSION)
def swap_obj(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Exchange two different objects that fit each other's slots (re-inflected to them)."""
    objs = graph.objects
    linked = {frozenset((r.subject, r.object)) for r in graph.relations}
    container_of = {frozenset((r.subject, r.object)) for r in graph.relations if r.predicate.lower() == "of"}
    editable = [editable_object(caption, o, resources) and not bare_singular(caption, o) for o in objs]
    lex = resources.lexicon
    in_relation = [False] * len(objs)
    for r in graph.relations:
        in_relation[r.subject] = in_relation[r.object] = True
    ranked: list[tuple[int, float, int, int]] = []
    for i in range(len(objs)):
        for j in range(i + 1, len(objs)):
            a, b = objs[i], objs[j]
            if not (editable[i] and editable[j]) or a.end > b.start:
                continue
            la, lb = object_lemma(a), object_lemma(b)
            if la == lb or la.rsplit(" ", 1)[-1] == lb.rsplit(" ", 1)[-1]:
                continue
            if frozenset((i, j)) in container_of or _SYMMETRIC_GAP.match(caption[a.end : b.start]):
                continue  # "a plate of food" -> "a food of plate"; "a dog and a cat" is symmetric
            if not same_kind(la, lb, resources):
                continue  # "a team of boats propel their rower"
            bound = in_relation[i] and in_relation[j]  # slots to test the swap against
            if not bound and not (a.attributes and b.attributes and lex.class_of(la) == lex.class_of(lb)):
                continue  # no slot and no attribute: nothing says the swap is plausible, or false
            if _POSSESSIVE.search(caption[: a.start]) or _POSSESSIVE.search(caption[: b.start]):
                continue  # "a man plays with his dog" -> "a dog plays with his man"
            ranked.append((0 if frozenset((i, j)) in linked else 1, rng.random(), i, j))
    ranked.sort()

    def candidates():  # lazily: long captions have quadratically many pairs
        for _, _, i, j in ranked:
            a, b = objs[i], objs[j]
            la, lb = object_lemma(a), object_lemma(b)
            if not (noun_fits(resources, graph, i, lb) and noun_fits(resources, graph, j, la)):
                continue  # "a sofa sitting on a boy", "a cup holding a woman"
            if _people_with_pronouns(caption, a, b, resources):
                continue
            new_a, new_b = inflect_like(lb, a), inflect_like(la, b)
            yield Candidate(*_two_span_edit(caption, (a.start, a.end, new_a), (b.start, b.end, new_b)))

    return finish(caption, candidates(), "swap_obj", SWAP_OBJ, resources, limit=limit)


@register("swap_att", type="swap_att", version=SWAP_ATT_VERSION)
def swap_att(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Exchange the attributes of two different objects, each suiting its new noun."""
    objs = graph.objects
    movable = [[t for t in o.attributes if _movable(caption, t, o, resources)] for o in objs]
    ranked: list[tuple[int, float, tuple]] = []
    for i in range(len(objs)):
        for j in range(i + 1, len(objs)):
            a, b = objs[i], objs[j]
            la, lb = object_lemma(a), object_lemma(b)
            if la == lb:
                continue
            for x in movable[i]:
                for y in movable[j]:
                    xl, yl = x.text.lower(), y.text.lower()
                    if (
                        xl == yl
                        or any(t.text.lower() == yl for t in movable[i])
                        or any(t.text.lower() == xl for t in movable[j])
                    ):
                        continue
                    if not (adjective_fits(resources, yl, la) and adjective_fits(resources, xl, lb)):
                        continue  # "a red man", "a wooden pizza", "a sliced plate"
                    gx = set(resources.adjective_group.get(x.lemma, ()))
                    gy = set(resources.adjective_group.get(y.lemma, ()))
                    lex = resources.lexicon
                    if gx & gy:
                        rank = 0  # color <-> color: the most idiomatic swap
                    elif (
                        gx and gy and gx <= _CROSS and gy <= _CROSS
                        and lex.seen(f"A|{yl}", la) and lex.seen(f"A|{xl}", lb)  # both said in captions
                        and not _clashes(a.attributes, x, gy, resources)
                        and not _clashes(b.attributes, y, gx, resources)
                    ):  # fmt: skip
                        rank = 1  # size <-> material, neither object keeps a clashing attribute
                    else:
                        continue  # red <-> small into "a large red circle" gives "a large small circle"
                    ranked.append((rank, rng.random(), (x, y)))
    ranked.sort(key=lambda t: (t[0], t[1]))

    def build(x, y) -> Candidate:
        moved = _uncap(x.text) if x.start == 0 else x.text  # "Fresh fruit on a ..." -> "... a fresh ..."
        return Candidate(*_two_span_edit(caption, (x.start, x.end, y.text), (y.start, y.end, moved)))

    lazy = (build(*key) for *_, key in ranked)
    return finish(caption, lazy, "swap_att", SWAP_ATT, resources, limit=limit)
