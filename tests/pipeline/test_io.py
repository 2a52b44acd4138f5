"""Readers: every format, and every kind of bad input becomes a dead letter naming file and row."""

from __future__ import annotations

import io
import json
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from negforge.pipeline.io import ReadConfig, detect_format, expand_inputs, read_file

CONFIG = ReadConfig()


def _read(path, fmt=None, config=CONFIG):
    items = list(read_file(str(path), fmt, config))
    records = [i.record for i in items if i.record is not None]
    dead = [i.dead for i in items if i.dead is not None]
    return records, dead


def _tar(path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_jsonl_good_rows_keep_id_image_and_ignore_extra_fields(tmp_path):
    p = tmp_path / "caps.jsonl"
    p.write_text(
        json.dumps({"id": 7, "caption": "A dog.", "image_path": "a.jpg", "extra": {"x": 1}}) + "\n"
        + json.dumps({"caption": "A cat.", "url": "http://h/b.jpg", "split": "val"}) + "\n"
    )
    records, dead = _read(p)
    assert dead == []
    assert [r.id for r in records][0] == "7"
    assert records[0].image.uri == "a.jpg" and records[0].source == "caps.jsonl"
    assert records[1].split == "val" and records[1].image.uri == "http://h/b.jpg"
    assert len(records[1].id) == 40  # derived sha1


def test_jsonl_malformed_line_in_the_middle_keeps_the_rest(tmp_path):
    p = tmp_path / "caps.jsonl"
    p.write_bytes(b'{"caption": "one"}\n{"caption": "tw\n{"caption": "three"}\n')
    records, dead = _read(p)
    assert [r.caption for r in records] == ["one", "three"]
    (d,) = dead
    assert d.input == f"{p}:2" and "malformed JSON" in d.error and d.stage == "read"


def test_non_utf8_bytes_are_dead_letters_in_jsonl_and_csv(tmp_path):
    j = tmp_path / "a.jsonl"
    j.write_bytes(b'{"caption": "ok"}\n{"caption": "caf\xe9"}\n')
    records, dead = _read(j)
    assert len(records) == 1 and "not valid UTF-8" in dead[0].error and dead[0].input.endswith(":2")
    c = tmp_path / "a.csv"
    c.write_bytes(b"caption\nfine\nbad \xff here\n")
    records, dead = _read(c)
    assert [r.caption for r in records] == ["fine"]
    assert "not valid UTF-8" in dead[0].error and "\\xff" in dead[0].raw


@pytest.mark.parametrize("caption, reason", [("", "empty"), ("   \t", "whitespace"), ("x" * 100_000, "over max_caption_chars")])
def test_empty_whitespace_and_huge_captions_are_rejected(tmp_path, caption, reason):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"caption": caption}) + "\n" + json.dumps({"caption": "good"}) + "\n")
    records, dead = _read(p)
    assert [r.caption for r in records] == ["good"]
    assert reason in dead[0].error
    assert len(dead[0].to_row()["raw"]) < 5000  # raw text is bounded in errors/


def test_csv_without_caption_column_dead_letters_every_row_with_the_header(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("id,text\n1,a dog\n2,a cat\n")
    records, dead = _read(p)
    assert records == [] and len(dead) == 2
    assert "no 'caption' column" in dead[0].error and "id, text" in dead[0].error


def test_csv_and_tsv_read_with_optional_columns(tmp_path):
    p = tmp_path / "a.tsv"
    p.write_text("caption\timage\tid\nA red bus.\tbus.jpg\tb1\n")
    (r,), dead = _read(p)
    assert dead == [] and r.id == "b1" and r.image.uri == "bus.jpg"


def test_empty_file_is_one_file_level_dead_letter(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"")
    records, (d,) = _read(p)
    assert records == [] and d.input == str(p) and "empty" in d.error


def test_parquet_reader_and_missing_caption_column(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"caption": ["a dog", "a cat"], "id": ["1", "2"], "url": ["u1", None]}), good)
    records, dead = _read(good)
    assert [r.id for r in records] == ["1", "2"] and records[0].image.uri == "u1" and records[1].image is None
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"text": ["a dog"]}), bad)
    records, (d,) = _read(bad)
    assert records == [] and "no 'caption' column" in d.error


def test_corrupt_parquet_is_a_dead_letter_naming_the_file(tmp_path):
    p = tmp_path / "corrupt.parquet"
    p.write_bytes(b"PAR1 this is not really parquet PAR1")
    records, (d,) = _read(p)
    assert records == [] and d.input == str(p) and "corrupt or unreadable Parquet" in d.error


def test_coco_captions_json(tmp_path):
    p = tmp_path / "captions_val2017.json"
    p.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "000001.jpg", "width": 640, "height": 480}],
        "annotations": [
            {"id": 11, "image_id": 1, "caption": "A man riding a horse."},
            {"id": 12, "image_id": 2, "caption": "No such image."},
            {"id": 13, "image_id": 1},
        ],
    }))
    records, dead = _read(p, config=ReadConfig(image_root="/data/coco"))
    (r,) = records
    assert r.id == "11" and r.image.uri == "/data/coco/000001.jpg" and (r.image.width, r.image.height) == (640, 480)
    assert sorted(d.error.split(" ")[0] for d in dead) == ["image_id", "missing"]
    assert dead[0].input.startswith(f"{p}#annotations[")


