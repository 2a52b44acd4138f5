"""replace_rel: a relation word changes ("on" → "under", "riding" → "feeding", "left of" → "right of").

A predicate is a preposition ("next to"), a verb ("riding"), or a participle
plus preposition ("sitting on"). Spatial prepositions go to their opposite
first, then to another relation of the same group that is not a synonym
("under"/"beneath" never replace each other). Verbs go to a curated opposite,
then to a sibling in the same verb group, inflected like the original with
lemminflect. When the parser linked no relation, known spatial phrases in the
text are still edited, so captions with a mis-parsed object keep coverage.
"""

from __future__ import annotations

import random
import re
from typing import Any

from negforge.schemas import Negative, SceneGraph, SceneObject

from ..grammar import apply_edit, inflect_verb, match_case, verb_lemma_and_tag
from ..registry import register
from .common import MAX_NEGATIVES, Candidate, bare_singular, finish, object_lemma, pick

NAME, VERSION = "replace_rel", 2  # 2: replaced verbs fit their object and preposition
GENERATOR = f"rule:{NAME}@{VERSION}"
PER_RELATION = 2
#: Subjects for which "with" is a spatial relation that "next to" can replace.
WITH_SUBJECT_GROUPS = {"kitchen_item", "food_dish", "furniture", "fruit", "vegetable", "indoor_object"}


def preposition_candidates(prep: str, resources: Any) -> list[str]:
    """Opposite first, then non-synonymous members of the same spatial group."""
    rel = resources.vocab["relations"]
    low = prep.lower()
    same = {low}
    for syn in rel["synonyms"]:
        if low in syn:
            same.update(syn)
    out: list[str] = []
    opposite = rel["opposites"].get(low)
    if opposite and opposite not in same and low not in ("with", "without"):
        out.append(opposite)
    group = resources.relation_group.get(low)
    avoid = set(rel["avoid_as_replacement"])
    if group:
        out.extend(
            sorted(p for p in rel["groups"][group] if p not in same and p not in out and p not in avoid)
        )
    return out


def verb_candidates(lemma: str, with_particle: bool, resources: Any) -> list[str]:
    """Opposite first, then same-group siblings that are not WordNet synonyms."""
    out: list[str] = []
    opposite = resources.vocab["verb_opposites"].get(lemma)
    if opposite:
        out.append(opposite)
    siblings: set[str] = set()
    for group in resources.verb_group.get(lemma, ()):
        siblings.update(resources.vocab["verb_groups"][group])
    for cand in sorted(siblings):
        if cand == lemma or cand in out or (with_particle and " " in cand):
            continue
        if resources.lexical_relation(lemma, cand, "v") is not None:
            continue
        out.append(cand)
    return out


def _verbs_that_fit(caption: str, obj: SceneObject, prep: str, resources: Any) -> frozenset[str] | None:
    """Verbs that can take ``obj`` (after ``prep``, if any); None when any verb may.

    An object of no curated group gets the verbs that fit almost any thing (hold, carry, wash).

    A sibling verb from the same group can still clash with the object or the
    preposition ("playing frisbee" -> "boarding frisbee", "waiting for a train" ->
    "docking for a train"): such a negative is false for a reason a blind text
    model sees, so it teaches nothing about the image.
    """
    vocab = resources.vocab
    if prep:
        verbs = vocab["verb_preps"].get(prep.lower())
        return frozenset(verbs) if verbs else None
    lemma = object_lemma(obj)
    if lemma in vocab["sport_nouns"]["nouns"] and bare_singular(caption, obj):  # "playing baseball"
        return frozenset(vocab["sport_nouns"]["verbs"])
    allowed: set[str] = set()
    for group in resources.groups_of_noun(lemma):
        allowed.update(vocab["verb_objects"].get(group, ()))
    return frozenset(allowed or vocab["verb_objects"]["_generic"])


def _doer_fits(verb: str, doer: SceneObject | None, resources: Any) -> bool:
    """Verbs only some doers do ("dock", "perch", "graze") need a doer of those groups.

    An unknown doer gets none of them: "a child docking on a toilet" is a negative a blind
    text model rejects without looking at the image.
    """
    allowed = resources.vocab["verb_subjects"].get(verb)
    if allowed is None:
        return True
    if doer is None:
        return False
    return bool(set(resources.groups_of_noun(object_lemma(doer))) & set(allowed))


def _split_predicate(predicate: str) -> tuple[str | None, str, int]:
    """(verb or None, preposition part, offset of the preposition part within the predicate)."""
    first, _, rest = predicate.partition(" ")
    tagged = verb_lemma_and_tag(first)
    if tagged is not None and first.lower() not in ("left", "right", "close"):
        return first, rest, len(first) + 1 if rest else len(predicate)
    return None, predicate, 0


def _fallback_spans(caption: str, resources: Any) -> list[tuple[int, int, str]]:
    """Known spatial phrases followed by a determiner or number: (start, end, phrase)."""
    rel = resources.vocab["relations"]
    phrases = sorted(set(rel["opposites"]) - {"with", "without", "by", "up", "down"}, key=len, reverse=True)
    pattern = (
        r"\b("
        + "|".join(re.escape(p) for p in phrases)
        + r")\b(?=\s+(?:a|an|the|two|three|some|his|her|its|their)\b)"
    )
    return [(m.start(1), m.end(1), m.group(1)) for m in re.finditer(pattern, caption, flags=re.IGNORECASE)]


