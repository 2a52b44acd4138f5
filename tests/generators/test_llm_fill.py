"""Slot-filling prompts (generators/llm_fill.py) and prompt families: slots, rendering, answers → negatives."""

from __future__ import annotations

import random

import pytest

from negforge.generators import llm_families, llm_fill
from negforge.generators.llm_fill import NONE_CHOICE, FillSlot

GEN = "llm:m@fill-v1"


@pytest.fixture(scope="module")
def template():
    return llm_fill.load_fill_prompts("fill-v1")


@pytest.fixture(scope="module")
def check(resources):
    from negforge.generators.checks import check_negative

    return lambda caption, text: check_negative(caption, text, resources)


def _slot(caption, type_, parse, resources, template, seed=0):
    return llm_fill.find_slot(caption, parse(caption), type_, resources, template, random.Random(seed))


def _all_slots(caption, type_, parse, resources, template):
    return llm_fill._SLOT_FINDERS[type_](caption, parse(caption), resources, template)


# ---------------------------------------------------------------- families and templates


@pytest.mark.parametrize(
    ("name", "family", "version", "chat"),
    [
        ("smollm2-135m-instruct", "smollm2", "fill-v1", True),
        ("SmolLM2-360M-Instruct", "smollm2", "fill-v1", True),
        ("gemma3-270m", "gemma3-base", "fill-v1", False),
        ("gemma-3-270m-q4_k_m", "gemma3-base", "fill-v1", False),
        ("gemma-3-270m-it", "instruct", "v1", True),
        ("Qwen2.5-7B-Instruct", "instruct", "v1", True),
    ],
)
def test_family_picks_prompt_and_rendering(name, family, version, chat):
    f = llm_families.family_for(name)
    assert (f.name, f.prompt_version, f.chat) == (family, version, chat)


def test_family_override_and_styles():
    assert llm_families.family_for("Qwen2.5-7B-Instruct", "smollm2").prompt_version == "fill-v1"
    with pytest.raises(ValueError, match="family must be one of"):
        llm_families.family_for("x", "llama")
    assert llm_families.prompt_style("v1") == "rewrite" and llm_families.prompt_style("fill-v1") == "fill"
    with pytest.raises(ValueError, match="prompt version must be one of"):
        llm_families.prompt_style("v9")


def test_fill_template_covers_its_types(template):
    assert template.version == "fill-v1"
    assert set(template.types) == set(llm_fill.FILL_TYPES)
    for spec in template.types.values():
        assert len(spec.examples) >= 2


def test_few_shot_answers_are_valid_negatives(template, resources, check, parse):
    """Each example answer, applied to its caption, must pass every check a model answer must pass."""
    for type_, spec in template.types.items():
        for ex in spec.examples:
            if ex.answer == NONE_CHOICE:
                continue
            if type_ == "swap_att":
                assert ex.answer in ex.options
                assert check(ex.caption, ex.answer) is None, ex
                continue
            obj = next((o for o in parse(ex.caption).objects if o.text == ex.slot), None)
            start = ex.caption.index(ex.slot)
            slot = FillSlot(type_, ex.slot, ex.label, start, start + len(ex.slot), plural=ex.slot.endswith("s"),
                            lexnames=llm_fill._noun_lexnames(ex.slot, resources),
                            choices=ex.options if ex.options and type_ == "replace_att" else ())  # fmt: skip
            result = llm_fill.process_fill(ex.caption, slot, ex.answer, "stop", GEN, resources, check)
            assert not isinstance(result, str), (type_, ex, result)
            assert type_ != "replace_obj" or obj is not None, f"{ex.slot!r} is not an object of {ex.caption!r}"


# ---------------------------------------------------------------- slots


def test_replace_obj_open_slot_for_an_animal(template, resources, parse):
    slots = _all_slots("A dog runs on the beach.", "replace_obj", parse, resources, template)
    dog = next(s for s in slots if s.slot == "dog")
    assert dog.label == "animal" and dog.constraint == "word" and not dog.choices
    assert {"dog", "dogs"} <= set(dog.forbidden)
    assert "noun.animal" in dog.lexnames


def test_replace_obj_places_stay_within_their_kind(template, resources, parse):
    beach = next(
        s for s in _all_slots("A dog runs on the beach.", "replace_obj", parse, resources, template) if s.slot == "beach"
    )
    assert beach.constraint == "choice" and "beach" not in beach.choices
    kinds = template.closed_classes["place_outdoor"]
    assert {kinds[c][0] for c in beach.choices} == {"ground"}  # never "on the lake"


def test_place_replacements_keep_the_article_right(template, resources, parse):
    """A bare mass noun ("through snow") takes a mass noun; "a/the street" takes a countable place."""
    mass = set(resources.vocab["mass_nouns"])
    snow = next(s for s in _all_slots("A child pushes a plow through snow.", "replace_obj", parse, resources, template)
                if s.slot == "snow")  # fmt: skip
    assert snow.choices and set(snow.choices) <= mass
    street = next(s for s in _all_slots("A dog runs down the street.", "replace_obj", parse, resources, template)
                  if s.slot == "street")  # fmt: skip
    assert street.choices and not set(street.choices) & mass


