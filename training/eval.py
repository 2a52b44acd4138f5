"""Evaluation: SugarCrepe-format compositionality, zero-shot classification, retrieval.

All three embed with the model's own transform and tokenizer, L2-normalise, and compare by
cosine similarity (the logit scale never changes a ranking):

- SugarCrepe (Hsieh et al., 2023): a folder of ``<type>.json`` files
  ``{id: {"filename", "caption", "negative_caption"}}`` plus images; accuracy per type is the
  share of images whose caption scores strictly above the negative.
- Zero-shot: an image folder ``DIR/<class>/*.png`` with ``classnames.json`` (class k is folder
  k in sorted order, as torchvision's ImageFolder) and ``templates.json`` (``"a photo of a {}"``
  strings); class embeddings are the normalised mean over templates (CLIP's recipe).
- Retrieval: a JSONL of ``{"image_path", "captions": [...]}`` (or ``"caption"``), paths
  relative to the file; image→text and text→image recall@k.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .model import ModelBundle, create_model, encode_image, merge_lora

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def load_for_eval(
    checkpoint: str | None = None,
    model: str | None = None,
    pretrained: str | None = None,
    device: str | torch.device = "cpu",
) -> ModelBundle:
    """A model ready to evaluate: a negforge training checkpoint, or an open_clip model by name.

    Checkpoints carry their training config, so the architecture (and any LoRA, merged here)
    is rebuilt exactly; loading uses ``weights_only=True``.
    """
    from .config import TrainConfig
    from .model import ModelConfig
    from .train import load_checkpoint, model_config

    if checkpoint:
        ckpt = load_checkpoint(checkpoint)
        config = model_config(TrainConfig(**ckpt["config"]))
        # The checkpoint holds every weight: skip the pretrained download/load.
        bundle = create_model(config, device="cpu", load_pretrained=False)
        bundle.model.load_state_dict(ckpt["model"])
    elif model:
        bundle = create_model(ModelConfig(name=model, pretrained=pretrained), device="cpu")
    else:
        raise ValueError("give a checkpoint or a model name")
    merge_lora(bundle.model)
    bundle.model.to(device).eval()
    return bundle


def _device(bundle: ModelBundle) -> torch.device:
    return next(bundle.model.parameters()).device


@torch.no_grad()
def encode_images(bundle: ModelBundle, paths: Sequence[str], batch_size: int = 64) -> Tensor:
    """Normalised image embeddings (N, D), in the order of ``paths``."""
    from PIL import Image

    out = []
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        images = []
        for path in chunk:
            with Image.open(path) as img:
                images.append(bundle.preprocess(img.convert("RGB")))
        batch = torch.stack(images).to(_device(bundle))
        out.append(F.normalize(encode_image(bundle.model, batch).float(), dim=-1).cpu())
    return torch.cat(out) if out else torch.empty(0)


@torch.no_grad()
def encode_texts(bundle: ModelBundle, texts: Sequence[str], batch_size: int = 256) -> Tensor:
    """Normalised text embeddings (N, D)."""
    out = []
    for start in range(0, len(texts), batch_size):
        ids = bundle.tokenizer(list(texts[start : start + batch_size])).to(_device(bundle))
        out.append(F.normalize(bundle.model.encode_text(ids).float(), dim=-1).cpu())
    return torch.cat(out) if out else torch.empty(0)


# ---------------------------------------------------------------------------
# SugarCrepe
# ---------------------------------------------------------------------------


def _resolve_image(folder: str, image_root: str | None, filename: str) -> str:
    candidates = [os.path.join(image_root, filename)] if image_root else []
    candidates += [os.path.join(folder, "images", filename), os.path.join(folder, filename)]
    for path in candidates:
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"image {filename!r} not found in {candidates}")


def eval_sugarcrepe(bundle: ModelBundle, folder: str, image_root: str | None = None) -> dict[str, Any]:
    """Accuracy per type (and their mean) over every ``<type>.json`` in ``folder``.

    Images default to ``folder/images/`` then ``folder/`` (SugarCrepe's own release keeps them
    in COCO's val2017 folder: pass it as ``image_root``).
    """
    files = sorted(f for f in os.listdir(folder) if f.endswith(".json"))
    if not files:
        raise FileNotFoundError(f"no <type>.json files in {folder}")
    results: dict[str, Any] = {}
    for name in files:
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            table = json.load(f)
        entries = list(table.values())
        if not entries:
            continue
        paths = [_resolve_image(folder, image_root, e["filename"]) for e in entries]
        unique = sorted(set(paths))
        index = {p: i for i, p in enumerate(unique)}
        images = encode_images(bundle, unique)[[index[p] for p in paths]]  # (N, D)
        pos = encode_texts(bundle, [e["caption"] for e in entries])  # (N, D)
        neg = encode_texts(bundle, [e["negative_caption"] for e in entries])  # (N, D)
        correct = (images * pos).sum(-1) > (images * neg).sum(-1)  # (N,)
        results[name[: -len(".json")]] = {"accuracy": float(correct.float().mean()) * 100, "n": len(entries)}
    types = [v["accuracy"] for v in results.values()]
    return {"types": results, "mean": sum(types) / len(types) if types else float("nan")}


# ---------------------------------------------------------------------------
# Zero-shot classification
# ---------------------------------------------------------------------------


def _format(template: str, name: str) -> str:
    return template.replace("{c}", name).replace("{}", name)


def eval_zero_shot(bundle: ModelBundle, folder: str) -> dict[str, Any]:
    """Top-1 (and top-5 when there are > 5 classes) accuracy on an image folder."""
    with open(os.path.join(folder, "classnames.json"), encoding="utf-8") as f:
        classnames = json.load(f)
    with open(os.path.join(folder, "templates.json"), encoding="utf-8") as f:
        templates = json.load(f)
    folders = sorted(e for e in os.listdir(folder) if os.path.isdir(os.path.join(folder, e)))
    if isinstance(classnames, dict):  # {folder: name}
        folders, classnames = sorted(classnames), [classnames[k] for k in sorted(classnames)]
    if len(folders) != len(classnames):
        raise ValueError(f"{len(classnames)} classnames but {len(folders)} class folders in {folder}")
    weights = []
    for name in classnames:
        emb = encode_texts(bundle, [_format(t, name) for t in templates]).mean(0)
        weights.append(F.normalize(emb, dim=-1))
    classifier = torch.stack(weights)  # (n_classes, D)
    paths, labels = [], []
    for label, sub in enumerate(folders):
        for file in sorted(os.listdir(os.path.join(folder, sub))):
            if file.lower().endswith(IMAGE_EXTENSIONS):
                paths.append(os.path.join(folder, sub, file))
                labels.append(label)
    if not paths:
        raise FileNotFoundError(f"no images under {folder}/<class>/")
    logits = encode_images(bundle, paths) @ classifier.t()  # (N, n_classes)
    target = torch.tensor(labels)
    result: dict[str, Any] = {
        "top1": float((logits.argmax(-1) == target).float().mean()) * 100,
        "n": len(paths),
        "n_classes": len(classnames),
    }
    if len(classnames) > 5:
        top5 = logits.topk(5, dim=-1).indices
        result["top5"] = float((top5 == target[:, None]).any(-1).float().mean()) * 100
    return result


# ---------------------------------------------------------------------------
# Retrieval
# ---------------------------------------------------------------------------


def eval_retrieval(bundle: ModelBundle, path: str, ks: Sequence[int] = (1, 5, 10)) -> dict[str, Any]:
    """Recall@k both ways on a caption set (several captions per image allowed)."""
    root = os.path.dirname(os.path.abspath(path))
    images, captions, owner = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            caps = row.get("captions") or [row["caption"]]
            image = row.get("image_path") or row["filename"]
            images.append(image if os.path.isabs(image) else os.path.normpath(os.path.join(root, image)))
            captions.extend(caps)
            owner.extend([len(images) - 1] * len(caps))
    sim = encode_images(bundle, images) @ encode_texts(bundle, captions).t()  # (N_img, N_txt)
    owner_t = torch.tensor(owner)
    result: dict[str, Any] = {"n_images": len(images), "n_captions": len(captions)}
    for k in ks:
        k_img = min(k, len(captions))
        top_txt = sim.topk(k_img, dim=1).indices  # (N_img, k)
        hit_i2t = (owner_t[top_txt] == torch.arange(len(images))[:, None]).any(1)
        k_txt = min(k, len(images))
        top_img = sim.t().topk(k_txt, dim=1).indices  # (N_txt, k)
        hit_t2i = (top_img == owner_t[:, None]).any(1)
        result[f"i2t_r{k}"] = float(hit_i2t.float().mean()) * 100
        result[f"t2i_r{k}"] = float(hit_t2i.float().mean()) * 100
    return result


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------


def flatten(results: dict[str, Any]) -> dict[str, float]:
    """``{"sugarcrepe/replace_att": 71.2, "zero_shot/top1": 88.0, …}`` from one model's results."""
    flat: dict[str, float] = {}
    if "sugarcrepe" in results:
        for t, v in results["sugarcrepe"]["types"].items():
            flat[f"sugarcrepe/{t}"] = v["accuracy"]
        flat["sugarcrepe/mean"] = results["sugarcrepe"]["mean"]
    for section in ("zero_shot", "retrieval"):
        for key, value in results.get(section, {}).items():
            if not key.startswith("n"):
                flat[f"{section}/{key}"] = value
    return flat


def format_table(runs: dict[str, dict[str, Any]]) -> str:
    """Side-by-side table (one column per model) of :func:`flatten`'d results."""
    flat = {name: flatten(r) for name, r in runs.items()}
    rows = list(dict.fromkeys(k for f in flat.values() for k in f))
    names = list(runs)
    width = max([len("metric")] + [len(r) for r in rows])
    cols = [max(len(n), 7) for n in names]
    lines = ["  ".join(["metric".ljust(width)] + [n.rjust(c) for n, c in zip(names, cols, strict=True)])]
    lines.append("  ".join(["-" * width] + ["-" * c for c in cols]))
    for row in rows:
        cells = [
            (f"{flat[n][row]:.1f}" if row in flat[n] else "-").rjust(c)
            for n, c in zip(names, cols, strict=True)
        ]
        lines.append("  ".join([row.ljust(width)] + cells))
    return "\n".join(lines)
