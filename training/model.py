"""open_clip models for FSC-CLIP: creation, token features (DESIGN §6) and LoRA.

Three things the trainer and evaluator need from a model, kept in one place:

- :func:`create_model` builds any open_clip model by name with a ``pretrained`` tag or
  checkpoint path, or the built-in ``tiny`` config (random init, trains on CPU in minutes).
  negforge's own open_clip configs (``training/configs/open_clip/*.json``, e.g.
  ``EfficientNet-Lite0-Tiny``) are registered with open_clip, so they are names like any
  other; a timm image tower can load pretrained trunk weights (``image_pretrained``, see
  :mod:`.towers`) and be locked, all of it or all but its last layer groups.
- :func:`encode_image_tokens` / :func:`encode_text_tokens` return the global embedding *and*
  the per-token features the Local HN loss needs, taken exactly as the FSC-CLIP reference code
  takes them from open_clip: patch tokens ``ln_post(x)[:, 1:] @ visual.proj`` and text tokens
  ``ln_final(x) @ text_projection`` at every position, with mask ``ids > 0`` and position 0
  (SOT) cleared so the EOT token is kept. A CNN tower's patch tokens are the positions of its
  final feature map, each passed through the tower's projection head: with average pooling
  the global embedding is then exactly the mean of the tokens, as a ViT's CLS relates to its
  patches through one shared projection.
- :func:`apply_lora` adds low-rank adapters to attention and MLP projection weights through
  ``torch.nn.utils.parametrize``. Parametrising the *weight* (not wrapping the module) matters:
  ``nn.MultiheadAttention`` reads ``in_proj_weight`` and ``out_proj.weight`` directly, so a
  wrapped ``out_proj`` module would never be called.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

logger = logging.getLogger(__name__)

#: A small open_clip CLIP config (ViT 32 px / patch 4 → 64 patches, 2 layers, width 64; text
#: 2 layers, width 64, context 32) that trains on two CPU cores in minutes.
TINY_MODEL_CFG: dict[str, Any] = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 32, "patch_size": 4, "width": 64, "layers": 2, "head_width": 32},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
BUILTIN_CONFIGS: dict[str, dict[str, Any]] = {"tiny": TINY_MODEL_CFG}

LORA_TARGETS = ("attn", "mlp")
_FROZEN_BEFORE_LORA = "negforge_frozen_before_lora"  # plain attribute set by apply_lora

#: negforge's open_clip model configs (JSON, open_clip's format), registered on first use.
OPEN_CLIP_CONFIG_DIR = Path(__file__).resolve().parent / "configs" / "open_clip"
_registered = False


def import_open_clip():
    """open_clip, imported after the torchvision shim (open_clip imports torchvision), with
    negforge's model configs added to its registry (``open_clip.list_models()`` shows them)."""
    global _registered
    from negforge.training.compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    import open_clip

    if not _registered:
        open_clip.add_model_config(OPEN_CLIP_CONFIG_DIR)
        _registered = True
    return open_clip


