"""check_negative: the one contract rule and LLM negatives share."""

from __future__ import annotations

import pytest

from negforge.generators.checks import REASONS, check_negative

CASES = [
    ("A dog on a couch.", "A cat on a couch.", None),
    ("A dog on a couch.", "An owl on a couch.", None),
    ("A dog on a couch.", "A dog on a couch.", "identical"),
    ("A dog on a couch.", "", "empty"),
    ("A dog on a couch.", "   ", "empty"),
    ("A dog on a couch.", "a dog on a couch", "formatting_only"),
    ("A dog on a couch.", "A cat on a couch", "formatting"),
    ("A dog on a couch.", "a cat on a couch.", "formatting"),
    (" A dog on a couch.", "A cat on a couch.", "formatting"),
    ("A dog on a couch.", "A cat on a couch!", "formatting"),
    ("A dog on a couch.", "An cat on a couch.", "article_agreement"),
    ("A dog on a couch.", "A owl on a couch.", "article_agreement"),
    ("A dog on a couch.", "A dogs on a couch.", "article_agreement"),
    ("two dogs on a couch", "two dog on a couch", "number_agreement"),
    ("a dog is sleeping", "two dogs is sleeping", "number_agreement"),
    ("there is a dog", "there is two dogs", "number_agreement"),
    ("A dog on a couch.", "A dog dog on a couch.", "repeated_word"),
    ("a dog on a couch", "a dog on a Nokia couch", "proper_noun"),
    ("a dog on a sofa", "a dog on a couch", "synonym"),
    ("a big dog", "a large dog", "synonym"),
    ("a dog on a couch", "an animal on a couch", "hypernym"),
    ("a dog on a couch", "a puppy on a couch", "hyponym"),
    ("a big dog", "a small dog", None),
    ("a dog", "a " + "very " * 40 + "dog", "too_long"),
    ("two dogs are sitting", "one dog is sitting", None),
    ("a man riding a horse", "a horse riding a man", None),
]


@pytest.mark.parametrize(("caption", "text", "reason"), CASES)
def test_check_negative(caption, text, reason, resources):
    assert check_negative(caption, text, resources) == reason


def test_reasons_are_listed(resources):
    for _, _, reason in CASES:
        assert reason is None or reason in REASONS


def test_lexical_checks_work_without_resources():
    assert check_negative("A dog.", "An dog.", None) == "article_agreement"
    assert check_negative("a dog on a sofa", "a dog on a couch", None) is None  # no WordNet: no synonym test


def test_identical_caption_with_existing_errors_is_not_blamed(resources):
    # the caption's own mistakes are not the negative's fault
    assert check_negative("a apple on a table", "a apple on a chair", resources) is None


def _difflib_replaced_words(a: list[str], b: list[str]) -> tuple[str, str] | None:
    """The original difflib formulation the linear-time version must agree with."""
    import difflib

    ops = [op for op in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes() if op[0] != "equal"]
    if len(ops) != 1 or ops[0][0] != "replace":
        return None
    _, i1, i2, j1, j2 = ops[0]
    if i2 - i1 > 2 or j2 - j1 > 2:
        return None
    left, right = a[i1:i2], b[j1:j2]
    if len(left) == 2 and left[0] in ("a", "an") and len(right) == 2 and right[0] in ("a", "an"):
        left, right = left[1:], right[1:]
    return " ".join(left), " ".join(right)


def test_replaced_words_agrees_with_difflib_on_edits() -> None:
    """Every single replacement difflib finds, prefix/suffix trimming finds too.

    Trimming may also report one where difflib's alignment of a repeated word splits the
    window into a deletion and an insertion (["a", "cat"] -> ["cat", "cat"]); see the examples.
    """
    import random

    from negforge.generators.checks import _replaced_words

    words = ["a", "an", "the", "dog", "cat", "on", "red", "two", "dogs", "sofa", "of", "and"]
    rng = random.Random(0)
    disagreements = []
    for _ in range(20000):
        a = [rng.choice(words) for _ in range(rng.randint(1, 9))]
        b = list(a)
        for _ in range(rng.randint(1, 2)):  # one or two random edits: replace, insert, delete, swap
            kind = rng.randrange(4)
            i = rng.randrange(len(b)) if b else 0
            if kind == 0 and b:
                b[i : i + rng.randint(1, 2)] = [rng.choice(words) for _ in range(rng.randint(1, 2))]
            elif kind == 1:
                b.insert(i, rng.choice(words))
            elif kind == 2 and len(b) > 1:
                del b[i]
            elif len(b) > 1:
                j = rng.randrange(len(b))
                b[i], b[j] = b[j], b[i]
        ours, reference = _replaced_words(a, b), _difflib_replaced_words(a, b)
        if reference is not None and ours != reference:
            disagreements.append((a, b, ours, reference))
    assert not disagreements, disagreements[:5]


def test_replaced_words_examples() -> None:
    from negforge.generators.checks import _replaced_words

    assert _replaced_words("a dog on a sofa".split(), "a cat on a sofa".split()) == ("dog", "cat")
    assert _replaced_words("a dog on a sofa".split(), "an owl on a sofa".split()) == ("dog", "owl")
    assert _replaced_words("a dog on a sofa".split(), "a dog on a red sofa".split()) is None  # insertion
    assert _replaced_words("a dog on a sofa".split(), "a sofa on a dog".split()) is None  # swap
    assert _replaced_words(["a", "cat"], ["cat", "cat"]) == ("a", "cat")  # minimal window
    assert _replaced_words("two dogs".split(), "two dogs and".split()) is None
