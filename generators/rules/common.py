"""Helpers every rule family shares: building checked negatives and reading the graph.

``Candidate`` collects edits; ``finish`` turns them into ``Negative``s after the
same ``check_negative`` the LLM stage uses, so a rule never returns text that the
checks would reject, and the edit span always reproduces the negative exactly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from negforge.schemas import Edit, Negative, SceneGraph, SceneObject

from ..checks import check_negative
from ..grammar import (
    WORD_RE,
    agree_verb,
    is_plural_noun,
    match_case,
    pluralize,
    singularize,
    verb_lemma_and_tag,
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
    """``new_lemma`` with the plurality and casing of the object's text."""
    word = (
        pluralize(new_lemma)
        if is_plural(obj)
        else singularize(new_lemma)
        if " " not in new_lemma
        else new_lemma
    )
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


_CLAUSE_STOP = {"and", "or", "but", "while", "as"}


def is_catenative(following: list[tuple[str, int, int]], k: int) -> bool:
    """A VBZ word right before "to" is a verb taking an infinitive ("tries to escape", "wants
    to play"), whatever the counts say of it as a noun ("try" is a rugby noun too)."""
    return k + 1 < len(following) and following[k + 1][0].lower() == "to"


def vbz_is_verb(following: list[tuple[str, int, int]], k: int, resources: Any) -> bool:
    """Word ``k``, which has a VBZ form ("runs", "pants", "stands"), is a finite verb here: not
    after a determiner or preposition ("in the stands", "with shorts"), and either taking an
    infinitive or counted as a predicate at least as often as captions use it as a noun
    ("black pants", "does flips")."""
    low = following[k][0].lower()
    prev = following[k - 1][0].lower() if k > 0 else ""
    tagged = verb_lemma_and_tag(low)
    if tagged is None or tagged[1] != "VBZ" or prev in _DETERMINERS or prev in PREPOSITIONS:
        return False
    lex = resources.lexicon
    return is_catenative(following, k) or lex.predicate_total(tagged[0]) >= max(
        lex.count(low), lex.count(singularize(low))
    )


_SINGULAR_FINITE = frozenset({"is", "was", "has", "does", "isn't", "wasn't", "doesn't", "hasn't"})


#: Words that open a clause with a subject of its own ("as" does not: "dressed as a clown is").
_CLAUSE_OPENERS = frozenset({"while", "whilst", "when", "where", "but", "and"})


def _opens_clause(following: list[tuple[str, int, int]], noun: int) -> bool:
    """The noun at ``noun`` is the subject of a new clause: up to three words before it (its
    determiner and adjectives) lead back to a clause opener ("while *a* large *crowd*")."""
    for back in range(noun - 1, max(noun - 5, -1), -1):
        low = following[back][0].lower()
        if low in _CLAUSE_OPENERS:
            return True
        if low in PREPOSITIONS or verb_lemma_and_tag(low) is not None and low not in _DETERMINERS:
            return False
    return False


def subject_verbs_after(
    caption: str, pos: int, verb: tuple[int, int, str] | None, resources: Any, graph: SceneGraph | None = None
) -> list[tuple[int, int, str]] | None:
    """The subject's other singular finite verbs after ``pos``: each right after "and" ("stands
    near the door *and is* covered"), which a plural subject changes too. A verb right after
    another noun of ``graph`` is that noun's ("stands while a crowd *looks* on"). None when a
    singular verb stands anywhere else ("as she swims", "dressed as a clown is"): whose verb that
    is, is more than a regex can tell."""
    following = words_with_spans(caption, pos)
    noun_ends = {o.end for o in graph.objects if o.end > pos} if graph is not None else set()
    out: list[tuple[int, int, str]] = []
    for k, (word, start, end) in enumerate(following):
        if verb is not None and start == verb[0]:
            continue
        low = word.lower()
        tagged = verb_lemma_and_tag(low)
        after_and = k > 0 and following[k - 1][0].lower() == "and"
        if (
            low in _SINGULAR_FINITE
            or vbz_is_verb(following, k, resources)
            or (  # may be a verb ("a racer speeds down", "stands and waves"): never left singular
                tagged is not None
                and tagged[1] == "VBZ"
                and (following[k - 1][0].lower() if k else "") not in _DETERMINERS
                and (k == 0 or (after_and and resources.lexicon.predicate_total(tagged[0]) >= 10))
            )
        ):
            if k > 0 and following[k - 1][2] in noun_ends and _opens_clause(following, k - 1):
                continue  # "while a crowd looks on", "while the ocean is in the distance"
            if verb is None or start < verb[0] or not after_and:
                return None
            out.append((start, end, word))
    return out


