"""Training configuration: one frozen dataclass, loaded from YAML and overridden from the CLI."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .losses import BACKENDS, MISSING_MODES, NORMALIZERS

LOSSES = ("fsc", "clip")
CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (saved in every checkpoint)."""

    # dataset folder written by `negforge build` (holds data/{split}-*.parquet)
    data: str = ""
    # run folder: checkpoints/, metrics.jsonl, loss.png, config.yaml
    output: str = "runs/fsc"
    # split to train on
    split: str = "train"
    # open_clip model name or built-in config ("tiny")
    model: str = "tiny"
    # open_clip pretrained tag or checkpoint file; None = random init
    pretrained: str | None = None
    # open_clip config overrides for built-in models, e.g. {"vision_cfg": {"layers": 4}}
    model_overrides: dict[str, Any] = field(default_factory=dict)
    # pretrained weights of the image trunk alone (timm towers): a tag registered in
    # training/towers.py for the trunk's architecture ("in1k"); None = as created
    image_pretrained: str | None = None
    # freeze the image trunk, parameters and BatchNorm statistics (LiT-style)
    lock_image: bool = False
    # with lock_image: keep the trunk's last N timm layer groups trainable
    lock_image_unlocked_groups: int = 0
    # learning-rate multiplier of the image trunk's trainable parameters (timm towers)
    image_trunk_lr_mult: float = 1.0
    # memoise the locked trunk's frozen prefix per distinct image (features computed once per image)
    cache_trunk_features: bool = False
    # LoRA rank on attention/MLP projections (0 = full fine-tuning)
    lora_rank: int = 0
    # LoRA alpha (delta scale = alpha / rank)
    lora_alpha: float = 16.0
    # "fsc" = L_clip + λ_g L_gHN + λ_l L_LHN; "clip" = CLIP-only baseline (negatives unused)
    loss: str = "fsc"
    # λ_g, weight of the global hard-negative loss
    lambda_global: float = 0.5
    # λ_l, weight of the local (token-level) hard-negative loss
    lambda_local: float = 0.2
    # focal γ of SCR
    gamma: float = 2.0
    # label-smoothing β of SCR
    beta: float = 0.02
    # missing negatives: "mask" (out of the softmax) or "zero" (reference code: logit 0)
    missing: str = "mask"
    # LHN attention normaliser: "minmax" (paper) or "softmax"
    normalizer: str = "minmax"
    # loss implementation: "reference", "fused" (Triton) or "auto" (fused on CUDA)
    backend: str = "auto"
    # K, hard negatives per image
    num_negatives: int = 4
    # negative type sampling weights {type: weight}; empty = all types equally
    negative_types: dict[str, float] = field(default_factory=dict)
    # images per micro-batch per rank
    batch_size: int = 32
    # micro-batches per optimizer step
    grad_accum: int = 1
    # grad_accum > 1: true = GradCache (cache the micro-batches' embeddings, take the contrastive
    # loss over all of them, backpropagate micro-batch by micro-batch: the exact gradient of the
    # batch_size·grad_accum batch, for one extra no-grad forward); false = independent
    # micro-batches, each contrastive loss seeing only its own batch_size images (warned)
    grad_cache: bool = True
    # DDP: the contrastive loss scores each rank's rows against every rank's features (gathered
    # with gradients, open_clip's gather_with_grad + local_loss), so in-batch negatives come from
    # the global batch as on one GPU; false = per-rank batches only (world_size× fewer negatives)
    gather_features: bool = True
    # optimizer steps
    max_steps: int = 1000
    # peak learning rate (AdamW)
    lr: float = 5e-6
    # decoupled weight decay (never on biases, norms, other 1-d tensors or the logit scale)
    weight_decay: float = 0.1
    # weight decay on the token and positional embeddings too (2-d tensors); open_clip and the
    # FSC-CLIP reference decay them: they exempt only 1-d tensors, biases, norms and logit_scale
    decay_embeddings: bool = True
    # linear warmup steps before the cosine decay
    warmup_steps: int = 50
    # cosine floor as a fraction of lr
    min_lr_ratio: float = 0.0
    # gradient clipping by global norm (0 = off; the FSC-CLIP reference recipe has none)
    grad_clip: float = 0.0
    # whether logit_scale is trained (FSC-CLIP fine-tunes it; frozen keeps the pretrained temperature)
    train_logit_scale: bool = True
    # seed of model init, data order and negative sampling
    seed: int = 0
    # DataLoader workers per rank
    num_workers: int = 0
    # shuffle buffer rows per worker
    shuffle_buffer: int = 1024
    # "auto" (cuda if available), "cpu", "cuda"
    device: str = "auto"
    # torch intra-op threads on CPU (0 = torch's default). Small models on shared cores run
    # many times faster with 1: OpenMP threads spin-wait on busy cores
    cpu_threads: int = 0
    # mixed precision on CUDA: "bf16", "fp16" or "off"
    amp: str = "bf16"
    # log metrics every N steps
    log_every: int = 10
    # save a checkpoint every N steps (and at the end); 0 = only at the end
    save_every: int = 0
    # keep the last N step checkpoints besides last.pt
    keep_checkpoints: int = 2
    # progress bar on rank 0
    progress: bool = True
    # also log to TensorBoard when it is installed
    tensorboard: bool = False

    def __post_init__(self) -> None:
        checks = [
            ("loss", self.loss in LOSSES, f"one of {LOSSES}"),
            ("missing", self.missing in MISSING_MODES, f"one of {MISSING_MODES}"),
            ("normalizer", self.normalizer in NORMALIZERS, f"one of {NORMALIZERS}"),
            ("backend", self.backend in BACKENDS, f"one of {BACKENDS}"),
            ("amp", self.amp in ("bf16", "fp16", "off"), "one of ('bf16', 'fp16', 'off')"),
            (
                "device",
                self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
                "auto|cpu|cuda[:i]",
            ),
            ("num_negatives", self.num_negatives >= 0, ">= 0"),
            ("batch_size", self.batch_size >= 2, ">= 2 (contrastive loss needs in-batch negatives)"),
            ("grad_accum", self.grad_accum >= 1, ">= 1"),
            ("max_steps", self.max_steps >= 1, ">= 1"),
            ("lr", self.lr > 0, "> 0"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("warmup_steps", self.warmup_steps >= 0, ">= 0"),
            ("min_lr_ratio", 0 <= self.min_lr_ratio <= 1, "in [0, 1]"),
            ("grad_clip", self.grad_clip >= 0, ">= 0"),
            ("lambda_global", self.lambda_global >= 0, ">= 0"),
            ("lambda_local", self.lambda_local >= 0, ">= 0"),
            ("gamma", self.gamma >= 0, ">= 0"),
            ("beta", 0 <= self.beta < 1, "in [0, 1)"),
            ("lora_rank", self.lora_rank >= 0, ">= 0"),
            ("lock_image_unlocked_groups", self.lock_image_unlocked_groups >= 0, ">= 0"),
            ("image_trunk_lr_mult", self.image_trunk_lr_mult > 0, "> 0 (lock_image freezes)"),
            (
                "cache_trunk_features",
                not self.cache_trunk_features or self.lock_image,
                "false unless lock_image",
            ),
            ("num_workers", self.num_workers >= 0, ">= 0"),
            ("cpu_threads", self.cpu_threads >= 0, ">= 0"),
            ("shuffle_buffer", self.shuffle_buffer >= 1, ">= 1"),
            ("log_every", self.log_every >= 1, ">= 1"),
            ("save_every", self.save_every >= 0, ">= 0"),
            ("keep_checkpoints", self.keep_checkpoints >= 0, ">= 0"),
        ]
        for name, ok, what in checks:
            if not ok:
                raise ValueError(f"{name} must be {what}, got {getattr(self, name)!r}")
        for t, w in self.negative_types.items():
            if not isinstance(t, str) or float(w) < 0:
                raise ValueError(f"negative_types must map type -> weight >= 0, got {t!r}: {w!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


_SCALARS = {"int": int, "float": float, "str": str}


def _coerce(name: str, value: Any) -> Any:
    """Check a value against the field's type (YAML reads ``5e-6`` as a string; fix that)."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    if name not in fields:
        raise ValueError(f"unknown config field {name!r}; known: {sorted(fields)}")
    kind = str(fields[name].type)
    if value is None:
        if "None" not in kind:
            raise ValueError(f"{name} must not be null")
        return None
    base = kind.replace(" | None", "")
    if base in _SCALARS:
        try:
            return _SCALARS[base](value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be {base}, got {value!r}") from None
    if base == "bool" and not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    if base.startswith("dict") and not isinstance(value, dict):
        raise ValueError(f"{name} must be a mapping, got {value!r}")
    return value


def load_config(
    path: str | None = None, overrides: Mapping[str, Any] | None = None, sets: list[str] | None = None
) -> TrainConfig:
    """Defaults ← YAML file (a path or a name under training/configs) ← overrides ← ``k=v`` sets."""
    values: dict[str, Any] = {}
    if path:
        if not os.path.exists(path) and os.path.exists(os.path.join(CONFIG_DIR, f"{path}.yaml")):
            path = os.path.join(CONFIG_DIR, f"{path}.yaml")
        with open(path, encoding="utf-8") as f:
            loaded = yaml.safe_load(f) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"config file must hold a mapping, got {type(loaded).__name__} in {path}")
        values.update(loaded)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    for item in sets or []:
        if "=" not in item:
            raise ValueError(f"--set expects name=value, got {item!r}")
        name, raw = item.split("=", 1)
        values[name.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return TrainConfig(**{name: _coerce(name, value) for name, value in values.items()})
