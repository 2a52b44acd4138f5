"""count: change how many there are, with agreement ("a dog is" → "two dogs are"; "three" → "four").

Handled forms of an object mention:

- a numeral ("two", "3") → a nearby other number in the same spelling; going
  to one singularises the noun ("two dogs are" → "one dog is");
- "a/an/one" + singular → "two"/"three" + plural; "the dog" → "the two dogs";
- quantifier phrases and words ("a pair of", "several", bare plurals) → "one"
  + singular.

The noun is inflected with lemminflect, the article before the number is
fixed, and the verb that agrees with the mention is changed too: for the first
object (the usual subject) the first finite verb after it, for any other
object only a finite verb right after it ("dogs that are" / "dogs are"), and
"there is" / "there are" before it.
"""

from __future__ import annotations

import random
import re
from typing import Any

from negforge.schemas import Negative, SceneGraph, SceneObject

from ..grammar import (
    NUMBER_WORDS,
    agree_verb,
    apply_edit,
    match_case,
    number_word,
    pluralize,
    singularize,
    verb_lemma_and_tag,
)
from ..registry import register
from .agreement import agreeing_verb, plural_verb, shared_possessions, subject_verbs_after, vbz_is_verb
from .common import (
    MAX_NEGATIVES,
    Candidate,
    finish,
    is_plural,
    object_lemma,
    words_with_spans,
)

NAME, VERSION = "count", 3  # 2: no counts of clothing, parts or grounds, or after "this is"; 3: verbs after "and" agree, none left untied or uninflected, no verb the parse took for a noun
GENERATOR = f"rule:{NAME}@{VERSION}"
_ARTICLE_BEFORE = re.compile(r"\b([Aa]n?|[Oo]ne)(\s+)$")
_THE_BEFORE = re.compile(r"\b([Tt]he)(\s+)$")
_QUANT_BEFORE = re.compile(
    r"\b((?:[Aa]\s+)?(?:pair|couple|group|herd|flock|bunch|crowd|lot|number|few|team|row|line|set)\s+of"
    r"|[Ss]everal|[Mm]any|[Ss]ome|[Mm]ultiple|[Nn]umerous|[Vv]arious|[Ll]ots\s+of)(\s+)$"
)
#: Things whose number is not what a caption counts: clothing is worn, parts are had, grounds spread.
UNCOUNTED_CLASSES = frozenset(
    {"clothing", "body_part", "substance", "ground", "water", "way", "place", "landform"}
)
_AFTER_COPULA = re.compile(r"\b(this|that|it|here)\s+(is|was|'s)\s+(\w+\s+){0,2}$", re.I)
_THERE_BEFORE = re.compile(r"\b([Tt]here\s+)(is|are|was|were)(\s+)$")


def _rewrite(
    caption: str,
    graph: SceneGraph,
    index: int,
    start: int,
    new_prefix: str,
    plural: bool,
    resources: Any,
) -> Candidate:
    """Replace caption[start:obj.start] by ``new_prefix`` and re-inflect noun, verb and "there is"."""
    obj = graph.objects[index]
    noun = pluralize(obj.text) if plural else singularize(obj.text)
    noun = match_case(noun, obj.text)
    if obj.start == start == 0 and new_prefix:  # the number now starts the sentence
        noun = noun[:1].lower() + noun[1:]
    end = obj.end
    after = new_prefix + noun  # new_prefix covers caption[start:obj.start]
    was_plural = is_plural(obj)
    if plural != was_plural:
        # the verb and the possessives that refer to the object agree with its new number
        changes: list[tuple[int, int, str]] = []
        verb = agreeing_verb(caption, graph, index, resources)
        more = subject_verbs_after(caption, obj.end, verb, resources, graph) if plural else []
        if more is None:
            return None  # "two girls dressed in ... is sitting": a verb we cannot tie to the subject
        for v_start, v_end, word in [verb, *more] if verb is not None else []:
            new = plural_verb(word, resources) if plural else agree_verb(word, plural)
            if new is None:
                return None  # "two men windsurfs": a verb we cannot inflect
            changes.append((v_start, v_end, new))  # "two dogs run and jump"
        if plural:
            owned = shared_possessions(caption, graph, index, resources)
            if owned is None:
                return None  # whose "his" is it?
            changes += owned  # "two men ride their bikes"
        elif _POSSESSIVE.search(caption, obj.end):
            return None  # "their" -> "its" or "his"?
        for c_start, c_end, new in sorted(changes):
            after += caption[end:c_start] + new
            end = c_end
        there = _THERE_BEFORE.search(caption[:start])
        if there is not None:
            be = {"is": "are", "are": "is", "was": "were", "were": "was"}[there.group(2).lower()]
            after = (
                there.group(1)
                + match_case(be, there.group(2))
                + there.group(3)
                + caption[there.end() : start]
                + after
            )
            start = there.start()
    text, edit = apply_edit(caption, start, end, after)
    return Candidate(text, edit)


_POSSESSIVE = re.compile(r"\b(its|his|her|their)\b", re.I)


def _number_choices(n: int, rng: random.Random) -> list[int]:
    """One number up and one down when possible ("two" -> "three", "one"), in seeded order."""
    options = [n + 1, n - 1 if n - 1 >= 1 else n + 2]
    rng.shuffle(options)
    return options


