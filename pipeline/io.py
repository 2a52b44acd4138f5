"""Input readers: files of captions → ``CaptionRecord`` or ``DeadLetter``.

Every reader is a plain generator over one file, opened through Beam's
``FileSystems`` so ``gs://`` (or any registered scheme) works the same as a local
path. Readers never raise on bad rows: each bad row, and each file that cannot be
read at all, becomes a :class:`DeadLetter` naming the file, the row and the
problem. What a reader yields is a :class:`ReadItem`, which carries the row's
position so duplicate ids can be resolved deterministically (first in input
order wins) whatever order Beam processes files in.

Formats (``--format``, or detected from the file name):

- ``coco``: COCO captions JSON (``annotations`` + ``images``)
- ``jsonl``: one JSON object per line
- ``csv`` / ``tsv``: header row with a ``caption`` column
- ``parquet``: a ``caption`` column
- ``webdataset``: tar shards; samples grouped by key, caption in ``.txt``/``.caption`` or ``.json``

Fields (DESIGN §9): ``caption`` (required), ``id``, ``image`` / ``image_path`` /
``url`` (optional), ``split`` (optional); other fields are ignored, never an error.
Images are referenced, never decoded here.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import posixpath
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apache_beam.io.filesystems import FileSystems

from negforge.schemas import CaptionRecord, ImageRef, derive_id
from negforge.schemas.layout import split_problem

from .errors import DeadLetter

logger = logging.getLogger(__name__)

FILE_FORMATS = ("coco", "jsonl", "csv", "tsv", "parquet", "webdataset")
FORMATS = FILE_FORMATS + ("shapes",)

_EXTENSIONS: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "coco",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".tar": "webdataset",
}
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".deflate")
IMAGE_FIELDS = ("image", "image_path", "url")
WDS_IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "bmp", "gif")
WDS_CAPTION_EXTS = ("txt", "caption", "text")
#: A JSONL line longer than this is a dead letter (and is skipped without being held in memory).
MAX_LINE_BYTES = 64 << 20
#: Read-ahead of the streaming readers.
READ_BUFFER_BYTES = 1 << 20


@dataclass(frozen=True)
class ReadConfig:
    source: str | None = None  # value of the `source` column; None = the input file's base name
    split: str = "train"  # split for rows that do not name one (a Hub split name, schemas.layout)
    max_caption_chars: int = 2000  # longer captions are dead-lettered (a 100 kB "caption" is not one)
    image_root: str | None = None  # prefix for relative image paths (COCO file_name, CSV image_path)

    def __post_init__(self) -> None:
        if self.max_caption_chars < 1:
            raise ValueError(f"max_caption_chars must be >= 1, got {self.max_caption_chars!r}")
        problem = split_problem(self.split)
        if problem is not None:
            raise ValueError(problem)


@dataclass(frozen=True)
class ReadItem:
    """A record or dead letter plus its position in the input, for deterministic dedup."""

    order: tuple[str, int]  # (file path, row index)
    ref: str  # human-readable position, e.g. "captions.jsonl:17"
    record: CaptionRecord | None = None
    dead: DeadLetter | None = None


# ---------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------


def _strip_compression(path: str) -> str:
    for suffix in _COMPRESSION_SUFFIXES:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


def detect_format(path: str) -> str:
    """Format from the file name; raises ``ValueError`` naming the file when unknown."""
    base = _strip_compression(path.lower())
    for ext, fmt in _EXTENSIONS.items():
        if base.endswith(ext):
            return fmt
    raise ValueError(
        f"cannot tell the format of {path!r} from its name; pass --format (one of {', '.join(FILE_FORMATS)})"
    )


def _is_known(path: str) -> bool:
    try:
        detect_format(path)
    except ValueError:
        return False
    return True


def expand_inputs(patterns: Sequence[str]) -> list[str]:
    """Expand files, globs and directories (recursively) into a sorted, de-duplicated list.

    Directories contribute files with a known extension only, so a folder of
    shards with a stray README works; hidden files are skipped as a shell would. A pattern that matches nothing raises
    ``FileNotFoundError`` naming it.
    """
    paths: set[str] = set()
    for pattern in patterns:
        matched = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
        if not matched or (len(matched) == 1 and _is_dir(pattern)):
            # A directory: match its contents recursively.
            base = pattern.rstrip("/")
            inside = [m.path for r in FileSystems.match([base + "/**"]) for m in r.metadata_list]
            matched = [p for p in inside if _is_known(p)]
        # Like a shell glob, skip hidden files (and our own .tmp-* files of unfinished writes).
        matched = [p for p in matched if not posixpath.basename(p).startswith(".")]
        if not matched:
            raise FileNotFoundError(f"input {pattern!r} matches no file")
        paths.update(matched)
    return sorted(paths)


def _is_dir(path: str) -> bool:
    import os

    return "://" not in path and os.path.isdir(path)


# ---------------------------------------------------------------------------
# Field mapping
# ---------------------------------------------------------------------------


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def record_from_fields(
    fields: Mapping[str, Any], ref: str, source: str, config: ReadConfig
) -> CaptionRecord | DeadLetter:
    """Map one input row to a record, or to a dead letter saying exactly what is wrong."""
    raw = _raw(fields)
    caption = fields.get("caption")
    if caption is None:
        names = ", ".join(sorted(map(str, fields))) or "none"
        return DeadLetter(ref, "read", f"missing 'caption' field (fields: {names})", raw=raw)
    if not isinstance(caption, str):
        return DeadLetter(ref, "read", f"'caption' must be a string, got {type(caption).__name__}", raw=raw)
    if _has_surrogates(caption):
        return DeadLetter(ref, "read", "caption is not valid UTF-8", raw=raw)
    if not caption.strip():
        return DeadLetter(ref, "read", "empty or whitespace-only caption", raw=raw)
    if len(caption) > config.max_caption_chars:
        return DeadLetter(
            ref,
            "read",
            f"caption has {len(caption)} characters, over max_caption_chars={config.max_caption_chars}",
            raw=raw,
        )
    image = _image_from_fields(fields, config)
    image_key = None if image is None else image.uri
    raw_id = fields.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        rid = derive_id(source, caption, image_key)
    elif isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool):
        rid = str(raw_id)
    else:
        return DeadLetter(ref, "read", f"'id' must be a string or integer, got {raw_id!r}", raw=raw)
    split = fields.get("split") or config.split
    problem = split_problem(split)
    if problem is not None:
        # It would name a file (and a folder, for "val/2014") the card and the Hub cannot carry.
        return DeadLetter(ref, "read", f"record {rid!r}: {problem}", record_id=rid, raw=raw)
    return CaptionRecord(id=rid, caption=caption, source=source, split=split, image=image)


def _image_from_fields(fields: Mapping[str, Any], config: ReadConfig) -> ImageRef | None:
    for name in IMAGE_FIELDS:
        value = fields.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, Mapping):  # Hugging Face Image feature: {"bytes", "path"}
            data, path = value.get("bytes"), value.get("path")
            if data is None and not path:
                continue
            return ImageRef(uri=_join_root(path, config) if path else None, bytes=data)
        if isinstance(value, (bytes, bytearray)):
            return ImageRef(bytes=bytes(value))
        return ImageRef(uri=_join_root(str(value), config))
    return None


def _join_root(path: str, config: ReadConfig) -> str:
    if config.image_root is None or "://" in path or path.startswith("/"):
        return path
    return FileSystems.join(config.image_root, path)


def _raw(fields: Mapping[str, Any]) -> str:
    try:
        return json.dumps(fields, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(dict(fields))


def _source_for(path: str, config: ReadConfig) -> str:
    return config.source or posixpath.basename(_strip_compression(path))


# ---------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------


class _RawStream(io.RawIOBase):
    """Any object with ``read(n)`` (Beam's ``CompressedFile``, a GCS reader) as a raw stream.

    So ``io.BufferedReader`` / ``io.TextIOWrapper`` can read it line by line with a
    bounded buffer, whatever filesystem or compression it comes from.
    """

    def __init__(self, f: Any):
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._f.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _open_stream(f: Any) -> io.BufferedReader:
    return io.BufferedReader(_RawStream(f), READ_BUFFER_BYTES)


def _lines(stream: io.BufferedReader, max_bytes: int) -> Iterator[bytes | None]:
    """The file's lines (``\n``-terminated), holding at most ``max_bytes`` of one in memory.

    A longer line is skipped to its end and yields ``None`` in its place, so line
    numbers stay right.
    """
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        if len(line) <= max_bytes or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = stream.readline(READ_BUFFER_BYTES)
        yield None


def read_jsonl(path: str, config: ReadConfig) -> Iterator[ReadItem]:
    source = _source_for(path, config)
    with FileSystems.open(path) as f:
        for lineno, line in enumerate(_lines(_open_stream(f), MAX_LINE_BYTES), start=1):
            ref = f"{path}:{lineno}"
            order = (path, lineno)
            if line is None:
                msg = f"line is longer than {MAX_LINE_BYTES} bytes"
                yield ReadItem(order, ref, dead=DeadLetter(ref, "read", msg))
                continue
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            yield _jsonl_item(line, order, ref, source, config)


def _jsonl_item(line: bytes, order: tuple[str, int], ref: str, source: str, config: ReadConfig) -> ReadItem:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raw = line.decode("utf-8", "backslashreplace")
        return ReadItem(order, ref, dead=DeadLetter(ref, "read", f"line is not valid UTF-8: {exc}", raw=raw))
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return ReadItem(order, ref, dead=DeadLetter(ref, "read", f"malformed JSON: {exc}", raw=text))
    if not isinstance(obj, dict):
        msg = f"expected a JSON object per line, got {type(obj).__name__}"
        return ReadItem(order, ref, dead=DeadLetter(ref, "read", msg, raw=text))
    return _item(order, ref, record_from_fields(obj, ref, source, config))


def read_csv(path: str, config: ReadConfig, delimiter: str = ",") -> Iterator[ReadItem]:
    source = _source_for(path, config)
    with FileSystems.open(path) as f:
        # surrogateescape keeps bad bytes visible per row instead of failing the whole file;
        # utf-8-sig drops a leading byte-order mark; newline="" lets csv see quoted newlines.
        text = io.TextIOWrapper(_open_stream(f), encoding="utf-8-sig", errors="surrogateescape", newline="")
        yield from _csv_items(path, csv.DictReader(text, delimiter=delimiter), source, config)


def _csv_items(path: str, reader: csv.DictReader, source: str, config: ReadConfig) -> Iterator[ReadItem]:
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        yield ReadItem((path, 1), f"{path}:1", dead=DeadLetter(f"{path}:1", "read", f"malformed CSV header: {exc}"))
        return
    missing_caption = "caption" not in header
    index = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            index += 1
            ref = f"{path}:{reader.line_num}"
            yield ReadItem((path, index), ref, dead=DeadLetter(ref, "read", f"malformed CSV: {exc}"))
            continue
        index += 1
        ref = f"{path}:{reader.line_num}"
        fields = {k: v for k, v in row.items() if k is not None}
        if missing_caption:
            msg = f"no 'caption' column in the header (columns: {', '.join(header) or 'none'})"
            raw = _raw(fields).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            yield ReadItem((path, index), ref, dead=DeadLetter(ref, "read", msg, raw=raw))
            continue
        if None in row:
            msg = f"row has {len(header) + len(row[None])} fields, header has {len(header)}"
            yield ReadItem((path, index), ref, dead=DeadLetter(ref, "read", msg, raw=_safe_raw(fields)))
            continue
        bad = [k for k, v in fields.items() if isinstance(v, str) and _has_surrogates(v)]
        if bad:
            msg = f"field(s) {bad} are not valid UTF-8"
            yield ReadItem((path, index), ref, dead=DeadLetter(ref, "read", msg, raw=_safe_raw(fields)))
            continue
        yield _item((path, index), ref, record_from_fields(fields, ref, source, config))


def _safe_raw(fields: Mapping[str, Any]) -> str:
    return _raw(fields).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def read_coco(path: str, config: ReadConfig) -> Iterator[ReadItem]:
    """COCO captions: one JSON document (annotations refer to images by id), so read whole.

    The largest public one (captions_train2017.json) is 90 MB; JSONL, CSV, Parquet
    and WebDataset inputs are streamed.
    """
    source = _source_for(path, config)
    try:
        with FileSystems.open(path) as f:
            doc = json.loads(f.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        yield ReadItem((path, 0), path, dead=DeadLetter(path, "read", f"not a COCO captions JSON file: {exc}"))
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
        msg = "not a COCO captions file: expected an object with an 'annotations' list"
        yield ReadItem((path, 0), path, dead=DeadLetter(path, "read", msg))
        return
    images: dict[Any, Mapping[str, Any]] = {}
    for image in doc.get("images") or []:
        if isinstance(image, dict) and "id" in image:
            images[image["id"]] = image
    for i, ann in enumerate(doc["annotations"]):
        ref = f"{path}#annotations[{i}]"
        order = (path, i + 1)
        if not isinstance(ann, dict):
            yield ReadItem(order, ref, dead=DeadLetter(ref, "read", "annotation is not an object", raw=repr(ann)))
            continue
        fields = dict(ann)
        image_id = ann.get("image_id")
        if image_id is not None:
            image = images.get(image_id)
            if image is None:
                msg = f"image_id {image_id!r} not found in 'images'"
                yield ReadItem(order, ref, dead=DeadLetter(ref, "read", msg, raw=_raw(ann)))
                continue
            fields.setdefault("image", image.get("file_name") or image.get("coco_url"))
        record = record_from_fields(fields, ref, source, config)
        if isinstance(record, CaptionRecord) and image_id is not None and record.image is not None:
            image = images[image_id]
            record = _with_size(record, image.get("width"), image.get("height"))
        yield _item(order, ref, record)


def _with_size(record: CaptionRecord, width: Any, height: Any) -> CaptionRecord:
    from dataclasses import replace

    if not isinstance(width, int) or not isinstance(height, int):
        return record
    return replace(record, image=replace(record.image, width=width, height=height))


def read_parquet(path: str, config: ReadConfig) -> Iterator[ReadItem]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = _source_for(path, config)
    index = 0
    try:
        with FileSystems.open(path) as f:
            pf = pq.ParquetFile(f)
            names = pf.schema_arrow.names
            if "caption" not in names:
                msg = f"no 'caption' column (columns: {', '.join(names) or 'none'})"
                for batch in pf.iter_batches(batch_size=1024):
                    for row in batch.to_pylist():
                        index += 1
                        ref = f"{path}:row{index}"
                        yield ReadItem((path, index), ref, dead=DeadLetter(ref, "read", msg, raw=_raw(row)))
                if index == 0:
                    yield ReadItem((path, 0), path, dead=DeadLetter(path, "read", msg))
                return
            wanted = [c for c in ("caption", "id", "split", *IMAGE_FIELDS) if c in names]
            for batch in pf.iter_batches(batch_size=1024, columns=wanted):
                for row in batch.to_pylist():
                    index += 1
                    ref = f"{path}:row{index}"
                    yield _item((path, index), ref, record_from_fields(row, ref, source, config))
    except (OSError, pa.ArrowException) as exc:
        msg = f"corrupt or unreadable Parquet file after {index} rows: {exc}"
        yield ReadItem((path, index + 1), path, dead=DeadLetter(path, "read", msg))


def _wds_key(name: str) -> tuple[str, str]:
    """WebDataset convention: key = path up to the first '.' of the base name."""
    dirname, base = posixpath.split(name)
    stem, _, ext = base.partition(".")
    return posixpath.join(dirname, stem), ext.lower()


def read_webdataset(path: str, config: ReadConfig) -> Iterator[ReadItem]:
    source = _source_for(path, config)
    index = 0

    def emit(key: str, parts: dict[str, bytes]) -> ReadItem:
        ref = f"{path}#{key}"
        order = (path, index)
        fields: dict[str, Any] = {}
        meta: Any = None
        if "json" in parts:
            try:
                meta = json.loads(parts["json"].decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return ReadItem(order, ref, dead=DeadLetter(ref, "read", f"malformed {key}.json: {exc}"))
            if isinstance(meta, dict):
                fields.update({k: v for k, v in meta.items() if k in ("caption", "id", "split")})
        for ext in WDS_CAPTION_EXTS:
            if ext in parts and "caption" not in fields:
                try:
                    fields["caption"] = parts[ext].decode("utf-8")
                except UnicodeDecodeError as exc:
                    raw = parts[ext].decode("utf-8", "backslashreplace")
                    return ReadItem(order, ref, dead=DeadLetter(ref, "read", f"{key}.{ext} is not valid UTF-8: {exc}", raw=raw))
        fields.setdefault("id", key)
        for ext in WDS_IMAGE_EXTS:
            if ext in parts:
                fields["image"] = f"{path}#{key}.{ext}"
                break
        return _item(order, ref, record_from_fields(fields, ref, source, config))

    try:
        with FileSystems.open(path) as f:
            with tarfile.open(fileobj=f, mode="r|*") as tar:
                current: str | None = None
                parts: dict[str, bytes] = {}
                for member in tar:
                    if not member.isfile():
                        continue
                    key, ext = _wds_key(member.name)
                    if key != current and current is not None:
                        index += 1
                        yield emit(current, parts)
                        parts = {}
                    current = key
                    if ext in WDS_CAPTION_EXTS or ext == "json":
                        parts[ext] = tar.extractfile(member).read()
                    elif ext in WDS_IMAGE_EXTS:
                        parts[ext] = b""  # referenced, never decoded or copied here
                if current is not None:
                    index += 1
                    yield emit(current, parts)
    except (tarfile.TarError, OSError, EOFError) as exc:
        msg = f"corrupt or truncated tar file after {index} samples: {exc}"
        yield ReadItem((path, index + 1), path, dead=DeadLetter(path, "read", msg))


def _item(order: tuple[str, int], ref: str, result: CaptionRecord | DeadLetter) -> ReadItem:
    if isinstance(result, DeadLetter):
        return ReadItem(order, ref, dead=result)
    return ReadItem(order, ref, record=result)


_READERS = {
    "jsonl": read_jsonl,
    "csv": read_csv,
    "tsv": lambda path, config: read_csv(path, config, delimiter="\t"),
    "coco": read_coco,
    "parquet": read_parquet,
    "webdataset": read_webdataset,
}


def read_file(path: str, fmt: str | None, config: ReadConfig) -> Iterator[ReadItem]:
    """Read one file in ``fmt`` (detected from the name when None).

    An empty file, or one whose format cannot be told, is one file-level dead
    letter, so every input file is accounted for in the manifest.
    """
    try:
        fmt = fmt or detect_format(path)
    except ValueError as exc:
        yield ReadItem((path, 0), path, dead=DeadLetter(path, "read", str(exc)))
        return
    if fmt not in _READERS:
        raise ValueError(f"format must be one of {FILE_FORMATS}, got {fmt!r}")
    try:
        size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    except (OSError, IndexError) as exc:
        yield ReadItem((path, 0), path, dead=DeadLetter(path, "read", f"cannot open file: {exc}"))
        return
    if size == 0:
        yield ReadItem((path, 0), path, dead=DeadLetter(path, "read", "file is empty"))
        return
    yielded = False
    for item in _READERS[fmt](path, config):
        yielded = True
        yield item
    if not yielded:
        yield ReadItem((path, 0), path, dead=DeadLetter(path, "read", f"no records found in {fmt} file"))
