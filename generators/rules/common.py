"""Helpers every rule family shares: building checked negatives and reading the graph.

``Candidate`` collects edits; ``finish`` turns them into ``Negative``s after the
same ``check_negative`` the LLM stage uses, so a rule never returns text that the
checks would reject, and the edit span always reproduces the negative exactly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from negforge.schemas import Edit, Negative, SceneObject

from ..checks import check_negative
from ..grammar import (
    WORD_RE,
    is_plural_noun,
    match_case,
    pluralize,
    singularize,
)

logger = logging.getLogger(__name__)

#: Verb forms that agree with a subject and that rules adjust (is → are, sits → sit).
FINITE_VERBS = {"is", "are", "was", "were", "has", "have", "does", "do"}
#: Most negatives one rule returns for one caption (the registry caps again per config).
MAX_NEGATIVES = 8


@dataclass(frozen=True)
class Candidate:
    """One proposed negative: the full text and the edit that produced it."""

    text: str
    edit: Edit | None


def edit_ok(caption: str, text: str, edit: Edit | None) -> bool:
    """The edit reproduces ``text`` from ``caption`` exactly (the schema's contract)."""
    if edit is None:
        return True
    if not (0 <= edit.start <= edit.end <= len(caption)):
        return False
    return (
        caption[edit.start : edit.end] == edit.before
        and caption[: edit.start] + edit.after + caption[edit.end :] == text
    )


def finish(
    caption: str,
    candidates: Iterable[Candidate],
    neg_type: str,
    generator: str,
    resources: Any,
    check: bool = True,
    limit: int = MAX_NEGATIVES,
) -> list[Negative]:
    """Checked, de-duplicated negatives in candidate order, at most ``limit``.

    ``candidates`` may be a lazy iterator: generators with quadratic candidate
    sets (swaps) rank cheap keys first and build texts only as far as needed.
    """
    out: list[Negative] = []
    seen = {caption}
    for cand in candidates:
        if cand.text in seen or not edit_ok(caption, cand.text, cand.edit):
            continue
        if check:
            reason = check_negative(caption, cand.text, resources)
            if reason is not None:
                logger.debug("%s rejected %r: %s", generator, cand.text, reason)
                continue
        seen.add(cand.text)
        out.append(Negative(cand.text, neg_type, generator, cand.edit))
        if len(out) >= limit:
            break
    return out


def head_word(obj: SceneObject) -> str:
    """The last word of the object's name ("racket" in "tennis racket")."""
    return obj.text.rsplit(" ", 1)[-1]


def is_plural(obj: SceneObject) -> bool:
    """Plurality of an object mention from its count, else from its word form."""
    if obj.count is not None and obj.count != 1 and obj.count != 0:
        return True
    if obj.count == 1:
        return False
    return is_plural_noun(head_word(obj).lower())


def inflect_like(new_lemma: str, obj: SceneObject) -> str:
    """``new_lemma`` with the plurality and casing of the object's text.

    A capital inside the caption belongs to the old word ("catches a Frisbee" -> "catches a
    ball"); only a caption's first word passes its capital on."""
    word = (
        pluralize(new_lemma)
        if is_plural(obj)
        else singularize(new_lemma)
        if " " not in new_lemma
        else new_lemma
    )
    if obj.start > 0 and obj.text[1:].islower():
        return word
    return match_case(word, obj.text)


def object_lemma(obj: SceneObject) -> str:
    """Lower-case singular name of an object ("tennis racket")."""
    return obj.lemma.lower() if obj.lemma else singularize(obj.text.lower())


def word_after(caption: str, pos: int) -> tuple[str, int, int] | None:
    """The next word at or after ``pos`` (skipping spaces only): (word, start, end)."""
    m = re.compile(r"\s*([A-Za-z][A-Za-z'-]*)").match(caption, pos)
    if m is None:
        return None
    return m.group(1), m.start(1), m.end(1)


def word_before(caption: str, pos: int) -> str | None:
    """The whitespace-delimited token that ends before ``pos`` (None at the start); read from
    the right, so its cost does not grow with the caption."""
    head = caption[:pos].rsplit(None, 1)
    return head[-1] if head else None


def words_with_spans(caption: str, start: int = 0) -> list[tuple[str, int, int]]:
    """Every word from ``start`` with its span."""
    return [(m.group(0), m.start(), m.end()) for m in WORD_RE.finditer(caption, start)]


def all_words(caption: str) -> set[str]:
    return {w.lower() for w, _, _ in words_with_spans(caption)}


def pick(rng: Any, items: list, k: int) -> list:
    """Up to ``k`` items in a seeded random order (input sorted by the caller)."""
    items = list(items)
    rng.shuffle(items)
    return items[:k]


PREPOSITIONS = frozenset(
    "in on at by with near under over behind beside between through across along around into onto "
    "from to of for off up down past inside outside above below beneath underneath toward towards "
    "against among atop next close far left right front top during like without within upon via".split()
)


#: Possessive determiners: "his dog" has an owner, and fits either number ("his shoes").
POSSESSIVES = frozenset({"his", "her", "their", "its", "my", "your", "our"})
_DETERMINERS = POSSESSIVES | frozenset(
    "a an the this that these those some any each every another one no".split()
)


#: What an animal does with a mouth or paws ("a stick in its mouth", "wagging its tail"): a
#: person beside it, or in its place, would not do the same.
ANIMAL_PARTS = re.compile(r"\b(mouth|mouths|teeth|paws?|tail|snout|muzzle)\b", re.I)


def phrase_start(obj: SceneObject) -> int:
    """Where the object's noun phrase starts: its first attribute before the noun."""
    return min([obj.start] + [a.start for a in obj.attributes if a.end <= obj.start])


#: Nouns that take no article after a preposition in an idiom ("in bed", "at school", "to church").
BARE_PLACES = frozenset({"bed", "school", "church", "home", "town", "class", "work", "college", "camp", "sea"})


def bare_singular(caption: str, obj: SceneObject) -> bool:
    """A singular noun with no determiner ("playing soccer", "eating pizza"): an activity or a
    mass reading that has no slot-neutral form, so swapping it with a counted noun breaks grammar."""
    if obj.count is not None or is_plural(obj):
        return False
    start = phrase_start(obj)
    prev = re.search(r"([A-Za-z']+)\W*$", caption[:start])
    return prev is None or prev.group(1).lower() not in _DETERMINERS


_FUNCTION_WORDS = frozenset(
    "a an the and or but of to in on at by with from for into onto over under through down up out off "
    "about past near along across around behind between very all some many several".split()
)


def glued_modifier(caption: str, att: Any, obj: SceneObject, resources: Any) -> bool:
    """An attribute after an adjective the parser did not give the object ("stainless steel",
    "middle eastern"): the two are one modifier, and editing half of it gives "a stainless white
    refrigerator" or "the middle western woman"."""
    prev = re.search(r"([A-Za-z-]+)\s+$", caption[: att.start])
    if prev is None:
        return False
    word = prev.group(1).lower()
    if any(t.text.lower() == word for t in obj.attributes) or word in _FUNCTION_WORDS:
        return False
    return bool(resources.synsets(word, "a")) and not resources.synsets(word, "v")


#: Words that shade the color after them ("light blue", "hot-pink"): the color is held by its
#: shade, so an edit of the color alone leaves "light black".
SHADES = frozenset(
    {"light", "dark", "bright", "pale", "deep", "medium", "neon", "hot", "navy", "royal", "baby", "sky"}
)


def after_shade(caption: str, pos: int) -> bool:
    """Whether the word ending right before ``pos`` (after a space or a hyphen) is a shade."""
    head = caption[:pos].rstrip(" \t-")
    if len(head) == pos:
        return False  # no separator: ``pos`` is inside a word
    return head[max(head.rfind(" "), head.rfind("\t"), head.rfind("-")) + 1 :].lower() in SHADES


def shade_bound(caption: str, att: Any, resources: Any) -> bool:
    """A color held by its shade ("light blue") or the shade itself: an exchange that moves one
    of the two leaves "light black shorts" (swap rules and the LLM's swap slots alike)."""
    if after_shade(caption, att.start):
        return True
    after = caption[att.end :].split(None, 1)
    colors = resources.vocab["adjective_groups"]["color"]
    return att.text.lower() in SHADES and bool(after) and after[0].lower() in colors


def compatible_words(section: str, word: str, resources: Any) -> frozenset[str]:
    """The words that share a cluster with ``word`` in vocab ``section`` (``verb_compatible``,
    ``noun_compatible``: names a caption may use for one thing, itself included when listed);
    the table of every word's clusters is built once per resources."""
    key = ("compatible", section)
    table = resources._cache.get(key)
    if table is None:
        merged: dict[str, set[str]] = {}
        for cluster in resources.vocab.get(section, {}).get("clusters", ()):
            for member in cluster:
                merged.setdefault(member, set()).update(cluster)
        table = resources._cache[key] = {w: frozenset(c) for w, c in merged.items()}
    return table.get(word, frozenset())


_T = TypeVar("_T")


def one_per_look(
    values: Iterable[_T], limit: int, resources: Any, word: Callable[[_T], str] = lambda v: v
) -> Iterator[_T]:
    """Up to ``limit`` of ``values`` in their order, never two adjectives of one look (vocab
    ``adjective_compatible``): "a blond boy" and "a blonde boy" are one negative twice."""
    drawn: list[str] = []
    for value in values:
        if len(drawn) >= limit:
            return
        adjective = word(value)
        if any(adjective in compatible_words("adjective_compatible", d, resources) for d in drawn):
            continue
        drawn.append(adjective)
        yield value


def one_thing(a: str, b: str, resources: Any) -> bool:
    """Two nouns a caption may use for one thing in a photo (vocab ``noun_compatible``: a hurdle
    a dog jumps may be a fence, a grassy yard a park, a street a crosswalk)."""
    return b in compatible_words("noun_compatible", a, resources) or b.rsplit(" ", 1)[-1] in compatible_words(
        "noun_compatible", a.rsplit(" ", 1)[-1], resources
    )
