"""The card of a real build states exactly what its manifest says, key by key.

A real ``negforge build`` (JSONL + a gzipped CSV, dead letters at read and
dedup, two splits) writes the manifest and the card. The card is parsed back
(its tables and JSON blocks, by their headers) into ``{manifest key: value}``
and compared with the manifest's every leaf, both ways: a manifest field the
card does not show, a card row the manifest does not have, or one differing
value fails. A second test perturbs each manifest leaf in turn and checks the
comparison notices, so this test cannot pass by comparing nothing.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from negforge.pipeline import card
from negforge.pipeline.cli import main
from negforge.pipeline.manifest import read_manifest

CAPTIONS = [
    ("j1", "A brown dog sitting on a red sofa.", None),
    ("j2", "Two men riding horses on the beach.", "validation"),
    ("j3", "A woman holding an umbrella next to a bus.", None),
    ("j4", "A cat on top of a wooden table.", "validation"),
    ("j5", "A child eating a sandwich in a kitchen.", None),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("card")
    inputs = root / "in"
    inputs.mkdir()
    lines = [json.dumps({"id": i, "caption": c, **({"split": s} if s else {})}) for i, c, s in CAPTIONS]
    lines.insert(2, '{"id": "broken", "caption": ')  # read: malformed JSON
    lines.append(json.dumps({"id": "j1", "caption": "A duplicate id."}))  # dedup
    lines.append(json.dumps({"id": "bad-split", "caption": "A red kite.", "split": "val-2014"}))  # read: split
    (inputs / "a.jsonl").write_text("\n".join(lines) + "\n")
    csv_text = "id,caption\nc1,A yellow taxi parked near a fire hydrant.\nc2,A plate of pasta with a fork.\n"
    (inputs / "b.csv.gz").write_bytes(gzip.compress(csv_text.encode(), mtime=0))
    out = root / "out"
    assert main(["build", "--input", str(inputs), "--output", str(out), "--shards", "2",
                 "--license", "cc-by-4.0"]) == 0  # fmt: skip
    return inputs, out


# ---------------------------------------------------------------- reading the card back


def _cells(line: str) -> list[str]:
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [p.strip().replace("\\|", "|").strip("`") for p in parts]


def _tables(text: str) -> list[tuple[tuple[str, ...], list[list[str]]]]:
    tables, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            tables.append((tuple(_cells(block[0])), [_cells(row) for row in block[2:]]))
            block = []
    return tables


def _json_block(text: str, after: str) -> Any:
    start = text.index("```json\n", text.index(after)) + len("```json\n")
    return json.loads(text[start : text.index("```", start)])


def _leaves(value: Any, path: str) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_leaves(v, f"{path}.{k}" if path else k))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(_leaves(v, f"{path}[{i}]"))
        return out
    return {path: value}


def card_claims(text: str) -> dict[str, str | Any]:
    """``{manifest leaf path: what the card shows}`` from the card's tables and JSON blocks."""
    claims: dict[str, Any] = {}
    by_header = {
        card.SPLITS_HEADER: lambda r: {f"counts.records_per_split.{r[0]}": r[1]},
        card.TYPES_HEADER: lambda r: {f"counts.negatives_per_type.{r[0]}": r[1]},
        card.GENERATORS_HEADER: lambda r: {f"counts.negatives_per_generator.{r[0]}": r[1]},
        card.ACCOUNTING_HEADER: lambda r: {f"counts.{r[0]}": r[1]},
        card.STAGES_HEADER: lambda r: {f"counts.dead_lettered_by_stage.{r[0]}": r[1]},
        card.VERSIONS_HEADER: lambda r: {f"versions.{r[0]}": r[1]},
        card.RUN_HEADER: lambda r: {r[0]: r[1]},
    }
    not_manifest = {("type", "positive", "hard negative", "generator"), ("field", "meaning")}
    for header, rows in _tables(text):
        if header == card.INPUTS_HEADER:
            for i, (path, size, sha) in enumerate(rows):
                claims.update({f"inputs[{i}].path": path, f"inputs[{i}].size_bytes": size, f"inputs[{i}].sha256": sha})
        elif header in by_header:
            for row in rows:
                claims.update(by_header[header](row))
        else:
            assert header in not_manifest, f"card table {header} is not mapped to the manifest"
    claims.update(_leaves(_json_block(text, "Generation config:"), "config"))
    if "Stage statistics" in text:
        claims.update(_leaves(_json_block(text, "Stage statistics"), "stats"))
    return claims


def _same(shown: Any, value: Any) -> bool:
    if not isinstance(shown, str):  # from a JSON block: compared as JSON values
        return shown == value and type(shown) is type(value)
    if isinstance(value, bool) or value is None:
        return shown == json.dumps(value)
    if isinstance(value, int):
        return shown.replace(",", "").isdigit() and int(shown.replace(",", "")) == value
    if isinstance(value, float):
        return float(shown) == value
    return shown == value


