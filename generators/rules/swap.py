"""Swaps keep the bag of words and change who is where (SugarCrepe ``swap_obj``/``swap_att``).

swap_obj exchanges two objects' names, re-inflected for the slot they move to
("two dogs near a cat" → "two cats near a dog"), preferring pairs linked by a
relation ("a man riding a horse" → "a horse riding a man"). Pairs joined only
by "and"/"or"/"," are symmetric ("a dog and a cat") and skipped.

swap_att exchanges the attributes of two different objects ("a red car and a
blue truck" → "a blue car and a red truck"), preferring attributes of the same
group (color↔color) so the phrase stays idiomatic. Attributes of different groups
swap only when neither object keeps another attribute of the group it receives
("a large dog on a wooden bench" → "a wooden dog on a large bench", but never
"a large red circle and a blue square" → "a blue red circle ..."). When only one
object has a (non-numeric) attribute, the attribute moves to the other object.
Swaps between objects with the same name are skipped (same meaning).
"""

from __future__ import annotations

import random
import re
from typing import Any

from negforge.schemas import Edit, Negative, SceneGraph, SceneObject

from ..grammar import apply_edit, fix_articles
from ..registry import register
from .common import MAX_NEGATIVES, Candidate, bare_singular, finish, inflect_like, object_lemma
from .replace_att import is_replaceable

SWAP_OBJ_VERSION = 2  # 2: no swaps with a bare singular noun ("playing soccer")
SWAP_OBJ = f"rule:swap_obj@{SWAP_OBJ_VERSION}"
SWAP_ATT_VERSION = 2  # 2: cross-group swaps when neither object keeps a clashing attribute
SWAP_ATT = f"rule:swap_att@{SWAP_ATT_VERSION}"
_SYMMETRIC_GAP = re.compile(
    r"^[\s,]*(?:(?:and|or|&)\s+)?(?:(?:a|an|the|one|two|three|some|another)\s+)?$", re.I
)


def _two_span_edit(caption: str, a: tuple[int, int, str], b: tuple[int, int, str]) -> tuple[str, Edit]:
    """Replace two non-overlapping spans (a before b) with one edit covering both; fix articles."""
    (a0, a1, a_new), (b0, b1, b_new) = a, b
    middle = fix_articles(caption[a1:b0] + b_new)
    text, edit = apply_edit(caption, a0, b1, a_new + middle)
    return text, edit


def _movable(caption: str, att, obj: SceneObject) -> bool:
    """A pre-noun, non-numeric attribute that is not part of a coordination ("red and white")."""
    if not is_replaceable(att) or att.end > obj.start:
        return False
    before, after = caption[max(0, att.start - 5) : att.start], caption[att.end : att.end + 5]
    return not re.search(r"(\band|,)\s*$", before) and not re.match(r"\s*(and\b|,)", after)


def _uncap(word: str) -> str:
    """A sentence-initial word as it reads mid-sentence ("Fresh" -> "fresh", "TV" stays)."""
    return word[:1].lower() + word[1:] if word[:1].isupper() and word[1:] == word[1:].lower() else word


#: Groups that fit almost any physical thing, so a cross-group swap stays plausible ("a wooden
#: dog on a large bench"); age or mood would not ("a red man holding a young umbrella").
_CROSS = frozenset({"color", "size", "material", "pattern", "cleanliness", "condition", "quality"})


#: Attribute groups that fit only people, animals or places: moving them to another object
#: makes a negative a blind text model rejects ("a young umbrella", "a busy cell phone").
_NOT_MOVABLE = frozenset({"age", "mood", "crowdedness", "light"})
_WEATHER = frozenset({"rainy", "sunny", "snowy", "cloudy", "foggy"})


#: What can be said of a person by an adjective moved from a thing.
_ON_PEOPLE = frozenset({"size", "cleanliness", "wetness"})
_FOOD = frozenset({"food_dish", "fruit", "vegetable"})
_ALIVE = frozenset({"animal_pet", "animal_farm", "animal_wild", "bird", "plant"})


