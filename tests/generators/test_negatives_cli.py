"""`negforge negatives`: the scene graph and every negative of a caption."""

from __future__ import annotations

import json

from negforge.pipeline.cli import main


def test_prints_graph_and_typed_negatives(capsys):
    assert main(["negatives", "a brown dog chases a white cat"]) == 0
    out = capsys.readouterr().out
    assert "'dog' --chases--> 'cat'" in out
    assert "attributes=[brown]" in out
    for t in ("replace_obj", "replace_att", "swap_att", "negation", "count"):
        assert f"  {t}" in out
    assert "a white dog chases a brown cat" in out
    assert "a brown dog does not chase a white cat" in out


def test_json_types_and_seed(capsys):
    assert main(["negatives", "two dogs chasing a cat", "--types", "count", "swap_obj", "--seed", "3", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip())
    assert row["caption"] == "two dogs chasing a cat"
    assert [o["text"] for o in row["scene_graph"]["objects"]] == ["dogs", "cat"]
    assert {n["type"] for n in row["negatives"]} == {"count", "swap_obj"}
    for n in row["negatives"]:
        e = n["edit"]
        assert row["caption"][e["start"] : e["end"]] == e["before"]
    assert main(["negatives", "two dogs chasing a cat", "--types", "count", "--seed", "3", "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip())
    assert again["negatives"] == [n for n in row["negatives"] if n["type"] == "count"]


def test_unknown_type_is_an_error(capsys):
    assert main(["negatives", "a dog", "--types", "nope"]) == 2
    assert "available" in capsys.readouterr().out


def test_caption_without_objects(capsys):
    assert main(["negatives", "Hello!"]) == 0
    assert "(no objects)" in capsys.readouterr().out