def test_person_slots_are_demographic_and_never_compatible(template, resources, parse, check):
    """A man may become a woman or a child, never a guy; with "his" in the caption, never a woman."""
    caption = "A man holds his hat."
    man = next(s for s in _all_slots(caption, "replace_obj", parse, resources, template) if s.slot == "man")
    assert "guy" not in man.choices and "man" not in man.choices
    assert "child" in man.choices and "woman" not in man.choices and "girl" not in man.choices
    # WordNet lists "boy" as a sense of "man": the shared checks would reject it, so it is not offered
    assert "boy" not in man.choices
    for choice in man.choices:  # every option the model may pick passes the checks
        assert not isinstance(llm_fill.process_fill(caption, man, choice, "stop", GEN, resources, check), str)
    women = next(
        s for s in _all_slots("Two women walk down a street.", "replace_obj", parse, resources, template)
        if s.slot == "women"
    )
    assert "men" in women.choices and "ladies" not in women.choices  # plural forms, compatible ones dropped
    young = next(
        s for s in _all_slots("A young boy rides a bike.", "replace_obj", parse, resources, template)
        if s.slot == "boy"
    )
    assert "girl" in young.choices and "man" not in young.choices  # "a young man" is not a different age
    roles = _all_slots("A skier goes down the slope.", "replace_obj", parse, resources, template)
    assert all(s.slot != "skier" for s in roles)  # a skier could be anyone


def test_replace_att_offers_only_values_that_suit_the_noun(template, resources, parse):
    slot = _slot("A brown dog runs on the grass.", "replace_att", parse, resources, template)
    assert slot.slot == "brown" and slot.label == "color" and slot.constraint == "choice"
    allowed = set(resources.vocab["noun_attributes"]["animal_pet"])
    assert set(slot.choices) <= allowed and "brown" not in slot.choices
    assert "green" not in slot.choices  # no "green dog"
    assert _slot("A young boy rides a bike.", "replace_att", parse, resources, template) is None  # the noun fixes the age


def test_replace_rel_offers_verbs_both_ends_fit_inflected_like_the_slot(template, resources, parse, check):
    """The verb slot is the rule's own (``verb_slot``); its list is the relaxed one, in the slot's form."""
    caption = "A man is riding a horse on the beach ."
    slot = _slot(caption, "replace_rel", parse, resources, template)
    assert slot is not None and slot.slot == "riding" and slot.choices[-1] == NONE_CHOICE
    verbs = slot.choices[:-1]
    assert verbs and "riding" not in verbs and all(v.endswith("ing") for v in verbs), verbs
    assert len(slot.choices) <= llm_fill.MAX_CHOICES + 1
    choice = verbs[0]
    neg = llm_fill.process_fill(caption, slot, choice, "stop", GEN, resources, check)
    assert not isinstance(neg, str), neg
    assert neg.text == caption.replace("riding", choice) and neg.type == "replace_rel"
    assert llm_fill.process_fill(caption, slot, NONE_CHOICE, "stop", GEN, resources, check) == "fill.declined"
    # a vague verb ("playing with") is no slot, exactly as the rule leaves it
    assert _slot("Two kids are playing with a ball .", "replace_rel", parse, resources, template) is None


def test_replace_rel_fill_reaches_where_the_rule_does_not(template, resources, parse):
    """The relaxed list is a superset of the rule's: the LLM adds choices the counts cannot vouch for."""
    from negforge.generators.rules.replace_rel import verb_options, verb_slot

    caption = "A woman drags a sled up a hill ."
    graph = parse(caption)
    vs = next(v for r in graph.relations if (v := verb_slot(caption, graph, r, resources)) is not None)
    strict = {v for v, _ in verb_options(vs.key, vs.subj, vs.obj, resources)}
    relaxed = {v for v, _ in verb_options(vs.key, vs.subj, vs.obj, resources, relaxed=True)}
    assert strict <= relaxed and relaxed - strict


def test_swap_att_candidates_swap_or_move_attributes(template, resources, parse):
    slot = _slot("A white dog chases a black cat.", "swap_att", parse, resources, template)
    assert slot.choices[-1] == NONE_CHOICE
    assert "A black dog chases a white cat." in slot.choices
    for text in slot.choices[:-1]:
        edit = slot.edits[text]
        caption = "A white dog chases a black cat."
        assert caption[: edit.start] + edit.after + caption[edit.end :] == text
    assert _slot("A dog chases a cat.", "swap_att", parse, resources, template) is None
    # no moves: the grass's color is unknown, so "the black grass" would not be clearly false
    assert _slot("A black dog runs on the grass.", "swap_att", parse, resources, template) is None
    # a shaded color moves whole or not at all: no "a blue cap and light black shorts"
    shaded = _slot("A kid in a black cap and light blue shorts playing tennis .", "swap_att", parse, resources, template)
    assert shaded is None or not any("light black" in c for c in shaded.choices), shaded


