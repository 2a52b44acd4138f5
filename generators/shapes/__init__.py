"""The shapes world: procedural image-caption data with exact scene graphs (DESIGN §7).

PIL-rendered scenes of colored shapes with sizes, counts and spatial relations;
every caption comes with the exact scene graph aligned to its text, and the
``test`` split holds out color-shape pairs and relation triples, so
compositional generalisation is measurable without downloading anything.
"""

from __future__ import annotations

from .config import ShapesConfig
from .export import export_retrieval, export_sugarcrepe, export_zero_shot, materialise
from .judge import judge
from .records import SOURCE, scene_of, scene_records, split_sizes
from .scene import SPLITS, heldout

__all__ = [
    "SOURCE",
    "SPLITS",
    "ShapesConfig",
    "export_retrieval",
    "export_sugarcrepe",
    "export_zero_shot",
    "heldout",
    "judge",
    "materialise",
    "scene_of",
    "scene_records",
    "split_sizes",
]