def test_webdataset_tar_groups_members_by_key_and_references_images(tmp_path):
    p = tmp_path / "shard-000.tar"
    _tar(p, {
        "s/0001.jpg": b"\xff\xd8jpegbytes", "s/0001.txt": b"A dog.",
        "s/0002.png": b"png", "s/0002.json": json.dumps({"caption": "A cat.", "id": "k2"}).encode(),
        "s/0003.jpg": b"img",  # no caption
    })
    records, dead = _read(p)
    assert [(r.id, r.caption) for r in records] == [("s/0001", "A dog."), ("k2", "A cat.")]
    assert records[0].image.uri == f"{p}#s/0001.jpg" and records[0].image.bytes is None
    assert "missing 'caption'" in dead[0].error and dead[0].input == f"{p}#s/0003"


def test_truncated_tar_keeps_samples_before_the_damage(tmp_path):
    p = tmp_path / "t.tar"
    _tar(p, {f"{i:04d}.txt": f"caption {i}".encode() for i in range(20)})
    data = p.read_bytes()
    p.write_bytes(data[: 512 * 25])  # cut in the middle of the archive
    records, dead = _read(p)
    assert 0 < len(records) < 20
    assert dead and "corrupt or truncated tar" in dead[-1].error and dead[-1].input == str(p)


def test_detect_format_and_unknown_extension(tmp_path):
    assert detect_format("a/b.jsonl.gz") == "jsonl"
    assert detect_format("x.JSON") == "coco" and detect_format("x.tar") == "webdataset"
    with pytest.raises(ValueError, match="pass --format"):
        detect_format("notes.txt")


def test_expand_inputs_directories_globs_and_missing(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/a.jsonl", "d/sub/b.csv", "d/README.md", "d/.hidden.jsonl"):
        (tmp_path / name).write_text("caption\nx\n")
    got = expand_inputs([str(tmp_path / "d")])
    assert got == sorted([str(tmp_path / "d/a.jsonl"), str(tmp_path / "d/sub/b.csv")])
    assert expand_inputs([str(tmp_path / "d" / "*.jsonl")]) == [str(tmp_path / "d/a.jsonl")]
    with pytest.raises(FileNotFoundError, match="matches no file"):
        expand_inputs([str(tmp_path / "nothing*.jsonl")])


# ---------------------------------------------------------------- streaming and split names


class _NoWholeReads:
    """Wraps a file: ``read()`` without a size (the whole file at once) fails the test."""

    def __init__(self, f):
        self._f = f
        self.calls = 0

    def read(self, size=-1):
        assert size is not None and size >= 0, "a reader asked for the whole file"
        assert size <= 1 << 20, f"a reader asked for {size} bytes at once"
        self.calls += 1
        return self._f.read(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_jsonl_and_csv_are_streamed_never_read_whole(tmp_path, monkeypatch, fmt):
    from apache_beam.io.filesystems import FileSystems

    n = 30_000  # ~1.5 MB: more than one read-ahead buffer
    path = tmp_path / f"big.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"id": i, "caption": f"caption number {i}"}) + "\n" for i in range(n)))
    else:
        path.write_text("id,caption\n" + "".join(f"{i},caption number {i}\n" for i in range(n)))
    opened = []
    real_open = FileSystems.open

    def open_streaming(p, *args, **kwargs):
        opened.append(_NoWholeReads(real_open(p, *args, **kwargs)))
        return opened[-1]

    monkeypatch.setattr(FileSystems, "open", open_streaming)
    records, dead = _read(path)
    assert dead == [] and len(records) == n and records[-1].caption == f"caption number {n - 1}"
    assert opened and opened[0].calls > 1


def test_overlong_jsonl_line_is_skipped_with_its_line_number(tmp_path, monkeypatch):
    from negforge.pipeline import io as nf_io

    monkeypatch.setattr(nf_io, "MAX_LINE_BYTES", 100)
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"caption": "one"}) + "\n" + json.dumps({"caption": "x" * 500}) + "\n"
                 + json.dumps({"caption": "three"}) + "\r\n")  # fmt: skip
    records, dead = _read(p)
    assert [r.caption for r in records] == ["one", "three"]
    (d,) = dead
    assert d.input.endswith(":2") and "longer than 100 bytes" in d.error


def test_gzipped_csv_with_bom_and_quoted_newlines(tmp_path):
    import gzip

    p = tmp_path / "a.csv.gz"
    p.write_bytes(gzip.compress('\ufeffid,caption\r\nq1,"A dog,\r\non a sofa."\r\nq2,A cat.\r\n'.encode()))
    records, dead = _read(p)
    assert dead == []
    assert [(r.id, r.caption) for r in records] == [("q1", "A dog,\r\non a sofa."), ("q2", "A cat.")]


@pytest.mark.parametrize("split", ["val-2014", "val/2014", "a b", 2014])
def test_a_row_split_the_hub_cannot_carry_is_a_dead_letter_naming_the_record(tmp_path, split):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"id": "r1", "caption": "A dog.", "split": split}) + "\n"
                 + json.dumps({"id": "r2", "caption": "A cat.", "split": "val.2014"}) + "\n")  # fmt: skip
    records, dead = _read(p)
    assert [(r.id, r.split) for r in records] == [("r2", "val.2014")]
    (d,) = dead
    assert d.record_id == "r1" and d.input.endswith(":1") and "record 'r1': split" in d.error


def test_read_config_rejects_a_bad_default_split():
    with pytest.raises(ValueError, match="not a valid split name"):
        ReadConfig(split="val-2014")
