"""End-to-end builds on DirectRunner: accounting, dead letters, determinism, CLI behaviour."""

from __future__ import annotations

import json
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from negforge.pipeline.cli import main
from negforge.schemas import from_row, validate_file

GOOD = [
    "A brown dog sitting on a red sofa.",
    "Two men riding horses on the beach.",
    "A woman holding an umbrella next to a bus.",
    "A cat on top of a wooden table.",
    "A child eating a sandwich in a kitchen.",
    "Three birds on a power line above a street.",
]


def _write_inputs(root):
    """Mixed good/bad input: every kind of bad row the issue lists, plus good rows."""
    root.mkdir()
    lines = [json.dumps({"id": f"j{i}", "caption": c}) for i, c in enumerate(GOOD)]
    lines.insert(3, '{"id": "broken", "caption": ')  # malformed JSON line in the middle
    lines.append(json.dumps({"id": "j0", "caption": "A duplicate id."}))  # duplicate of j0
    lines.append(json.dumps({"id": "blank", "caption": "   "}))
    lines.append(json.dumps({"id": "huge", "caption": "word " * 20_000}))  # 100 kB caption
    (root / "a.jsonl").write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "latin1", "caption": "caf\xe9"}\n')
    (root / "b.csv").write_text("id,caption,url\nc1,A yellow taxi parked near a fire hydrant.,taxi.jpg\nc2,,x.jpg\n")
    (root / "nocap.csv").write_text("id,text\nn1,A red kite.\n")
    (root / "empty.jsonl").write_bytes(b"")
    pq.write_table(pa.table({"caption": ["A plate of pasta with a fork."], "id": ["p1"]}), root / "c.parquet")
    (root / "corrupt.parquet").write_bytes(b"PAR1 garbage")
    with tarfile.open(root / "d.tar", "w") as tar:
        import io as _io

        for name, data in {"k/1.txt": b"A surfer riding a wave.", "k/1.jpg": b"img"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, _io.BytesIO(data))
    (root / "e.tar").write_bytes(b"\x00" * 100 + b"not a tar")
    return root


EXPECTED_WRITTEN = {"j0", "j1", "j2", "j3", "j4", "j5", "c1", "p1", "k/1"}
EXPECTED_DEAD = {
    ("a.jsonl", "malformed JSON"),
    ("a.jsonl", "duplicate id"),
    ("a.jsonl", "whitespace"),
    ("a.jsonl", "max_caption_chars"),
    ("a.jsonl", "not valid UTF-8"),
    ("b.csv", "empty"),
    ("nocap.csv", "no 'caption' column"),
    ("empty.jsonl", "file is empty"),
    ("corrupt.parquet", "corrupt or unreadable Parquet"),
    ("e.tar", "corrupt or truncated tar"),
}


def _build(inputs, out, *extra):
    return main(["build", "--input", str(inputs), "--output", str(out), "--shards", "3", "--seed", "1", *extra])


@pytest.fixture(scope="module")
def mixed_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    inputs = _write_inputs(root / "in")
    out = root / "out"
    assert _build(inputs, out) == 0
    return inputs, out


def _rows(out):
    rows = []
    for path in sorted((out / "data").glob("*.parquet")):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def _errors(out):
    return [row for p in sorted((out / "errors").glob("*.parquet")) for row in pq.read_table(p).to_pylist()]


def test_every_input_unit_is_written_or_dead_lettered(mixed_build):
    _, out = mixed_build
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert {r["id"] for r in _rows(out)} == EXPECTED_WRITTEN
    errors = _errors(out)
    found = {(e["input"].split("/")[-1].split(":")[0].split("#")[0], e["error"]) for e in errors}
    for name, reason in EXPECTED_DEAD:
        assert any(n == name and reason in err for n, err in found), (name, reason, sorted(found))
    assert counts["written"] == len(EXPECTED_WRITTEN)
    assert counts["dead_lettered"] == len(errors) == len(EXPECTED_DEAD)
    assert counts["read"] == counts["written"] + counts["dead_lettered"]
    assert counts["dead_lettered_by_stage"] == {"dedup": 1, "read": len(EXPECTED_DEAD) - 1}


def test_duplicate_id_keeps_the_first_in_input_order(mixed_build):
    _, out = mixed_build
    (j0,) = [r for r in _rows(out) if r["id"] == "j0"]
    assert j0["caption"] == GOOD[0]


