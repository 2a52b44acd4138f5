"""Validation of records and shard files against schema v1.

Reports *every* violation with the record id, rather than stopping at the first,
because the user fixing a dataset wants the whole list in one run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .record import NEGATIVE_TYPES, RECORD_SCHEMA, REQUIRED_FIELDS, SCHEMA_VERSION


@dataclass(frozen=True)
class Violation:
    """One problem: where (file, record id, field path) and what."""

    record_id: str | None
    field: str
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        rid = self.record_id if self.record_id is not None else "<no id>"
        return f"{where}record {rid!r}: {self.field}: {self.message}"


def _check_span(
    caption: str, span: Mapping[str, Any], path: str, rid: str | None, out: list[Violation]
) -> None:
    start, end = span.get("start"), span.get("end")
    if start is None or end is None:
        out.append(Violation(rid, path, "start/end must not be null"))
        return
    if not (0 <= start <= end <= len(caption)):
        out.append(Violation(rid, path, f"span [{start}, {end}) outside caption of length {len(caption)}"))
        return
    text = span.get("text")
    if text is not None and caption[start:end] != text:
        out.append(
            Violation(rid, path, f"text {text!r} != caption[{start}:{end}] = {caption[start:end]!r}")
        )


def validate_row(row: Mapping[str, Any]) -> list[Violation]:
    """Check one row (a ``Table.to_pylist()`` dict) for semantic violations."""
    out: list[Violation] = []
    rid = row.get("id")
    for name in REQUIRED_FIELDS:
        value = row.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(Violation(rid, name, "required field is null or empty"))
    caption = row.get("caption") or ""

    image = row.get("image")
    if image is not None and image.get("uri") is None and image.get("bytes") is None:
        out.append(Violation(rid, "image", "image struct has neither uri nor bytes"))

    graph = row.get("scene_graph")
    if graph is not None:
        objects = graph.get("objects") or []
        for i, obj in enumerate(objects):
            _check_span(caption, obj, f"scene_graph.objects[{i}]", rid, out)
            if obj.get("count") is not None and obj["count"] < 0:
                out.append(Violation(rid, f"scene_graph.objects[{i}].count", "negative count"))
            for j, att in enumerate(obj.get("attributes") or []):
                _check_span(caption, att, f"scene_graph.objects[{i}].attributes[{j}]", rid, out)
        for i, rel in enumerate(graph.get("relations") or []):
            path = f"scene_graph.relations[{i}]"
            for end in ("subject", "object"):
                idx = rel.get(end)
                if idx is None or not (0 <= idx < len(objects)):
                    out.append(Violation(rid, f"{path}.{end}", f"index {idx} not in objects"))
            _check_span(caption, {**rel, "text": None}, path, rid, out)

    for i, neg in enumerate(row.get("negatives") or []):
        path = f"negatives[{i}]"
        text = neg.get("text")
        if not text or not text.strip():
            out.append(Violation(rid, f"{path}.text", "empty negative"))
        elif text == caption:
            out.append(Violation(rid, f"{path}.text", "negative equals the positive caption"))
        if neg.get("type") not in NEGATIVE_TYPES:
            out.append(
                Violation(rid, f"{path}.type", f"{neg.get('type')!r} not in {list(NEGATIVE_TYPES)}")
            )
        if not neg.get("generator"):
            out.append(Violation(rid, f"{path}.generator", "generator must name who made it"))
        edit = neg.get("edit")
        if edit is not None:
            start, end = edit.get("start"), edit.get("end")
            if start is None or end is None or not (0 <= start <= end <= len(caption)):
                out.append(Violation(rid, f"{path}.edit", f"span [{start}, {end}) outside caption"))
            elif caption[start:end] != edit.get("before"):
                out.append(
                    Violation(
                        rid,
                        f"{path}.edit.before",
                        f"{edit.get('before')!r} != caption[{start}:{end}] = {caption[start:end]!r}",
                    )
                )
            elif text is not None and caption[:start] + (edit.get("after") or "") + caption[end:] != text:
                out.append(
                    Violation(rid, f"{path}.edit.after", "applying the edit to the caption does not give the negative")
                )
    return out


def validate_rows(rows: Iterable[Mapping[str, Any]]) -> list[Violation]:
    """Validate rows, including id uniqueness across them."""
    out: list[Violation] = []
    seen: set[str] = set()
    for row in rows:
        out.extend(validate_row(row))
        rid = row.get("id")
        if rid is not None:
            if rid in seen:
                out.append(Violation(rid, "id", "duplicate id"))
            seen.add(rid)
    return out


def validate_table(table: pa.Table) -> list[Violation]:
    """Schema check (types and metadata), then semantic checks of every row."""
    out: list[Violation] = []
    if not table.schema.equals(RECORD_SCHEMA, check_metadata=False):
        expected = {f.name: f.type for f in RECORD_SCHEMA}
        actual = {f.name: f.type for f in table.schema}
        for name, typ in expected.items():
            if name not in actual:
                out.append(Violation(None, name, "column missing"))
            elif actual[name] != typ:
                out.append(Violation(None, name, f"type {actual[name]} != expected {typ}"))
        for name in actual.keys() - expected.keys():
            out.append(Violation(None, name, "unexpected column"))
        if out:
            return out
    version = (table.schema.metadata or {}).get(b"schema_version")
    if version != SCHEMA_VERSION.encode():
        out.append(
            Violation(None, "<metadata>", f"schema_version {version!r} != {SCHEMA_VERSION!r}")
        )
    out.extend(validate_rows(table.to_pylist()))
    return out


def validate_file(path: str) -> list[Violation]:
    """Validate one Parquet shard; unreadable files are a violation, not an exception."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        return [Violation(None, "<file>", f"cannot read Parquet: {exc}", file=path)]
    return [
        Violation(v.record_id, v.field, v.message, file=path) for v in validate_table(table)
    ]
