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

Local rows × global columns (data-parallel training, open_clip's ``local_loss`` with
``gather_with_grad``): rank r holds M local pairs (U_l, T_l) and the gathered N = world·M
(U_g, T_g), which contain its own rows. Its loss takes the local rows against every column::

    r_i = logsumexp_n s·<u_i, t_n>  (i local, n global),   k_j = logsumexp_n s·<t_j, u_n>
    L_r = ½ (mean_i (r_i − z_ii) + mean_j (k_j − z_jj))

so the M×N logits are streamed exactly as above. The backward needs four owned-side passes
instead of two, because rows and columns are different tensors: ∂U_l and ∂T_l own the local
rows (row term only), ∂T_g and ∂U_g own the global columns (column term only; those gradients
travel back to their ranks through the all-gather's backward). The same kernel does all four,
with ``ROW_TERM`` / ``COL_TERM`` switching the two halves of ∂L/∂z on or off.

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
    Q_ptr,  # owned side (M, D), normalised
    stride_qn,
    stride_qd,
    K_ptr,  # streamed side (N, D), normalised
    stride_kn,
    stride_kd,
    SCALE_ptr,  # logit scale s, 0-dim fp32
    LSE_ptr,  # out: logsumexp_j s·<q_i, k_j> (M,) fp32
    M,  # rows of the owned side
    N,  # rows of the streamed side
    D,  # embedding dim
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    offs_m = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    m_in = offs_m < M
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
    Q_ptr,  # owned side (M, D), normalised
    stride_qn,
    stride_qd,
    K_ptr,  # streamed side (N, D), normalised
    stride_kn,
    stride_kd,
    SCALE_ptr,  # logit scale s, 0-dim fp32
    LSE_Q_ptr,  # logsumexp of the owned rows against the streamed side (M,) fp32 (ROW_TERM)
    LSE_K_ptr,  # logsumexp of the streamed rows against the owned side (N,) fp32 (COL_TERM)
    DLSE_Q_ptr,  # ∂L/∂LSE_Q (M,) fp32
    DLSE_K_ptr,  # ∂L/∂LSE_K (N,) fp32
    DQ_ptr,  # out: ∂L/∂q (M, D) fp32, contiguous
    DSCALE_ptr,  # out: partial ∂L/∂s per program (num_programs,) fp32
    M,  # rows of the owned side
    N,  # rows of the streamed side
    D,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
    ROW_TERM: tl.constexpr,  # add ρ_i e^(z_ij − r_i): the LSE over the owned rows
    COL_TERM: tl.constexpr,  # add κ_j e^(z_ij − k_j): the LSE over the streamed rows
):
    pid = tl.program_id(0).to(tl.int64)
    offs_m = pid * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    m_in = offs_m < M
    d_in = offs_d < D
    scale = tl.load(SCALE_ptr)
    q = tl.load(
        Q_ptr + offs_m[:, None] * stride_qn + offs_d[None, :] * stride_qd,
        mask=m_in[:, None] & d_in[None, :],
        other=0.0,
    )
    if ROW_TERM:
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
        # 1. Recompute the logit tile s·<q_i, k_j>.
        sim = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION)  # (BM, BN) fp32
        z = scale * sim
        # 2. ∂L/∂z_ij = ρ_i softmax_row + κ_j softmax_col (0 outside the M×N block).
        dz = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        if ROW_TERM:
            dz += dlse_q[:, None] * tl.exp(z - lse_q[:, None])
        if COL_TERM:
            lse_k = tl.load(LSE_K_ptr + offs_n, mask=n_in, other=0.0)
            dlse_k = tl.load(DLSE_K_ptr + offs_n, mask=n_in, other=0.0)
            dz += dlse_k[None, :] * tl.exp(z - lse_k[None, :])
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
    """``logsumexp_n s·<q_m, k_n>`` for every row m of q: (M,) fp32."""
    m, dim = q.shape
    lse = torch.empty(m, device=q.device, dtype=torch.float32)
    _row_lse_kernel[(triton.cdiv(m, cfg.block_m),)](
        q, *q.stride(), k, *k.stride(), scale, lse, m, k.shape[0], dim,
        BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_D=cfg.block_d,
        DOT_PRECISION=dot_precision(q.dtype), num_warps=cfg.num_warps, num_stages=cfg.num_stages,
    )  # fmt: skip
    return lse


