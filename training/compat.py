"""Environment shim: make torchvision importable beside a CPU-only torch wheel.

Why it lives here: it is about torch, and ``training`` is the package that
depends on torch (``schemas`` depends on nothing heavy). ``training`` (open_clip,
timm) and the pipeline's model stages (transformers / sentence-transformers for
scoring, a tokenizer for LLM prompts) import torchvision indirectly; they call
this first. Importing this module imports nothing heavy: torch is imported
inside the function, only when torchvision is installed.

The CPU torch 2.13.0 wheel used on CPU machines comes with a torchvision whose
compiled ops library does not load ("operator torchvision::nms does not exist"),
and open_clip/timm import torchvision unconditionally. When, and only when, the
ops library fails to load, we register the two op *schemas* torchvision's Python
code looks up at import time, so its PIL transforms work; its compiled ops
(nms, roi_align, ...) stay unavailable, which nothing in negforge needs. Where
the ops do load (CUDA builds, matching wheels) this does nothing: registering
the schemas a second time would abort the process.
"""

from __future__ import annotations

import importlib.util
import logging
import os

logger = logging.getLogger(__name__)

_LIBRARY = None  # keep the Library alive: if collected, the definitions vanish


def ensure_torchvision_importable() -> None:
    """Idempotent; call before anything imports torchvision (open_clip, timm, transformers)."""
    global _LIBRARY
    if _LIBRARY is not None:
        return
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.submodule_search_locations is None:
        return  # torchvision not installed: nothing to fix
    import torch

    try:
        torch.ops.torchvision.nms  # noqa: B018 - already registered (torchvision imported fine)
        return
    except (AttributeError, RuntimeError):
        pass
    pkg_dir = list(spec.submodule_search_locations)[0]
    candidates = [f for f in os.listdir(pkg_dir) if f.startswith("_C") and f.endswith((".so", ".pyd"))]
    for name in candidates:
        try:
            torch.ops.load_library(os.path.join(pkg_dir, name))
            return  # the real ops loaded: nothing to shim
        except (OSError, RuntimeError):
            continue
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBRARY = lib
    logger.debug("torchvision ops library did not load; registered op schemas only")
