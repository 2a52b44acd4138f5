"""Swaps keep the bag of words and change who is where (SugarCrepe ``swap_obj``/``swap_att``).

swap_obj exchanges two objects' names, re-inflected for the slot they move to ("a dog chasing a
cat" → "a cat chasing a dog", "a girl in a pink dress next to a boy" → "a boy in a pink dress
next to a girl"). Each noun must fit every slot of the other (``fit.noun_fits``: its verbs,
prepositions and attributes, by counted captions), so a swap that a text model rejects on world
knowledge alone — "a sofa sitting on a boy", "a cup holding a woman", "a bikini in a girl" — is
never made. Pairs joined only by "and"/"or"/"," are symmetric ("a dog and a cat") and skipped,
as are containers and their contents ("a plate of food"). Two garments of one list trade
names with their article following the new noun's number ("a red shirt and blue shorts" →
"red shorts and a blue shirt"), though the second's determiner was elided.

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

from negforge.schemas import Attribute, Edit, Negative, SceneGraph, SceneObject

from ..grammar import apply_edit, article_for, fix_articles, last_gendered_pronoun, match_case
from ..registry import register
from .common import (
    MAX_NEGATIVES,
    POSSESSIVES,
    SHADES,
    Candidate,
    after_shade,
    bare_singular,
    compatible_words,
    finish,
    glued_modifier,
    inflect_like,
    is_plural,
    object_lemma,
    one_thing,
    phrase_start,
    shade_bound,
    word_before,
)
from .fit import adjective_fits, editable_object, noun_fits, person_swap_ok, same_kind
from .replace_att import is_replaceable
from .worn import WornColor, worn_colors

SWAP_OBJ_VERSION = 11  # 4: symmetric relations with telling attributes; 5: a baby's joint slot needs 2 counts; 6: no half of an adjective ("wheelchair bound"), no nested places ("a crosswalk on a street"); 7: two garments of one list ("a red shirt and blue shorts" -> "red shorts and a blue shirt"), never watchers ("an onlooker watched by runners"); 8: two listed nouns only when each has its own attributes ("a young boy and a girl on a skateboard" is left alone); 9: nothing worn ("has a glove on") moves, no garment swap splits a shade ("navy blue pants"), no noun moved next to its twin ("a young woman and woman"); 10: never two names of one thing ("the street at a crosswalk"), a place both are in tells no doer of a symmetric relation apart ("a puppy plays with an adult dog in the snow"); 11: two verbs' objects after "the" keep their own number ("plays the guitar ... plays the drums", never "the guitars ... the drum")
SWAP_OBJ = f"rule:swap_obj@{SWAP_OBJ_VERSION}"
SWAP_ATT_VERSION = 9  # 4: an attribute after "and" of another noun phrase moves; 5: shades stay whole; 6: no half of an adjective, comma-listed adjectives of different kinds move ("a large , white tube"); 7: never two adjectives of one look ("a young girl hugs a little boy"), no cross-kind swap with a body part or substance ("a short dog with black fur"); 8: colors worn with no garment named are exchanged too ("a player in red chases a player in blue" -> "... in blue ... in red"); 9: fluffy/furry/shaggy are one look, so are dirty/muddy/brown ("a brown dog ... a dirty tennis ball" never swapped), a color moves with its shade ("a bright blue sweatshirt ... a red wagon" -> "a red sweatshirt ... a bright blue wagon")
SWAP_ATT = f"rule:swap_att@{SWAP_ATT_VERSION}"
#: Relations that read the same both ways round.
_SYMMETRIC = frozenset({"with", "beside", "near", "by", "next to", "close to", "alongside"})
#: Things worn or used in pairs: their number does not move to another noun's slot.
_PAIRED = frozenset("boot shoe sock glove sneaker skate sandal mitten earring ski cleat heel slipper".split())
#: Two objects joined by "and"/"or" with at most a determiner and two modifiers between them.
_COORDINATED = re.compile(r"^[\s,]*(?:and|or|&)\s+(?:[\w'-]+\s+){0,3}$", re.I)
#: "another girl" points back at a girl already named: moved elsewhere it points at nothing.
_ANOTHER = re.compile(r"\b(another|the other)\s+(\w+\s+){0,2}$", re.I)
_POSSESSIVE = re.compile(r"\b(his|her|its|their|my|your|our)\s+(\w+\s+){0,2}$", re.I)
#: One noun listed with itself ("a woman and woman"): a swap moved a noun next to its twin.
_SAME_TWICE = re.compile(r"\b(\w+) and (?:an? |the )?\1\b", re.I)
#: "has a glove on": a particle "on" closing the object says it is worn.
_WORN_ON = re.compile(r"\s+on\s*($|[,.;!]|and\b|while\b)", re.I)
#: Properties that fit almost any made or living thing, so a swap across them can stay plausible.
_CROSS = frozenset({"color", "size", "material", "pattern", "cleanliness", "condition", "quality"})


#: People named for watching: "a runner watched by onlookers" never becomes "an onlooker
#: watched by runners" (an onlooker is one because of what they watch).
_WATCHERS = frozenset({"onlooker", "spectator", "viewer", "bystander", "audience", "crowd", "fan", "observer", "passerby"})
#: Classes of where a scene is: two of them related ("a crosswalk on a street") nest, and nested
#: places read true either way round.
_LOCATIONS = frozenset({"place", "ground", "way", "water", "landform"})
_STATIC = frozenset({"on", "at", "in", "by", "near", "inside", "beside", "next to"})


def _two_span_edit(caption: str, a: tuple[int, int, str], b: tuple[int, int, str]) -> tuple[str, Edit]:
    """Replace two non-overlapping spans (a before b) with one edit covering both; fix articles."""
    (a0, a1, a_new), (b0, b1, b_new) = a, b
    middle = fix_articles(caption[a1:b0] + b_new)
    return apply_edit(caption, a0, b1, a_new + middle)


#: Between two garments of one list: "a red shirt and blue shorts", "a cap , white gloves".
_GARMENT_JOIN = re.compile(r"^\s*(,\s*(and\s+)?|and\s+|&\s+)(an?\s+)?$", re.I)
#: Determiners a garment's phrase may start with that fit either number (kept as they are).
_ANY_NUMBER_DETERMINERS = POSSESSIVES | {"the"}


def _own_number_objects(caption: str, graph: SceneGraph, i: int, j: int) -> bool:
    """Two objects of verbs, of different number, each after "the" or a possessive: each keeps
    its own number when they trade places ("plays the drums … plays the guitar" -> "plays the
    guitar … plays the drums", never "the guitars … the drum"); no verb agrees with either."""
    a, b = graph.objects[i], graph.objects[j]
    if is_plural(a) == is_plural(b):
        return False
    objects = {r.object for r in graph.relations}
    subjects = {r.subject for r in graph.relations}
    return all(
        k in objects
        and k not in subjects
        and (word_before(caption, phrase_start(o)) or "").lower() in _ANY_NUMBER_DETERMINERS
        for k, o in ((i, a), (j, b))
    )


def _grammatical_plural(obj: SceneObject, resources: Any) -> bool:
    """Takes a plural verb and no "a": "dogs", and "shorts"/"jeans" whose lemma is plural."""
    plural_only = resources.vocab["plural_only"]
    lemma = object_lemma(obj)
    return is_plural(obj) or lemma in plural_only or lemma.rsplit(" ", 1)[-1] in plural_only  # "denim shorts"


def _garment_swaps(caption: str, graph: SceneGraph, resources: Any) -> list[Candidate]:
    """Two worn things of one list trade names, each keeping its place and attributes: "a red
    shirt and blue shorts" -> "red shorts and a blue shirt" (the article follows the noun's
    number). The general pair loop skips list items with an elided determiner as bare nouns."""
    lex = resources.lexicon
    objs = graph.objects
    out: list[Candidate] = []
    for i in range(len(objs) - 1):
        a, b = objs[i], objs[i + 1]
        la, lb = object_lemma(a), object_lemma(b)
        if lex.class_of(la) != "clothing" or lex.class_of(lb) != "clothing" or la == lb:
            continue
        if not (a.attributes and b.attributes) or _words(a.attributes) == _words(b.attributes):
            continue  # nothing tells "a shirt and shorts" from "shorts and a shirt"
        if any(at.end > a.start for at in a.attributes) or any(at.end > b.start for at in b.attributes):
            continue  # an attribute after its noun ("a shirt , blue") stays put
        pa, pb = phrase_start(a), phrase_start(b)
        if after_shade(caption, pa) or after_shade(caption, pb):
            continue  # "navy blue pants and a white hat" -> "navy a blue hat"
        join = _GARMENT_JOIN.match(caption[a.end : pb])
        if join is None or a.count not in (None, 1) or b.count not in (None, 1):
            continue  # not one list; "two gloves" carry their number
        if not (editable_object(caption, a, resources) and editable_object(caption, b, resources)):
            continue
        if not all(adjective_fits(resources, at.text, lb) for at in a.attributes) or not all(
            adjective_fits(resources, at.text, la) for at in b.attributes
        ):
            continue  # "long-sleeved shorts"
        det = re.search(r"(\b[A-Za-z]+)(\s+)$", caption[:pa])
        det_a = det.group(1) if det else ""
        if det_a.lower() not in ("a", "an") and det_a.lower() not in _ANY_NUMBER_DETERMINERS:
            det_a = ""  # "wearing red shorts": the verb before is no determiner
        plural_a, plural_b = _grammatical_plural(a, resources), _grammatical_plural(b, resources)
        start = det.start(1) if det_a else pa
        mods_a, mods_b = caption[pa : a.start], caption[pb : b.start]
        joiner = caption[a.end : pb]
        new_a, new_b = match_case(b.text, a.text), match_case(a.text, b.text)
        if plural_a == plural_b or det_a.lower() in _ANY_NUMBER_DETERMINERS:
            if plural_a != plural_b:
                continue  # "his red shirt and blue shorts" -> "his red shorts and blue shirt" reads as his both
            lead = caption[start:pa]
        elif plural_b:  # "a red shirt and blue shorts" -> "red shorts and a blue shirt"
            lead = ""
            if (join.group(3) or "").strip():
                continue  # "a red shirt and a pair ..." : already its own article
            joiner = joiner + article_for(mods_b.strip() or new_b) + " "
        else:  # "red shorts and a blue shirt" -> "a red shirt and blue shorts"
            if not (join.group(3) or "").strip():
                continue  # "blue jeans , white shirt": no article to move
            lead = article_for(mods_a.strip() or new_a) + " "
            joiner = re.sub(r"\b(an?)\s+$", "", joiner, flags=re.I)
        after = lead + mods_a + new_a + joiner + mods_b + new_b
        text, edit = apply_edit(caption, start, b.end, after)
        out.append(Candidate(text, edit))
    return out


def _agents(a: str, b: str, lex: Any) -> bool:
    """Both nouns are living doers (people, animals, birds): they trade places in a scene."""
    return lex.class_of(a) in ("person", "animal", "bird") and lex.class_of(b) in ("person", "animal", "bird")


def _is_mass(lemma: str, resources: Any) -> bool:
    mass = resources.vocab["mass_nouns"]
    return lemma in mass or lemma.rsplit(" ", 1)[-1] in mass


def _words(attributes) -> frozenset[str]:
    return frozenset(a.text.lower() for a in attributes)


def _uncap(word: str) -> str:
    """A sentence-initial word as it reads mid-sentence ("Fresh" -> "fresh", "TV" stays)."""
    return word[:1].lower() + word[1:] if word[:1].isupper() and word[1:] == word[1:].lower() else word


_JOINED = re.compile(r"\s*(,\s*(and|or|&)?|and|or|&)\s*", re.I)


def _movable(caption: str, att, obj: SceneObject, resources: Any, shade_start: int | None = None) -> bool:
    """A pre-noun, non-numeric attribute that is not half of a coordination ("red and white") or
    of a longer modifier ("stainless steel"). ``shade_start``: the color moves with the shade
    before it ("bright blue"), which starts there."""
    if not is_replaceable(att) or att.end > obj.start or glued_modifier(caption, att, obj, resources):
        return False
    groups = set(resources.adjective_group.get(att.lemma, ()))
    listed = False  # "a large , white tube": a comma between adjectives of different kinds
    for other in obj.attributes:  # "red and white": half of the noun's own coordination
        if other is att or (shade_start is not None and shade_start <= other.start < att.start):
            continue
        between = caption[other.end : att.start] if other.end <= att.start else caption[att.end : other.start]
        if _JOINED.fullmatch(between):
            if "," not in between or groups & set(resources.adjective_group.get(other.lemma, ())) or not groups:
                return False
            listed = listed or other.start > att.start
    if shade_start is None and shade_bound(caption, att, resources):
        return False
    # "a white shirt and red pants": "and" joins two noun phrases, "red" is whole
    after = caption[att.end : att.end + 5]
    return listed or not re.match(r"\s*(and\b|,)", after)


def _shaded_color(caption: str, att, obj: SceneObject, resources: Any) -> Attribute | None:
    """"bright blue" as one movable attribute (lemma "blue") when ``att`` is a color right after
    its shade: the two move together ("a bright blue sweatshirt ... a red wagon" -> "a red
    sweatshirt ... a bright blue wagon"), never apart ("light black shorts")."""
    if att.lemma.lower() not in resources.vocab["adjective_groups"]["color"] or not after_shade(caption, att.start):
        return None
    head = caption[: att.start].rstrip(" \t-")
    start = max(head.rfind(" "), head.rfind("\t")) + 1  # the shade's first letter
    if not _movable(caption, att, obj, resources, shade_start=start):
        return None
    return Attribute(text=caption[start : att.end], lemma=att.lemma, start=start, end=att.end)


def _value(att) -> str:
    """The attribute's own word, lower case: the color of a shade and color ("bright blue")."""
    low = att.text.lower()
    m = re.fullmatch(r"([a-z]+)[ -]([a-z]+)", low)
    return m.group(2) if m is not None and m.group(1) in SHADES else low


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
    """A person and a "his"/"her"/"its" after them: swapping would leave the pronoun pointing at
    the wrong one ("a man hugs a girl with his arm" -> "a girl hugs a man with his arm"; "a dog
    with a frisbee in its mouth chasing a boy" -> "a boy with a frisbee in its mouth")."""
    lex = resources.lexicon
    people = (lex.class_of(object_lemma(a)) == "person") + (lex.class_of(object_lemma(b)) == "person")
    if people == 0:
        return False
    if last_gendered_pronoun(caption[a.start :]) is not None:
        return True
    return people == 1 and re.search(r"\b(its|it|itself)\b", caption[a.start :], re.I) is not None


def _worn_pairs(caption: str, graph: SceneGraph, movable: list[list], resources: Any) -> list[tuple]:
    """Colors to exchange where one is worn with no garment named: "a player in red chases a
    player in blue" -> "... in blue ... in red", "a man in black with a red hat" -> "a man in red
    with a black hat" (with a garment's color only: a worn color suits no other kind of thing)."""
    worn = worn_colors(caption, graph, resources)
    if not worn:
        return []
    colors = resources.vocab["adjective_groups"]["color"]
    garments = [
        t
        for o, atts in zip(graph.objects, movable, strict=True)
        if resources.lexicon.class_of(object_lemma(o)) == "clothing"
        for t in atts
        if t.lemma.lower() in colors
    ]
    pairs = []
    for k, x in enumerate(worn):
        # a garment's wearer is not known: only beside a named wearer ("a man in black with a
        # red hat"), never "one in pink and one in a white dress" (either one may be either)
        for y in worn[k + 1 :] + (garments if x.wearer is not None else []):
            xl, yl = x.text.lower(), y.text.lower()
            if xl == yl or yl in compatible_words("adjective_compatible", xl, resources):
                continue
            if isinstance(y, WornColor) and y.wearer == x.wearer:
                continue  # "two girls , one in pink and one in white": either one may be in pink
            pairs.append((x, y) if x.start < y.start else (y, x))
    return pairs


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
    # relations to a third object: what tells two doers of a symmetric relation apart
    # (a place both are in says nothing of either: "a puppy plays with an adult dog in the snow")
    third = [
        {
            frozenset((r.subject, r.object))
            for r in graph.relations
            if k in (r.subject, r.object)
            and not (r.subject == k and lex.class_of(object_lemma(objs[r.object])) in _LOCATIONS)
        }
        for k in range(len(objs))
    ]
    # objects that say where something is ("on the shore", "at the beach"), not where it goes
    where = [any(r.object == k and r.predicate.lower() in _STATIC for r in graph.relations) for k in range(len(objs))]
    ranked: list[tuple[int, float, int, int]] = []
    for i in range(len(objs)):
        for j in range(i + 1, len(objs)):
            a, b = objs[i], objs[j]
            if not (editable[i] and editable[j]) or a.end > b.start:
                continue
            la, lb = object_lemma(a), object_lemma(b)
            if set(la.split()) & set(lb.split()):
                continue  # the same kind of thing, or one mis-parsed with it ("shirt jump")
            if one_thing(la, lb, resources):
                continue  # "crossing the street at a crosswalk" -> "the crosswalk at a street": the same
            if la.rsplit(" ", 1)[-1] in _WATCHERS or lb.rsplit(" ", 1)[-1] in _WATCHERS:
                continue  # "a single onlooker is watched by runners"
            if frozenset((i, j)) in container_of:
                continue  # "a plate of food" -> "a food of plate"
            if (
                not same_kind(la, lb, resources)
                or lex.class_of(la) != lex.class_of(lb)
                and not _agents(la, lb, lex)
            ):
                continue  # "a team of boats propel their rower", "a boy in a long box holding a shirt"
            if _is_mass(la, resources) or _is_mass(lb, resources):
                continue  # "runs along a grass through the dirt path"
            if resources.lexical_relation(la, lb, "n") is not None or (
                lex.class_of(la) == "person" and not person_swap_ok(la, lb, resources)
            ):
                continue  # "two young children ... two other boys": boys are children
            if is_plural(a) != is_plural(b) and (la in _PAIRED or lb in _PAIRED):
                continue  # "the yellow boots and the pink dress" -> "the yellow boot and the pink dresses"
            bound = in_relation[i] and in_relation[j]  # slots to test the swap against
            if not bound and not (a.attributes and b.attributes and lex.class_of(la) == lex.class_of(lb)):
                continue  # no slot and no attribute: nothing says the swap is plausible, or false
            if _COORDINATED.match(caption[a.end : b.start]) and (
                _words(a.attributes) == _words(b.attributes) or not (a.attributes and b.attributes)
            ):
                # "a little boy and a little girl": the same scene either way; "a young boy and a
                # girl on a skateboard" -> "a young girl and a boy on ...": only "young" moves, and
                # whom the skateboard is under was never said
                continue
            if _ANOTHER.search(caption[: a.start]) or _ANOTHER.search(caption[: b.start]):
                continue  # "a boy and girl … another girl" -> "a girl and girl … another boy"
            if _POSSESSIVE.search(caption[: a.start]) or _POSSESSIVE.search(caption[: b.start]):
                continue  # "a man plays with his dog" -> "a dog plays with his man"
            pair = frozenset((i, j))
            if {lex.class_of(la), lex.class_of(lb)} <= _LOCATIONS and (pair in linked or (where[i] and where[j])):
                continue  # "in a crosswalk on a city street", "on the shore at the beach": one holds the other
            third_i, third_j = third[i] - {pair}, third[j] - {pair}
            between = [
                r.predicate.lower()
                for r in graph.relations
                if frozenset((r.subject, r.object)) == frozenset((i, j))
            ]
            if (
                between
                and all(p in _SYMMETRIC or p.endswith(" with") for p in between)
                and _words(a.attributes) == _words(b.attributes)
                and not (third_i or third_j)
            ):
                # "a woman walking with a child" is "a child walking with a woman"; "the woman in
                # the orange wig poses with the man in the black wig" is not: the wigs stay
                continue
            ranked.append((0 if frozenset((i, j)) in linked else 1, rng.random(), i, j))
    ranked.sort()

    def candidates():  # lazily: long captions have quadratically many pairs
        for _, _, i, j in ranked:
            a, b = objs[i], objs[j]
            la, lb = object_lemma(a), object_lemma(b)
            moving = frozenset({la.rsplit(" ", 1)[-1], lb.rsplit(" ", 1)[-1]})
            if not (
                noun_fits(resources, graph, i, lb, moving=moving, strict_joint=True)
                and noun_fits(resources, graph, j, la, moving=moving, strict_joint=True)
            ):
                continue  # "a sofa sitting on a boy", "a cup holding a woman"
            if _people_with_pronouns(caption, a, b, resources):
                continue
            if _WORN_ON.match(caption, a.end) or _WORN_ON.match(caption, b.end):
                continue  # "has a glove on and is going towards the ball" -> "has a ball on"
            if _own_number_objects(caption, graph, i, j):
                new_a, new_b = inflect_like(lb, b), inflect_like(la, a)  # "plays the guitar ... the drums"
            else:
                new_a, new_b = inflect_like(lb, a), inflect_like(la, b)
            text, edit = _two_span_edit(caption, (a.start, a.end, new_a), (b.start, b.end, new_b))
            if _SAME_TWICE.search(text) and not _SAME_TWICE.search(caption):
                continue  # "a young man and woman ... the woman" -> "a young woman and woman"
            yield Candidate(text, edit)

    def all_candidates():
        yield from candidates()
        yield from _garment_swaps(caption, graph, resources)

    return finish(caption, all_candidates(), "swap_obj", SWAP_OBJ, resources, limit=limit)


@register("swap_att", type="swap_att", version=SWAP_ATT_VERSION)
def swap_att(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Exchange the attributes of two different objects, each suiting its new noun."""
    objs = graph.objects
    movable = [
        [t for t in o.attributes if _movable(caption, t, o, resources)]
        + [u for t in o.attributes if (u := _shaded_color(caption, t, o, resources)) is not None]
        for o in objs
    ]
    values = [[_value(t) for t in atts] for atts in movable]
    ranked: list[tuple[int, float, tuple]] = []
    for i in range(len(objs)):
        for j in range(i + 1, len(objs)):
            a, b = objs[i], objs[j]
            la, lb = object_lemma(a), object_lemma(b)
            if set(la.split()) & set(lb.split()):
                continue  # the same kind of thing ("shirt" and a mis-parsed "shirt jump"): no exchange
            for x, xl in zip(movable[i], values[i], strict=True):
                for y, yl in zip(movable[j], values[j], strict=True):
                    if xl == yl or yl in values[i] or xl in values[j]:
                        continue
                    if not (adjective_fits(resources, yl, la) and adjective_fits(resources, xl, lb)):
                        continue  # "a red man", "a wooden pizza", "a sliced plate"
                    if yl in compatible_words("adjective_compatible", xl, resources):
                        continue  # "a young girl hugs a little boy" -> "a little girl ... a young boy": still true
                    gx = set(resources.adjective_group.get(x.lemma, ()))
                    gy = set(resources.adjective_group.get(y.lemma, ()))
                    lex = resources.lexicon
                    if gx & gy:
                        rank = 0  # color <-> color: the most idiomatic swap
                    elif (
                        gx and gy and gx <= _CROSS and gy <= _CROSS
                        and not {lex.class_of(la), lex.class_of(lb)} & {"body_part", "substance"}
                        and lex.seen(f"A|{yl}", la) and lex.seen(f"A|{xl}", lb)  # both said in captions
                        and not _clashes(a.attributes, x, gy, resources)
                        and not _clashes(b.attributes, y, gx, resources)
                    ):  # fmt: skip
                        rank = 1  # size <-> material, neither object keeps a clashing attribute
                    else:
                        continue  # red <-> small into "a large red circle" gives "a large small circle"
                    ranked.append((rank, rng.random(), (x, y)))
    ranked += [(0, rng.random(), pair) for pair in _worn_pairs(caption, graph, movable, resources)]
    ranked.sort(key=lambda t: (t[0], t[1]))

    def build(x, y) -> Candidate:
        moved = _uncap(x.text) if x.start == 0 else x.text  # "Fresh fruit on a ..." -> "... a fresh ..."
        return Candidate(*_two_span_edit(caption, (x.start, x.end, y.text), (y.start, y.end, moved)))

    lazy = (build(*key) for *_, key in ranked)
    return finish(caption, lazy, "swap_att", SWAP_ATT, resources, limit=limit)
