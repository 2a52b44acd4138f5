"""Colors worn without a garment: "a girl in red", "a man wearing black", "one dressed in blue".

The parse gives such a color no noun to modify ("in red" is a prepositional object), so it is in
no object's attributes, yet it is a color a photo shows and a caption states: replace_att may
change it ("a girl in red" -> "a girl in green") and swap_att may exchange two of them ("a player
in red chases a player in blue" -> "a player in blue chases a player in red"), SugarCrepe's
swap_att on the clothes people wear.

Only a color a person wears counts: the words before it name a person ("a girl", "someone",
"the one"), and no noun follows it ("in red shorts" is a garment's attribute, already in the
graph; "in red and white" is a pattern, left whole).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from negforge.schemas import SceneGraph

from ..grammar import verb_lemma_and_tag
from .common import PREPOSITIONS, object_lemma, phrase_start, word_after

#: "in red", "wearing black", "dressed all in white", "clad in blue".
_WORN = re.compile(r"\b(?:in|wearing|wears|wear|dressed in|clad in|dressed all in)\s+(?:all\s+)?([a-z]+)\b", re.I)
#: Words that may stand between the wearer and "in"/"wearing".
_BETWEEN = re.compile(r"^\s*(?:,\s*)?(?:(?:who|that)\s+)?(?:(?:is|are|was|were)\s+)?(?:(?:all|both)\s+)?$", re.I)
#: Wearers that are no object of the graph: "one in blue", "someone in red".
_PRONOUN_WEARERS = re.compile(r"\b(one|someone|somebody|another|others?|ones)\s*$", re.I)
#: Words after the color that end its phrase (the color modifies no noun).
#: ("and" is read apart, prepositions are ends anyway.)
_PHRASE_ENDS = frozenset({"while", "as", "who", "that", "is", "are", "has", "have", "holding"})
_WEARER_CLASSES = frozenset({"person", "group"})


@dataclass(frozen=True)
class WornColor:
    """A color worn, at ``caption[start:end]`` (the color word alone), by object ``wearer``
    (None: a pronoun, "one in blue")."""

    start: int
    end: int
    text: str
    wearer: int | None


def worn_colors(caption: str, graph: SceneGraph, resources: Any) -> list[WornColor]:
    """The colors people in ``caption`` wear with no garment named, in caption order."""
    colors = frozenset(resources.vocab["adjective_groups"]["color"])
    lex = resources.lexicon
    covered = [(phrase_start(o), o.end) for o in graph.objects]
    out: list[WornColor] = []
    for m in _WORN.finditer(caption):
        word = m.group(1)
        if word.lower() not in colors:
            continue
        start, end = m.start(1), m.end(1)
        if any(a <= start < b for a, b in covered):
            continue  # "in red shorts": the garment's own attribute
        if caption[end : end + 1] in ("-", "/", "'"):
            continue  # "in red-and-white", "in blue/green"
        listed = re.match(r"\s*,\s*(?:and\s+)?([a-z]+)", caption[end:], re.I)
        if listed and listed.group(1).lower() in colors:
            continue  # "wearing red , white and black": a pattern of colors, left whole
        nxt = word_after(caption, end)
        if nxt is not None and not _ends_phrase(nxt[0], caption, nxt[2], colors):
            continue  # "in red swimwear" the parse missed, "in red and white"
        head = caption[: m.start()]
        if _PRONOUN_WEARERS.search(head):
            out.append(WornColor(start, end, word, None))
            continue
        before = [k for k, o in enumerate(graph.objects) if o.end <= m.start()]
        if not before:
            continue
        k = max(before, key=lambda k: graph.objects[k].end)
        wearer = graph.objects[k]
        if lex.class_of(object_lemma(wearer)) not in _WEARER_CLASSES or not _BETWEEN.match(head[wearer.end :]):
            continue  # "a dog in blue water" is no color worn; "a wall painted in red" neither
        out.append(WornColor(start, end, word, k))
    return out


def _ends_phrase(word: str, caption: str, end: int, colors: frozenset[str]) -> bool:
    """``word`` (ending at ``end``) ends the color's phrase: a preposition, a verb, a
    conjunction not followed by another color ("in red and white")."""
    low = word.lower()
    if low == "and":
        after = word_after(caption, end)
        return after is None or after[0].lower() not in colors
    if low in _PHRASE_ENDS or low in PREPOSITIONS:
        return True
    tagged = verb_lemma_and_tag(low)
    return tagged is not None and tagged[1] in ("VBZ", "VBP", "VBG", "VBD")
