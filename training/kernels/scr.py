"""Fused SCR loss (FSC-CLIP's focal + label-smoothed cross-entropy, DESIGN §6), forward and backward.

Math, per row i with logits z (C = 1 + K candidates, positive first) and k_i valid negatives::

    valid_0 = 1,  valid_c = neg_mask[i, c−1]
    z'_c    = z_c if valid_c else (−∞ for missing="mask" | 0 for missing="zero")
    p       = softmax(z'),   log p_c = z'_c − logsumexp(z')
    ỹ_0     = (1−β) + β/(k_i+1),   ỹ_c = β/(k_i+1) for valid negatives, 0 otherwise
    loss_i  = −Σ_{c valid} ỹ_c (1−p_c)^γ log p_c
    L       = Σ_{i: k_i ≥ 1} loss_i / max(#{i: k_i ≥ 1}, 1)

Gradient (computed in the forward pass, Liger-Kernel style, and scaled in the backward)::

    h_c         = ỹ_c [ (1−p_c)^γ − γ (1−p_c)^(γ−1) p_c log p_c ]      (0 for invalid c)
    ∂loss_i/∂z_j = p_j Σ_c h_c − h_j        for valid j;  0 for missing j (the mask cuts it)

One program handles BLOCK_B rows with all C candidates in registers (C is small: 1 + K with
K ≤ a few dozen), so the loss is a single memory-bound pass over B·C logits: one launch in place
of the ~20 elementwise kernels of the reference. Rows without a valid negative (k_i = 0, and
every row when K = 0) get zero loss and zero gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch import Tensor
from torch.autograd.function import once_differentiable

from negforge.training.kernels._common import check_device, check_float_tensor, next_power_of_2

MISSING_MODES = ("mask", "zero")


@dataclass(frozen=True)
class SCRConfig:
    """Scalars of one SCR call (passed to the autograd Function as one object)."""

    gamma: float = 2.0  # focal exponent γ ≥ 0 (0: no focal term)
    beta: float = 0.02  # label smoothing β in [0, 1)
    missing: str = "mask"  # missing negatives: "mask" (out of the softmax) or "zero" (logit 0)
    block_b: int = 16  # rows per program
    block_c: int = 2  # candidate block: next power of two ≥ C (≥ 2)

    def __post_init__(self) -> None:
        if not self.gamma >= 0:
            raise ValueError(f"gamma must be >= 0, got {self.gamma!r}")
        if not 0.0 <= self.beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {self.beta!r}")
        if self.missing not in MISSING_MODES:
            raise ValueError(f"missing must be one of {MISSING_MODES}, got {self.missing!r}")
        for name in ("block_b", "block_c"):
            value = getattr(self, name)
            if value < 1 or value & (value - 1):
                raise ValueError(f"{name} must be a power of two, got {value!r}")


@triton.jit
def _scr_fwd_kernel(
    Z_ptr,  # logits (B, C), any float dtype
    stride_zb,
    stride_zc,
    NM_ptr,  # neg_mask (B, K) int8 (K = C − 1; a 1-element dummy when K = 0)
    stride_nb,
    stride_nk,
    LOSS_ptr,  # out: loss_i (B,) fp32
    DZ_ptr,  # out: ∂loss_i/∂z (B, C) fp32, contiguous
    B,  # rows
    C,  # candidates per row
    gamma,  # focal exponent γ
    beta,  # label smoothing β
    BLOCK_B: tl.constexpr,
    BLOCK_C: tl.constexpr,
    ZERO_MISSING: tl.constexpr,  # missing == "zero": missing negatives stay in the softmax as 0
    FOCAL: tl.constexpr,  # gamma != 0
):
    pid = tl.program_id(0).to(tl.int64)
    offs_b = pid * BLOCK_B + tl.arange(0, BLOCK_B)
    offs_c = tl.arange(0, BLOCK_C)
    b_in = offs_b < B
    c_in = offs_c < C
    tile = b_in[:, None] & c_in[None, :]

    # 1. valid_c: the positive always, negative c iff neg_mask[i, c−1].
    nm = tl.load(
        NM_ptr + offs_b[:, None] * stride_nb + (offs_c[None, :] - 1) * stride_nk,
        mask=tile & (offs_c[None, :] >= 1),
        other=0,
    )
    valid = tile & ((offs_c[None, :] == 0) | (nm != 0))
    z = tl.load(Z_ptr + offs_b[:, None] * stride_zb + offs_c[None, :] * stride_zc, mask=tile, other=0.0)
    z = z.to(tl.float32)
    if ZERO_MISSING:
        zs = tl.where(valid, z, tl.where(tile, 0.0, float("-inf")))
    else:
        zs = tl.where(valid, z, float("-inf"))
    # Rows past B: keep them finite so no NaN is ever computed (their results are not stored).
    zs = tl.where(b_in[:, None], zs, 0.0)

    # 2. p = softmax(z'), log p = z' − logsumexp(z') (column 0 is always in, so lse is finite).
    row_max = tl.max(zs, axis=1)
    e = tl.exp(zs - row_max[:, None])
    lse = row_max + tl.log(tl.sum(e, axis=1))
    p_all = e / tl.sum(e, axis=1)[:, None]  # softmax probabilities of every entry in it
    log_p = tl.where(valid, zs - lse[:, None], 0.0)
    p = tl.where(valid, p_all, 0.0)

    # 3. Targets ỹ (DESIGN §6): β/(k_i+1) on valid entries, plus (1−β) on the positive.
    k = tl.sum((valid & (offs_c[None, :] >= 1)).to(tl.float32), axis=1)
    y = tl.where(valid, beta / (k[:, None] + 1.0), 0.0)
    y = tl.where(offs_c[None, :] == 0, y + (1.0 - beta), y)

    # 4. Focal weight (1−p)^γ and its derivative γ(1−p)^(γ−1), both 0 where p = 1 (then log p = 0).
    one_m = tl.maximum(1.0 - p, 0.0)
    if FOCAL:
        safe = tl.where(one_m > 0.0, one_m, 1.0)
        focal = tl.where(one_m > 0.0, tl.exp(gamma * tl.log(safe)), 0.0)
        dfocal = tl.where(one_m > 0.0, gamma * tl.exp((gamma - 1.0) * tl.log(safe)), 0.0)
    else:
        focal = tl.where(valid, 1.0, 0.0)
        dfocal = tl.zeros((BLOCK_B, BLOCK_C), dtype=tl.float32)

    # 5. loss_i = −Σ ỹ_c (1−p_c)^γ log p_c.
    loss = -tl.sum(y * focal * log_p, axis=1)
    # 6. ∂loss_i/∂z_j = p_j Σ_c h_c − h_j with h_c = ỹ_c [(1−p_c)^γ − γ(1−p_c)^(γ−1) p_c log p_c].
    h = y * (focal - dfocal * p * log_p)
    dz = tl.where(valid, p_all * tl.sum(h, axis=1)[:, None] - h, 0.0)

    tl.store(LOSS_ptr + offs_b, loss, mask=b_in)
    tl.store(DZ_ptr + offs_b[:, None] * C + offs_c[None, :], dz, mask=tile)


class _SCRLoss(torch.autograd.Function):
    """Mean SCR loss over rows with a negative; the gradient is computed by the forward kernel."""

    @staticmethod
    def forward(ctx, logits: Tensor, neg_mask: Tensor, cfg: SCRConfig) -> Tensor:
        bsz, n_cand = logits.shape
        nm = neg_mask.to(torch.bool).to(torch.int8)
        if nm.numel() == 0:  # K = 0: never read (all loads masked), but give the kernel memory
            nm = torch.zeros((bsz, 1), dtype=torch.int8, device=logits.device)
        row_loss = torch.empty(bsz, device=logits.device, dtype=torch.float32)
        dz = torch.empty((bsz, n_cand), device=logits.device, dtype=torch.float32)
        _scr_fwd_kernel[(triton.cdiv(bsz, cfg.block_b),)](
            logits, *logits.stride(),
            nm, *nm.stride(),
            row_loss, dz,
            bsz, n_cand,
            float(cfg.gamma), float(cfg.beta),
            BLOCK_B=cfg.block_b, BLOCK_C=cfg.block_c,
            ZERO_MISSING=cfg.missing == "zero",
            FOCAL=cfg.gamma != 0,
        )  # fmt: skip
        rows = neg_mask.to(torch.bool).any(dim=1).to(torch.float32)  # (B,) rows with k_i ≥ 1
        n_rows = rows.sum().clamp_min(1.0)
        ctx.save_for_backward(dz * (rows / n_rows).unsqueeze(1))
        ctx.logits_dtype = logits.dtype
        return (row_loss * rows).sum() / n_rows

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        (dz,) = ctx.saved_tensors
        return (dz * grad_out.to(torch.float32)).to(ctx.logits_dtype), None, None


def fused_scr_loss(
    logits: Tensor,
    neg_mask: Tensor,
    gamma: float = 2.0,
    beta: float = 0.02,
    missing: str = "mask",
) -> Tensor:
    """Fused twin of :func:`negforge.training.losses.scr_loss` → float32 scalar (any logits dtype)."""
    check_float_tensor("logits", logits, 2)
    if not isinstance(neg_mask, Tensor) or neg_mask.shape != (logits.shape[0], logits.shape[1] - 1):
        raise ValueError(
            f"scr_loss expects logits [B, 1+K] and neg_mask [B, K], got {tuple(logits.shape)} and "
            f"{tuple(neg_mask.shape) if isinstance(neg_mask, Tensor) else type(neg_mask).__name__}"
        )
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"logits must have at least one row and one column, got {tuple(logits.shape)}")
    check_device(logits=logits, neg_mask=neg_mask)
    cfg = SCRConfig(
        gamma=float(gamma),
        beta=float(beta),
        missing=missing,
        block_b=16,
        block_c=max(2, next_power_of_2(logits.shape[1])),
    )
    return _SCRLoss.apply(logits, neg_mask, cfg)