@dataclass(frozen=True)
class ModelConfig:
    """Which model to fine-tune and how."""

    # open_clip model name ("ViT-B-32", "hf-hub:…") or a built-in config ("tiny")
    name: str = "tiny"
    # open_clip pretrained tag ("openai", "laion2b_s34b_b79k") or a checkpoint file; None = random init
    pretrained: str | None = None
    # LoRA rank on attention/MLP projections; 0 = full fine-tuning
    lora_rank: int = 0
    # LoRA scale numerator (delta = B @ A * alpha / rank)
    lora_alpha: float = 16.0
    # which projections get adapters: "attn" (qkv + out) and/or "mlp" (c_fc, c_proj)
    lora_targets: tuple[str, ...] = LORA_TARGETS
    # open_clip config overrides for built-in configs, e.g. {"vision_cfg": {"layers": 4}}
    overrides: dict[str, Any] = field(default_factory=dict)
    # pretrained weights of the image trunk alone (timm towers): a tag registered in
    # negforge.training.towers for the trunk's architecture, e.g. "in1k"; None = as created
    image_pretrained: str | None = None
    # freeze the image trunk: parameters and BatchNorm statistics (LiT-style)
    lock_image: bool = False
    # with lock_image: keep the trunk's last N timm layer groups trainable
    lock_image_unlocked_groups: int = 0

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError(f"name must be a model name, got {self.name!r}")
        if self.image_pretrained is not None and not self.image_pretrained:
            raise ValueError(f"image_pretrained must be a weights tag or None, got {self.image_pretrained!r}")
        if self.lock_image_unlocked_groups < 0:
            raise ValueError(
                f"lock_image_unlocked_groups must be >= 0, got {self.lock_image_unlocked_groups!r}"
            )
        if self.lock_image_unlocked_groups and not self.lock_image:
            raise ValueError("lock_image_unlocked_groups needs lock_image=True")
        if self.lora_rank < 0:
            raise ValueError(f"lora_rank must be >= 0, got {self.lora_rank!r}")
        if self.lora_alpha <= 0:
            raise ValueError(f"lora_alpha must be > 0, got {self.lora_alpha!r}")
        bad = [t for t in self.lora_targets if t not in LORA_TARGETS]
        if bad or not self.lora_targets:
            raise ValueError(
                f"lora_targets must be a non-empty subset of {LORA_TARGETS}, got {self.lora_targets!r}"
            )
        if self.overrides and self.name not in BUILTIN_CONFIGS:
            raise ValueError(
                f"overrides apply to built-in configs {sorted(BUILTIN_CONFIGS)}, got name {self.name!r}"
            )


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class MemoTokenizer:
    """An open_clip tokenizer that remembers the ids of every string it has seen.

    open_clip's ``SimpleTokenizer`` cleans each string (ftfy, regex, whitespace) before its
    BPE cache applies: ~0.5 ms per caption on the development machines, a large share of a
    small model's step when every image brings 1 + K captions. Training sees the same
    captions every epoch, so the result per string is kept (the memo is emptied when it
    reaches ``max_items``). Output is identical to the wrapped tokenizer's.
    """

    def __init__(self, tokenizer: Any, max_items: int = 200_000) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items!r}")
        self.tokenizer = tokenizer
        self.max_items = max_items
        self._memo: dict[str, Tensor] = {}

    def __call__(self, texts: str | list[str]) -> Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        new = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if new:
            if len(self._memo) + len(new) > self.max_items:
                self._memo.clear()
            for text, ids in zip(new, self.tokenizer(new), strict=True):
                self._memo[text] = ids
        return torch.stack([self._memo[t] for t in texts]) if texts else self.tokenizer([])

    def __getattr__(self, name: str) -> Any:  # context_length, vocab_size, … of the wrapped one
        if name == "tokenizer":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.tokenizer, name)


@dataclass
class ModelBundle:
    """A model with the image transform and tokenizer that belong to it."""

    model: nn.Module
    preprocess: Any  # PIL.Image -> Tensor[3, H, W]
    tokenizer: Any  # list[str] -> LongTensor[N, context_length]
    config: ModelConfig


def create_model(
    config: ModelConfig, device: str | torch.device = "cpu", load_pretrained: bool = True
) -> ModelBundle:
    """Build the model, its eval-time image transform and tokenizer; lock and add LoRA if asked.

    Built-in names construct an ``open_clip.CLIP`` from the config dict (random init; a
    ``pretrained`` path is then loaded as a state dict). Other names go through
    ``open_clip.create_model`` (which resolves pretrained tags from its cache or hub, or
    loads a local file). ``load_pretrained=False`` skips every weight file (a checkpoint
    about to be loaded holds them all) but keeps what the weights imply, such as the image
    normalisation of ``image_pretrained``.
    """
    open_clip = import_open_clip()
    pretrained = config.pretrained if load_pretrained else None
    if config.name in BUILTIN_CONFIGS:
        cfg = _merge(BUILTIN_CONFIGS[config.name], config.overrides)
        model = open_clip.CLIP(**cfg)
        if pretrained:
            state = torch.load(pretrained, map_location="cpu", weights_only=True)
            state = state.get("model", state) if isinstance(state, dict) else state
            model.load_state_dict(state)
        context_length = cfg["text_cfg"]["context_length"]
        tokenizer = open_clip.tokenizer.SimpleTokenizer(context_length=context_length)
    else:
        # With image_pretrained the trunk weights come next (or from a checkpoint): open_clip's
        # "initialized randomly" warning would be wrong.
        quiet = _DropLogRecords("No pretrained weights loaded") if config.image_pretrained else None
        with quiet or contextlib.nullcontext():
            model = open_clip.create_model(config.name, pretrained=pretrained)
        tokenizer = open_clip.get_tokenizer(config.name)
    visual = model.visual
    if config.image_pretrained:
        _image_pretrained(open_clip, model, config.image_pretrained, load_pretrained)
    if config.lock_image:
        n = lock_image_trunk(visual, config.lock_image_unlocked_groups)
        logger.info("image trunk locked: %d modules frozen", n)
    preprocess = open_clip.image_transform(
        visual.image_size,
        is_train=False,
        mean=getattr(visual, "image_mean", None),
        std=getattr(visual, "image_std", None),
    )
    if config.lora_rank > 0:
        n = apply_lora(model, config.lora_rank, config.lora_alpha, config.lora_targets)
        logger.info("LoRA rank %d on %d weights", config.lora_rank, n)
    return ModelBundle(
        model=model.to(device), preprocess=preprocess, tokenizer=MemoTokenizer(tokenizer), config=config
    )


