"""add_obj / add_att: insert something the image does not show.

add_obj adds a plausible companion object next to an existing one ("a dog on a
sofa" → "a dog and a cat on a sofa"); companions come from the curated
co-occurrence lists of the object's group, so the addition fits the scene
(a blind model should not be able to spot it by implausibility). When the
object is a subject followed by a singular verb, the verb is made plural
("a dog and a cat are"); otherwise a later object gets the companion.

add_att inserts an adjective from a group that suits the noun (colors for
vehicles, states for food, ages for people) at the slot the usual English
adjective order gives (size before color before material), fixing the article.

Both make the negative longer than the positive by construction (DESIGN §5):
the coverage benchmark reports the length difference.
"""

from __future__ import annotations

import random
import re
from typing import Any

from negforge.schemas import Negative, SceneGraph, SceneObject

from ..grammar import agree_verb, apply_edit, article_for, match_case
from ..registry import register
from .common import (
    MAX_NEGATIVES,
    Candidate,
    agreeing_verb,
    all_words,
    finish,
    is_plural,
    object_lemma,
    pick,
    word_after,
)

VERSION = 1
ADD_OBJ = f"rule:add_obj@{VERSION}"
ADD_ATT = f"rule:add_att@{VERSION}"
PER_OBJECT = 2


def _companions(obj: SceneObject, resources: Any) -> list[str]:
    """Companions of the object's own kind (people with people, vehicles with vehicles).

    Places and mass nouns get none: "on the ocean and a tree" attaches badly,
    and "a bear and a tree walking" is absurd, a blind-model tell.
    """
    lemma = object_lemma(obj)
    groups = resources.groups_of_noun(lemma) or ()
    if lemma in resources.vocab["mass_nouns"] or any(g.startswith("place") for g in groups):
        return []
    out: set[str] = set()
    for group in groups:
        out.update(resources.vocab["add_obj_groups"].get(group, ()))
    return sorted(w for w in out if w != lemma and resources.lexical_relation(lemma, w, "n") is None)


@register("add_obj", type="add_obj", version=VERSION)
def add_obj(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Add "and a <companion>" after an object, with verb agreement when it is a subject."""
    present = all_words(caption)
    objs = list(graph.objects)
    order = list(range(len(objs)))
    rng.shuffle(order)
    cands: list[Candidate] = []
    for i in order:
        obj = objs[i]
        if obj.count == 0:
            continue
        companions = [w for w in _companions(obj, resources) if w not in present]
        if not companions:
            continue
        point = obj.end  # where " and a <companion>" goes
        nxt = word_after(caption, obj.end)
        if nxt is not None and nxt[0].lower() == "of":
            # "a bowl of fruit on a counter" -> "a bowl of fruit and a cup on a counter"
            inner = next((o for o in objs if nxt[2] < o.start <= nxt[2] + 12 and o.end > point), None)
            if inner is None:
                continue
            point = inner.end
            nxt = word_after(caption, point)
        if nxt is not None and nxt[0].lower() == "and" and caption[point : nxt[1]].strip() == "":
            # a coordination already: "two squares and a circle" -> "two squares, a star and a circle"
            for new in pick(rng, companions, PER_OBJECT):
                cands.append(Candidate(*apply_edit(caption, point, point, f", {article_for(new)} {new}")))
            continue
        if nxt is not None and nxt[0].lower() in ("and", "or", "that", "which", "who", "of"):
            continue  # "a pizza and a knife that is being cut"
        if re.search(r"\b(and|or)\s+(\w+\s+){0,3}$", caption[: obj.start]):
            continue  # the second conjunct: the first one gets the addition
        verb = None if is_plural(obj) else agreeing_verb(caption, graph, i, resources)
        if verb is not None and verb[0] < point:
            continue
        for new in pick(rng, companions, PER_OBJECT):
            insert = f" and {article_for(new)} {new}"
            if verb is not None:
                v_start, v_end, word = verb
                after = caption[obj.start : point] + insert + caption[point:v_start]
                after += agree_verb(word, plural=True)
                text, edit = apply_edit(caption, obj.start, v_end, after)
            else:
                text, edit = apply_edit(caption, point, point, insert)
            cands.append(Candidate(text, edit))
    return finish(caption, cands, "add_obj", ADD_OBJ, resources, limit=limit)


def _attribute_options(obj: SceneObject, resources: Any) -> list[str]:
    """Adjectives that suit the noun (curated per noun group), common words only."""
    groups = resources.groups_of_noun(object_lemma(obj))
    table = resources.vocab["noun_attributes"]
    out: list[str] = []
    for group in groups or ("_default",):
        out.extend(w for w in table.get(group, ()) if w not in out)
    return out


@register("add_att", type="add_att", version=VERSION)
def add_att(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Insert a fitting adjective before an object, in conventional adjective order."""
    present = all_words(caption)
    order_rank = {g: k for k, g in enumerate(resources.vocab["adjective_order"])}
    order = list(range(len(graph.objects)))
    rng.shuffle(order)
    cands: list[Candidate] = []
    for i in order:
        obj = graph.objects[i]
        if obj.count == 0 or obj.start == 0:
            continue
        pre_atts = [a for a in obj.attributes if a.end <= obj.start]
        have_groups = {g for a in obj.attributes for g in resources.adjective_group.get(a.lemma, ())}
        have_groups.discard("quality")
        rare = set(resources.vocab["rare_adjectives"])
        options: list[tuple[str, str]] = []
        for adj in _attribute_options(obj, resources):
            groups = resources.adjective_group.get(adj, ("quality",))
            if adj in present or adj in rare or " " in adj or set(groups) & have_groups:
                continue
            options.append((adj, groups[0]))
        for adj, g in pick(rng, sorted(options), PER_OBJECT):
            rank = order_rank.get(g, len(order_rank))
            pos = obj.start
            for att in pre_atts:  # before the first existing adjective that comes later in order
                att_groups = resources.adjective_group.get(att.lemma, ())
                att_rank = min((order_rank.get(x, len(order_rank)) for x in att_groups), default=-1)
                if att_rank > rank:
                    pos = att.start
                    break
            word = adj if pos > 0 else match_case(adj, caption[:1])
            text, edit = apply_edit(caption, pos, pos, word + " ")
            cands.append(Candidate(text, edit))
    return finish(caption, cands, "add_att", ADD_ATT, resources, limit=limit)
