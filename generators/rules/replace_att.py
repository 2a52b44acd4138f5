"""replace_att: one attribute becomes an antonym or a sibling ("a red car" → "a blue car").

Antonyms (curated, then WordNet) come first, then siblings from the same
curated group (colors, sizes, materials, states). Synonyms (big/large) are
excluded through WordNet; numbers and quantifiers are left to ``count``.
"""

from __future__ import annotations

import random
from typing import Any

from negforge.schemas import Attribute, Negative, SceneGraph

from ..grammar import NUMBER_WORDS, apply_edit, match_case
from ..registry import register
from ..scene_graph import QUANTIFIER_WORDS
from .common import MAX_NEGATIVES, Candidate, all_words, finish, pick

NAME, VERSION = "replace_att", 1
GENERATOR = f"rule:{NAME}@{VERSION}"
PER_ATTRIBUTE = 2
MIN_ANTONYM_COUNT = 3  # tagged-sense count a WordNet antonym needs ("nonmetallic" is a rarity tell)
#: Spelling variants that must never replace each other.
_VARIANTS = {
    frozenset({"gray", "grey"}),
    frozenset({"wood", "wooden"}),
    frozenset({"big", "large"}),
    frozenset({"little", "small"}),
}


def is_replaceable(att: Attribute) -> bool:
    """Adjectives and material/color nouns; not numbers or quantifiers."""
    low = att.text.lower()
    return low.isalpha() and low not in NUMBER_WORDS and low not in QUANTIFIER_WORDS


def attribute_candidates(word: str, resources: Any) -> list[str]:
    """Antonyms first, then same-group siblings; all lower-case, deterministic order."""
    low = word.lower()
    rare = set(resources.vocab["rare_adjectives"]) - {low}
    curated = resources.vocab["antonyms"].get(low)
    antonyms = [
        a
        for a in resources.adjective_antonyms(low)
        if a == curated or (a not in rare and resources.frequency(a, "a") >= MIN_ANTONYM_COUNT)
    ]
    siblings: set[str] = set()
    for group in resources.adjective_group.get(low, ()):
        siblings.update(resources.vocab["adjective_groups"][group])
    out: list[str] = []
    for cand in antonyms + sorted(siblings):
        if cand == low or cand in out or cand in rare or frozenset({cand, low}) in _VARIANTS:
            continue
        if cand not in antonyms and resources.lexical_relation(low, cand, "a") is not None:
            continue
        out.append(cand)
    return out


@register(NAME, type="replace_att", version=VERSION)
def replace_att(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Replace one attribute with an antonym or a same-group sibling."""
    present = all_words(caption)
    atts = [a for o in graph.objects for a in o.attributes if is_replaceable(a)]
    rng.shuffle(atts)
    cands: list[Candidate] = []
    for att in atts:
        options = [c for c in attribute_candidates(att.text, resources) if c not in present]
        if not options:
            continue
        # the first antonym is always tried; the rest in seeded random order
        head, rest = options[:1], options[1:]
        for new in head + pick(rng, rest, PER_ATTRIBUTE - 1):
            text, edit = apply_edit(caption, att.start, att.end, match_case(new, att.text))
            cands.append(Candidate(text, edit))
    return finish(caption, cands, "replace_att", GENERATOR, resources, limit=limit)
