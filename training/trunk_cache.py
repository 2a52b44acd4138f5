"""A locked image trunk's frozen prefix, computed once per distinct image (LiT-style).

When a pretrained CNN trunk is locked (all of it, or all but its last layer groups), the
frozen prefix is a pure function of the input image: no gradients, BatchNorm statistics
frozen, no dropout. On a CPU it is also most of a training step (EfficientNet-Lite0 at
128 px: ~10 ms per image forward, against ~1 ms for the trainable rest), and a small dataset
shows every image many times. So the prefix output is memoised per image (computed in the
channels-last layout, equal to the default one up to float rounding), keyed by the bytes
of the preprocessed image tensor (blake2b-128: a changed pixel is a different key, so the
memo can never serve a stale or foreign feature), and the trainable rest runs as usual.

A cache is bound to the prefix weights it was filled with (a fingerprint of their bytes):
several models with the same frozen prefix share it (the demo's three runs and their
evaluations compute each image's features once in all), and attaching it to a model with
other weights raises.

Only EfficientNet-family timm trunks are supported: their ``forward_features`` is the flat
sequence ``conv_stem, bn1, blocks[i][j]…, conv_head, bn2`` (checked in the tests), which is
what lets the prefix end between any two blocks.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)

_STEM, _HEAD = ("conv_stem", "bn1"), ("conv_head", "bn2")


def trunk_sequence(trunk: nn.Module) -> list[tuple[str, nn.Module]]:
    """``trunk.forward_features`` as a flat list of (name, module), applied in order."""
    from timm.models.efficientnet import EfficientNet

    if not isinstance(trunk, EfficientNet):
        raise ValueError(
            f"trunk feature caching supports timm EfficientNet trunks, got {type(trunk).__name__}"
        )
    seq = [(name, trunk.get_submodule(name)) for name in _STEM]
    for i, stage in enumerate(trunk.blocks):
        seq += [(f"blocks.{i}.{j}", block) for j, block in enumerate(stage)]
    seq += [(name, trunk.get_submodule(name)) for name in _HEAD]
    return seq


def _is_frozen(module: nn.Module) -> bool:
    """No trainable parameter, no BatchNorm that updates statistics, no active dropout."""
    if any(p.requires_grad for p in module.parameters()):
        return False
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            return False
        if float(getattr(m, "drop_prob", 0.0) or 0.0) > 0 or (isinstance(m, nn.Dropout) and m.p > 0):
            return False
    return True


def frozen_prefix(trunk: nn.Module) -> tuple[list[nn.Module], list[nn.Module], list[str]]:
    """Split the trunk into its longest frozen leading run and the rest (modules, and prefix names)."""
    seq = trunk_sequence(trunk)
    n = 0
    while n < len(seq) and _is_frozen(seq[n][1]):
        n += 1
    if n == 0:
        raise ValueError("the image trunk has no frozen prefix to cache: lock it first (lock_image)")
    return [m for _, m in seq[:n]], [m for _, m in seq[n:]], [name for name, _ in seq[:n]]


def fingerprint(modules: list[nn.Module]) -> str:
    """blake2b of every tensor (parameters and buffers) of ``modules``, in order."""
    h = hashlib.blake2b(digest_size=16)
    for module in modules:
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            t = tensor.detach().cpu().contiguous()
            h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
            h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
    return h.hexdigest()


class TrunkFeatureCache:
    """Memo of frozen-prefix outputs per distinct preprocessed image (least recently used go first)."""

    def __init__(self, max_items: int = 100_000) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items!r}")
        self.max_items = max_items
        self.fingerprint: str | None = None
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[bytes, Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def bind(self, weights: str) -> None:
        """Tie the cache to one prefix's weights; a different prefix raises."""
        if self.fingerprint is None:
            self.fingerprint = weights
        elif self.fingerprint != weights:
            raise ValueError(
                "this trunk feature cache holds features of other prefix weights "
                f"({self.fingerprint[:12]}…, model has {weights[:12]}…); use a new cache"
            )

    def export(self) -> tuple[str | None, list[bytes], Tensor | None]:
        """(prefix fingerprint, keys, stacked features): the memo as one picklable payload."""
        keys = list(self._items)
        return self.fingerprint, keys, torch.stack([self._items[k] for k in keys]) if keys else None

    def load(self, weights: str | None, keys: list[bytes], features: Tensor | None) -> None:
        """Add what :meth:`export` gave (from another process); bound to the same prefix weights."""
        if not keys:
            return
        if weights is None or features is None or len(features) != len(keys):
            raise ValueError("a trunk feature payload needs a fingerprint and one feature per key")
        self.bind(weights)
        for k, feature in zip(keys, features, strict=True):
            self._items[k] = feature
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    @staticmethod
    def key(image: Tensor) -> bytes:
        t = image.detach().cpu().contiguous()
        h = hashlib.blake2b(f"{t.dtype}:{tuple(t.shape)}".encode(), digest_size=16)
        h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))
        return h.digest()

    @torch.no_grad()
    def __call__(self, prefix: list[nn.Module], images: Tensor) -> Tensor:
        """Prefix output for a batch (B, C, h, w); misses are computed together, once each."""
        keys = [self.key(image) for image in images]
        todo: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            if k in self._items:
                self._items.move_to_end(k)
            elif k not in todo:
                todo[k] = i
        self.misses += len(todo)
        self.hits += len(keys) - len(todo)
        if todo:
            # Channels-last convolutions are ~1.5x faster on CPU for this depthwise-heavy trunk
            # (measured); results equal the default layout's to float rounding (~1e-5).
            x = images[list(todo.values())].contiguous(memory_format=torch.channels_last)
            for module in prefix:
                x = module(x)
            for k, feature in zip(todo, x, strict=True):
                self._items[k] = feature.contiguous()
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return torch.stack([self._items[k] for k in keys])


