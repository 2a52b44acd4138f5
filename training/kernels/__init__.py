"""Fused Triton kernels for the FSC-CLIP losses (DESIGN §6), twins of ``negforge.training.losses``.

Functional API, same signatures as the reference functions::

    fused_clip_loss(image_features[B,D], text_features[B,D], logit_scale,
                    all_image_features[N,D]=None, all_text_features[N,D]=None)      -> scalar
    fused_scr_loss(logits[B,C], neg_mask[B,K], gamma, beta, missing)                  -> scalar
    fused_local_scores(image_tokens[B,P,D], text_tokens[B,C,T,D], token_mask[B,C,T],
                       logit_scale, normalizer)                                       -> [B,C]

Importing this package never imports Triton or touches a device: the kernel modules load on
the first call, so ``import negforge.training.kernels`` works on machines without Triton, where
:func:`triton_available` says False and the functions raise ``ImportError``.

Every result is float32 whatever the input dtype (fp32, fp16 or bf16 inputs; fp32 accumulation).

Kernels run on CUDA tensors, or on CPU tensors under Triton's interpreter
(``TRITON_INTERPRET=1`` set before the first call), which is how CI tests them.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["fused_clip_loss", "fused_local_scores", "fused_scr_loss", "triton_available"]


def triton_available() -> bool:
    """True when the ``triton`` package can be imported (it is only looked up, not loaded)."""
    try:
        return importlib.util.find_spec("triton") is not None
    except (ImportError, ValueError):  # a broken or deliberately blocked install
        return False


def _require_triton() -> None:
    if not triton_available():
        raise ImportError(
            "the fused FSC-CLIP losses need Triton: pip install 'negforge[kernels]' "
            "(or use backend='reference')"
        )


def fused_clip_loss(
    image_features: Tensor,
    text_features: Tensor,
    logit_scale: Any,
    all_image_features: Tensor | None = None,
    all_text_features: Tensor | None = None,
) -> Tensor:
    """Symmetric InfoNCE in tiles (O(B) memory), optionally local rows × gathered columns;
    see :mod:`.contrastive`."""
    _require_triton()
    from negforge.training.kernels.contrastive import fused_clip_loss as impl

    return impl(image_features, text_features, logit_scale, all_image_features, all_text_features)


def fused_scr_loss(
    logits: Tensor, neg_mask: Tensor, gamma: float = 2.0, beta: float = 0.02, missing: str = "mask"
) -> Tensor:
    """Focal + label-smoothed cross-entropy over the candidates; see :mod:`.scr`."""
    _require_triton()
    from negforge.training.kernels.scr import fused_scr_loss as impl

    return impl(logits, neg_mask, gamma, beta, missing)


def fused_local_scores(
    image_tokens: Tensor,
    text_tokens: Tensor,
    token_mask: Tensor,
    logit_scale: Any,
    normalizer: str = "minmax",
) -> Tensor:
    """Token-level LHN scores without the B×C×T×P tensor; see :mod:`.local_scores`."""
    _require_triton()
    from negforge.training.kernels.local_scores import fused_local_scores as impl

    return impl(image_tokens, text_tokens, token_mask, logit_scale, normalizer)
