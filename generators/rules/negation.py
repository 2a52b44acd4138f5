"""negation: deny what the caption states, or drop a negation it makes.

Edits, in order of preference (each one local, so fluency is kept):

- "with" → "without" ("a man with a hat" → "a man without a hat");
- existential "there is/are X" → "there is/are no X" (article or number dropped,
  "there are two dogs" → "there are no dogs");
- auxiliary + participle: "is sitting" → "is not sitting"; copula + preposition:
  "is on" → "is not on";
- a participle right after its subject: "a man riding a horse" → "a man not riding a horse";
- a spatial relation of the graph: "a dog on a couch" → "a dog not on a couch";
- and the reverse for captions that are already negative ("without" → "with",
  "no people" → "people", "is not" → "is").
"""

from __future__ import annotations

import random
import re
from typing import Any

from negforge.schemas import Negative, SceneGraph

from ..grammar import apply_edit, verb_lemma_and_tag
from ..registry import register
from .common import Candidate, finish

NAME, VERSION = "negation", 1
GENERATOR = f"rule:{NAME}@{VERSION}"

_WITH = re.compile(r"\b([Ww]ith)(out)?\b")
_THERE = re.compile(
    r"\b([Tt]here\s+(?:is|are|was|were)\s+)"
    r"(?:(a|an|one|some|two|three|four|five|several|many|the)\s+)?(?=[A-Za-z])",
)
_AUX = re.compile(r"\b(is|are|was|were|Is|Are)(\s+)(not\s+)?([a-z]+)\b")
_SPATIAL_OK = {"on", "in", "under", "near", "behind", "above", "below", "inside", "next to", "in front of",
               "on top of", "beside", "by", "at", "along", "across", "outside"}


_NEGATED = re.compile(r"\b(no|not|without|nobody|nothing|never|none|n't)\b", re.I)


def _candidates(caption: str, graph: SceneGraph) -> list[tuple[int, Candidate]]:
    out: list[tuple[int, Candidate]] = []
    negated = _NEGATED.search(caption) is not None  # only remove negations then: no double negatives
    for m in _WITH.finditer(caption):
        if m.group(2):  # without -> with
            text, edit = apply_edit(caption, m.start(), m.end(), m.group(1))
        elif negated:
            continue
        else:
            text, edit = apply_edit(caption, m.start(), m.end(), m.group(1) + "out")
        out.append((0, Candidate(text, edit)))
    for m in _THERE.finditer(caption):
        det = m.group(2)
        if negated:
            continue
        # the determiner or number goes: "there is a dog" / "there are two dogs" -> "... no dog(s)"
        start = m.start(2) if det else m.end()
        text, edit = apply_edit(caption, start, m.end(), "no ")
        out.append((0, Candidate(text, edit)))
    for m in _AUX.finditer(caption):
        word = m.group(4)
        if m.group(3):  # "is not X" -> "is X"
            s = m.start(3)
            text, edit = apply_edit(caption, s, m.end(3), "")
            out.append((1, Candidate(text, edit)))
            continue
        if negated:
            continue
        tagged = verb_lemma_and_tag(word)
        is_participle = tagged is not None and tagged[1] in ("VBG", "VBN")
        if is_participle or word in _SPATIAL_OK or word in ("next",):
            pos = m.start(4)
            text, edit = apply_edit(caption, pos, pos, "not ")
            out.append((1, Candidate(text, edit)))
    for m in re.finditer(r"\b([Nn]o)\s+(?=[a-z])", caption):  # "no people" -> "people"
        if caption[: m.start()].lower().rstrip().endswith(("is", "are", "was", "were", "there")):
            text, edit = apply_edit(caption, m.start(), m.end(), "")
            out.append((1, Candidate(text, edit)))
    if negated:
        return out
    objects_end = {o.end for o in graph.objects}
    for rel in graph.relations:
        first = rel.predicate.split(" ", 1)[0]
        gap = caption[graph.objects[rel.subject].end : rel.start]
        if rel.start - len(gap) not in objects_end or gap.strip():
            continue  # only directly after its subject: "a man riding", "a dog on"
        tagged = verb_lemma_and_tag(first)
        if tagged is not None and tagged[1] == "VBG":
            out.append((2, Candidate(*apply_edit(caption, rel.start, rel.start, "not "))))
        elif rel.predicate.lower() in _SPATIAL_OK:
            out.append((3, Candidate(*apply_edit(caption, rel.start, rel.start, "not "))))
    return out


@register(NAME, type="negation", version=VERSION)
def negation(caption: str, graph: SceneGraph, rng: random.Random, resources: Any) -> list[Negative]:
    """Negate one statement of the caption (or remove an existing negation)."""
    ranked = [(rank, rng.random(), cand) for rank, cand in _candidates(caption, graph)]
    ranked.sort(key=lambda t: (t[0], t[1]))
    return finish(caption, [c for *_, c in ranked], "negation", GENERATOR, resources)