def _is_frozen_bn(module: nn.Module) -> bool:
    """A frozen BatchNorm(+act) (timm's ``FrozenBatchNormAct2d``, torchvision's
    ``FrozenBatchNorm2d``): statistics and affine as buffers, no parameters, x*scale+shift."""
    buffers = dict(module.named_buffers(recurse=False))
    return (
        type(module).__name__.startswith("FrozenBatchNorm")
        and all(k in buffers for k in ("weight", "bias", "running_mean", "running_var"))
        and not any(True for _ in module.parameters(recurse=False))
    )


@torch.no_grad()
def fold_frozen_batchnorm(modules: list[nn.Module]) -> list[nn.Module]:
    """Copies of ``modules`` with every conv → frozen BatchNorm pair folded into the conv.

    Why: in a frozen prefix, BatchNorm is a per-channel affine map, yet it runs as two full
    passes over each feature map (``x * scale + shift``) — on a CPU as costly as the
    convolutions themselves (EfficientNet-Lite0 at 128 px: 55 of 134 s of the demo's feature
    fill, profiled). Folded, ``conv(x; w * s) + (b - mean * s)`` gives the same map up to float
    rounding. Pairs are found as adjacent children (conv registered right before its norm,
    as in every timm EfficientNet block); the norm is replaced by its dropout and activation.
    The originals are untouched: they stay what the cache's fingerprint is taken of.
    """
    folded = copy.deepcopy(nn.ModuleList(modules))
    for parent in list(folded.modules()):
        children = list(parent.named_children())
        for (_, conv), (norm_name, norm) in zip(children[:-1], children[1:], strict=True):
            if not (isinstance(conv, nn.Conv2d) and _is_frozen_bn(norm)):
                continue
            scale = norm.weight * (norm.running_var + norm.eps).rsqrt()
            shift = norm.bias - norm.running_mean * scale
            if conv.bias is not None:
                shift = shift + conv.bias * scale
            conv.weight = nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1), requires_grad=False)
            conv.bias = nn.Parameter(shift, requires_grad=False)
            after = [m for m in (getattr(norm, "drop", None), getattr(norm, "act", None)) if m is not None]
            setattr(parent, norm_name, nn.Sequential(*after))
    return list(folded)


@dataclass
class TrunkCacheBinding:
    """What :func:`image_trunk_features` needs: the cache, the frozen prefix and the rest.

    ``fast_prefix`` is the prefix with BatchNorm folded into the convolutions: what fills
    the cache (``prefix`` itself stays for the fingerprint and for callers that walk it).
    """

    cache: TrunkFeatureCache
    prefix: list[nn.Module]
    rest: list[nn.Module]
    prefix_names: list[str]
    fast_prefix: list[nn.Module] | None = None

    def forward(self, images: Tensor) -> Tensor:
        x = self.cache(self.fast_prefix or self.prefix, images)
        for module in self.rest:
            x = module(x)
        return x


BINDING_ATTR = "negforge_trunk_cache"


def attach_trunk_cache(visual: nn.Module, cache: TrunkFeatureCache) -> TrunkCacheBinding:
    """Route ``visual.trunk``'s features through ``cache`` (call after all weights are loaded)."""
    trunk = getattr(visual, "trunk", None)
    if trunk is None:
        raise ValueError(f"trunk feature caching needs an open_clip timm tower, got {type(visual).__name__}")
    prefix, rest, names = frozen_prefix(trunk)
    cache.bind(fingerprint(prefix))
    binding = TrunkCacheBinding(
        cache=cache, prefix=prefix, rest=rest, prefix_names=names, fast_prefix=fold_frozen_batchnorm(prefix)
    )
    # A plain attribute (not a submodule): no state_dict entries, checkpoints stay unchanged.
    object.__setattr__(visual, BINDING_ATTR, binding)
    logger.info("trunk feature cache on %d frozen modules (%s … %s)", len(names), names[0], names[-1])
    return binding


def detach_trunk_cache(visual: nn.Module) -> None:
    visual.__dict__.pop(BINDING_ATTR, None)


def trunk_cache_binding(visual: nn.Module) -> TrunkCacheBinding | None:
    return visual.__dict__.get(BINDING_ATTR)


def warm_trunk_cache(
    cache: TrunkFeatureCache,
    model_config,
    images: Iterable[bytes],
    batch_size: int = 64,
) -> int:
    """Fill ``cache`` with the frozen-prefix features of encoded ``images`` ahead of training.

    Why: the prefix is most of a training step's image cost, and which images a run will see
    is often known before its data is (the demo renders its shapes scenes while the build is
    still writing them). The features are those training computes: same model construction
    (so the same locked prefix, which :meth:`TrunkFeatureCache.bind` checks), same
    preprocessing, same keys; an image that does not come up later costs only memory.
    Returns the number of images filled.
    """
    from .data import load_image
    from .model import create_model

    bundle = create_model(model_config, device="cpu")
    binding = attach_trunk_cache(bundle.model.visual, cache)
    prefix = binding.fast_prefix or binding.prefix
    filled, batch = 0, []
    for png in images:
        batch.append(bundle.preprocess(load_image({"bytes": png}, root="")))
        if len(batch) == batch_size:
            cache(prefix, torch.stack(batch))
            filled, batch = filled + len(batch), []
    if batch:
        cache(prefix, torch.stack(batch))
        filled += len(batch)
    return filled