def _verb_taken_for_noun(
    graph: SceneGraph, obj: SceneObject, words: list[tuple[str, int, int]], last: int, resources: Any
) -> bool:
    """The object's last word is a verb the parse took for a noun: one counted as a verb more
    than as a noun, an "-s" form of a common verb ending a compound ("a dog runs" parsed as the
    compound "dog runs"), or any "-s" verb form right after another noun ("a racer speeds")."""
    if vbz_is_verb(words, last, resources):
        return True
    tagged = verb_lemma_and_tag(words[last][0].lower())
    if tagged is None or tagged[1] != "VBZ":
        return False
    if obj.start < words[last][1]:  # a compound: "dog runs", but "golf balls" is a noun
        return resources.lexicon.predicate_total(tagged[0]) >= 10
    return last > 0 and any(o.end == words[last - 1][2] for o in graph.objects if o is not obj)


def _object_candidates(
    caption: str, graph: SceneGraph, index: int, rng: random.Random, resources: Any
) -> list:
    obj: SceneObject = graph.objects[index]
    out: list[Candidate] = []
    words = words_with_spans(caption)
    last = next((k for k, w in enumerate(words) if w[2] == obj.end), None)
    if last is not None and _verb_taken_for_noun(graph, obj, words, last, resources):
        return out  # "a brown and white dog runs" is no "one run", "a dog runs" no "one dog run"
    numerals = [a for a in obj.attributes if a.text.lower() in NUMBER_WORDS or a.text.isdigit()]
    numerals = [a for a in numerals if a.end <= obj.start]
    if numerals:
        att = numerals[0]
        n = NUMBER_WORDS.get(att.text.lower()) if not att.text.isdigit() else int(att.text)
        if n is None or n > 1000:
            return out
        for m in _number_choices(n, rng):
            spelled = str(m) if att.text.isdigit() else match_case(number_word(m), att.text)
            if m == 1 or n == 1:
                middle = caption[att.end : obj.start]
                out.append(_rewrite(caption, graph, index, att.start, spelled + middle, m > 1, resources))
            else:
                out.append(Candidate(*apply_edit(caption, att.start, att.end, spelled)))
        return out
    lemma = obj.lemma.lower()
    if lemma in resources.vocab["mass_nouns"] or any(
        g.startswith("place") for g in resources.groups_of_noun(lemma)
    ):
        return out  # "two grounds", "three skies": not a count a caption would make
    first_pre = min([a.start for a in obj.attributes if a.end <= obj.start] + [obj.start])
    head = caption[:first_pre]
    middle = caption[first_pre : obj.start]
    if obj.count == 1 or not is_plural(obj):
        art = _ARTICLE_BEFORE.search(head)
        the = _THE_BEFORE.search(head)
        for m in sorted({2, 3, rng.choice((2, 3, 4))})[:2]:
            word = number_word(m)
            if art is not None:
                spelled = match_case(word, art.group(1))
                out.append(
                    _rewrite(
                        caption, graph, index, art.start(), spelled + art.group(2) + middle, True, resources
                    )
                )
            elif the is not None:
                out.append(_rewrite(caption, graph, index, first_pre, word + " " + middle, True, resources))
        return out
    if obj.count == 0:
        return out
    quant = _QUANT_BEFORE.search(head)
    quant_att = next(
        (a for a in obj.attributes if a.text.lower() in ("several", "many", "some", "multiple", "few")), None
    )
    if quant is not None:
        start, prefix = quant.start(), match_case("one", quant.group(1)) + quant.group(2)
    elif quant_att is not None:
        start = quant_att.start
        article = re.search(r"\b([Aa])\s+$", caption[:start])  # "a few women": the article goes too
        if article is not None:
            start = article.start(1)
        prefix = match_case("one", caption[start : start + 1]) + caption[quant_att.end : obj.start]
    elif not re.search(r"\b(the|these|those|his|her|their|its|my|our|your|no)\s+$", head, re.I):
        start, prefix = first_pre, match_case("one ", caption[first_pre : first_pre + 1])
        if first_pre == 0 and caption[:1].isupper():
            middle = middle[:1].lower() + middle[1:] if middle else middle
    else:
        return out
    singular = singularize(obj.text)
    if singular.lower() == obj.text.lower() and obj.text.lower() not in ("sheep", "deer", "fish"):
        return out  # mass noun or unknown plural: "one broccoli" is not a count edit
    rest = "" if quant_att is not None else middle
    cand = _rewrite(caption, graph, index, start, prefix + rest, False, resources)
    if cand is None or (start == 0 and cand.text[:1].islower() and caption[:1].isupper()):
        return out
    out.append(cand)
    return out


@register(NAME, type="count", version=VERSION)
def count(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Change a numeral, article or quantifier of one object, keeping agreement."""
    order = list(range(len(graph.objects)))
    rng.shuffle(order)
    # objects with an explicit number first: those edits are the most informative
    order.sort(key=lambda i: {None: 1, 1: 2}.get(graph.objects[i].count, 0))
    cands: list[Candidate] = []
    lex = resources.lexicon
    for i in order:
        obj = graph.objects[i]
        if not obj.text[:1].isalpha() or lex.class_of(object_lemma(obj)) in UNCOUNTED_CLASSES:
            continue  # "a man in two red shirts", "three grasses"
        if _AFTER_COPULA.search(caption[: obj.start]):
            continue  # "This is a salad" -> "This is three salads"
        cands.extend(_object_candidates(caption, graph, i, rng, resources))
    return finish(caption, [c for c in cands if c is not None], "count", GENERATOR, resources, limit=limit)