def disagreements(text: str, manifest_json: dict[str, Any]) -> list[str]:
    claims = card_claims(text)
    leaves = _leaves(manifest_json, "")
    problems = [f"card does not show {k} = {v!r}" for k, v in leaves.items() if k not in claims]
    problems += [f"card shows {k} = {v!r}, the manifest has no such key" for k, v in claims.items() if k not in leaves]
    problems += [
        f"{k}: card shows {claims[k]!r}, manifest says {v!r}"
        for k, v in leaves.items()
        if k in claims and not _same(claims[k], v)
    ]
    return problems


# ---------------------------------------------------------------- tests


def test_card_and_manifest_agree_on_every_key(built):
    _, out = built
    manifest_json = json.loads((out / "manifest.json").read_text())
    text = (out / "README.md").read_text()
    assert disagreements(text, manifest_json) == []
    assert len(_leaves(manifest_json, "")) > 60  # versions, config, inputs, counts, stats... all compared


def test_any_changed_manifest_key_is_caught(built):
    """Perturb each leaf of the manifest in turn: the comparison names exactly that key."""
    _, out = built
    manifest_json = json.loads((out / "manifest.json").read_text())
    text = (out / "README.md").read_text()
    leaves = _leaves(manifest_json, "")
    for path, value in leaves.items():
        changed = copy.deepcopy(manifest_json)
        node, key = _parent(changed, path)
        node[key] = (
            (not value) if isinstance(value, bool)
            else value + 1 if isinstance(value, (int, float))
            else "other" if value is None
            else value + "x"
        )  # fmt: skip
        problems = disagreements(text, changed)
        assert len(problems) == 1 and path in problems[0], (path, problems)
    # A key the card reads but the manifest never writes is caught too (the old card read counts.by_stage).
    renamed = copy.deepcopy(manifest_json)
    renamed["counts"]["by_stage"] = renamed["counts"].pop("dead_lettered_by_stage")
    assert any("counts.by_stage" in p for p in disagreements(text, renamed))


def _parent(root: Any, path: str) -> tuple[Any, Any]:
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node = root
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = parts[-1]
    return node, int(last[1:-1]) if last.startswith("[") else last


def test_inputs_show_true_size_and_sha256(built):
    inputs, out = built
    manifest = read_manifest(str(out))
    expected = {
        str(p): (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for p in sorted(inputs.iterdir())
    }
    assert {i.path: (i.size_bytes, i.sha256) for i in manifest.inputs} == expected
    rows = next(rows for header, rows in _tables((out / "README.md").read_text()) if header == card.INPUTS_HEADER)
    assert [(r[0], int(r[1].replace(",", "")), r[2]) for r in rows] == [(p, *v) for p, v in expected.items()]
    assert all(size > 0 for size, _ in expected.values())  # the gzipped CSV: its stored (compressed) bytes


def test_dead_letter_table_counts_the_error_shards(built):
    _, out = built
    letters = [row for p in sorted((out / "errors").glob("*.parquet")) for row in pq.read_table(p).to_pylist()]
    by_stage = Counter(row["stage"] for row in letters)
    assert by_stage == {"read": 2, "dedup": 1}
    assert any("record 'bad-split': split 'val-2014' is not a valid split name" in r["error"] for r in letters)
    manifest = read_manifest(str(out))
    assert manifest.counts.dead_lettered_by_stage == dict(by_stage)
    rows = next(rows for header, rows in _tables((out / "README.md").read_text()) if header == card.STAGES_HEADER)
    assert {stage: int(n) for stage, n in rows} == dict(by_stage)


def test_split_rows_match_the_shards(built):
    _, out = built
    found: Counter[str] = Counter()
    for path in (out / "data").glob("*.parquet"):
        found[path.name.split("-")[0]] += pq.read_metadata(path).num_rows
    assert found == {"train": 5, "validation": 2}
    assert read_manifest(str(out)).counts.records_per_split == dict(found)
    rows = next(rows for header, rows in _tables((out / "README.md").read_text()) if header == card.SPLITS_HEADER)
    assert {r[0]: int(r[1]) for r in rows} == dict(found)


def test_card_refuses_a_manifest_that_disagrees_with_the_shards(built, tmp_path):
    import dataclasses

    _, out = built
    manifest = read_manifest(str(out))
    wrong = dataclasses.replace(
        manifest, counts=dataclasses.replace(manifest.counts, records_per_split={"train": 5, "validation": 3})
    )
    with pytest.raises(card.CardError, match="records per split"):
        card.build_card(str(out), wrong)