def _with_is_spatial(graph: SceneGraph, subject: int, resources: Any) -> bool:
    """ "A plate with eggs" can become "a plate next to eggs"; "a man with a beard" cannot."""
    groups = set(resources.groups_of_noun(graph.objects[subject].lemma))
    return bool(groups & WITH_SUBJECT_GROUPS)


def _fallback_verbs(caption: str, graph: SceneGraph, resources: Any) -> list[tuple[int, int, str, str]]:
    """Participles right after an object ("a man skiing down ...") when the parser linked nothing."""
    out = []
    for obj in graph.objects:
        m = re.match(r"\s+([a-z]+ing)\b", caption[obj.end :])
        if m is None:
            continue
        tagged = verb_lemma_and_tag(m.group(1))
        if tagged is not None and tagged[0] in resources.verb_group:
            start = obj.end + m.start(1)
            out.append((start, start + len(m.group(1)), m.group(1), "verb+prep"))
    return out


@register(NAME, type="replace_rel", version=VERSION)
def replace_rel(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Replace a relation's preposition or verb with an opposite or a non-synonymous sibling."""
    spans: list[tuple[int, int, str, str]] = []  # (start, end, text, kind)
    # verb span -> (verbs that fit its object and preposition, who does it)
    verb_context: dict[tuple[int, int], tuple[frozenset[str] | None, SceneObject | None]] = {}
    ground: set[tuple[int, int]] = set()  # prep spans whose object is a place: "on a field" has no "under"
    for rel in graph.relations:
        if rel.predicate.lower() == "with" and not _with_is_spatial(graph, rel.subject, resources):
            continue
        verb, prep, offset = _split_predicate(rel.predicate)
        tagged = verb_lemma_and_tag(verb) if verb else None
        if tagged is not None and prep and f"{tagged[0]} {prep.lower()}" in resources.verb_group:
            spans.append((rel.start, rel.end, rel.predicate, "phrase"))  # "looking at" as one verb
            continue
        if verb is not None:
            spans.append((rel.start, rel.start + len(verb), verb, "verb+prep" if prep else "verb"))
            doer = rel.object if prep.lower() == "by" else rel.subject  # "thrown by a boy": the boy
            verb_context[(rel.start, rel.start + len(verb))] = (
                _verbs_that_fit(caption, graph.objects[rel.object], prep, resources),
                graph.objects[doer] if doer is not None else None,
            )
        passive_agent = verb is not None and prep.lower() == "by"  # "chased by": the agent stays
        if prep and not passive_agent and prep.lower() != "of":
            target = graph.objects[rel.object]
            groups = resources.groups_of_noun(target.lemma)
            if prep.lower() == "in" and "clothing" in groups:
                continue  # "a boy in a yellow jacket": "outside a jacket" is not a relation
            if target.lemma in resources.vocab["mass_nouns"] or any(g.startswith("place") for g in groups):
                ground.add((rel.start + offset, rel.end))
            spans.append((rel.start + offset, rel.end, prep, "prep"))
    covered = {(s, e) for s, e, *_ in spans}
    spans.extend(
        (s, e, t, "prep") for s, e, t in _fallback_spans(caption, resources) if (s, e) not in covered
    )
    if not graph.relations:
        spans.extend(_fallback_verbs(caption, graph, resources))
    rng.shuffle(spans)
    cands: list[Candidate] = []
    for start, end, word, kind in spans:
        if caption[start:end] != word:
            continue
        if kind == "prep":
            vertical = set(resources.vocab["relations"]["groups"]["vertical"])
            options = [
                match_case(p, word)
                for p in preposition_candidates(word, resources)
                if (start, end) not in ground or p not in vertical
            ]
        elif kind == "phrase":
            verb, _, prep = word.partition(" ")
            tagged = verb_lemma_and_tag(verb)
            if tagged is None:
                continue
            lemma, tag = tagged
            options = [
                match_case(inflect_verb(v, tag), word)
                for v in verb_candidates(f"{lemma} {prep.lower()}", False, resources)
            ]
        else:
            tagged = verb_lemma_and_tag(word)
            if tagged is None:
                continue
            lemma, tag = tagged
            fit, doer = verb_context.get((start, end), (None, None))
            verbs = verb_candidates(lemma, kind == "verb+prep", resources)
            if fit is not None:
                # siblings that fit the object first, then other verbs that fit it ("riding a
                # horse" -> "feeding a horse"), never a synonym of the original
                verbs = [v for v in verbs if v in fit] + [
                    v
                    for v in sorted(fit)
                    if v not in verbs and v != lemma and resources.lexical_relation(lemma, v, "v") is None
                ]
            verbs = [v for v in verbs if _doer_fits(v, doer, resources)]
            options = [match_case(inflect_verb(v, tag), word) for v in verbs]
        if not options:
            continue
        for new in options[:1] + pick(rng, options[1:], PER_RELATION - 1):
            text, edit = apply_edit(caption, start, end, new)
            cands.append(Candidate(text, edit))
    return finish(caption, cands, "replace_rel", GENERATOR, resources, limit=limit)
