"""Golden scene graphs: objects (compounds whole), counts, attributes and relations, with exact offsets."""

from __future__ import annotations

import pytest
from golden_graphs import GOLDEN

from negforge.generators.scene_graph import describe, parse_captions


@pytest.fixture(scope="module")
def graphs(nlp):
    captions = list(GOLDEN)
    return dict(zip(captions, parse_captions(nlp, captions, batch_size=16), strict=True))


def test_at_least_sixty_golden_captions():
    assert len(GOLDEN) >= 60


@pytest.mark.parametrize("caption", list(GOLDEN))
def test_golden_graph(caption, graphs):
    graph = graphs[caption]
    objects, relations = GOLDEN[caption]
    got_objects = [(o.text, o.count, [a.text for a in o.attributes]) for o in graph.objects]
    got_relations = [(graph.objects[r.subject].text, r.predicate, graph.objects[r.object].text) for r in graph.relations]
    assert got_objects == [tuple(o) for o in objects], describe(caption, graph)
    assert got_relations == [tuple(r) for r in relations], describe(caption, graph)


@pytest.mark.parametrize("caption", list(GOLDEN))
def test_offsets_index_the_caption(caption, graphs):
    graph = graphs[caption]
    for obj in graph.objects:
        assert caption[obj.start : obj.end] == obj.text
        for att in obj.attributes:
            assert caption[att.start : att.end] == att.text
    for rel in graph.relations:
        assert caption[rel.start : rel.end] == rel.predicate
        assert 0 <= rel.subject < len(graph.objects) and 0 <= rel.object < len(graph.objects)
        assert rel.subject != rel.object


def test_lemmas_are_singular_lowercase(graphs):
    graph = graphs["a pair of tennis rackets on top of the table"]
    assert graph.objects[0].lemma == "tennis racket"
    assert graphs["A DOG ON A COUCH"].objects[0].lemma == "dog"


def test_spatial_nouns_are_not_objects(graphs):
    for caption in ("A man riding a horse in front of a red barn.", "a small red circle to the left of two blue squares"):
        texts = {o.text for o in graphs[caption].objects}
        assert not texts & {"front", "left", "top"}


def test_unused_pipes_disabled(nlp):
    assert "ner" not in nlp.pipe_names



@pytest.mark.parametrize(
    ("caption", "objects"),
    [
        ("Two buses parked side by side.", ["buses"]),
        ("Two men standing face to face in a room.", ["men", "room"]),
        ("Two dogs looking at each other.", ["dogs"]),
    ],
)
def test_idioms_name_no_objects(caption, objects, parse):
    assert [o.text for o in parse(caption).objects] == objects


@pytest.mark.parametrize(
    ("caption", "objects", "attributes"),
    [
        ("A black dog swimming in a lake.", ["dog", "lake"], {"dog": ["black"]}),
        ("A zebra standing alone in a field.", ["zebra", "field"], {}),
        ("A dog near a swimming pool.", ["dog", "swimming pool"], {}),
    ],
)
def test_participle_read_as_compound_noun(caption, objects, attributes, parse):
    """spaCy tags "dog swimming" as one compound noun; the object is the dog, "black" is its colour."""
    graph = parse(caption)
    assert [o.text for o in graph.objects] == objects
    for obj in graph.objects:
        assert [a.text for a in obj.attributes] == attributes.get(obj.text, [])
