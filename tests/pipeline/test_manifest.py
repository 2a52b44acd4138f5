"""The typed manifest: one reader, strict about keys, exact round trip, honest fingerprints."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json

import pytest

from negforge.pipeline.manifest import (
    MANIFEST_FORMAT,
    Counts,
    InputFile,
    Manifest,
    ManifestError,
    Versions,
    fingerprint_file,
    make_manifest,
    read_manifest,
    write_manifest,
)

STATS = {
    "read": 10, "written": 7, "dead_lettered": 3, "dead.read": 2, "dead.dedup": 1,
    "split.train": 5, "split.val": 2, "records_with_negatives": 6,
    "negatives.swap_obj": 4, "negatives.count": 5, "generators.rule:swap_obj@2": 4, "generators.rule:count@1": 5,
    "llm.requests.count": 3, "score.scored.count": 5,
}  # fmt: skip


def _manifest() -> Manifest:
    inputs = [InputFile("b.jsonl", 5, "0" * 64), InputFile("a.jsonl", 3, "f" * 64)]
    return make_manifest({"seed": 1, "inputs": ["x"]}, inputs, STATS, wall_time_s=1.23456, runner="DirectRunner")


def test_counts_and_stage_stats_split_the_summed_stats():
    m = _manifest()
    assert m.counts == Counts(
        read=10, written=7, dead_lettered=3, dead_lettered_by_stage={"dedup": 1, "read": 2},
        records_per_split={"train": 5, "val": 2}, records_with_negatives=6, negatives_total=9,
        negatives_per_type={"count": 5, "swap_obj": 4},
        negatives_per_generator={"rule:count@1": 5, "rule:swap_obj@2": 4},
    )  # fmt: skip
    assert m.stats == {"llm.requests.count": 3, "score.scored.count": 5}
    assert [i.path for i in m.inputs] == ["a.jsonl", "b.jsonl"]  # sorted
    assert m.counts.accounting_problems() == [] and m.wall_time_s == 1.235
    assert m.versions.manifest == MANIFEST_FORMAT and m.versions.apache_beam == Versions.current().apache_beam


def test_accounting_problems_name_the_broken_invariant():
    bad = Counts.from_stats({**STATS, "written": 8})
    problems = bad.accounting_problems()
    assert "read 10 != written 8 + dead_lettered 3" in problems[0]
    assert any("records_per_split sums to 7, not 8" in p for p in problems)


def test_write_read_round_trip(tmp_path):
    m = _manifest()
    write_manifest(str(tmp_path), m)
    assert read_manifest(str(tmp_path)) == m
    assert json.loads((tmp_path / "manifest.json").read_text())["counts"]["dead_lettered_by_stage"] == {
        "dedup": 1, "read": 2
    }  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["counts"].pop("dead_lettered_by_stage"), "missing 'counts.dead_lettered_by_stage'"),
        (lambda d: d["counts"].__setitem__("by_stage", {}), "unknown 'counts.by_stage'"),
        (lambda d: d["inputs"][0].__setitem__("checksum", "sha256:ab"), "unknown 'inputs[0].checksum'"),
        (lambda d: d["inputs"][0].__setitem__("sha256", "xyz"), "sha256 must be 64 lowercase hex digits"),
        (lambda d: d["counts"].__setitem__("read", "10"), "read must be an integer >= 0"),
        (lambda d: d["versions"].__setitem__("manifest", 99), "manifest format 99"),
        (lambda d: d.pop("versions"), "missing 'versions'"),
        (lambda d: d["stats"].__setitem__("x", "1"), "'stats' values must be numbers"),
    ],
)
def test_a_manifest_of_another_shape_is_refused_naming_file_and_key(tmp_path, edit, message):
    data = _manifest().to_dict()
    edit(data)
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="manifest.json") as exc:
        read_manifest(str(tmp_path))
    assert message in str(exc.value)


def test_missing_manifest_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="is it a `negforge build` output folder"):
        read_manifest(str(tmp_path))


def test_fingerprint_is_the_stored_bytes_streamed(tmp_path):
    data = bytes(range(256)) * 20_000  # 5 MB: several blocks
    plain = tmp_path / "x.jsonl"
    plain.write_bytes(data)
    packed = tmp_path / "x.jsonl.gz"
    packed.write_bytes(gzip.compress(data, mtime=0))
    assert fingerprint_file(str(plain), block_bytes=1 << 16) == InputFile(
        str(plain), len(data), hashlib.sha256(data).hexdigest()
    )
    compressed = packed.read_bytes()  # not decompressed: the checksum matches `sha256sum x.jsonl.gz`
    assert fingerprint_file(str(packed)) == InputFile(
        str(packed), len(compressed), hashlib.sha256(compressed).hexdigest()
    )


def test_license_comes_from_the_config():
    m = _manifest()
    assert m.license is None
    assert dataclasses.replace(m, config={"license": "mit"}).license == "mit"
