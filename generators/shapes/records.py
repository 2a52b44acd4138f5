"""Scenes as :class:`CaptionRecord` s: the input source the build pipeline reads in chunks."""

from __future__ import annotations

import random
from dataclasses import dataclass

from negforge.generators.seeding import rng_for, stable_seed
from negforge.schemas import CaptionRecord, ImageRef

from .captions import CaptionSpec, scene_specs, write_caption
from .config import ShapesConfig
from .negatives import true_negatives
from .render import render_png
from .scene import SPLITS, Scene, sample_scene

SOURCE = "shapes-world"


@dataclass(frozen=True)
class SceneItem:
    """Everything known about one scene: the scene, its PNG and its caption specs."""

    split: str
    index: int
    scene: Scene
    png: bytes
    specs: tuple[CaptionSpec, ...]

    @property
    def scene_id(self) -> str:
        return f"shapes-{self.split}-{self.index:06d}"

    def record_id(self, caption_index: int) -> str:
        return f"{self.scene_id}-c{caption_index}"


def split_sizes(config: ShapesConfig) -> dict[str, int]:
    """Scenes per split, in the order splits are generated."""
    return {"train": config.n_train, "val": config.n_val, "test": config.n_test}


def caption_rng(config: ShapesConfig, split: str, index: int) -> random.Random:
    return random.Random(stable_seed(config.seed, SOURCE, "captions", split, index))


def scene_item(config: ShapesConfig, split: str, index: int) -> SceneItem:
    """Scene ``index`` of ``split`` with its image and captions; pure in (config, split, index)."""
    scene = sample_scene(config, split, index)
    png = render_png(scene, config.image_size, config.supersample, config.png_compress_level)
    specs = scene_specs(
        scene, caption_rng(config, split, index), config.captions_per_image, config.size_mention_prob
    )
    return SceneItem(split, index, scene, png, tuple(specs))


def _check_range(config: ShapesConfig, split: str, start: int, stop: int) -> None:
    sizes = split_sizes(config)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not 0 <= start <= stop <= sizes[split]:
        raise ValueError(f"need 0 <= start <= stop <= {sizes[split]} for {split!r}, got [{start}, {stop})")


def iter_scene_items(config: ShapesConfig, split: str, start: int, stop: int):
    _check_range(config, split, start, stop)
    for index in range(start, stop):
        yield scene_item(config, split, index)


def item_records(config: ShapesConfig, item: SceneItem) -> list[CaptionRecord]:
    image = ImageRef(bytes=item.png, width=config.image_size, height=config.image_size)
    out = []
    for j, spec in enumerate(item.specs):
        caption, graph = write_caption(spec)
        negatives = ()
        if config.truth_negatives_per_type:
            rng = rng_for(config.seed, item.record_id(j), "shapes-truth")
            negatives = tuple(true_negatives(spec, item.scene, rng, per_type=config.truth_negatives_per_type))
        out.append(
            CaptionRecord(
                id=item.record_id(j),
                caption=caption,
                source=SOURCE,
                split=item.split,
                image=image,
                scene_graph=graph,
                negatives=negatives,
            )
        )
    return out


def scene_records(config: ShapesConfig, split: str, start: int, stop: int) -> list[CaptionRecord]:
    """Records for scenes ``[start, stop)`` of ``split`` (``captions_per_image`` per scene).

    Each scene depends only on (config, split, index), never on the chunk, so
    a pipeline may cut the range anywhere and generate chunks in parallel.
    """
    return [r for item in iter_scene_items(config, split, start, stop) for r in item_records(config, item)]


def parse_record_id(record_id: str) -> tuple[str, int, int]:
    """``"shapes-test-000123-c1"`` → ``("test", 123, 1)``; ValueError for any other id."""
    parts = record_id.split("-")
    if len(parts) != 4 or parts[0] != "shapes" or parts[1] not in SPLITS or not parts[3].startswith("c"):
        raise ValueError(f"record_id must look like 'shapes-<split>-<index>-c<k>', got {record_id!r}")
    try:
        return parts[1], int(parts[2]), int(parts[3][1:])
    except ValueError:
        raise ValueError(
            f"record_id must look like 'shapes-<split>-<index>-c<k>', got {record_id!r}"
        ) from None


def scene_of(config: ShapesConfig, record_id: str) -> Scene:
    """The scene a record shows, regenerated from its id (to judge negatives made downstream)."""
    split, index, _ = parse_record_id(record_id)
    return sample_scene(config, split, index)