_FUNCTION_WORDS = frozenset(
    "a an the and or but of to in on at by with from for into onto over under through down up out off "
    "about past near along across around behind between very all some many several".split()
)


def _glued(caption: str, att, obj: SceneObject, resources: Any) -> bool:
    """An attribute after an adjective the parser did not give the object ("stainless steel"):
    the two are one modifier, and moving half of it gives "a stainless white refrigerator"."""
    prev = re.search(r"([A-Za-z-]+)\s+$", caption[: att.start])
    if prev is None:
        return False
    word = prev.group(1).lower()
    if any(t.text.lower() == word for t in obj.attributes) or word in _FUNCTION_WORDS:
        return False
    return bool(resources.synsets(word, "a")) and not resources.synsets(word, "v")


def can_move(lemma: str, resources: Any) -> bool:
    """Whether an adjective can go on another object and still read as a scene."""
    groups = set(resources.adjective_group.get(lemma, ())) - {"quality"}
    return bool(groups - _NOT_MOVABLE) and lemma not in _WEATHER


def can_move_to(lemma: str, target: SceneObject, resources: Any) -> bool:
    """:func:`can_move`, onto an object it can describe: a person only takes size, cleanliness
    or wetness ("a red man"), food states stay on food ("a sliced plate"), materials stay off
    food and living things ("a wooden pizza")."""
    if not can_move(lemma, resources):
        return False
    groups = set(resources.adjective_group.get(lemma, ()))
    target_groups = set(resources.groups_of_noun(object_lemma(target)))
    if "person" in target_groups:
        return bool(groups & _ON_PEOPLE)
    if "food_state" in groups and not target_groups & _FOOD:
        return False  # "a sliced plate"
    if "material" in groups and target_groups & (_FOOD | _ALIVE):
        return False  # "a wooden pizza", "a wooden bird"
    return True


def _clashes(atts, leaving, groups: set[str], resources: Any) -> bool:
    """Whether an attribute other than ``leaving`` shares a group with the incoming one (or has none)."""
    for t in atts:
        if t is leaving:
            continue
        own = set(resources.adjective_group.get(t.lemma, ()))
        if not own or own & groups:
            return True
    return False


def swap_kind(obj: SceneObject, resources: Any) -> str:
    """ "place" (street, field, kitchen, grass) or "thing": swaps stay within a kind."""
    lemma = object_lemma(obj)
    groups = resources.groups_of_noun(lemma)
    if any(g.startswith("place") for g in groups) or lemma in resources.vocab["mass_nouns"]:
        return "place"
    return "thing"


