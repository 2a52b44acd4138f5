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
