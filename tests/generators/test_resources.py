"""Resources: WordNet relations, sibling lists and frequencies the rules rely on."""

from __future__ import annotations

from negforge.generators.resources import load_resources


def test_loaded_once():
    assert load_resources() is load_resources()


def test_lexical_relations(resources):
    assert resources.lexical_relation("dog", "dog") == "same"
    assert resources.lexical_relation("dogs", "dog") == "same"
    assert resources.lexical_relation("sofa", "couch") == "synonym"
    assert resources.lexical_relation("dog", "animal") == "hypernym"
    assert resources.lexical_relation("dog", "puppy") == "hyponym"
    assert resources.lexical_relation("dog", "cat") is None
    assert resources.lexical_relation("big", "large", "a") == "synonym"
    assert resources.lexical_relation("big", "small", "a") is None


def test_cohyponyms_are_sorted_common_and_unrelated(resources):
    sibs = resources.noun_cohyponyms("bowl")
    assert sibs and len(set(sibs)) == len(sibs)
    for word in sibs:
        assert word.islower()
        assert resources.frequency(word, "n") > 0
        assert resources.lexical_relation("bowl", word) is None
    assert resources.noun_cohyponyms("bowl") == sibs


def test_antonyms_and_groups(resources):
    assert resources.adjective_antonyms("small")[0] == "large"
    assert "color" in resources.adjective_group["red"]
    assert "shape" in resources.groups_of_noun("squares")
    assert resources.groups_of_noun("tennis rackets") == resources.groups_of_noun("tennis racket")
