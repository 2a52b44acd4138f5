"""Colors worn with no garment named ("a girl in red"): found, replaced and exchanged."""

from __future__ import annotations

import random

import pytest

from negforge.generators import registry
from negforge.generators.rules.worn import worn_colors


@pytest.mark.parametrize(
    "caption, want",
    [
        ("A girl in red runs on the beach .", ["red"]),
        ("A soccer player in red chases a player in blue .", ["red", "blue"]),
        ("A man dressed in black jumps over a fence .", ["black"]),
        ("Someone in blue is skiing .", ["blue"]),
        ("The woman , who is in black , smiles .", ["black"]),
        ("A boy wearing green holds a ball", ["green"]),
        ("Two girls , one in pink and one in white , play .", ["pink", "white"]),
        # a garment's color is its attribute already; a pattern stays whole
        ("Two boys in red shorts play soccer .", []),
        ("A woman in red and white walks .", []),
        ("A man in red-and-white stands .", []),
        ("A man in dark blue stands .", []),
        ("A motocross rider wearing red , white and black with a white helmet .", []),
        # no one wears it
        ("A dog swims in blue water .", []),
        ("A wall painted in red .", []),
        ("A dog in green grass .", []),
    ],
)
def test_worn_colors_found(caption, want, parse, resources):
    found = worn_colors(caption, parse(caption), resources)
    assert [w.text for w in found] == want
    assert all(caption[w.start : w.end] == w.text for w in found)


def _negatives(neg_type: str, caption: str, parse, resources) -> set[str]:
    spec = registry.select([neg_type])[0]
    graph = parse(caption)
    return {n.text for seed in range(6) for n in spec.fn(caption, graph, random.Random(seed), resources)}


def test_replace_att_changes_a_worn_color(parse, resources):
    caption = "A girl in red runs on the beach ."
    texts = _negatives("replace_att", caption, parse, resources)
    palette = set(resources.vocab["adjective_groups"]["color"]) - {"red"}
    assert texts and all(any(t == caption.replace("red", c) for c in palette) for t in texts), sorted(texts)
    # never a color of the same look, nor one the caption already names
    texts = _negatives("replace_att", "A man in grey talks to a woman in blue .", parse, resources)
    assert not any(t.startswith(("A man in silver", "A man in gray", "A man in blue")) for t in texts), sorted(texts)


def test_swap_att_exchanges_worn_colors_of_two_wearers(parse, resources):
    texts = _negatives("swap_att", "A soccer player in red chases a player in blue .", parse, resources)
    assert "A soccer player in blue chases a player in red ." in texts, sorted(texts)
    texts = _negatives("swap_att", "A man in black with a red hat .", parse, resources)
    assert "A man in red with a black hat ." in texts, sorted(texts)


@pytest.mark.parametrize(
    "caption",
    [
        "Two girls , one in pink and one in white , play .",  # either one may be in pink
        "Two men , one in red and another in blue .",
        "Two girls , one in pink and one in a white dress , play .",  # the dress's wearer is unknown
    ],
)
def test_swap_att_leaves_unordered_wearers_alone(caption, parse, resources):
    assert not _negatives("swap_att", caption, parse, resources)