def test_shards_are_valid_sorted_and_placed_by_crc32(mixed_build):
    from negforge.pipeline.errors import DeadLetter
    from negforge.pipeline.sinks import shard_index

    _, out = mixed_build
    files = sorted((out / "data").glob("*.parquet"))
    assert [f.name for f in files] == [f"train-{i:05d}-of-00003.parquet" for i in range(3)]
    for i, f in enumerate(files):
        assert validate_file(str(f)) == []
        ids = pq.read_table(f).column("id").to_pylist()
        assert ids == sorted(ids)
        assert all(shard_index(x, 3) == i for x in ids)
    # Dead letters are sharded like the data: N files, each letter where its content hashes to.
    errors = sorted((out / "errors").glob("*.parquet"))
    assert [f.name for f in errors] == [f"errors-{i:05d}-of-00003.parquet" for i in range(3)]
    for i, f in enumerate(errors):
        letters = [DeadLetter(**row) for row in pq.read_table(f).to_pylist()]
        assert [d.sort_key() for d in letters] == sorted(d.sort_key() for d in letters)
        assert all(shard_index(d.shard_key(), 3) == i for d in letters)
    assert sum(len(pq.read_table(f)) for f in errors) == len(EXPECTED_DEAD)
    assert not list(out.rglob(".tmp-*")), "temporary files left behind"
    assert not (out / "_build.json").exists()


def test_negatives_have_provenance_and_exact_edits(mixed_build):
    _, out = mixed_build
    records = [from_row(r) for r in _rows(out)]
    assert sum(len(r.negatives) for r in records) > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["negatives_total"] == sum(len(r.negatives) for r in records)
    for r in records:
        assert r.scene_graph is not None
        for n in r.negatives:
            assert n.text != r.caption and n.generator.startswith("rule:")
            if n.edit is not None:
                assert r.caption[n.edit.start : n.edit.end] == n.edit.before


def test_manifest_records_config_inputs_and_versions(mixed_build):
    import hashlib

    from negforge.pipeline.manifest import read_manifest

    inputs, out = mixed_build
    manifest = read_manifest(str(out))
    assert manifest.versions.schema == "1" and manifest.config["seed"] == 1
    assert manifest.versions.apache_beam == pytest.importorskip("apache_beam").__version__
    assert len(manifest.config_hash) == 16
    by_name = {i.path.split("/")[-1]: i for i in manifest.inputs}
    assert set(by_name) == {p.name for p in inputs.iterdir()}
    for p in inputs.iterdir():
        assert by_name[p.name].size_bytes == p.stat().st_size
        assert by_name[p.name].sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    assert (out / "README.md").exists()


def test_validate_and_inspect_commands(mixed_build, capsys):
    _, out = mixed_build
    assert main(["validate", str(out)]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["inspect", str(out), "-n", "2"]) == 0
    assert "written 9" in capsys.readouterr().out


def test_existing_output_is_not_overwritten_without_flag(mixed_build, capsys):
    inputs, out = mixed_build
    assert _build(inputs, out) == 1
    assert "--overwrite" in capsys.readouterr().err


def test_nothing_readable_exits_nonzero_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "only.csv"
    bad.write_text("id,text\n1,no caption column\n")
    assert _build(bad, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "nothing could be read" in err and "only.csv" in err


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    assert _build(tmp_path / "nope*.jsonl", tmp_path / "out") == 1
    assert "matches no file" in capsys.readouterr().err


@pytest.mark.slow
def test_byte_identical_shards_across_running_modes_and_workers(mixed_build, tmp_path):
    inputs, out = mixed_build
    out2 = tmp_path / "mp"
    assert _build(inputs, out2, "--direct_running_mode=multi_processing", "--direct_num_workers=2") == 0
    for sub in ("data", "errors"):
        first = {p.name: p.read_bytes() for p in (out / sub).glob("*.parquet")}
        second = {p.name: p.read_bytes() for p in (out2 / sub).glob("*.parquet")}
        assert first == second, f"{sub}/ differs between in_memory and multi_processing x2"


def test_embed_images_copies_bytes_and_dead_letters_missing_files(tmp_path):
    from PIL import Image

    img_dir = tmp_path / "img"
    img_dir.mkdir()
    Image.new("RGB", (12, 7), (200, 10, 10)).save(img_dir / "red.png")
    inp = tmp_path / "caps.csv"
    inp.write_text("id,caption,image_path\nok,A red square.,red.png\nmissing,A blue square.,blue.png\n")
    out = tmp_path / "out"
    assert _build(inp, out, "--embed-images", "--image-root", str(img_dir), "--types", "swap_obj") == 0
    (row,) = _rows(out)
    assert row["id"] == "ok" and row["image"]["bytes"] == (img_dir / "red.png").read_bytes()
    assert (row["image"]["width"], row["image"]["height"]) == (12, 7)
    (err,) = _errors(out)
    assert err["stage"] == "image" and "does not exist" in err["error"] and err["record_id"] == "missing"