class _DropLogRecords(logging.Filter):
    """Context manager: the root logger (open_clip logs there) drops messages with a prefix."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)

    def __enter__(self) -> _DropLogRecords:
        logging.getLogger().addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeFilter(self)


def _timm_trunk(visual: nn.Module, what: str) -> nn.Module:
    trunk = getattr(visual, "trunk", None)
    if trunk is None:
        raise ValueError(
            f"{what} needs an open_clip timm image tower (vision_cfg.timm_model_name), got {type(visual).__name__}"
        )
    return trunk


def _image_pretrained(open_clip, model: nn.Module, tag: str, load: bool) -> None:
    """Load registered trunk weights (if ``load``) and adopt the normalisation they expect."""
    from .towers import load_tower_weights, tower_weights

    trunk = _timm_trunk(model.visual, "image_pretrained")
    weights = load_tower_weights(trunk, tag) if load else tower_weights(trunk, tag)
    preprocess_cfg = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
    preprocess_cfg.update(mean=weights.mean, std=weights.std)
    open_clip.model.set_model_preprocess_cfg(model, preprocess_cfg)


def lock_image_trunk(visual: nn.Module, unlocked_groups: int = 0) -> int:
    """Freeze a timm trunk but its last ``unlocked_groups`` layer groups; returns modules frozen.

    Parameters stop training and BatchNorms become timm's frozen BatchNorm (statistics fixed,
    so a locked layer computes the same function in train and eval mode). This is open_clip's
    ``lock_image_tower(unlocked_groups, freeze_bn_stats=True)`` done with timm's ``freeze``:
    open_clip's own BatchNorm freezing turns timm's ``BatchNormAct2d`` into a plain
    ``FrozenBatchNorm2d`` and silently drops the activation that follows it (EfficientNet's
    ReLU6), which changes what the pretrained trunk computes.
    """
    from timm.models import group_parameters
    from timm.utils.model import freeze

    trunk = _timm_trunk(visual, "lock_image")
    groups = group_parameters(trunk, trunk.group_matcher())  # {group id: [parameter names]}
    ids = sorted(groups)
    if unlocked_groups >= len(ids):
        raise ValueError(
            f"lock_image_unlocked_groups must be < the trunk's {len(ids)} layer groups, got {unlocked_groups!r}"
        )
    if unlocked_groups == 0:
        names = [""]
        freeze(trunk)
    else:
        params = [p for g in ids[: len(ids) - unlocked_groups] for p in groups[g]]
        names = sorted({p.rsplit(".", 1)[0] for p in params})
        freeze(trunk, names)
    return len(names)


# ---------------------------------------------------------------------------
# Token features
# ---------------------------------------------------------------------------


def image_trunk_features(visual: nn.Module, images: Tensor) -> Tensor:
    """A timm tower's final feature map (B, C, h, w), through the trunk cache when one is attached."""
    from .trunk_cache import trunk_cache_binding

    binding = trunk_cache_binding(visual)
    return binding.forward(images) if binding is not None else visual.trunk.forward_features(images)


