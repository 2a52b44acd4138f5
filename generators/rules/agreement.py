"""Agreement of a subject with its verbs and possessions, for rules that change its number.

add_obj ("a man rides his bike" -> "a woman and a man ride their bikes") and count ("a dog
runs and jumps" -> "two dogs run and jump") make a singular subject plural: its finite verbs
and its possessions must follow, and where the caption does not say which verb is the subject's
("as she swims", "dressed as a clown is"), no negative is better than an ungrammatical one.
Pure functions over the caption text and its parse.
"""

from __future__ import annotations

import re
from typing import Any

from negforge.schemas import SceneGraph

from ..grammar import agree_verb, is_plural_noun, match_case, pluralize, singularize, verb_lemma_and_tag
from .common import (
    _DETERMINERS,
    FINITE_VERBS,
    PREPOSITIONS,
    is_plural,
    object_lemma,
    phrase_start,
    words_with_spans,
)

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
        if low in PREPOSITIONS or (verb_lemma_and_tag(low) is not None and low not in _DETERMINERS):
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
                # "while a crowd looks on", "while the ocean is in the distance": that noun's
                # clause, and so is every verb after it ("while another boy watches and makes")
                break
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
        if first_obj and k > 0 and low in ("that", "which", "who"):
            return None  # "a man throwing a ball at a dog who is running": the dog's verb
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
