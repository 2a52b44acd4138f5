"""Schema v1: dataclass <-> row round trip, Parquet metadata, validator findings."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from negforge.schemas import (
    NEGATIVE_TYPES,
    RECORD_SCHEMA,
    SCHEMA_VERSION,
    Attribute,
    CaptionRecord,
    Edit,
    ImageRef,
    Negative,
    Relation,
    SceneGraph,
    SceneObject,
    Scores,
    derive_id,
    from_row,
    records_to_table,
    to_row,
    validate_file,
    validate_rows,
    validate_table,
)

CAPTION = "A brown dog on a red sofa."


def _record(**overrides) -> CaptionRecord:
    graph = SceneGraph(
        objects=(
            SceneObject("dog", "dog", 8, 11, 1, (Attribute("brown", "brown", 2, 7),)),
            SceneObject("sofa", "sofa", 21, 25, 1, (Attribute("red", "red", 17, 20),)),
        ),
        relations=(Relation(0, "on", 1, 12, 14),),
    )
    neg = Negative(
        "A brown dog on a blue sofa.",
        "replace_att",
        "rule:replace_att@1",
        Edit(17, 20, "red", "blue"),
        Scores(fluency_nll=3.5, text_sim=None, plausibility=None),
    )
    base = dict(
        id="r1",
        caption=CAPTION,
        source="unit",
        split="train",
        image=ImageRef(uri="img/1.jpg", width=640, height=480),
        scene_graph=graph,
        negatives=(neg,),
    )
    base.update(overrides)
    return CaptionRecord(**base)


def test_round_trip_through_parquet_keeps_every_field():
    record = _record()
    buf = io.BytesIO()
    pq.write_table(records_to_table([record]), buf)
    table = pq.read_table(io.BytesIO(buf.getvalue()))
    assert table.schema.metadata[b"schema_version"] == SCHEMA_VERSION.encode()
    assert from_row(table.to_pylist()[0]) == record


def test_nullable_parts_round_trip():
    record = CaptionRecord(id="x", caption="a cat", source="s")
    assert from_row(records_to_table([record]).to_pylist()[0]) == record
    assert to_row(record)["scene_graph"] is None


def test_types_use_sugarcrepe_names():
    assert NEGATIVE_TYPES[:7] == ("replace_obj", "replace_att", "replace_rel", "swap_obj", "swap_att", "add_obj", "add_att")
    assert {"negation", "count", "shuffle"} <= set(NEGATIVE_TYPES)


def test_derive_id_is_stable_and_separates_fields():
    assert derive_id("s", "ab", "c") == derive_id("s", "ab", "c")
    assert derive_id("s", "ab", "c") != derive_id("s", "a", "bc")
    assert len(derive_id("s", "cap", None)) == 40


def test_valid_table_has_no_violations():
    assert validate_table(records_to_table([_record(), _record(id="r2")])) == []


@pytest.mark.parametrize(
    "mutate, field_part, message_part",
    [
        (lambda r: {**r, "caption": "  "}, "caption", "null or empty"),
        (lambda r: {**r, "negatives": [{**r["negatives"][0], "text": r["caption"]}]}, "negatives[0].text", "equals"),
        (lambda r: {**r, "negatives": [{**r["negatives"][0], "type": "paraphrase"}]}, "negatives[0].type", "not in"),
        (lambda r: {**r, "negatives": [{**r["negatives"][0], "edit": {"start": 17, "end": 20, "before": "blue", "after": "x"}}]},
         "negatives[0].edit.before", "!="),
        (lambda r: {**r, "negatives": [{**r["negatives"][0], "generator": ""}]}, "negatives[0].generator", "who made it"),
        (lambda r: {**r, "scene_graph": {**r["scene_graph"], "relations": [{"subject": 0, "predicate": "on", "object": 9, "start": 12, "end": 14}]}},
         "scene_graph.relations[0].object", "not in objects"),
        (lambda r: {**r, "scene_graph": {**r["scene_graph"], "objects": [{**r["scene_graph"]["objects"][0], "start": 9}]}},
         "scene_graph.objects[0]", "caption["),
        (lambda r: {**r, "image": {"uri": None, "bytes": None, "width": 1, "height": 1}}, "image", "neither uri nor bytes"),
    ],
)
def test_validator_reports_each_violation_with_record_id(mutate, field_part, message_part):
    row = mutate(to_row(_record()))
    violations = validate_rows([row])
    assert violations, "violation not detected"
    assert any(v.field == field_part and message_part in v.message and v.record_id == "r1" for v in violations), violations


def test_validator_reports_all_violations_not_just_first():
    rows = [to_row(_record(id="a", caption="")), to_row(_record(id="a"))]
    violations = validate_rows(rows)
    fields = {v.field for v in violations}
    assert "caption" in fields and "id" in fields
    assert str(violations[0]).startswith("record 'a'")


def test_validate_table_flags_schema_mismatch():
    table = pa.table({"id": ["x"], "caption": ["y"]})
    violations = validate_table(table)
    assert any(v.field == "negatives" and "missing" in v.message for v in violations)


def test_validate_file_reports_unreadable_file(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    (v,) = validate_file(str(bad))
    assert v.file == str(bad) and "cannot read Parquet" in v.message


def test_schema_declares_version_metadata():
    assert RECORD_SCHEMA.metadata[b"schema_version"] == b"1"
