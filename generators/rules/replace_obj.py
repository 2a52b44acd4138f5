"""replace_obj: one object becomes a sibling noun ("a dog on a couch" → "a cat on a couch").

Siblings come first from the curated groups (COCO-frequency nouns: a blind
model cannot tell them by rarity), then from WordNet co-hyponyms of the noun's
first sense with a similar tagged-sense frequency. A candidate that is the same
word, a synonym, a hypernym or a hyponym of the original is never used.
Plurality and casing follow the original; the article before it is fixed.
"""

from __future__ import annotations

import random
from typing import Any

from negforge.schemas import Negative, SceneGraph

from ..grammar import apply_edit
from ..registry import register
from .common import MAX_NEGATIVES, Candidate, all_words, finish, inflect_like, is_plural, object_lemma, pick

NAME, VERSION = "replace_obj", 1
GENERATOR = f"rule:{NAME}@{VERSION}"
PER_OBJECT = 2  # candidates tried per object
MIN_WORDNET_COUNT = 2  # tagged-sense count a WordNet sibling needs (rarity is a blind-model tell)


def noun_candidates(noun: str, resources: Any) -> list[str]:
    """Sibling nouns for ``noun`` (singular lemma), curated first, deterministic order."""
    groups = resources.groups_of_noun(noun)
    curated: set[str] = set()
    for group in groups:
        curated.update(resources.vocab["noun_groups"][group])
    ok = sorted(w for w in curated if resources.lexical_relation(noun, w, "n") is None)
    if ok:
        return ok
    words = [w for w in resources.noun_cohyponyms(noun) if resources.frequency(w, "n") >= MIN_WORDNET_COUNT]
    return words[:6]


@register(NAME, type="replace_obj", version=VERSION)
def replace_obj(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Replace one object's name with a sibling noun (curated group, else WordNet)."""
    present = all_words(caption)
    order = list(range(len(graph.objects)))
    rng.shuffle(order)
    cands: list[Candidate] = []
    for i in order:
        obj = graph.objects[i]
        if obj.count == 0 or not obj.text[:1].isalpha():
            continue
        lemma = object_lemma(obj)
        plural_only = set(resources.vocab["plural_only"])
        mass = set(resources.vocab["mass_nouns"])
        if lemma in mass and not resources.groups_of_noun(lemma):
            continue  # "fruit" -> WordNet "leaf": mass nouns have no good countable siblings
        options = [
            w
            for w in noun_candidates(lemma, resources)
            if w not in present
            and (w not in plural_only or is_plural(obj))
            and (w not in mass or lemma in mass)  # "a house" -> "a water" is not English
        ]
        for new in pick(rng, options, PER_OBJECT):
            after = inflect_like(new, obj)
            if after.lower() == obj.text.lower():
                continue
            text, edit = apply_edit(caption, obj.start, obj.end, after)
            cands.append(Candidate(text, edit))
    return finish(caption, cands, "replace_obj", GENERATOR, resources, limit=limit)