def test_choices_are_shuffled_deterministically(template, resources, parse):
    a = _slot("A brown dog runs on the grass.", "replace_att", parse, resources, template, seed=1)
    b = _slot("A brown dog runs on the grass.", "replace_att", parse, resources, template, seed=1)
    orders = {_slot("A brown dog runs on the grass.", "replace_att", parse, resources, template, seed=s).choices
              for s in range(6)}  # fmt: skip
    assert a == b and len(orders) > 1


def test_no_graph_no_slot(template, resources):
    assert llm_fill.find_slot("A dog.", None, "replace_obj", resources, template, random.Random(0)) is None


# ---------------------------------------------------------------- rendering


def test_rendering_chat_and_plain(template, resources, parse):
    slot = _slot("A dog runs on the beach.", "replace_obj", parse, resources, template)
    messages = llm_fill.build_fill_messages(template, "A dog runs on the beach.", slot)
    assert messages[0]["role"] == "system"
    n_examples = len(template.types["replace_obj"].examples)
    assert [m["role"] for m in messages[1:]] == ["user", "assistant"] * n_examples + ["user"]
    assert "Caption: A dog runs on the beach." in messages[-1]["content"]
    plain = llm_fill.render_fill_prompt(template, "A dog runs on the beach.", slot)
    assert plain.endswith("Write only the new word." + template.answer_prefix)
    assert f"{template.answer_prefix}camel" in plain  # few-shot answers follow their prompts
    seen = []
    assert llm_fill.render_fill_prompt(template, "x", slot, chat=lambda m: seen.append(m) or "CHAT") == "CHAT"
    assert seen[0] == llm_fill.build_fill_messages(template, "x", slot)


def test_closed_lists_are_shown_to_the_model(template, resources, parse):
    caption = "A man holds his hat."
    slot = next(s for s in _all_slots(caption, "replace_obj", parse, resources, template) if s.slot == "man")
    last = llm_fill.build_fill_messages(template, caption, slot)[-1]["content"]
    assert "Choose one of: " + ", ".join(slot.choices) in last


# ---------------------------------------------------------------- answers


def _obj_slot(caption, word, resources, plural=False):
    start = caption.index(word)
    return FillSlot("replace_obj", word, "animal", start, start + len(word), plural,
                    llm_fill._noun_lexnames(word, resources), forbidden=(word, word + "s"))  # fmt: skip


@pytest.mark.parametrize(
    ("caption", "word", "plural", "answer", "expected"),
    [
        ("A dog runs on the beach.", "dog", False, "cat", "A cat runs on the beach."),
        ("A dog runs on the beach.", "dog", False, "elephant", "An elephant runs on the beach."),  # article follows
        ("Two dogs run on the beach.", "dogs", True, "cat", "Two cats run on the beach."),  # number follows
        ("A dog runs on the beach.", "dog", False, "dog", "fill.copy"),
        ("A dog runs on the beach.", "dog", False, "beach", "fill.copy"),  # a word the caption has
        ("A dog runs on the beach.", "dog", False, "pawsadoodle", "fill.not_a_word"),
        ("A dog runs on the beach.", "dog", False, "happiness", "fill.off_class"),
        ("A dog runs on the beach.", "dog", False, "puppy", "check.hyponym"),  # the shared checks run last
        ("A dog runs on the beach.", "dog", False, "", "empty"),
    ],
)
def test_word_answers(caption, word, plural, answer, expected, resources, check):
    result = llm_fill.process_fill(caption, _obj_slot(caption, word, resources, plural), answer, "stop", GEN,
                                   resources, check)  # fmt: skip
    if expected.startswith(("fill.", "check.", "empty")):
        assert result == expected
    else:
        assert result.text == expected and result.type == "replace_obj" and result.generator == GEN
        e = result.edit
        assert caption[: e.start] + e.after + caption[e.end :] == expected


def test_choice_answers(resources, check):
    caption = "A white dog chases a black cat."
    swapped = "A black dog chases a white cat."
    from negforge.schemas import Edit

    slot = FillSlot("swap_att", "", "attributes", choices=(swapped, NONE_CHOICE),
                    edits={swapped: Edit(2, 25, "white dog chases a black", "black dog chases a white")})  # fmt: skip
    neg = llm_fill.process_fill(caption, slot, swapped, "stop", GEN, resources, check)
    assert neg.text == swapped and neg.type == "swap_att" and neg.edit.before == "white dog chases a black"
    assert llm_fill.process_fill(caption, slot, NONE_CHOICE, "stop", GEN, resources, check) == "fill.declined"
    assert llm_fill.process_fill(caption, slot, "A red dog.", "stop", GEN, resources, check) == "fill.not_a_choice"
    assert llm_fill.process_fill(caption, slot, swapped, "length", GEN, resources, check) == "truncated"
    assert llm_fill.process_fill(caption, slot, swapped, "stop", GEN, resources, check, [swapped]) == "duplicate"
    att = FillSlot("replace_att", "white", "color", 2, 7, choices=("orange", "gray"))
    assert llm_fill.process_fill(caption, att, "orange", "stop", GEN, resources, check).text == (
        "An orange dog chases a black cat."
    )