@register("swap_obj", type="swap_obj", version=SWAP_OBJ_VERSION)
def swap_obj(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Exchange two different objects (re-inflected to their new slots); skip symmetric pairs."""
    objs = graph.objects
    linked = {frozenset((r.subject, r.object)) for r in graph.relations}
    container_of = {frozenset((r.subject, r.object)) for r in graph.relations if r.predicate.lower() == "of"}
    ranked: list[tuple[int, float, int, int]] = []
    for i in range(len(objs)):
        for j in range(i + 1, len(objs)):
            a, b = objs[i], objs[j]
            if object_lemma(a) == object_lemma(b) or a.end > b.start or 0 in (a.count, b.count):
                continue
            if bare_singular(caption, a) or bare_singular(caption, b):
                continue  # "playing soccer": "a soccer playing child" / "two frisbees playing man"
            if frozenset((i, j)) in container_of:  # "a plate of food" -> "a food of plate"
                continue
            if _SYMMETRIC_GAP.match(caption[a.end : b.start]):
                continue
            if swap_kind(a, resources) != swap_kind(b, resources):
                continue  # "two fields standing in a sheep": absurd, a blind model spots it
            rank = 0 if frozenset((i, j)) in linked else 1
            ranked.append((rank, rng.random(), i, j))
    ranked.sort()

    def candidates():  # lazily: long captions have quadratically many pairs
        for _, _, i, j in ranked:
            a, b = objs[i], objs[j]
            new_a = inflect_like(object_lemma(b), a)
            new_b = inflect_like(object_lemma(a), b)
            yield Candidate(*_two_span_edit(caption, (a.start, a.end, new_a), (b.start, b.end, new_b)))

    return finish(caption, candidates(), "swap_obj", SWAP_OBJ, resources, limit=limit)


@register("swap_att", type="swap_att", version=SWAP_ATT_VERSION)
def swap_att(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Exchange attributes of two different objects, or move one to an object without it."""
    objs = graph.objects
    movable = [  # per object, once: the pair loop below is quadratic
        [t for t in o.attributes if _movable(caption, t, o) and not _glued(caption, t, o, resources)]
        for o in objs
    ]
    ranked: list[tuple[int, float, Candidate]] = []
    for i in range(len(objs)):
        for j in range(len(objs)):
            if i == j:
                continue
            a, b = objs[i], objs[j]
            if object_lemma(a) == object_lemma(b):
                continue
            a_atts, b_atts = movable[i], movable[j]
            if i < j:
                for x in a_atts:
                    for y in b_atts:
                        if (
                            x.text.lower() == y.text.lower()
                            or any(t.text.lower() == y.text.lower() for t in a_atts)
                            or any(t.text.lower() == x.text.lower() for t in b_atts)
                        ):
                            continue
                        gx = set(resources.adjective_group.get(x.lemma, ()))
                        gy = set(resources.adjective_group.get(y.lemma, ()))
                        if gx & gy:
                            rank = 0  # color <-> color: the most idiomatic swap
                        elif (
                            gx <= _CROSS
                            and gy <= _CROSS
                            and gx
                            and gy
                            and not _clashes(a_atts, x, gy, resources)
                            and not _clashes(b_atts, y, gx, resources)
                            and can_move_to(x.lemma, b, resources)
                            and can_move_to(y.lemma, a, resources)
                        ):
                            rank = 1  # size <-> material, neither object keeps a clashing attribute
                        else:
                            continue  # red <-> small into "a large red circle" gives "a large small circle"
                        ranked.append((rank, rng.random(), ("swap", x, y, a)))
            if (
                a_atts
                and not any(t.end <= b.start and is_replaceable(t) for t in b.attributes)
                and b.start > 0
            ):
                # move one of a's attributes to b: remove it before a, insert before b's name
                for x in reversed(a_atts):
                    if not can_move_to(x.lemma, b, resources):
                        continue
                    rm_end = x.end + (1 if caption[x.end : x.end + 1] == " " else 0)
                    if rm_end != a.start and not (len(a_atts) > 1 and rm_end <= a.start):
                        continue
                    ranked.append((2, rng.random(), ("move", x, b, a)))
                    break
    ranked.sort(key=lambda t: (t[0], t[1]))

    def build(kind: str, x, y, a: SceneObject) -> Candidate:
        moved = _uncap(x.text) if x.start == 0 else x.text  # "Fresh fruit on a ..." -> "... a fresh ..."
        if kind == "swap":
            return Candidate(*_two_span_edit(caption, (x.start, x.end, y.text), (y.start, y.end, moved)))
        b = y  # move attribute x of object a to object b
        rm_end = x.end + (1 if caption[x.end : x.end + 1] == " " else 0)
        if x.start < b.start:
            return Candidate(
                *apply_edit(caption, x.start, b.start, fix_articles(caption[rm_end : b.start] + moved + " "))
            )
        seg = moved + " " + caption[b.start : x.start] + caption[rm_end : a.end]
        return Candidate(*apply_edit(caption, b.start, a.end, fix_articles(seg)))

    lazy = (build(*key) for *_, key in ranked)
    return finish(caption, lazy, "swap_att", SWAP_ATT, resources, limit=limit)
