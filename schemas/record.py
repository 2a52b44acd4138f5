"""Record schema v1: one pyarrow schema, mirrored by plain dataclasses.

The pyarrow schema is the contract between the build pipeline, the trainer and
the Hugging Face Hub; the dataclasses are what pure Python code (generators,
readers, tests) passes around. ``to_row``/``from_row`` convert between the two so
there is exactly one place where field names are spelled.

Nothing here imports anything of ours: every other package depends on this one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

SCHEMA_VERSION = "1"

#: Negative types. SugarCrepe's names where they exist (DESIGN §3), so results
#: compare with SugarCrepe without a mapping.
SUGARCREPE_TYPES: tuple[str, ...] = (
    "replace_obj",
    "replace_att",
    "replace_rel",
    "swap_obj",
    "swap_att",
    "add_obj",
    "add_att",
)
NEGATIVE_TYPES: tuple[str, ...] = SUGARCREPE_TYPES + ("negation", "count", "shuffle")

# ---------------------------------------------------------------------------
# Arrow types
# ---------------------------------------------------------------------------

SPAN_FIELDS = [
    pa.field("text", pa.string()),
    pa.field("lemma", pa.string()),
    pa.field("start", pa.int32()),
    pa.field("end", pa.int32()),
]
ATTRIBUTE_TYPE = pa.struct(SPAN_FIELDS)
OBJECT_TYPE = pa.struct(
    SPAN_FIELDS
    + [
        pa.field("count", pa.int32()),  # nullable: unknown / uncountable
        pa.field("attributes", pa.list_(ATTRIBUTE_TYPE)),
    ]
)
RELATION_TYPE = pa.struct(
    [
        pa.field("subject", pa.int32()),
        pa.field("predicate", pa.string()),
        pa.field("object", pa.int32()),
        pa.field("start", pa.int32()),
        pa.field("end", pa.int32()),
    ]
)
SCENE_GRAPH_TYPE = pa.struct(
    [
        pa.field("objects", pa.list_(OBJECT_TYPE)),
        pa.field("relations", pa.list_(RELATION_TYPE)),
    ]
)
IMAGE_TYPE = pa.struct(
    [
        pa.field("uri", pa.string()),
        pa.field("bytes", pa.binary()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
    ]
)
EDIT_TYPE = pa.struct(
    [
        pa.field("start", pa.int32()),
        pa.field("end", pa.int32()),
        pa.field("before", pa.string()),
        pa.field("after", pa.string()),
    ]
)
# A struct, not a map: Hugging Face `datasets` features have no map type.
SCORES_TYPE = pa.struct(
    [
        pa.field("fluency_nll", pa.float32()),
        pa.field("text_sim", pa.float32()),
        pa.field("plausibility", pa.float32()),
    ]
)
NEGATIVE_TYPE = pa.struct(
    [
        pa.field("text", pa.string()),
        pa.field("type", pa.string()),
        pa.field("generator", pa.string()),
        pa.field("edit", EDIT_TYPE),
        pa.field("scores", SCORES_TYPE),
    ]
)

#: Fields that may never be null, checked by the validator.
REQUIRED_FIELDS: tuple[str, ...] = ("id", "caption", "source", "split")

RECORD_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("caption", pa.string(), nullable=False),
        pa.field("image", IMAGE_TYPE),
        pa.field("source", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("scene_graph", SCENE_GRAPH_TYPE),
        pa.field("negatives", pa.list_(NEGATIVE_TYPE)),
    ],
    metadata={b"schema_version": SCHEMA_VERSION.encode()},
)

#: Dead-letter rows: every input unit that did not become a record.
ERROR_SCHEMA = pa.schema(
    [
        pa.field("input", pa.string(), nullable=False),  # "file.jsonl:17", "file.parquet"
        pa.field("record_id", pa.string()),  # when known
        pa.field("stage", pa.string(), nullable=False),  # read | dedup | parse | generate | ...
        pa.field("error", pa.string(), nullable=False),  # human-readable reason
        pa.field("raw", pa.string()),  # the raw text (truncated), for repair
    ],
    metadata={b"schema_version": SCHEMA_VERSION.encode()},
)

# ---------------------------------------------------------------------------
# Dataclasses
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    """An attribute word/phrase of an object, with character offsets in the caption."""

    text: str
    lemma: str
    start: int
    end: int


@dataclass(frozen=True)
class SceneObject:
    """An object mention. ``text`` is the head (compounds kept whole: "fire hydrant")."""

    text: str
    lemma: str
    start: int
    end: int
    count: int | None = None
    attributes: tuple[Attribute, ...] = ()


@dataclass(frozen=True)
class Relation:
    """``objects[subject] --predicate--> objects[object]``; offsets span the predicate."""

    subject: int
    predicate: str
    object: int
    start: int
    end: int


@dataclass(frozen=True)
class SceneGraph:
    objects: tuple[SceneObject, ...] = ()
    relations: tuple[Relation, ...] = ()


@dataclass(frozen=True)
class ImageRef:
    """An image by reference (``uri``) or by value (``bytes``); never decoded in the build."""

    uri: str | None = None
    bytes: bytes | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Edit:
    """The span ``caption[start:end] == before`` that became ``after`` in the negative."""

    start: int
    end: int
    before: str
    after: str


@dataclass(frozen=True)
class Scores:
    fluency_nll: float | None = None
    text_sim: float | None = None
    plausibility: float | None = None


@dataclass(frozen=True)
class Negative:
    """A hard negative: ``type`` says what changed, ``generator`` who made it."""

    text: str
    type: str
    generator: str
    edit: Edit | None = None
    scores: Scores = field(default_factory=Scores)


@dataclass(frozen=True)
class CaptionRecord:
    """One image-caption pair and its negatives: a row of the output shards."""

    id: str
    caption: str
    source: str
    split: str = "train"
    image: ImageRef | None = None
    scene_graph: SceneGraph | None = None
    negatives: tuple[Negative, ...] = ()


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------


def _opt(cls: type, value: Mapping[str, Any] | None):
    return None if value is None else cls(**value)


def scene_graph_to_row(graph: SceneGraph) -> dict[str, Any]:
    return {
        "objects": [
            {
                "text": o.text,
                "lemma": o.lemma,
                "start": o.start,
                "end": o.end,
                "count": o.count,
                "attributes": [vars(a).copy() for a in o.attributes],
            }
            for o in graph.objects
        ],
        "relations": [vars(r).copy() for r in graph.relations],
    }


def scene_graph_from_row(row: Mapping[str, Any]) -> SceneGraph:
    objects = tuple(
        SceneObject(
            text=o["text"],
            lemma=o["lemma"],
            start=o["start"],
            end=o["end"],
            count=o.get("count"),
            attributes=tuple(Attribute(**a) for a in o.get("attributes") or ()),
        )
        for o in row.get("objects") or ()
    )
    relations = tuple(Relation(**r) for r in row.get("relations") or ())
    return SceneGraph(objects=objects, relations=relations)


def negative_to_row(neg: Negative) -> dict[str, Any]:
    return {
        "text": neg.text,
        "type": neg.type,
        "generator": neg.generator,
        "edit": None if neg.edit is None else vars(neg.edit).copy(),
        "scores": vars(neg.scores).copy(),
    }


def negative_from_row(row: Mapping[str, Any]) -> Negative:
    return Negative(
        text=row["text"],
        type=row["type"],
        generator=row["generator"],
        edit=_opt(Edit, row.get("edit")),
        scores=_opt(Scores, row.get("scores")) or Scores(),
    )


def to_row(record: CaptionRecord) -> dict[str, Any]:
    """A dict that ``pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)`` accepts."""
    image = record.image
    return {
        "id": record.id,
        "caption": record.caption,
        "image": None
        if image is None
        else {"uri": image.uri, "bytes": image.bytes, "width": image.width, "height": image.height},
        "source": record.source,
        "split": record.split,
        "scene_graph": None
        if record.scene_graph is None
        else scene_graph_to_row(record.scene_graph),
        "negatives": [negative_to_row(n) for n in record.negatives],
    }


def from_row(row: Mapping[str, Any]) -> CaptionRecord:
    """Inverse of :func:`to_row` (accepts rows from ``Table.to_pylist()``)."""
    return CaptionRecord(
        id=row["id"],
        caption=row["caption"],
        source=row["source"],
        split=row["split"],
        image=_opt(ImageRef, row.get("image")),
        scene_graph=None
        if row.get("scene_graph") is None
        else scene_graph_from_row(row["scene_graph"]),
        negatives=tuple(negative_from_row(n) for n in row.get("negatives") or ()),
    )


def records_to_table(records: list[CaptionRecord]) -> pa.Table:
    return pa.Table.from_pylist([to_row(r) for r in records], schema=RECORD_SCHEMA)


def derive_id(source: str, caption: str, image_ref: str | None) -> str:
    """Stable id for inputs that carry none: sha1 over (source, caption, image ref).

    A NUL separator keeps ("ab", "c") and ("a", "bc") apart.
    """
    payload = "\x00".join([source, caption, image_ref or ""]).encode("utf-8", "surrogatepass")
    return hashlib.sha1(payload).hexdigest()
