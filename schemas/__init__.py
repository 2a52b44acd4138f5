"""negforge.schemas: the record schema v1 (pyarrow) and its dataclass mirror.

Depends on nothing of ours; everything else depends on it.
"""

from .record import (
    ERROR_SCHEMA,
    NEGATIVE_TYPES,
    RECORD_SCHEMA,
    SCHEMA_VERSION,
    SUGARCREPE_TYPES,
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
    scene_graph_from_row,
    scene_graph_to_row,
    to_row,
)
from .validate import Violation, validate_file, validate_row, validate_rows, validate_table

__all__ = [
    "ERROR_SCHEMA",
    "NEGATIVE_TYPES",
    "RECORD_SCHEMA",
    "SCHEMA_VERSION",
    "SUGARCREPE_TYPES",
    "Attribute",
    "CaptionRecord",
    "Edit",
    "ImageRef",
    "Negative",
    "Relation",
    "SceneGraph",
    "SceneObject",
    "Scores",
    "Violation",
    "derive_id",
    "from_row",
    "records_to_table",
    "scene_graph_from_row",
    "scene_graph_to_row",
    "to_row",
    "validate_file",
    "validate_row",
    "validate_rows",
    "validate_table",
]