def sole_agent(graph: SceneGraph, index: int, resources: Any) -> bool:
    """The object is the only person or animal of the caption, so "his"/"its" can only be its."""
    lex = resources.lexicon
    agents = [
        k
        for k, o in enumerate(graph.objects)
        if lex.class_of(object_lemma(o)) in ("person", "animal", "bird")
    ]
    return agents == [index]


#: A singular possessive after the subject: once the subject is two, it names neither.
_OWNED = re.compile(r"\b(his|her|its)\b", re.I)
#: Possessions that stay singular for two owners: "their hair", not "their hairs".
_UNCOUNTED_POSSESSIONS = frozenset({"hair", "fur", "skin", "clothing", "gear"})


def shared_possessions(
    caption: str, graph: SceneGraph, index: int, resources: Any
) -> list[tuple[int, int, str]] | None:
    """The edits that give a subject's possessions to two owners: "a man rides *his bike*" ->
    "a woman and a man ride *their bikes*" (one bike for two would be a new, odd scene). None
    when another person or animal is named (whose "his" is it?) or a possessive owns no object
    the parse found; [] when nothing is owned."""
    owned = list(_OWNED.finditer(caption, graph.objects[index].end))
    if not owned:
        return []
    if not sole_agent(graph, index, resources):
        return None
    out: list[tuple[int, int, str]] = []
    for m in owned:
        thing = next(
            (o for o in graph.objects if o.start > m.end() and not caption[m.end() : phrase_start(o)].strip()),
            None,
        )
        if thing is None:
            return None
        out.append((m.start(), m.end(), match_case("their", m.group(0))))
        lemma = object_lemma(thing)
        if not is_plural(thing) and lemma not in _UNCOUNTED_POSSESSIONS and lemma not in resources.vocab["mass_nouns"]:
            out.append((thing.start, thing.end, pluralize(thing.text)))
    return out


def _is_word(word: str, resources: Any) -> bool:
    """A word the inflection table or WordNet knows."""
    from lemminflect import getAllLemmas

    wordnet = getattr(resources, "wordnet", None)
    return bool(getAllLemmas(word)) or (wordnet is not None and bool(wordnet.synsets(word)))


def plural_verb(word: str, resources: Any) -> str | None:
    """``word`` agreeing with a plural subject, or None when the inflection table cannot make it
    ("windsurfs" is no verb it knows): better no negative than "a woman and a man windsurfs"."""
    new = agree_verb(word, plural=True)
    low = word.lower()
    if new == word and low.endswith("s") and verb_lemma_and_tag(low) is None:
        # a verb made of a noun the table lacks ("snowboards", "windsurfs"): its stem, when
        # that is a word at all; never a guess at "-es" or "-ies" forms
        stem = low[:-1]
        if low.endswith(("ss", "es", "us", "is")) or not _is_word(stem, resources):
            return None
        return word[:-1]
    return new


def _parsed_as_its_verb(graph: SceneGraph, index: int, word: str) -> bool:
    """The parser made ``word`` the verb of a relation of object ``index``: "flips" is counted
    more often as a noun ("does flips"), but here it heads the subject's relation."""
    return any(
        r.subject == index and r.predicate.split(" ", 1)[0].lower() == word for r in graph.relations
    )


