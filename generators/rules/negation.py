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

from ..grammar import apply_edit, match_case, verb_lemma_and_tag
from ..registry import register
from .common import MAX_NEGATIVES, Candidate, finish

NAME, VERSION = "negation", 1
GENERATOR = f"rule:{NAME}@{VERSION}"

_WITH = re.compile(r"\b([Ww]ith)(out)?\b")
_THERE = re.compile(
    r"\b([Tt]here\s+(?:is|are|was|were)\s+)"
    r"(?:(a|an|one|some|two|three|four|five|several|many|the)\s+)?(?=[A-Za-z])",
)
_AUX = re.compile(r"\b(is|are|was|were|Is|Are)(\s+)(not\s+)?([a-z]+)\b")


_NEGATED = re.compile(r"\b(no|not|without|nobody|nothing|never|none|n't)\b", re.I)


def _candidates(caption: str, graph: SceneGraph, resources: Any) -> list[tuple[int, Candidate]]:
    out: list[tuple[int, Candidate]] = []
    spatial = set(resources.vocab["relations"]["opposites"]) - {"with", "without"}
    spatial_first = {p.split(" ", 1)[0] for p in spatial}
    negated = _NEGATED.search(caption) is not None  # only remove negations then: no double negatives
    for m in _WITH.finditer(caption):
        prev = caption[: m.start()].rstrip().rsplit(" ", 1)[-1].lower()
        if not m.group(2) and prev.endswith("ed") and prev not in ("red",):
            continue  # "topped with", "filled with": "topped without" is not English
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
        is_adjective = word in resources.adjective_group
        if is_participle or is_adjective or word in spatial_first or word in ("next",):
            pos = m.start(4)
            text, edit = apply_edit(caption, pos, pos, "not ")
            out.append((1, Candidate(text, edit)))
    for m in re.finditer(r"\b([Nn]o)\s+(?=[a-z])", caption):  # "no people" -> "people"
        if caption[: m.start()].lower().rstrip().endswith(("is", "are", "was", "were", "there")):
            text, edit = apply_edit(caption, m.start(), m.end(), "")
            out.append((1, Candidate(text, edit)))
    if negated:
        return out
    for m in re.finditer(r"\b(and)(\s+)(a|an|one|two|three|some)\s+(?=[a-z])", caption):
        out.append(
            (2, Candidate(*apply_edit(caption, m.start(3), m.end(), "no ")))
        )  # "and a cat" -> "and no cat"
    for rel in graph.relations:
        first = rel.predicate.split(" ", 1)[0]
        prev = caption[: rel.start].rstrip().rsplit(" ", 1)[-1].lower()
        if not caption[: rel.start].endswith(" ") or prev in ("is", "are", "was", "were", "be", "not", "and"):
            continue
        tagged = verb_lemma_and_tag(first)
        if tagged is not None and tagged[1] in ("VBG", "VBN"):
            out.append((2, Candidate(*apply_edit(caption, rel.start, rel.start, "not "))))
        elif (
            tagged is not None and tagged[1] == "VBZ" and caption[rel.start : rel.start + len(first)] == first
        ):
            # "a dog chases a cat" -> "a dog does not chase a cat"
            after = match_case("does not ", first) + tagged[0]
            out.append((1, Candidate(*apply_edit(caption, rel.start, rel.start + len(first), after))))
        elif rel.predicate.lower() in spatial:
            out.append((3, Candidate(*apply_edit(caption, rel.start, rel.start, "not "))))
    return out


@register(NAME, type="negation", version=VERSION)
def negation(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Negate one statement of the caption (or remove an existing negation)."""
    ranked = [(rank, rng.random(), cand) for rank, cand in _candidates(caption, graph, resources)]
    ranked.sort(key=lambda t: (t[0], t[1]))
    return finish(caption, [c for *_, c in ranked], "negation", GENERATOR, resources, limit=limit)
