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

import difflib
import re
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
                return True
        if tok in _SINGULAR_DETS - {"that"} and i + 2 < len(low) and (i == 0 or low[i - 1] not in ("and", "or")):
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


def _replaced_words(caption: str, text: str) -> tuple[str, str] | None:
    """The one changed word (or two-word compound) on each side, if that is the whole change."""
    a, b = _norm(caption).split(), _norm(text).split()
    ops = [op for op in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes() if op[0] != "equal"]
    if len(ops) != 1 or ops[0][0] != "replace":
        return None
    _, i1, i2, j1, j2 = ops[0]
    if i2 - i1 > 2 or j2 - j1 > 2:
        return None
    # drop an article that changed with the word ("a dog" -> "an owl")
    left, right = a[i1:i2], b[j1:j2]
    if len(left) == 2 and left[0] in ("a", "an") and len(right) == 2 and right[0] in ("a", "an"):
        left, right = left[1:], right[1:]
    return " ".join(left), " ".join(right)


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
    if _norm(text) == _norm(caption):
        return "formatting_only"
    if _formatting(caption, text):
        return "formatting"
    if len(text) > 2 * len(caption) + 40:
        return "too_long"
    tokens = _tokens(text)
    low = [t.lower() for t in tokens]
    cap_low = [t.lower() for t in _tokens(caption)]
    for i in range(len(low) - 1):
        if low[i] == low[i + 1] and low[i][:1].isalpha() and low[i] not in _ALLOWED_REPEATS:
            if not (i < len(cap_low) - 1 and _has_pair(cap_low, low[i])):
                return "repeated_word"
    if _article_errors(tokens) and not _article_errors(_tokens(caption)):
        return "article_agreement"
    if _number_errors(tokens, resources) and not _number_errors(_tokens(caption), resources):
        return "number_agreement"
    caption_words = {t.lower() for t in _tokens(caption)}
    for i, tok in enumerate(tokens):
        if i == 0 or not tok[:1].isupper() or tok.lower() in caption_words or tok.isupper():
            continue
        if tokens[i - 1] in ".!?":
            continue
        return "proper_noun"
    if resources is not None:
        pair = _replaced_words(caption, text)
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
