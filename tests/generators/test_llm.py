"""Pure parts of the LLM generator: prompts, schema, parsing, validation, edits."""

from __future__ import annotations

import json

import pytest

from negforge.generators import llm
from negforge.generators.llm import LengthBounds, ParsedOutput


@pytest.fixture(scope="module")
def template():
    return llm.load_prompts("v1")


@pytest.fixture(scope="module")
def check():
    from negforge.generators.checks import check_negative
    from negforge.generators.resources import load_resources

    resources = load_resources()
    return lambda caption, text: check_negative(caption, text, resources)


def test_prompts_cover_every_llm_type(template):
    assert template.version == "v1"
    assert set(template.types) == set(llm.LLM_TYPES)
    assert "shuffle" not in llm.LLM_TYPES
    with pytest.raises(ValueError, match="version must be one of"):
        llm.load_prompts("v0")


def test_few_shot_examples_are_valid_negatives(template, check):
    """The examples teach the model the contract, so each must pass it: schema, format, checks."""
    for type_, spec in template.types.items():
        assert len(spec.examples) >= 2, type_
        for ex in spec.examples:
            parsed = llm.parse_output(ex.answer_json())
            assert parsed == ParsedOutput(ex.negative, ex.edited_words)
            result = llm.validate_output(ex.caption, parsed, type_, "llm:x@v1", LengthBounds(), check)
            assert not isinstance(result, str), (type_, ex.caption, ex.negative, result)
            assert result.text == ex.negative  # already in the positive's format


def test_messages_and_rendering(template):
    messages = llm.build_messages(template, "replace_att", "A red car.")
    assert messages[0]["role"] == "system"
    assert [m["role"] for m in messages[1:]] == ["user", "assistant"] * 2 + ["user"]
    assert messages[-1]["content"].endswith("Caption: A red car.")
    assert json.loads(messages[2]["content"])["negative"] == "A blue car parked next to a tree."
    plain = llm.render_prompt(template, "replace_att", "A red car.")
    assert plain.endswith("Caption: A red car.\nAnswer: ")
    seen = []
    chat = llm.render_prompt(template, "count", "two dogs", chat=lambda m: seen.append(m) or "CHAT")
    assert chat == "CHAT" and seen[0][-1]["content"].endswith("two dogs")


def test_schema_shape():
    schema = llm.negative_json_schema(50)
    assert schema["required"] == ["negative", "edited_words"]
    assert schema["additionalProperties"] is False
    import re

    pattern = schema["properties"]["negative"]["pattern"]
    assert re.match(pattern, "A dog on a couch.") and not re.match(pattern, "bad\x07text")


@pytest.mark.parametrize(
    ("text", "finish", "expected"),
    [
        ('{"negative":"A cat.","edited_words":["cat"]}', "stop", ParsedOutput("A cat.", ("cat",))),
        ('{"negative":"A cat.","edited_words":["ca', "length", "truncated"),
        ("A cat.", "stop", "not_json"),
        ("[1, 2]", "stop", "not_json"),
        ('{"negative": 3, "edited_words": []}', "stop", "bad_schema"),
        ('{"negative": "x", "edited_words": [1]}', "stop", "bad_schema"),
        ('{"negative":"bad\x07","edited_words":[]}', "stop", "not_json"),  # strict JSON: no raw controls
    ],
)
def test_parse_output(text, finish, expected):
    assert llm.parse_output(text, finish) == expected


@pytest.mark.parametrize(
    ("negative", "reason"),
    [
        ("   ", "empty"),
        ("a dog sitting on a red couch", "identical"),  # format is matched first, then compared
        ("A dog.", "length_ratio"),
        ("A dog sitting on a red couch " + "and a cat " * 20, "too_long"),
        ("A dog sitting on a red couch and", "shape.not_a_replacement"),  # an addition, not a replace_obj
        ("A man walking in the park with his kids", "shape.not_a_replacement"),  # another sentence
        ("A dog sitting on a green couch", None),
    ],
)
def test_validate_reasons(negative, reason):
    caption = "A dog sitting on a red couch."
    bounds = LengthBounds(max_chars=120, max_len_ratio=2.0)
    result = llm.validate_output(caption, ParsedOutput(negative, ()), "replace_obj", "llm:m@v1", bounds)
    if reason is None:
        assert result.text == "A dog sitting on a green couch."
    else:
        assert result == reason


