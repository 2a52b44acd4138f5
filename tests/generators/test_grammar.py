"""Articles, inflection and exact edits: the fluency basics every rule relies on."""

from __future__ import annotations

import pytest

from negforge.generators.grammar import (
    agree_verb,
    apply_edit,
    article_for,
    fix_articles,
    inflect_verb,
    is_plural_noun,
    pluralize,
    singularize,
    verb_lemma_and_tag,
)


@pytest.mark.parametrize(
    ("word", "article"),
    [("apple", "an"), ("dog", "a"), ("hour", "an"), ("umbrella", "an"), ("unicorn", "a"),
     ("uniform", "a"), ("orange", "an"), ("European", "a"), ("elephant", "an"), ("8", "an"), ("one", "a"),
     ("SUV", "an"), ("suv", "an"), ("RV", "an"), ("ledge", "a")],  # initialisms read letter by letter
)
def test_article_for(word, article):
    assert article_for(word) == article


def test_article_keeps_case():
    assert article_for("owl", like="A") == "An"
    assert article_for("dog", like="An") == "A"


@pytest.mark.parametrize(
    ("single", "plural"),
    [("dog", "dogs"), ("bus", "buses"), ("person", "people"), ("mouse", "mice"), ("sheep", "sheep"),
     ("tennis racket", "tennis rackets"), ("knife", "knives"), ("child", "children")],
)
def test_pluralize_and_singularize(single, plural):
    assert pluralize(single) == plural
    assert singularize(plural) == single


def test_plural_detection():
    assert is_plural_noun("dogs") and is_plural_noun("people") and is_plural_noun("mice")
    assert not is_plural_noun("dog") and not is_plural_noun("bus") and not is_plural_noun("glass")


def test_verbs():
    assert verb_lemma_and_tag("riding") == ("ride", "VBG")
    assert verb_lemma_and_tag("chased") == ("chase", "VBN")
    assert verb_lemma_and_tag("sits") == ("sit", "VBZ")
    assert inflect_verb("sit", "VBG") == "sitting"
    assert inflect_verb("look at", "VBZ") == "looks at"
    assert agree_verb("is", plural=True) == "are"
    assert agree_verb("Has", plural=True) == "Have"
    assert agree_verb("sits", plural=True) == "sit"
    assert agree_verb("are", plural=False) == "is"


def test_fix_articles():
    assert fix_articles("a apple and an dog") == "an apple and a dog"
    assert fix_articles("A owl") == "An owl"


def test_apply_edit_fixes_article_and_records_exact_span():
    caption = "A dog on a couch."
    text, edit = apply_edit(caption, 2, 5, "owl")
    assert text == "An owl on a couch."
    assert caption[edit.start : edit.end] == edit.before
    assert caption[: edit.start] + edit.after + caption[edit.end :] == text
    text, edit = apply_edit(caption, 11, 16, "armchair")
    assert text == "A dog on an armchair."


def test_apply_edit_at_sentence_start_keeps_capital():
    text, _ = apply_edit("Dogs run.", 0, 4, "cats")
    assert text == "Cats run."
