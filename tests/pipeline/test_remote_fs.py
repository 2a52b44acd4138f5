"""Builds, cards and publishes on a second filesystem scheme, as on Dataflow with ``gs://``.

``fakegs://`` is a Beam ``FileSystem`` registered by this module, backed by a
local folder but with object-store semantics: no directories (``has_dirs`` is
False, listing is by prefix), parents appear on write, rename is copy + delete.
Any step of the pipeline that reached for a local ``open()``, ``os.path`` or
``os.makedirs`` instead of Beam's ``FileSystems`` fails here, because a
``fakegs://`` URL is not a local path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import ClassVar

import pytest
from apache_beam.io.filesystem import BeamIOError, CompressionTypes, FileMetadata, FileSystem
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem
from sample_output import write_sample_output

from negforge.pipeline import card

SCHEME = "fakegs"
PREFIX = f"{SCHEME}://"


class FakeGcsFileSystem(FileSystem):
    """``fakegs://bucket/key`` stored at ``ROOT/bucket/key`` (ROOT set by the fixture)."""

    ROOT: ClassVar[str | None] = None

    def __init__(self, pipeline_options=None):
        super().__init__(pipeline_options)
        self._local_fs = LocalFileSystem(pipeline_options)

    @classmethod
    def scheme(cls) -> str:
        return SCHEME

    # -- path mapping ----------------------------------------------------------

    def _local(self, path: str) -> str:
        if not path.startswith(PREFIX) or self.ROOT is None:
            raise ValueError(f"not a {SCHEME} path (or no ROOT): {path!r}")
        return os.path.join(self.ROOT, path[len(PREFIX):])

    def _remote(self, local: str) -> str:
        return PREFIX + os.path.relpath(local, self.ROOT).replace(os.sep, "/")

    # -- FileSystem API (GCS semantics) ----------------------------------------------

    def join(self, basepath: str, *paths: str) -> str:
        path = basepath
        for p in paths:
            path = path.rstrip("/") + "/" + p.lstrip("/")
        return path

    def split(self, path: str) -> tuple[str, str]:
        head, _, tail = path.strip().rpartition("/")
        return head, tail

    def mkdirs(self, path: str) -> None:
        pass  # object stores have no directories

    def has_dirs(self) -> bool:
        return False

    def _list(self, dir_or_prefix: str):
        assert self.ROOT is not None
        prefix = dir_or_prefix
        for dirpath, _, filenames in os.walk(self.ROOT):
            for name in sorted(filenames):
                local = os.path.join(dirpath, name)
                remote = self._remote(local)
                if remote.startswith(prefix):
                    st = os.stat(local)
                    yield FileMetadata(remote, st.st_size, st.st_mtime)

    def create(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        local = self._local(path)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        return self._local_fs.create(local, mime_type, compression_type)

    def open(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        return self._local_fs.open(self._local(path), mime_type, compression_type)

    def copy(self, source_file_names, destination_file_names):
        for src, dst in zip(source_file_names, destination_file_names, strict=True):
            local_dst = self._local(dst)
            os.makedirs(os.path.dirname(local_dst), exist_ok=True)
            shutil.copyfile(self._local(src), local_dst)

    def rename(self, source_file_names, destination_file_names):
        self.copy(source_file_names, destination_file_names)  # GCS: copy, then delete
        self.delete(source_file_names)

    def exists(self, path: str) -> bool:
        return os.path.isfile(self._local(path))

    def size(self, path: str) -> int:
        return os.path.getsize(self._local(path))

    def last_updated(self, path: str) -> float:
        return os.path.getmtime(self._local(path))

    def checksum(self, path: str) -> str:
        return str(self.size(path))

    def metadata(self, path: str) -> FileMetadata:
        local = self._local(path)
        if not os.path.isfile(local):
            raise BeamIOError("metadata", {path: FileNotFoundError(path)})
        return FileMetadata(path, os.path.getsize(local), os.path.getmtime(local))

    def delete(self, paths):
        errors = {}
        for path in paths:
            local = self._local(path)
            if os.path.isfile(local):
                os.remove(local)
                continue
            # A "directory" is a prefix: delete everything under it.
            under = [m.path for m in self._list(path.rstrip("/") + "/")]
            if not under:
                errors[path] = FileNotFoundError(path)
            for remote in under:
                os.remove(self._local(remote))
        if errors:
            raise BeamIOError("Delete operation failed", errors)


@pytest.fixture
def bucket(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "fakegs-root"
    (root / "bucket").mkdir(parents=True)
    monkeypatch.setattr(FakeGcsFileSystem, "ROOT", str(root))
    return root / "bucket"


CAPTIONS = [
    "a red car parked next to a green tree",
    "two brown dogs sleeping on a white couch",
    "a man riding a horse on the beach",
    "a small cat sitting under a wooden table",
    "a woman holding a blue umbrella in the rain",
    "three birds flying above a calm lake",
]


def _write_inputs(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "captions.jsonl", "w") as f:
        for i in range(24):
            f.write(json.dumps({"id": f"cap-{i:03d}", "caption": f"{CAPTIONS[i % 6]} ({i})"}) + "\n")
        f.write("{not json\n")  # one dead letter
    with open(folder / "more.csv", "w") as f:
        f.write("id,caption\n")
        for i in range(6):
            f.write(f"csv-{i},{CAPTIONS[(i + 3) % 6]} at noon\n")


def test_filesystem_semantics(bucket):
    path = f"{PREFIX}bucket/a/b/c.txt"
    with FileSystems.create(path) as f:
        f.write(b"hello")
    assert FileSystems.exists(path) and not FileSystems.exists(f"{PREFIX}bucket/a/b")
    assert [m.path for m in FileSystems.match([f"{PREFIX}bucket/a/**"])[0].metadata_list] == [path]
    FileSystems.rename([path], [f"{PREFIX}bucket/z.txt"])
    with FileSystems.open(f"{PREFIX}bucket/z.txt") as f:
        assert f.read() == b"hello"
    with pytest.raises(FileNotFoundError):  # a local open() cannot reach it
        open(f"{PREFIX}bucket/z.txt").close()


def test_card_reads_and_writes_remote_folder(bucket):
    manifest = write_sample_output(bucket / "sample")
    card.write_card(f"{PREFIX}bucket/sample", manifest)
    text = (bucket / "sample" / "README.md").read_text()
    assert "data/train-*.parquet" in text and "## Examples" in text
    assert not list((bucket / "sample").glob("*.tmp"))


def test_publish_stages_remote_folder(bucket, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants
    from fake_hub import FakeHub

    from negforge.pipeline import publish as pub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    write_sample_output(bucket / "sample")
    with FakeHub(token="hf_remote") as hub:
        result = pub.publish(
            pub.PublishConfig(output_dir=f"{PREFIX}bucket/sample", repo_id="acme/remote", endpoint=hub.endpoint,
                              backoff_s=0.0),
            token="hf_remote",
        )
        remote = hub.files("acme/remote")
    local = {p.relative_to(bucket / "sample").as_posix(): p.read_bytes()
             for p in (bucket / "sample").rglob("*") if p.is_file()}
    assert remote == local
    assert {f.source.split("://")[0] for f in result.files} == {SCHEME}


@pytest.mark.slow
def test_build_reads_and_writes_on_remote_scheme(bucket, tmp_path):
    """The lead's pipeline end to end with fakegs:// inputs and output; shards equal a local build's."""
    build = pytest.importorskip("negforge.pipeline.build")

    _write_inputs(bucket / "in")
    remote_out = f"{PREFIX}bucket/out"
    manifest = build.run_build(build.BuildConfig(inputs=(f"{PREFIX}bucket/in",), output=remote_out, shards=2))
    out = bucket / "out"
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == [
        "README.md",
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
        "errors/errors-00000-of-00002.parquet",
        "errors/errors-00001-of-00002.parquet",
        "manifest.json",
    ]
    counts = manifest.counts
    assert counts.read == 31 and counts.written == 30 and counts.dead_lettered == 1
    assert json.loads((out / "manifest.json").read_text())["counts"] == dataclasses.asdict(counts)
    assert all(i.path.startswith(PREFIX) for i in manifest.inputs)
    local_bytes = {p.name: p.read_bytes() for p in (bucket / "in").iterdir()}
    assert {i.path.rsplit("/", 1)[-1]: i.sha256 for i in manifest.inputs} == {
        name: hashlib.sha256(data).hexdigest() for name, data in local_bytes.items()
    }
    assert "num_examples: 30" in (out / "README.md").read_text()

    # Same inputs from a local folder: byte-identical data shards (the filesystem is not part of the
    # output; errors/ differs by design: dead letters name their input path).
    local_in = tmp_path / "local-in"
    shutil.copytree(bucket / "in", local_in)
    local_out = tmp_path / "local-out"
    build.run_build(build.BuildConfig(inputs=(str(local_in),), output=str(local_out), shards=2))
    for rel in names:
        if rel.startswith("data/"):
            assert (out / rel).read_bytes() == (local_out / rel).read_bytes(), rel
