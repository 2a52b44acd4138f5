"""Configuration of the shapes world (DESIGN §7)."""

from __future__ import annotations

from dataclasses import dataclass

from .vocab import COLORS, RELATIONS, SHAPES

ZERO_SHOT_CLASSES = ("shape", "color_shape")


@dataclass(frozen=True)
class ShapesConfig:
    seed: int = 0  # world seed: scenes, held-out combinations and captions all derive from it
    image_size: int = 64  # side of the square images, in pixels
    n_train: int = 10_000  # scenes in the train split
    n_val: int = 1_000  # scenes in the in-distribution validation split
    n_test: int = 1_000  # scenes in the compositional test split (each uses a held-out combination)
    captions_per_image: int = 2  # distinct captions (records) per scene; fewer only if a scene has fewer
    max_objects: int = 4  # most objects in one scene (1..4)
    heldout_pairs: int = 7  # color-shape pairs ("red triangle") that never appear in train/val
    heldout_triples: int = 8  # (shape, relation, shape) facts that never appear in train/val
    truth_negatives_per_type: int = 0  # exact negatives ("shapes:truth@1") attached to each record, per type
    size_mention_prob: float = 0.5  # chance that a caption names an object's size
    supersample: int = 4  # render at this multiple of image_size, then downsample (anti-aliasing)
    png_compress_level: int = 6  # zlib level of the PNG encoder (fixed: bytes must be reproducible)
    zero_shot_per_class: int = 20  # images per class in the zero-shot export
    zero_shot_classes: str = "shape"  # "shape" (7 classes) or "color_shape" (in-distribution pairs)

    def __post_init__(self) -> None:
        if not 32 <= self.image_size <= 1024:
            raise ValueError(f"image_size must be in [32, 1024], got {self.image_size!r}")
        for name in ("n_train", "n_val", "n_test"):
            value = getattr(self, name)
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if not 1 <= self.captions_per_image <= 8:
            raise ValueError(f"captions_per_image must be in [1, 8], got {self.captions_per_image!r}")
        if not 1 <= self.max_objects <= 4:
            raise ValueError(f"max_objects must be in [1, 4], got {self.max_objects!r}")
        max_pairs = min(len(SHAPES), len(COLORS))
        if not 0 <= self.heldout_pairs <= max_pairs:
            raise ValueError(f"heldout_pairs must be in [0, {max_pairs}], got {self.heldout_pairs!r}")
        # Canonical triples use "left"/"above" only; keep at least half of them for training.
        max_triples = len(SHAPES) ** 2 * (len(RELATIONS) // 2) // 2
        if not 0 <= self.heldout_triples <= max_triples:
            raise ValueError(f"heldout_triples must be in [0, {max_triples}], got {self.heldout_triples!r}")
        if (
            self.n_test > 0
            and self.heldout_pairs == 0
            and (self.heldout_triples == 0 or self.max_objects < 2)
        ):
            raise ValueError(
                "n_test > 0 needs held-out combinations: set heldout_pairs > 0, or heldout_triples > 0 "
                f"with max_objects >= 2, got heldout_pairs={self.heldout_pairs!r}, "
                f"heldout_triples={self.heldout_triples!r}, max_objects={self.max_objects!r}"
            )
        if not 0 <= self.truth_negatives_per_type <= 8:
            raise ValueError(
                f"truth_negatives_per_type must be in [0, 8], got {self.truth_negatives_per_type!r}"
            )
        if not 0.0 <= self.size_mention_prob <= 1.0:
            raise ValueError(f"size_mention_prob must be in [0, 1], got {self.size_mention_prob!r}")
        if not 1 <= self.supersample <= 8:
            raise ValueError(f"supersample must be in [1, 8], got {self.supersample!r}")
        if not 0 <= self.png_compress_level <= 9:
            raise ValueError(f"png_compress_level must be in [0, 9], got {self.png_compress_level!r}")
        if self.zero_shot_per_class < 1:
            raise ValueError(f"zero_shot_per_class must be >= 1, got {self.zero_shot_per_class!r}")
        if self.zero_shot_classes not in ZERO_SHOT_CLASSES:
            raise ValueError(
                f"zero_shot_classes must be one of {ZERO_SHOT_CLASSES}, got {self.zero_shot_classes!r}"
            )