def encode_image(model: nn.Module, images: Tensor) -> Tensor:
    """``model.encode_image(images)`` (unnormalised), using an attached trunk cache if any."""
    from .trunk_cache import trunk_cache_binding

    visual = getattr(model, "visual", None)  # any model with encode_image (tests use stand-ins)
    if visual is None or trunk_cache_binding(visual) is None:
        return model.encode_image(images)
    return visual.head(visual.trunk.forward_head(image_trunk_features(visual, images)))


def _cnn_image_tokens(visual: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
    """Global embedding (B, D) and per-position tokens (B, h·w, D) of an open_clip timm tower.

    The head (dropout + linear or MLP projection) is applied to every position of the final
    feature map; the global embedding is the tower's own output, ``head(pool(map))``, so it
    equals ``model.encode_image``. Attention-pool heads mix positions and have no such tokens.
    """
    head, trunk = visual.head, visual.trunk
    if "pool" in head._modules:
        raise ValueError("patch tokens need a per-position head: use timm_pool 'avg' (not abs_attn/rot_attn)")
    if not isinstance(trunk.get_classifier(), nn.Identity):
        raise ValueError("patch tokens need the projection in the tower's head (timm_proj 'linear' or 'mlp')")
    fmap = image_trunk_features(visual, images)
    if fmap.ndim != 4:
        raise ValueError(f"patch tokens need a (B, C, h, w) feature map, got {tuple(fmap.shape)}")
    pooled = head(trunk.forward_head(fmap))  # (B, D)
    tokens = head(fmap.flatten(2).transpose(1, 2))  # (B, h·w, C) -> (B, P, D)
    return pooled, tokens


def encode_image_tokens(model: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
    """Global image embedding (B, D) and patch tokens (B, P, D), both unnormalised.

    ViT towers: tokens are ``ln_post(x)[:, 1:] @ visual.proj``, the same LayerNorm and
    projection as the pooled CLS embedding, so patches live in the joint embedding space
    (open_clip's ``VisionTransformer`` with token pooling: every ViT CLIP). CNN towers (open_clip
    ``TimmModel``): the final feature map's positions through the projection head
    (:func:`_cnn_image_tokens`). Other towers raise.
    """
    visual = model.visual
    if getattr(visual, "trunk", None) is not None:
        return _cnn_image_tokens(visual, images)
    if not all(hasattr(visual, a) for a in ("_embeds", "_pool", "transformer", "proj")):
        raise ValueError(
            f"patch tokens need an open_clip VisionTransformer or timm tower, got {type(visual).__name__}"
        )
    if getattr(visual, "attn_pool", None) is not None or getattr(visual, "pool_type", "tok") != "tok":
        raise ValueError("patch tokens need a ViT with CLS-token pooling (pool_type='tok', no attn_pool)")
    x = visual._embeds(images)  # (B, 1+P, W)
    x = visual.transformer(x)
    pooled, tokens = visual._pool(x)  # (B, W), (B, P, W): ln_post applied to both
    if visual.proj is not None:
        pooled = pooled @ visual.proj  # (B, D)
        tokens = tokens @ visual.proj  # (B, P, D)
    return pooled, tokens


def text_token_mask(text: Tensor) -> Tensor:
    """``(ids > 0)`` with position 0 (SOT) cleared: content tokens and EOT, no padding (N, T)."""
    mask = text > 0
    mask[:, 0] = False
    return mask


def encode_text_tokens(model: nn.Module, text: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Global text embedding (N, D), token features (N, T, D) and token mask (N, T).

    Mirrors ``open_clip.CLIP.encode_text`` but keeps every position: tokens are
    ``ln_final(x) @ text_projection``, unnormalised; the pooled embedding is the usual EOT
    (argmax) feature, so it equals ``model.encode_text(text)``. ``text`` may be shorter than the
    context length (trailing padding cut, see ``data.trim_padding``): under the causal mask the
    kept positions' features are the same as with full padding.
    """
    open_clip = import_open_clip()
    n_tok = text.shape[1]  # T ≤ context length: batches may be trimmed to their longest caption
    if isinstance(model, open_clip.CLIP):
        tower, attn_mask = model, model.attn_mask
        x = model.token_embedding(text).to(model.transformer.get_cast_dtype())  # (N, T, W)
        x = x + model.positional_embedding[:n_tok].to(x.dtype)
    elif hasattr(model, "text") and hasattr(model.text, "_embeds") and model.text.cls_emb is None:
        tower = model.text
        x, attn_mask = tower._embeds(text)
    else:
        raise ValueError(f"text tokens need an open_clip text transformer, got {type(model).__name__}")
    if attn_mask is not None and attn_mask.shape[-1] != n_tok:
        # Causal: position t attends to ≤ t only, so cutting trailing padding changes nothing before it.
        attn_mask = attn_mask[..., :n_tok, :n_tok]
    x = tower.transformer(x, attn_mask=attn_mask)
    x = tower.ln_final(x)  # (N, T, W)
    proj = tower.text_projection
    if proj is None:
        tokens = x
    elif isinstance(proj, nn.Linear):
        tokens = proj(x)
    else:
        tokens = x @ proj  # (N, T, D)
    pool_type = getattr(tower, "text_pool_type", None) or getattr(tower, "pool_type", "argmax")
    pooled = open_clip.transformer.text_global_pool(
        tokens, text, pool_type, eos_token_id=getattr(tower, "text_eos_id", getattr(tower, "eos_id", None))
    )  # (N, D)
    return pooled, tokens, text_token_mask(text)


# ---------------------------------------------------------------------------
# LoRA
# ---------------------------------------------------------------------------


class LoRADelta(nn.Module):
    """``W ↦ W + (B A) · alpha / rank`` as a weight parametrisation (Hu et al., 2021).

    ``B`` starts at zero, so a freshly adapted model computes exactly what the base model did.
    """

    def __init__(self, out_features: int, in_features: int, rank: int, alpha: float) -> None:
        super().__init__()
        self.lora_A = nn.Parameter(torch.empty(rank, in_features))
        self.lora_B = nn.Parameter(torch.zeros(out_features, rank))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = alpha / rank

    def forward(self, weight: Tensor) -> Tensor:
        return weight + (self.lora_B @ self.lora_A).to(weight.dtype) * self.scaling


def _lora_sites(model: nn.Module, targets: tuple[str, ...]) -> list[tuple[nn.Module, str]]:
    sites: list[tuple[nn.Module, str]] = []
    for name, module in model.named_modules():
        if "attn" in targets and hasattr(module, "in_proj_weight") and hasattr(module, "out_proj"):
            if isinstance(module.in_proj_weight, Tensor):
                sites.append((module, "in_proj_weight"))
            sites.append((module.out_proj, "weight"))
        if (
            "mlp" in targets
            and isinstance(module, nn.Linear)
            and name.rsplit(".", 1)[-1] in ("c_fc", "c_proj")
        ):
            sites.append((module, "weight"))
    return sites


def apply_lora(
    model: nn.Module, rank: int, alpha: float = 16.0, targets: tuple[str, ...] = LORA_TARGETS
) -> int:
    """Freeze ``model`` and add trainable LoRA adapters; returns the number of adapted weights."""
    if rank <= 0:
        raise ValueError(f"rank must be > 0, got {rank!r}")
    # What was frozen before (a locked image trunk) stays frozen after merge_lora.
    already = {n for n, p in model.named_parameters() if not p.requires_grad}
    model.__dict__[_FROZEN_BEFORE_LORA] = already | model.__dict__.get(_FROZEN_BEFORE_LORA, set())
    for p in model.parameters():
        p.requires_grad_(False)
    sites = _lora_sites(model, targets)
    if not sites:
        raise ValueError(f"no LoRA targets {targets!r} found in {type(model).__name__}")
    for module, attr in sites:
        weight = getattr(module, attr)
        out_features, in_features = weight.shape
        delta = LoRADelta(out_features, in_features, rank, alpha).to(weight.device)
        parametrize.register_parametrization(module, attr, delta)
    return len(sites)


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every adapter into its weight (plain open_clip model again, same outputs).

    Parameters train again as before :func:`apply_lora` (all of them, except those that were
    frozen then, e.g. a locked image trunk). A model without adapters is left as it is.
    """
    merged = False
    for module in list(model.modules()):
        if parametrize.is_parametrized(module):
            merged = True
            for attr in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, attr, leave_parametrized=True)
    if merged:
        frozen = model.__dict__.pop(_FROZEN_BEFORE_LORA, set())
        for name, p in model.named_parameters():
            p.requires_grad_(name not in frozen)
    return model


def trainable_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]
