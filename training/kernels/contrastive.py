"""Fused symmetric InfoNCE (CLIP's loss, DESIGN §6 ``L_clip``) in tiles: O(B) memory, not O(B²).

Math, with u_i, t_j the L2-normalised image / text embeddings and z_ij = s · <u_i, t_j>::

    r_i = logsumexp_j z_ij   (image → text),     k_j = logsumexp_i z_ij   (text → image)
    L   = ½ (mean_i (r_i − z_ii) + mean_j (k_j − z_jj))

The B×B logit matrix is never stored (Inf-CL / fused-linear-cross-entropy idea): a kernel
streams (BLOCK_M × BLOCK_N) tiles of it and keeps an online logsumexp per row, so the
forward writes two length-B vectors. The diagonal and the means run in torch with autograd
(O(B·D)). The backward of the two logsumexps, given ρ_i = ∂L/∂r_i and κ_j = ∂L/∂k_j::

    ∂L/∂z_ij = ρ_i e^(z_ij − r_i) + κ_j e^(z_ij − k_j)
    ∂L/∂u_i  = s Σ_j ∂L/∂z_ij t_j,   ∂L/∂t_j = s Σ_i ∂L/∂z_ij u_i,   ∂L/∂s = Σ_ij ∂L/∂z_ij <u_i, t_j>

is one kernel run twice with the roles of the two sides swapped (z is symmetric under the swap
up to transposition): each program owns BLOCK_M rows of one side's gradient and recomputes the
logit tiles against all of the other side, so the accumulation is deterministic (no atomics).
Each program also writes its partial ∂L/∂s, summed in torch.

Block sizes: the D-row of every loaded tile stays whole in registers (BLOCK_D = next power of
two ≥ D, ≤ 1024), BLOCK_N = 32 columns per streamed tile, BLOCK_M = 32 rows per program for
D ≤ 256 and 16 above, num_warps 4 / 8 likewise; the fp32 gradient accumulator is then
BLOCK_M × BLOCK_D ≤ 64 KB. Compiled for sm_90 (``benchmarks/fused_losses.py --resource-usage``)
neither kernel spills at D = 512 or 768, bf16 or fp32 (≤ 240 registers per thread).
``logit_scale`` is read through a pointer (no host sync).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
import triton
import triton.language as tl
from torch import Tensor
from torch.autograd.function import once_differentiable

from negforge.training.kernels._common import (
    check_block_d,
    check_device,
    check_float_tensor,
    check_same_dtype,
    dot_precision,
    scale_tensor,
)


@dataclass(frozen=True)
class ContrastiveConfig:
    """Tile sizes of the InfoNCE kernels (one object instead of many launch args)."""

    block_m: int = 16  # rows of the owned side per program
    block_n: int = 32  # rows of the streamed side per tile
    block_d: int = 16  # embedding block: next power of two ≥ D
    num_warps: int = 4  # warps per program
    num_stages: int = 3  # software-pipelining depth of the streamed tiles (shared memory ∝ stages)

    def __post_init__(self) -> None:
        if self.num_stages < 1:
            raise ValueError(f"num_stages must be >= 1, got {self.num_stages!r}")
        for name in ("block_m", "block_n", "block_d"):
            value = getattr(self, name)
            if value < 16 or value & (value - 1):
                raise ValueError(f"{name} must be a power of two >= 16, got {value!r}")
        if self.num_warps not in (1, 2, 4, 8, 16):
            raise ValueError(f"num_warps must be one of 1, 2, 4, 8, 16, got {self.num_warps!r}")

    @classmethod
    def for_shape(cls, dim: int, element_size: int = 2) -> ContrastiveConfig:
        """Block sizes from D and the input element size (see the module docstring)."""
        block_d = check_block_d(dim)
        small = block_d <= 256
        return cls(
            block_m=32 if small else 16,
            block_n=32 if element_size <= 2 else 16,
            block_d=block_d,
            num_warps=4 if small else 8,
            num_stages=2 if element_size > 2 and block_d > 512 else 3,
        )


@triton.jit
def _row_lse_kernel(
    Q_ptr,  # owned side (N, D), normalised
    stride_qn,
    stride_qd,
    K_ptr,  # streamed side (N, D), normalised
    stride_kn,
    stride_kd,
    SCALE_ptr,  # logit scale s, 0-dim fp32
    LSE_ptr,  # out: logsumexp_j s·<q_i, k_j> (N,) fp32
    N,  # batch size B
    D,  # embedding dim
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    offs_m = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    m_in = offs_m < N
    d_in = offs_d < D
    scale = tl.load(SCALE_ptr)
    q = tl.load(
        Q_ptr + offs_m[:, None] * stride_qn + offs_d[None, :] * stride_qd,
        mask=m_in[:, None] & d_in[None, :],
        other=0.0,
    )  # (BM, BD)

    # 1. Online logsumexp over column tiles: running max m_i and rescaled Σexp l_i.
    m_i = tl.full((BLOCK_M,), float("-inf"), dtype=tl.float32)
    l_i = tl.zeros((BLOCK_M,), dtype=tl.float32)
    for n0 in range(0, N, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        n_in = offs_n < N
        k = tl.load(
            K_ptr + offs_n[:, None] * stride_kn + offs_d[None, :] * stride_kd,
            mask=n_in[:, None] & d_in[None, :],
            other=0.0,
        )  # (BN, BD)
        z = scale * tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION)  # (BM, BN) fp32
        z = tl.where(n_in[None, :], z, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(z, axis=1))
        l_i = l_i * tl.exp(m_i - m_new) + tl.sum(tl.exp(z - m_new[:, None]), axis=1)
        m_i = m_new
    # 2. r_i = m_i + log l_i.
    tl.store(LSE_ptr + offs_m, m_i + tl.log(l_i), mask=m_in)


@triton.jit
def _row_grad_kernel(
    Q_ptr,  # owned side (N, D), normalised
    stride_qn,
    stride_qd,
    K_ptr,  # streamed side (N, D), normalised
    stride_kn,
    stride_kd,
    SCALE_ptr,  # logit scale s, 0-dim fp32
    LSE_Q_ptr,  # logsumexp over the owned side's rows (N,) fp32 (r for images)
    LSE_K_ptr,  # logsumexp over the streamed side's rows (N,) fp32 (k for images)
    DLSE_Q_ptr,  # ∂L/∂LSE_Q (N,) fp32
    DLSE_K_ptr,  # ∂L/∂LSE_K (N,) fp32
    DQ_ptr,  # out: ∂L/∂q (N, D) fp32, contiguous
    DSCALE_ptr,  # out: partial ∂L/∂s per program (num_programs,) fp32
    N,
    D,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    offs_m = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    m_in = offs_m < N
    d_in = offs_d < D
    scale = tl.load(SCALE_ptr)
    q = tl.load(
        Q_ptr + offs_m[:, None] * stride_qn + offs_d[None, :] * stride_qd,
        mask=m_in[:, None] & d_in[None, :],
        other=0.0,
    )
    lse_q = tl.load(LSE_Q_ptr + offs_m, mask=m_in, other=0.0)
    dlse_q = tl.load(DLSE_Q_ptr + offs_m, mask=m_in, other=0.0)

    acc = tl.zeros((BLOCK_M, BLOCK_D), dtype=tl.float32)  # Σ_j ∂L/∂z_ij k_j
    dscale = tl.zeros((BLOCK_M,), dtype=tl.float32)  # Σ_j ∂L/∂z_ij <q_i, k_j>
    for n0 in range(0, N, BLOCK_N):
        offs_n = n0 + tl.arange(0, BLOCK_N)
        n_in = offs_n < N
        k = tl.load(
            K_ptr + offs_n[:, None] * stride_kn + offs_d[None, :] * stride_kd,
            mask=n_in[:, None] & d_in[None, :],
            other=0.0,
        )
        lse_k = tl.load(LSE_K_ptr + offs_n, mask=n_in, other=0.0)
        dlse_k = tl.load(DLSE_K_ptr + offs_n, mask=n_in, other=0.0)
        # 1. Recompute the logit tile s·<q_i, k_j>.
        sim = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION)  # (BM, BN) fp32
        z = scale * sim
        # 2. ∂L/∂z_ij = ρ_i softmax_row + κ_j softmax_col (0 outside the N×N block).
        dz = dlse_q[:, None] * tl.exp(z - lse_q[:, None]) + dlse_k[None, :] * tl.exp(z - lse_k[None, :])
        dz = tl.where(m_in[:, None] & n_in[None, :], dz, 0.0)
        # 3. Accumulate ∂L/∂q_i (before the s factor) and the ∂L/∂s partial.
        acc += tl.dot(dz.to(k.dtype), k, input_precision=DOT_PRECISION)
        dscale += tl.sum(dz * sim, axis=1)
    tl.store(
        DQ_ptr + offs_m[:, None] * D + offs_d[None, :],
        scale * acc,
        mask=m_in[:, None] & d_in[None, :],
    )
    tl.store(DSCALE_ptr + pid, tl.sum(dscale, axis=0))


def _launch_lse(q: Tensor, k: Tensor, scale: Tensor, cfg: ContrastiveConfig) -> Tensor:
    n, dim = q.shape
    lse = torch.empty(n, device=q.device, dtype=torch.float32)
    _row_lse_kernel[(triton.cdiv(n, cfg.block_m),)](
        q, *q.stride(), k, *k.stride(), scale, lse, n, dim,
        BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_D=cfg.block_d,
        DOT_PRECISION=dot_precision(q.dtype), num_warps=cfg.num_warps, num_stages=cfg.num_stages,
    )  # fmt: skip
    return lse


def _launch_grad(
    q: Tensor, k: Tensor, scale: Tensor, lse_q: Tensor, lse_k: Tensor, dlse_q: Tensor, dlse_k: Tensor,
    cfg: ContrastiveConfig,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    n, dim = q.shape
    n_prog = triton.cdiv(n, cfg.block_m)
    dq = torch.empty((n, dim), device=q.device, dtype=torch.float32)
    dscale = torch.empty(n_prog, device=q.device, dtype=torch.float32)
    _row_grad_kernel[(n_prog,)](
        q, *q.stride(), k, *k.stride(), scale, lse_q, lse_k, dlse_q, dlse_k, dq, dscale, n, dim,
        BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_D=cfg.block_d,
        DOT_PRECISION=dot_precision(q.dtype), num_warps=cfg.num_warps, num_stages=cfg.num_stages,
    )  # fmt: skip
    return dq, dscale.sum()


class _PairLSE(torch.autograd.Function):
    """(r, k): row and column logsumexps of s·U Tᵀ, without the B×B matrix."""

    @staticmethod
    def forward(ctx, image: Tensor, text: Tensor, scale: Tensor, cfg: ContrastiveConfig):
        u = image.contiguous()
        t = text.contiguous()
        s = scale.detach().contiguous()
        lse_r = _launch_lse(u, t, s, cfg)  # image → text
        lse_c = _launch_lse(t, u, s, cfg)  # text → image
        ctx.save_for_backward(u, t, s, lse_r, lse_c)
        ctx.cfg = cfg
        return lse_r, lse_c

    @staticmethod
    @once_differentiable
    def backward(ctx, d_lse_r: Tensor | None, d_lse_c: Tensor | None):
        u, t, s, lse_r, lse_c = ctx.saved_tensors
        cfg: ContrastiveConfig = ctx.cfg
        d_r = torch.zeros_like(lse_r) if d_lse_r is None else d_lse_r.to(torch.float32).contiguous()
        d_c = torch.zeros_like(lse_c) if d_lse_c is None else d_lse_c.to(torch.float32).contiguous()
        du, dscale = _launch_grad(u, t, s, lse_r, lse_c, d_r, d_c, cfg)
        dt, _ = _launch_grad(t, u, s, lse_c, lse_r, d_c, d_r, cfg)
        grad_scale = dscale.reshape(()) if ctx.needs_input_grad[2] else None
        return du.to(u.dtype), dt.to(t.dtype), grad_scale, None


def fused_clip_loss(image_features: Tensor, text_features: Tensor, logit_scale: Tensor | float) -> Tensor:
    """Fused twin of :func:`negforge.training.losses.clip_loss` → scalar in the input dtype.

    Features are L2-normalised here (as the reference does), then the two logsumexps come from
    the tiled kernels and the diagonal from an O(B·D) dot product.
    """
    check_float_tensor("image_features", image_features, 2)
    check_float_tensor("text_features", text_features, 2)
    if image_features.shape != text_features.shape:
        raise ValueError(
            "clip_loss expects image_features and text_features of the same shape [B, D], got "
            f"{tuple(image_features.shape)} and {tuple(text_features.shape)}"
        )
    if image_features.shape[0] == 0:
        raise ValueError(f"clip_loss needs at least one pair, got shape {tuple(image_features.shape)}")
    check_same_dtype(image_features=image_features, text_features=text_features)
    device = check_device(image_features=image_features, text_features=text_features)
    cfg = ContrastiveConfig.for_shape(image_features.shape[1], image_features.element_size())
    scale = scale_tensor(logit_scale, device)
    image = F.normalize(image_features, dim=-1)  # (B, D)
    text = F.normalize(text_features, dim=-1)  # (B, D)
    lse_r, lse_c = _PairLSE.apply(image, text, scale, cfg)  # (B,), (B,)
    diag = scale * (image.float() * text.float()).sum(dim=-1)  # z_ii, (B,)
    loss = 0.5 * (lse_r.mean() + lse_c.mean()) - diag.mean()
    return loss.to(image_features.dtype)
