"""Fused token-level scores of FSC-CLIP's Local HN loss (DESIGN §6), forward and backward.

Math (for one image b and candidate caption c; x_p patch tokens, w_t text tokens)::

    A_tp  = stopgrad(<w_t, x_p>)                                   (T, P), raw similarity
    α_tp  = Ã_tp / max(Σ_p Ã_tp, ε),  Ã_tp = (A_tp − min_p A_t·) / max(max_p A_t· − min_p A_t·, ε)
            (normalizer="minmax", ε = 1e-6)   or   α_tp = softmax_p(A_tp)   (normalizer="softmax")
    V_t   = Σ_p α_tp x_p,   v̂_t = V_t / max(‖V_t‖, 1e-12),   ŵ_t = w_t / max(‖w_t‖, 1e-12)
    cos_t = <v̂_t, ŵ_t>
    S_bc  = logsumexp_{t: mask} (logit_scale · cos_t)              (0 when no token is masked in)

The kernels compute ``cos`` (B, C, T); the O(B·C·T) scale / mask / logsumexp tail runs in torch
with autograd, exactly as in :func:`negforge.training.losses.local_scores`, which also gives the
learnable ``logit_scale`` its gradient for free.

Backward (α is stop-grad, so only the pooling and the two normalisations carry gradient), with
g_t = ∂L/∂cos_t::

    ∂L/∂w_t = (g_t v̂_t − ŵ_t · g_t cos_t) / ‖w_t‖          (F.normalize backward; ‖·‖ ≤ 1e-12 → /1e-12)
    ∂L/∂V_t = (g_t ŵ_t − v̂_t · g_t cos_t) / ‖V_t‖
    ∂L/∂x_p = Σ_c Σ_t α_tp ∂L/∂V_t

Memory: nothing of size B·C·T·P (the reference's ``A``/``α``, 4 of them alive in autograd) or
B·C·T·D (its pooled / normalised copies) is ever written. The forward keeps three fp32 row
statistics per token (``min``, ``1/range``, ``1/Σ`` — or ``max``, ``1/Σexp`` for softmax) so the
backward can rebuild α block by block; extra memory is O(B·C·T) plus the gradient buffers.

Kernel design (for a GPU; the CPU interpreter ignores all of it):

* forward grid ``(B·C, ⌈T/BLOCK_T⌉)``: one program holds a (BLOCK_T, D) slab of text tokens in
  registers, streams the P patches of its image in (BLOCK_P, D) tiles twice (min/max, then the
  pooled sum; softmax needs one online pass, flash-attention style) and writes BLOCK_T cosines.
  Token blocks with no masked-in token return at once: CLIP pads captions to T = 77 but real
  captions use 10–30 tokens, so most of the work the reference does on padding is skipped.
* backward grid ``(B,)``: one program owns image b's gradient rows ∂L/∂x (P, D) and walks its C
  candidates and token blocks, rebuilding V (one pass over P), writing ∂L/∂w, then adding
  αᵀ·∂L/∂V into the fp32 ∂L/∂x buffer (a second pass over P). Owning the image makes the
  accumulation deterministic (no atomics); B ≥ 128 (the paper's 256) fills an H100.
* block sizes: BLOCK_D = next power of two ≥ D (one D row per register slab, ≤ 1024);
  BLOCK_T = BLOCK_P = 16 (the minimum ``tl.dot`` tile: the slab, the pooled accumulator and a
  patch tile are all BLOCK × BLOCK_D); num_warps = 4 for BLOCK_D ≤ 256, else 8. Compiled for
  sm_90 with Triton 3.9 (``benchmarks/fused_losses.py --resource-usage``, no GPU needed) the
  bf16 kernels use 150–190 registers per thread and no spill at D = 256 and 512; BLOCK_P = 32
  spills at both. D = 768 (BLOCK_D = 1024) spills 72–184 bytes per thread, and fp32 inputs
  (exact fp32 products, no tensor cores) spill ~1.4 KB in the backward: correct, not fast —
  train under bf16 / fp16 autocast for speed.
* ``tl.dot`` accumulates in fp32; fp32 inputs use exact ("ieee") products to match torch's
  default (TF32 off for matmul); α is rounded to the input dtype before the pooling product,
  as the reference does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
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
)

NORMALIZERS = ("minmax", "softmax")

# Guards the min-max denominators, as ``negforge.training.losses._EPS``.
MINMAX_EPS = 1e-6
# F.normalize's default eps: norms are clamped below at this value.
NORM_EPS = 1e-12
# Number of fp32 statistics the forward saves per (b, c, t) for the backward.
N_STATS = 3


@dataclass(frozen=True)
class LocalScoresConfig:
    """Everything the LHN kernels need besides tensors (one object instead of many args)."""

    normalizer: str = "minmax"  # "minmax" (FSC-CLIP default) or "softmax" over patches
    minmax_eps: float = MINMAX_EPS  # clamp of max−min and of Σ_p Ã in the min-max normaliser
    block_t: int = 16  # text tokens per program (≥ 16: tl.dot's minimum tile)
    block_p: int = 16  # patches per streamed tile (≥ 16; 32 spills registers at D ≥ 256)
    block_d: int = 16  # embedding dim block: next power of two ≥ D (whole rows in registers)
    num_warps: int = 4  # warps per program

    def __post_init__(self) -> None:
        if self.normalizer not in NORMALIZERS:
            raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {self.normalizer!r}")
        if not self.minmax_eps > 0:
            raise ValueError(f"minmax_eps must be > 0, got {self.minmax_eps!r}")
        for name in ("block_t", "block_p", "block_d"):
            value = getattr(self, name)
            if value < 16 or value & (value - 1):
                raise ValueError(f"{name} must be a power of two >= 16, got {value!r}")
        if self.num_warps not in (1, 2, 4, 8, 16):
            raise ValueError(f"num_warps must be one of 1, 2, 4, 8, 16, got {self.num_warps!r}")

    @classmethod
    def for_shape(cls, dim: int, normalizer: str = "minmax") -> LocalScoresConfig:
        """Block sizes chosen from D (see the module docstring for the register budget)."""
        block_d = check_block_d(dim)
        return cls(
            normalizer=normalizer,
            block_t=16,
            block_p=16,
            block_d=block_d,
            num_warps=4 if block_d <= 256 else 8,
        )


@triton.jit
def _patch_weights(a, p_in, s0, s1, SOFTMAX: tl.constexpr):
    """Unnormalised α for one (BLOCK_T, BLOCK_P) tile of A (zero outside the P patches).

    minmax: Ã = (A − min) · (1 / max(range, ε))  (s0 = min, s1 = 1/range)
    softmax: exp(A − max)                        (s0 = max)
    """
    if SOFTMAX:
        u = tl.exp(a - s0[:, None])
    else:
        u = (a - s0[:, None]) * s1[:, None]
    return tl.where(p_in[None, :], u, 0.0)


@triton.jit
def _lhn_fwd_kernel(
    X_ptr,  # image tokens (B, P, D)
    stride_xb,
    stride_xp,
    stride_xd,
    W_ptr,  # text tokens (B, C, T, D)
    stride_wb,
    stride_wc,
    stride_wt,
    stride_wd,
    M_ptr,  # token mask (B, C, T), int8
    stride_mb,
    stride_mc,
    stride_mt,
    COS_ptr,  # out: cos_t (B, C, T) fp32, contiguous, zero-initialised
    STAT_ptr,  # out: per-token statistics (B, C, T, N_STATS) fp32, contiguous
    C,  # candidates per image
    T,  # tokens per caption
    P,  # patches per image
    D,  # embedding dim
    minmax_eps,  # clamp of max−min and of Σ_p Ã
    BLOCK_T: tl.constexpr,
    BLOCK_P: tl.constexpr,
    BLOCK_D: tl.constexpr,
    SOFTMAX: tl.constexpr,  # normalizer == "softmax"
    DOT_PRECISION: tl.constexpr,  # "ieee" for fp32 inputs, else "tf32" (ignored for halves)
    N_STATS: tl.constexpr,
):
    pid_bc = tl.program_id(0).to(tl.int64)
    pid_t = tl.program_id(1).to(tl.int64)
    b = pid_bc // C
    c = pid_bc % C

    offs_t = pid_t * BLOCK_T + tl.arange(0, BLOCK_T)
    offs_d = tl.arange(0, BLOCK_D)
    t_in = offs_t < T
    d_in = offs_d < D
    keep = tl.load(M_ptr + b * stride_mb + c * stride_mc + offs_t * stride_mt, mask=t_in, other=0)
    live = t_in & (keep != 0)

    # Token blocks of pure padding cost nothing (their cos stays 0 and is masked downstream).
    if tl.sum(live.to(tl.int32), axis=0) > 0:
        w_ptrs = (
            W_ptr + b * stride_wb + c * stride_wc + offs_t[:, None] * stride_wt + offs_d[None, :] * stride_wd
        )
        w = tl.load(w_ptrs, mask=live[:, None] & d_in[None, :], other=0.0)  # (BT, BD)
        x_base = X_ptr + b * stride_xb

        v = tl.zeros((BLOCK_T, BLOCK_D), dtype=tl.float32)  # Σ_p u_tp x_p
        if SOFTMAX:
            # 1. one online pass: running max s0, running Σexp l, rescaled pooled sum (flash style).
            s0 = tl.full((BLOCK_T,), float("-inf"), dtype=tl.float32)
            l_sum = tl.zeros((BLOCK_T,), dtype=tl.float32)
            for p0 in range(0, P, BLOCK_P):
                offs_p = p0 + tl.arange(0, BLOCK_P)
                p_in = offs_p < P
                x = tl.load(
                    x_base + offs_p[:, None] * stride_xp + offs_d[None, :] * stride_xd,
                    mask=p_in[:, None] & d_in[None, :],
                    other=0.0,
                )  # (BP, BD)
                a = tl.dot(w, tl.trans(x), input_precision=DOT_PRECISION)  # A tile (BT, BP), fp32
                a = tl.where(p_in[None, :], a, float("-inf"))
                s0_new = tl.maximum(s0, tl.max(a, axis=1))
                corr = tl.exp(s0 - s0_new)
                u = tl.exp(a - s0_new[:, None])  # 0 outside P
                l_sum = l_sum * corr + tl.sum(u, axis=1)
                v = v * corr[:, None] + tl.dot(u.to(x.dtype), x, input_precision=DOT_PRECISION)
                s0 = s0_new
            s1 = tl.zeros((BLOCK_T,), dtype=tl.float32)
            s2 = 1.0 / l_sum  # α = exp(A − max) / Σexp
        else:
            # 1. min and max of A over p, per token.
            s0 = tl.full((BLOCK_T,), float("inf"), dtype=tl.float32)
            hi = tl.full((BLOCK_T,), float("-inf"), dtype=tl.float32)
            for p0 in range(0, P, BLOCK_P):
                offs_p = p0 + tl.arange(0, BLOCK_P)
                p_in = offs_p < P
                x = tl.load(
                    x_base + offs_p[:, None] * stride_xp + offs_d[None, :] * stride_xd,
                    mask=p_in[:, None] & d_in[None, :],
                    other=0.0,
                )
                a = tl.dot(w, tl.trans(x), input_precision=DOT_PRECISION)  # (BT, BP)
                s0 = tl.minimum(s0, tl.min(tl.where(p_in[None, :], a, float("inf")), axis=1))
                hi = tl.maximum(hi, tl.max(tl.where(p_in[None, :], a, float("-inf")), axis=1))
            s1 = 1.0 / tl.maximum(hi - s0, minmax_eps)
            # 2. Ã = (A − min)/range, its sum over p, and the pooled sum Σ_p Ã_tp x_p.
            a_sum = tl.zeros((BLOCK_T,), dtype=tl.float32)
            for p0 in range(0, P, BLOCK_P):
                offs_p = p0 + tl.arange(0, BLOCK_P)
                p_in = offs_p < P
                x = tl.load(
                    x_base + offs_p[:, None] * stride_xp + offs_d[None, :] * stride_xd,
                    mask=p_in[:, None] & d_in[None, :],
                    other=0.0,
                )
                a = tl.dot(w, tl.trans(x), input_precision=DOT_PRECISION)
                u = _patch_weights(a, p_in, s0, s1, False)
                a_sum += tl.sum(u, axis=1)
                v += tl.dot(u.to(x.dtype), x, input_precision=DOT_PRECISION)
            s2 = 1.0 / tl.maximum(a_sum, minmax_eps)  # α = Ã / max(ΣÃ, ε)
        # 3. V_t = Σ_p α_tp x_p, then the cosine of the two normalised vectors.
        v = v * s2[:, None]
        wf = w.to(tl.float32)
        v_hat = v / tl.maximum(tl.sqrt(tl.sum(v * v, axis=1)), 1e-12)[:, None]
        w_hat = wf / tl.maximum(tl.sqrt(tl.sum(wf * wf, axis=1)), 1e-12)[:, None]
        cos = tl.sum(v_hat * w_hat, axis=1)  # (BT,)

        out = pid_bc * T + offs_t
        tl.store(COS_ptr + out, cos, mask=live)
        tl.store(STAT_ptr + out * N_STATS + 0, s0, mask=live)
        tl.store(STAT_ptr + out * N_STATS + 1, s1, mask=live)
        tl.store(STAT_ptr + out * N_STATS + 2, s2, mask=live)


@triton.jit
def _lhn_bwd_kernel(
    X_ptr,  # image tokens (B, P, D)
    stride_xb,
    stride_xp,
    stride_xd,
    W_ptr,  # text tokens (B, C, T, D)
    stride_wb,
    stride_wc,
    stride_wt,
    stride_wd,
    M_ptr,  # token mask (B, C, T), int8
    stride_mb,
    stride_mc,
    stride_mt,
    STAT_ptr,  # per-token statistics saved by the forward (B, C, T, N_STATS) fp32, contiguous
    DCOS_ptr,  # ∂L/∂cos (B, C, T) fp32, contiguous
    DX_ptr,  # out: ∂L/∂x (B, P, D) fp32, contiguous, zero-initialised (accumulated here)
    DW_ptr,  # out: ∂L/∂w (B, C, T, D) in the input dtype, contiguous, zero-initialised
    C,
    T,
    P,
    D,
    BLOCK_T: tl.constexpr,
    BLOCK_P: tl.constexpr,
    BLOCK_D: tl.constexpr,
    SOFTMAX: tl.constexpr,
    DOT_PRECISION: tl.constexpr,
    N_STATS: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    offs_d = tl.arange(0, BLOCK_D)
    d_in = offs_d < D
    x_base = X_ptr + b * stride_xb
    dx_base = DX_ptr + b * P * D

    for c in range(0, C):
        for t0 in range(0, T, BLOCK_T):
            offs_t = t0 + tl.arange(0, BLOCK_T)
            t_in = offs_t < T
            keep = tl.load(M_ptr + b * stride_mb + c * stride_mc + offs_t * stride_mt, mask=t_in, other=0)
            live = t_in & (keep != 0)
            if tl.sum(live.to(tl.int32), axis=0) > 0:
                w_ptrs = (
                    W_ptr
                    + b * stride_wb
                    + c * stride_wc
                    + offs_t[:, None] * stride_wt
                    + offs_d[None, :] * stride_wd
                )
                w = tl.load(w_ptrs, mask=live[:, None] & d_in[None, :], other=0.0)  # (BT, BD)
                row = (b * C + c) * T + offs_t
                s0 = tl.load(STAT_ptr + row * N_STATS + 0, mask=live, other=0.0)
                s1 = tl.load(STAT_ptr + row * N_STATS + 1, mask=live, other=0.0)
                s2 = tl.load(STAT_ptr + row * N_STATS + 2, mask=live, other=0.0)
                g = tl.load(DCOS_ptr + row, mask=live, other=0.0)  # ∂L/∂cos_t

                # 1. Rebuild V_t = s2 · Σ_p u_tp x_p from the saved statistics (one pass over P).
                v = tl.zeros((BLOCK_T, BLOCK_D), dtype=tl.float32)
                for p0 in range(0, P, BLOCK_P):
                    offs_p = p0 + tl.arange(0, BLOCK_P)
                    p_in = offs_p < P
                    x = tl.load(
                        x_base + offs_p[:, None] * stride_xp + offs_d[None, :] * stride_xd,
                        mask=p_in[:, None] & d_in[None, :],
                        other=0.0,
                    )
                    a = tl.dot(w, tl.trans(x), input_precision=DOT_PRECISION)
                    u = _patch_weights(a, p_in, s0, s1, SOFTMAX)
                    v += tl.dot(u.to(x.dtype), x, input_precision=DOT_PRECISION)
                v = v * s2[:, None]

                # 2. Normalise both sides and take the cosine, as in the forward.
                wf = w.to(tl.float32)
                n_v = tl.sqrt(tl.sum(v * v, axis=1))
                n_w = tl.sqrt(tl.sum(wf * wf, axis=1))
                v_hat = v / tl.maximum(n_v, 1e-12)[:, None]
                w_hat = wf / tl.maximum(n_w, 1e-12)[:, None]
                gcos = g * tl.sum(v_hat * w_hat, axis=1)  # g_t · cos_t

                # 3. F.normalize backward on each side: (dy − y·<y, dy>) / max(‖x‖, eps), where the
                #    projection term vanishes when the norm was clamped (‖x‖ ≤ eps).
                dw = (g[:, None] * v_hat - w_hat * tl.where(n_w > 1e-12, gcos, 0.0)[:, None]) / tl.maximum(
                    n_w, 1e-12
                )[:, None]
                dv = (g[:, None] * w_hat - v_hat * tl.where(n_v > 1e-12, gcos, 0.0)[:, None]) / tl.maximum(
                    n_v, 1e-12
                )[:, None]
                dw_ptrs = DW_ptr + row[:, None] * D + offs_d[None, :]
                tl.store(dw_ptrs, dw.to(DW_ptr.dtype.element_ty), mask=live[:, None] & d_in[None, :])

                # 4. ∂L/∂x_p += Σ_t α_tp ∂L/∂V_t, α rebuilt tile by tile (second pass over P).
                dv_lp = dv.to(w.dtype)
                for p0 in range(0, P, BLOCK_P):
                    offs_p = p0 + tl.arange(0, BLOCK_P)
                    p_in = offs_p < P
                    tile = p_in[:, None] & d_in[None, :]
                    x = tl.load(
                        x_base + offs_p[:, None] * stride_xp + offs_d[None, :] * stride_xd,
                        mask=tile,
                        other=0.0,
                    )
                    a = tl.dot(w, tl.trans(x), input_precision=DOT_PRECISION)
                    alpha = _patch_weights(a, p_in, s0, s1, SOFTMAX) * s2[:, None]  # (BT, BP)
                    dx_ptrs = dx_base + offs_p[:, None] * D + offs_d[None, :]
                    dx = tl.load(dx_ptrs, mask=tile, other=0.0)
                    dx += tl.dot(tl.trans(alpha.to(x.dtype)), dv_lp, input_precision=DOT_PRECISION)
                    tl.store(dx_ptrs, dx, mask=tile)
                    # The next read-modify-write of these rows may run on other threads of this
                    # program: make the store visible first.
                    tl.debug_barrier()


def _validate(image_tokens: Tensor, text_tokens: Tensor, token_mask: Tensor) -> None:
    check_float_tensor("image_tokens", image_tokens, 3)
    check_float_tensor("text_tokens", text_tokens, 4)
    check_same_dtype(image_tokens=image_tokens, text_tokens=text_tokens)
    if not isinstance(token_mask, Tensor) or token_mask.shape != text_tokens.shape[:3]:
        raise ValueError(
            f"token_mask must be a tensor of shape [B, C, T] = {tuple(text_tokens.shape[:3])}, got "
            f"{tuple(token_mask.shape) if isinstance(token_mask, Tensor) else type(token_mask).__name__}"
        )
    if image_tokens.shape[0] != text_tokens.shape[0] or image_tokens.shape[2] != text_tokens.shape[3]:
        raise ValueError(
            f"batch and dim must match: image_tokens [B,P,D] = {tuple(image_tokens.shape)}, "
            f"text_tokens [B,C,T,D] = {tuple(text_tokens.shape)}"
        )
    if min(text_tokens.shape[:3]) == 0 or image_tokens.shape[1] == 0 or image_tokens.shape[2] == 0:
        raise ValueError(
            f"empty inputs: image_tokens {tuple(image_tokens.shape)}, text_tokens {tuple(text_tokens.shape)}"
        )
    check_device(image_tokens=image_tokens, text_tokens=text_tokens, token_mask=token_mask)


class _LocalCosine(torch.autograd.Function):
    """``cos`` (B, C, T) of the module docstring; gradients for image and text tokens."""

    @staticmethod
    def forward(ctx, image_tokens: Tensor, text_tokens: Tensor, token_mask: Tensor, cfg: LocalScoresConfig):
        # The kernels take strides, so strided views (e.g. a slice of the text-token tensor) are
        # read in place instead of copied; only the outputs below are laid out contiguously.
        x = image_tokens
        w = text_tokens
        mask = token_mask.to(torch.bool).to(torch.int8).contiguous()  # bool first: 256 → True, not 0
        bsz, n_cand, n_tok, dim = w.shape
        n_patch = x.shape[1]
        cos = torch.zeros((bsz, n_cand, n_tok), device=w.device, dtype=torch.float32)
        stats = torch.zeros((bsz, n_cand, n_tok, N_STATS), device=w.device, dtype=torch.float32)
        grid = (bsz * n_cand, triton.cdiv(n_tok, cfg.block_t))
        _lhn_fwd_kernel[grid](
            x, *x.stride(),
            w, *w.stride(),
            mask, *mask.stride(),
            cos, stats,
            n_cand, n_tok, n_patch, dim,
            cfg.minmax_eps,
            BLOCK_T=cfg.block_t, BLOCK_P=cfg.block_p, BLOCK_D=cfg.block_d,
            SOFTMAX=cfg.normalizer == "softmax",
            DOT_PRECISION=dot_precision(w.dtype),
            N_STATS=N_STATS,
            num_warps=cfg.num_warps,
        )  # fmt: skip
        ctx.save_for_backward(x, w, mask, stats)
        ctx.cfg = cfg
        return cos

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_cos: Tensor):
        x, w, mask, stats = ctx.saved_tensors
        cfg: LocalScoresConfig = ctx.cfg
        bsz, n_cand, n_tok, dim = w.shape
        n_patch = x.shape[1]
        grad_cos = grad_cos.to(torch.float32).contiguous()
        dx = torch.zeros((bsz, n_patch, dim), device=x.device, dtype=torch.float32)
        dw = torch.zeros(w.shape, device=w.device, dtype=w.dtype)  # contiguous, whatever w's strides
        _lhn_bwd_kernel[(bsz,)](
            x, *x.stride(),
            w, *w.stride(),
            mask, *mask.stride(),
            stats, grad_cos, dx, dw,
            n_cand, n_tok, n_patch, dim,
            BLOCK_T=cfg.block_t, BLOCK_P=cfg.block_p, BLOCK_D=cfg.block_d,
            SOFTMAX=cfg.normalizer == "softmax",
            DOT_PRECISION=dot_precision(w.dtype),
            N_STATS=N_STATS,
            num_warps=cfg.num_warps,
        )  # fmt: skip
        return dx.to(x.dtype), dw, None, None


def local_cosines(
    image_tokens: Tensor,
    text_tokens: Tensor,
    token_mask: Tensor,
    normalizer: str = "minmax",
    config: LocalScoresConfig | None = None,
) -> Tensor:
    """``cos_t`` (B, C, T) float32 of the module docstring (0 where ``token_mask`` is False)."""
    _validate(image_tokens, text_tokens, token_mask)
    cfg = config if config is not None else LocalScoresConfig.for_shape(text_tokens.shape[-1], normalizer)
    if cfg.normalizer != normalizer:
        raise ValueError(f"config.normalizer {cfg.normalizer!r} disagrees with normalizer {normalizer!r}")
    if cfg.block_d < text_tokens.shape[-1]:
        raise ValueError(f"config.block_d {cfg.block_d} must be >= D = {text_tokens.shape[-1]}")
    return _LocalCosine.apply(image_tokens, text_tokens, token_mask, cfg)


def fused_local_scores(
    image_tokens: Tensor,
    text_tokens: Tensor,
    token_mask: Tensor,
    logit_scale: Tensor | float,
    normalizer: str = "minmax",
    config: LocalScoresConfig | None = None,
) -> Tensor:
    """Fused twin of :func:`negforge.training.losses.local_scores` → (B, C) float32.

    Same math and edge cases: ``S_bc = logsumexp_t(logit_scale · cos_t)`` over masked-in tokens,
    0 for a candidate without any token. ``logit_scale`` may be a float or a learnable 0-dim
    tensor (it receives its gradient through the torch tail). The scores stay float32 whatever
    the token dtype: they are logit-scale sized (up to ~100), where bf16 steps by 0.5, and they
    feed a softmax over the candidates.
    """
    if normalizer not in NORMALIZERS:
        raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {normalizer!r}")
    cos = local_cosines(image_tokens, text_tokens, token_mask, normalizer, config)  # (B, C, T)
    keep = token_mask.to(torch.bool)
    s = logit_scale * cos  # (B, C, T) fp32
    has_token = keep.any(dim=-1)  # (B, C)
    s = s.masked_fill(~keep, float("-inf"))
    s = torch.where(has_token.unsqueeze(-1), s, torch.zeros_like(s))
    scores = torch.logsumexp(s, dim=-1)  # (B, C)
    return torch.where(has_token, scores, torch.zeros_like(scores))
