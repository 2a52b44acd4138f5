"""Identity and grammar checks every negative must pass, whoever wrote it.

Rules build their text through ``grammar.py`` and run these checks before
returning a negative; the LLM stage runs the same function on model output, so
rule and LLM negatives obey one contract (DESIGN §3). A check returns a short,
stable reason key (it becomes a rejection counter in the manifest) or None.

The checks are lexical (no parser) so they are cheap enough to run on every
candidate: they catch the tells blind text models exploit (DESIGN §5):
formatting differences, wrong articles, broken number agreement, stuttered
words, proper nouns, and replacements that are synonyms/hypernyms/hyponyms
of the original word (not negatives at all).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .grammar import NUMBER_WORDS, is_plural_noun, needs_an, verb_lemma_and_tag

#: Every reason key ``check_negative`` can return, for counters and docs.
REASONS: tuple[str, ...] = (
    "empty",
    "identical",
    "formatting_only",
    "formatting",
    "too_long",
    "repeated_word",
    "article_agreement",
    "number_agreement",
    "proper_noun",
    "synonym",
    "hypernym",
    "hyponym",
)

_TOKEN_RE = re.compile(r"[A-Za-z0-9][\w'-]*|[^\w\s]")
_FINAL_PUNCT = ".!?;:,\"')"
_SINGULAR_DETS = {"a", "an", "one", "every", "each", "this", "that", "another"}
_PLURAL_VERBS = {"are", "were", "have"}
#: A noun right after one of these is inside a prepositional phrase: the verb after it belongs to
#: the head before ("a man and a girl with a necklace are swimming" is right, not "a necklace are").
_PHRASE_PREPOSITIONS = frozenset(
    {"with", "in", "on", "of", "at", "by", "near", "under", "behind", "from", "for", "without", "into", "over"}
)
_SINGULAR_VERBS = {"is", "was", "has"}
_ALLOWED_REPEATS = {"that", "had", "very", "many", "bye", "ha", "no", "so"}


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", text.lower())).strip()


def _formatting(caption: str, text: str) -> bool:
    """Leading/trailing whitespace, final punctuation, or first-letter case differ."""
    lead_c, lead_t = caption[: len(caption) - len(caption.lstrip())], text[: len(text) - len(text.lstrip())]
    trail_c, trail_t = caption[len(caption.rstrip()) :], text[len(text.rstrip()) :]
    if lead_c != lead_t or trail_c != trail_t:
        return True
    core_c, core_t = caption.strip(), text.strip()
    end_c = len(core_c) - len(core_c.rstrip(_FINAL_PUNCT))
    end_t = len(core_t) - len(core_t.rstrip(_FINAL_PUNCT))
    if core_c[len(core_c) - end_c :] != core_t[len(core_t) - end_t :]:
        return True
    first_c = next((ch for ch in core_c if ch.isalpha()), "")
    first_t = next((ch for ch in core_t if ch.isalpha()), "")
    return bool(first_c and first_t) and first_c.isupper() != first_t.isupper()


def _article_errors(tokens: list[str]) -> bool:
    low = [t.lower() for t in tokens]
    for i, tok in enumerate(low[:-1]):
        nxt = tokens[i + 1]
        if tok in ("a", "an") and nxt[:1].isalnum():
            if (tok == "an") != needs_an(nxt):
                return True
            if is_plural_noun(nxt.lower()) and nxt.lower() not in ("lot", "couple", "pair", "few"):
                # "a dogs" (but "a glass", "a bus" are singular: is_plural_noun checks the lexicon)
                return True
    return False


def _inside_phrase(before: str) -> bool:
    """The noun after ``before`` + a determiner is not the subject of the next verb: it is a second
    conjunct ("a dog and a cat are"), a prepositional object ("a girl with a necklace are" after a
    plural head) or the object of a participle ("two men wearing a kilt are")."""
    if before in ("and", "or") or before in _PHRASE_PREPOSITIONS:
        return True
    tagged = verb_lemma_and_tag(before)
    return tagged is not None and tagged[1] in ("VBG", "VBN")


def _number_errors(tokens: list[str], resources: Any) -> bool:
    low = [t.lower() for t in tokens]
    for i, tok in enumerate(low[:-1]):
        nxt = low[i + 1]
        if not nxt[:1].isalpha():
            continue
        n = NUMBER_WORDS.get(tok)
        if n is None and tok.isdigit():
            n = int(tok)
        if n is not None and tok not in ("a single", "single", "both"):
            if n == 1 and is_plural_noun(nxt) and tok == "one" and nxt not in ("of",):
                return True
            if n > 1 and _is_singular_count_noun(nxt, resources):
                after = low[i + 2] if i + 2 < len(low) else ""
                if not is_plural_noun(after):  # "two baseball players": a noun modifier, not the noun
                    return True
        if (
            tok in _SINGULAR_DETS - {"that"}
            and i + 2 < len(low)
            and (i == 0 or not _inside_phrase(low[i - 1]))
        ):
            if low[i + 2] in _PLURAL_VERBS and _is_singular_count_noun(nxt, resources):
                return True
        if tok in ("there",) and nxt in ("is", "are") and i + 2 < len(low):
            after = low[i + 2]
            if nxt == "is" and NUMBER_WORDS.get(after, 1) > 1:
                return True
            if nxt == "are" and after in ("a", "an", "one"):
                return True
        if n is not None and n > 1 and i + 2 < len(low) and low[i + 2] in _SINGULAR_VERBS:
            if is_plural_noun(nxt):
                return True
    return False


def _is_singular_count_noun(word: str, resources: Any) -> bool:
    """A word that is a noun only in its singular form ("dog"), not an adjective/verb form."""
    if is_plural_noun(word) or verb_lemma_and_tag(word) is not None:
        return False
    if resources is None or getattr(resources, "wordnet", None) is None:
        return False
    if resources.synsets(word, "a"):
        return False
    from .grammar import pluralize

    return bool(resources.synsets(word, "n")) and pluralize(word) != word


def _replaced_words(a: Sequence[str], b: Sequence[str]) -> tuple[str, str] | None:
    """The one changed word (or two-word compound) on each side, if that is the whole change.

    ``a``/``b`` are the normalised words of caption and negative. Trimming the common prefix
    and suffix leaves the smallest window holding every difference; it is a single
    replacement only if both sides are non-empty there and share no word (a shared word
    would make it a deletion plus an insertion around an unchanged word). Linear time: this
    runs on every candidate of every rule.
    """
    lo, n_a, n_b = 0, len(a), len(b)
    while lo < n_a and lo < n_b and a[lo] == b[lo]:
        lo += 1
    hi_a, hi_b = n_a, n_b
    while hi_a > lo and hi_b > lo and a[hi_a - 1] == b[hi_b - 1]:
        hi_a -= 1
        hi_b -= 1
    left, right = a[lo:hi_a], b[lo:hi_b]
    if not left or not right or len(left) > 2 or len(right) > 2 or set(left) & set(right):
        return None
    # drop an article that changed with the word ("a dog" -> "an owl")
    if len(left) == 2 and left[0] in ("a", "an") and len(right) == 2 and right[0] in ("a", "an"):
        left, right = left[1:], right[1:]
    return " ".join(left), " ".join(right)


@dataclass(frozen=True)
class _CaptionView:
    """What the checks need of the caption side, computed once per caption, not per candidate."""

    norm: str
    words: tuple[str, ...]  # normalised words, for the replaced-word diff
    tokens: list[str]
    low: list[str]
    low_set: frozenset[str]  # lower-cased tokens, for the proper-noun check
    article_errors: bool
    number_errors: bool


_VIEWS: OrderedDict[tuple[str, int], _CaptionView] = OrderedDict()
_VIEWS_MAX = 256


def _caption_view(caption: str, resources: Any) -> _CaptionView:
    """Memoised per (caption, resources): rules check many candidates of one caption in a row."""
    key = (caption, id(resources))
    view = _VIEWS.get(key)
    if view is not None:
        _VIEWS.move_to_end(key)
        return view
    tokens = _tokens(caption)
    norm = _norm(caption)
    view = _CaptionView(
        norm=norm,
        words=tuple(norm.split()),
        tokens=tokens,
        low=[t.lower() for t in tokens],
        low_set=frozenset(t.lower() for t in tokens),
        article_errors=_article_errors(tokens),
        number_errors=_number_errors(tokens, resources),
    )
    _VIEWS[key] = view
    if len(_VIEWS) > _VIEWS_MAX:
        _VIEWS.popitem(last=False)
    return view


def check_negative(caption: str, text: str, resources: Any = None) -> str | None:
    """None when ``text`` is an acceptable negative of ``caption``, else a reason key.

    ``resources`` (from ``load_resources()``) enables the WordNet checks
    (synonym/hypernym/hyponym, singular-noun agreement); without it only the
    lexical checks run.
    """
    if not text or not text.strip():
        return "empty"
    if text == caption:
        return "identical"
    cap = _caption_view(caption, resources)
    norm = _norm(text)
    if norm == cap.norm:
        return "formatting_only"
    if _formatting(caption, text):
        return "formatting"
    if len(text) > 2 * len(caption) + 40:
        return "too_long"
    tokens = _tokens(text)
    low = [t.lower() for t in tokens]
    cap_low = cap.low
    for i in range(len(low) - 1):
        if low[i] == low[i + 1] and low[i][:1].isalpha() and low[i] not in _ALLOWED_REPEATS:
            if not (i < len(cap_low) - 1 and _has_pair(cap_low, low[i])):
                return "repeated_word"
    if not cap.article_errors and _article_errors(tokens):
        return "article_agreement"
    if not cap.number_errors and _number_errors(tokens, resources):
        return "number_agreement"
    for i, tok in enumerate(tokens):
        if i == 0 or not tok[:1].isupper() or tok.lower() in cap.low_set or tok.isupper():
            continue
        if tokens[i - 1] in ".!?":
            continue
        return "proper_noun"
    if resources is not None:
        pair = _replaced_words(cap.words, norm.split())
        if pair is not None and pair[0] and pair[1]:
            for pos in ("n", "a", "v"):
                rel = resources.lexical_relation(pair[0], pair[1], pos)
                if rel in ("same", "synonym"):
                    return "synonym"
                if rel in ("hypernym", "hyponym") and pos == "n":
                    return rel
    return None


def _has_pair(tokens: list[str], word: str) -> bool:
    return any(tokens[i] == tokens[i + 1] == word for i in range(len(tokens) - 1))