@pytest.mark.parametrize(
    ("type_", "negative", "reason"),
    [
        ("replace_att", "A white cat on a red sofa.", None),
        ("replace_att", "A white cat sleeping on the big red sofa near a window.", "shape.not_a_replacement"),
        ("swap_att", "A black cat on a white sofa.", None),
        ("swap_att", "A black cat on a black sofa.", "shape.not_a_swap"),  # a replacement, not a swap
        ("swap_obj", "A sofa on a white black cat.", None),  # same words: a swap (checks judge the rest)
        ("add_obj", "A white cat and a dog on a black sofa.", None),
        ("add_att", "A white cat on a black sofa.", "shape.not_an_addition"),  # nothing added
        ("add_att", "A fluffy white cat on a black leather sofa in a big sunny living room.", "shape.not_an_addition"),
        ("negation", "A white cat on no sofa.", None),
        ("negation", "A white cat under a black sofa.", "shape.not_a_negation"),
        ("count", "Two white cats on a black sofa.", None),
    ],
)
def test_shape_matches_the_requested_type(type_, negative, reason):
    """A rewriting model's output must be an edit of the kind asked for, whatever else it is."""
    assert llm.shape_reason("A white cat on a black sofa.", negative, type_) == reason


def test_validate_uses_shared_checks_and_duplicates(check):
    caption = "A dog sitting on a red couch."
    gen = "llm:m@v1"
    dup = llm.validate_output(
        caption, ParsedOutput("A cat sitting on a red couch.", ()), "replace_obj", gen, LengthBounds(), check,
        existing=["A cat sitting on a red couch."],
    )  # fmt: skip
    assert dup == "duplicate"
    article = llm.validate_output(
        caption,
        ParsedOutput("A dog sitting on a orange couch.", ()),
        "replace_att",
        gen,
        LengthBounds(),
        check,
    )
    assert article == "check.article_agreement"
    hyper = llm.validate_output(
        caption,
        ParsedOutput("A animal sitting on a red couch.", ()),
        "replace_obj",
        gen,
        LengthBounds(),
        check,
    )
    assert isinstance(hyper, str) and hyper.startswith("check.")
    ok = llm.validate_output(
        caption,
        ParsedOutput("a cat sitting on a red couch", ("cat",)),
        "replace_obj",
        gen,
        LengthBounds(),
        check,
    )
    assert ok.text == "A cat sitting on a red couch."  # the positive's case and final period
    assert ok.type == "replace_obj" and ok.generator == gen
    assert (ok.edit.start, ok.edit.end, ok.edit.before, ok.edit.after) == (2, 5, "dog", "cat")


@pytest.mark.parametrize(
    ("caption", "negative", "span"),
    [
        ("A red car.", "A blue car.", (2, 5, "red", "blue")),
        ("A dog chasing a cat.", "A cat chasing a dog.", (2, 19, "dog chasing a cat", "cat chasing a dog")),
        ("a bus", "a red bus", (2, 2, "", "red ")),
        ("two dogs", "three dogs", (0, 3, "two", "three")),
    ],
)
def test_compute_edit_is_word_aligned(caption, negative, span):
    edit = llm.compute_edit(caption, negative)
    assert (edit.start, edit.end, edit.before, edit.after) == span
    assert caption[: edit.start] + edit.after + caption[edit.end :] == negative
    assert llm.compute_edit(caption, caption) is None


def test_request_seed_is_stable_and_31_bit():
    a = llm.request_seed(0, "rec-1", "replace_obj")
    assert a == llm.request_seed(0, "rec-1", "replace_obj")
    assert a != llm.request_seed(0, "rec-1", "replace_att") and a != llm.request_seed(
        1, "rec-1", "replace_obj"
    )
    assert 0 <= a < 2**31
    assert llm.generator_id("Qwen2.5-7B-Instruct", "v1") == "llm:Qwen2.5-7B-Instruct@v1"