def agreeing_verb(caption: str, graph: SceneGraph, index: int, resources: Any) -> tuple[int, int, str] | None:
    """The finite verb that agrees with object ``index``: (start, end, word) or None.

    For the first object (the usual subject of a caption) it is the first finite
    verb after it ("A man with a hat *is* ..."); for any other object only one
    introduced by a relative pronoun right after it ("dogs *that are*"), because
    a verb after a prepositional object belongs to the subject ("a man with a hat is").
    """
    obj = graph.objects[index]
    first_obj = all(o.start >= obj.start for o in graph.objects)
    following = words_with_spans(caption, obj.end)
    for k, (word, start, end) in enumerate(following):
        low = word.lower()
        if k > 8:
            return None
        if low in _CLAUSE_STOP:
            nxt = following[k + 1][0].lower() if k + 1 < len(following) else ""
            # "a man with a hat and sunglasses is ...": the "and" joins two nouns of the subject;
            # "a man sits and a dog ...", "a dog runs and jumps": a second clause or verb
            if not (
                low == "and"
                and (
                    nxt in _DETERMINERS
                    or _noun_like(nxt)
                    or nxt in resources.vocab["adjective_groups"]["color"]  # "a red and black top is"
                    or _counted_as_noun(nxt, resources)  # "a black hat and goggles is"
                )
            ):
                return None
            continue
        if not first_obj and k == 0 and low not in ("that", "which", "who"):
            return None
        is_finite = low in FINITE_VERBS
        prev = following[k - 1][0].lower() if k > 0 else ""
        if not is_finite and prev not in _DETERMINERS and prev not in PREPOSITIONS:  # "their hands", "on top"
            tagged = verb_lemma_and_tag(low)
            if tagged is not None and tagged[1] == "VBZ":  # "runs", "sings", "appears"
                is_finite = vbz_is_verb(following, k, resources) or _parsed_as_its_verb(
                    graph, index, low
                )  # "a child flips on a trampoline"
            elif tagged is None and low.endswith("s") and _parsed_as_its_verb(graph, index, low):
                is_finite = True  # a verb the inflection table lacks: "a man windsurfs"
            elif (
                (tagged is None or tagged[0] == low) and is_plural(obj)
                and low not in PREPOSITIONS and not is_plural_noun(low)
            ):  # fmt: skip
                is_finite = _known_predicate(low, resources)  # "two dogs in the park run"
        if is_finite:
            return start, end, word
        if not first_obj and k >= 1:
            return None
    return None


PREPOSITIONS = frozenset(
    "in on at by with near under over behind beside between through across along around into onto "
    "from to of for off up down past inside outside above below beneath underneath toward towards "
    "against among atop next close far left right front top during like without within upon via".split()
)


def _noun_like(word: str) -> bool:
    """A word that is not a verb form: it continues a noun phrase after "and"."""
    return bool(word) and word.isalpha() and verb_lemma_and_tag(word) is None


def _counted_as_noun(word: str, resources: Any) -> bool:
    """Captions use ``word`` as a noun more than as a verb ("goggles", "shorts")."""
    tagged = verb_lemma_and_tag(word)
    lex = resources.lexicon
    return lex.count(singularize(word)) > (lex.predicate_total(tagged[0]) if tagged else 0)


def _known_predicate(lemma: str, resources: Any) -> bool:
    """A verb lemma real captions use as a predicate (counted often enough to trust)."""
    return resources.lexicon.predicate_total(lemma) >= 10


_DETERMINERS = frozenset(
    "a an the this that these those his her their its my your our some any each every another one no".split()
)


def phrase_start(obj: SceneObject) -> int:
    """Where the object's noun phrase starts: its first attribute before the noun."""
    return min([obj.start] + [a.start for a in obj.attributes if a.end <= obj.start])


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
