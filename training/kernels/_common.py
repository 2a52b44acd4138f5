"""Host-side helpers shared by the fused loss kernels: input validation and block sizing.

Nothing here imports Triton, so the validation messages stay available (and testable) on
machines without it. Every check raises ``ValueError`` with the offending values in the
message, in the Liger-Kernel host-function style.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

# Input dtypes the kernels accept; all accumulate in float32.
SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)

# Largest embedding dimension the kernels keep in registers as one block (next power of two).
# CLIP ViT-B (512) and ViT-L (768 → 1024) fit; wider models should use the reference backend.
MAX_BLOCK_D = 1024


def next_power_of_2(n: int) -> int:
    """Smallest power of two ≥ ``n`` (1 for n ≤ 1); Triton block shapes must be powers of two."""
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


def interpreter_enabled() -> bool:
    """True when Triton runs kernels through its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def check_float_tensor(name: str, t: Tensor, ndim: int) -> None:
    """``t`` is a floating tensor of a supported dtype with ``ndim`` dimensions."""
    if not isinstance(t, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(t.shape)}")
    if t.dtype not in SUPPORTED_DTYPES:
        raise ValueError(f"{name} dtype must be one of {SUPPORTED_DTYPES}, got {t.dtype}")


def check_same_dtype(**tensors: Tensor) -> None:
    """All named tensors share one dtype (the kernels load them with one element type)."""
    dtypes = {name: t.dtype for name, t in tensors.items()}
    if len(set(dtypes.values())) > 1:
        raise ValueError(f"inputs must share one dtype, got {dtypes}")


def check_device(**tensors: Tensor) -> torch.device:
    """All named tensors sit on one device that Triton can run on; returns it.

    CUDA always works; CPU tensors only under the interpreter (``TRITON_INTERPRET=1`` set before
    the kernels were defined), which is how the CPU test suite runs them.
    """
    devices = {name: t.device for name, t in tensors.items()}
    if len(set(devices.values())) > 1:
        raise ValueError(f"inputs must be on one device, got {devices}")
    device = next(iter(devices.values()))
    if device.type != "cuda" and not interpreter_enabled():
        raise ValueError(
            f"fused kernels need CUDA tensors (or TRITON_INTERPRET=1 for CPU), got device {device}; "
            "use the reference losses in negforge.training.losses on this device"
        )
    return device


def check_block_d(dim: int) -> int:
    """Register block for the embedding dimension; raises when D is too wide for it."""
    block = max(16, next_power_of_2(dim))
    if block > MAX_BLOCK_D:
        raise ValueError(
            f"embedding dim D={dim} needs a block of {block} > {MAX_BLOCK_D}; the fused kernels keep "
            "one D-row in registers — use backend='reference' for models this wide"
        )
    return block


def scale_tensor(logit_scale: Tensor | float, device: torch.device) -> Tensor:
    """``logit_scale`` (float or 0-dim tensor) as a 0-dim float32 tensor on ``device``.

    A learnable tensor keeps its autograd history (the cast is differentiable), so kernels
    read the value through a pointer — no host sync — and the Function returns its gradient.
    """
    if isinstance(logit_scale, Tensor):
        if logit_scale.numel() != 1:
            raise ValueError(f"logit_scale must be a scalar, got shape {tuple(logit_scale.shape)}")
        return logit_scale.reshape(()).to(device=device, dtype=torch.float32)
    if not isinstance(logit_scale, (int, float)):
        raise ValueError(f"logit_scale must be a float or a 0-dim tensor, got {logit_scale!r}")
    return torch.tensor(float(logit_scale), device=device, dtype=torch.float32)


def dot_precision(dtype: torch.dtype) -> str:
    """``tl.dot`` precision: exact fp32 ("ieee") for fp32 inputs, so results match torch with
    TF32 off (its default for matmul); half types use tensor cores natively ("tf32" is a no-op)."""
    return "ieee" if dtype == torch.float32 else "tf32"