def _launch_grad(
    q: Tensor, k: Tensor, scale: Tensor, cfg: ContrastiveConfig,
    row: tuple[Tensor, Tensor] | None = None, col: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """∂L/∂q (M, D) fp32 and Σ ∂L/∂z·<q, k> for the owned side q against the streamed side k.

    ``row = (lse_q, dlse_q)``: the LSE over q's rows and its gradient (the ρ term);
    ``col = (lse_k, dlse_k)``: the LSE over k's rows and its gradient (the κ term).
    """
    m, dim = q.shape
    n_prog = triton.cdiv(m, cfg.block_m)
    dq = torch.empty((m, dim), device=q.device, dtype=torch.float32)
    dscale = torch.empty(n_prog, device=q.device, dtype=torch.float32)
    unused = dscale  # any fp32 pointer: the switched-off term is never read
    lse_q, dlse_q = row if row is not None else (unused, unused)
    lse_k, dlse_k = col if col is not None else (unused, unused)
    _row_grad_kernel[(n_prog,)](
        q, *q.stride(), k, *k.stride(), scale, lse_q, lse_k, dlse_q, dlse_k, dq, dscale,
        m, k.shape[0], dim,
        BLOCK_M=cfg.block_m, BLOCK_N=cfg.block_n, BLOCK_D=cfg.block_d,
        DOT_PRECISION=dot_precision(q.dtype), ROW_TERM=row is not None, COL_TERM=col is not None,
        num_warps=cfg.num_warps, num_stages=cfg.num_stages,
    )  # fmt: skip
    return dq, dscale.sum()


def _grad_or_zeros(grad: Tensor | None, like: Tensor) -> Tensor:
    return torch.zeros_like(like) if grad is None else grad.to(torch.float32).contiguous()


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
        d_r = _grad_or_zeros(d_lse_r, lse_r)
        d_c = _grad_or_zeros(d_lse_c, lse_c)
        du, dscale = _launch_grad(u, t, s, cfg, row=(lse_r, d_r), col=(lse_c, d_c))
        dt, _ = _launch_grad(t, u, s, cfg, row=(lse_c, d_c), col=(lse_r, d_r))
        grad_scale = dscale.reshape(()) if ctx.needs_input_grad[2] else None
        return du.to(u.dtype), dt.to(t.dtype), grad_scale, None


class _LocalPairLSE(torch.autograd.Function):
    """(r, k) of the local rows against the global columns (module docstring, local form)."""

    @staticmethod
    def forward(
        ctx, image: Tensor, text: Tensor, all_image: Tensor, all_text: Tensor, scale: Tensor,
        cfg: ContrastiveConfig,
    ):  # fmt: skip
        u, t = image.contiguous(), text.contiguous()  # (M, D) local rows
        ug, tg = all_image.contiguous(), all_text.contiguous()  # (N, D) every rank's rows
        s = scale.detach().contiguous()
        lse_r = _launch_lse(u, tg, s, cfg)  # local images → all texts, (M,)
        lse_c = _launch_lse(t, ug, s, cfg)  # local texts → all images, (M,)
        ctx.save_for_backward(u, t, ug, tg, s, lse_r, lse_c)
        ctx.cfg = cfg
        return lse_r, lse_c

    @staticmethod
    @once_differentiable
    def backward(ctx, d_lse_r: Tensor | None, d_lse_c: Tensor | None):
        u, t, ug, tg, s, lse_r, lse_c = ctx.saved_tensors
        cfg: ContrastiveConfig = ctx.cfg
        d_r = _grad_or_zeros(d_lse_r, lse_r)
        d_c = _grad_or_zeros(d_lse_c, lse_c)
        du, ds_r = _launch_grad(u, tg, s, cfg, row=(lse_r, d_r))  # rows of r
        dtg, _ = _launch_grad(tg, u, s, cfg, col=(lse_r, d_r))  # columns of r
        dt, ds_c = _launch_grad(t, ug, s, cfg, row=(lse_c, d_c))  # rows of k
        dug, _ = _launch_grad(ug, t, s, cfg, col=(lse_c, d_c))  # columns of k
        grad_scale = (ds_r + ds_c).reshape(()) if ctx.needs_input_grad[4] else None
        return du.to(u.dtype), dt.to(t.dtype), dug.to(ug.dtype), dtg.to(tg.dtype), grad_scale, None


def fused_clip_loss(
    image_features: Tensor,
    text_features: Tensor,
    logit_scale: Tensor | float,
    all_image_features: Tensor | None = None,
    all_text_features: Tensor | None = None,
) -> Tensor:
    """Fused twin of :func:`negforge.training.losses.clip_loss` → float32 scalar.

    Features are L2-normalised here (as the reference does), then the two logsumexps come from
    the tiled kernels and the diagonal from an O(B·D) dot product. With ``all_image_features``
    and ``all_text_features`` (N, D) — the features of every rank, gathered, holding these B
    rows among them — the loss takes the local rows against all N columns (local form).
    The result is float32 whatever the input dtype: the logsumexps and means run in fp32, and
    rounding the loss to bf16 would only lose digits.
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
    if (all_image_features is None) != (all_text_features is None):
        raise ValueError("all_image_features and all_text_features must be given together")
    if all_image_features is None:
        lse_r, lse_c = _PairLSE.apply(image, text, scale, cfg)  # (B,), (B,)
    else:
        check_float_tensor("all_image_features", all_image_features, 2)
        check_float_tensor("all_text_features", all_text_features, 2)
        if all_image_features.shape != all_text_features.shape or (
            all_image_features.shape[1] != image_features.shape[1]
        ):
            raise ValueError(
                "all_image_features and all_text_features must both be [N, D] with D = "
                f"{image_features.shape[1]}, got {tuple(all_image_features.shape)} and "
                f"{tuple(all_text_features.shape)}"
            )
        check_same_dtype(image_features=image_features, all_image_features=all_image_features,
                         all_text_features=all_text_features)  # fmt: skip
        check_device(image_features=image_features, all_image_features=all_image_features,
                     all_text_features=all_text_features)  # fmt: skip
        all_image = F.normalize(all_image_features, dim=-1)  # (N, D)
        all_text = F.normalize(all_text_features, dim=-1)  # (N, D)
        lse_r, lse_c = _LocalPairLSE.apply(image, text, all_image, all_text, scale, cfg)  # (B,), (B,)
    diag = scale * (image.float() * text.float()).sum(dim=-1)  # z_ii, (B,)
    return 0.5 * (lse_r.mean() + lse_c.mean()) - diag.mean()
