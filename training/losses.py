"""FSC-CLIP losses (arXiv 2410.05210), PyTorch reference implementation.

DESIGN §6 has the math; this module is its executable form and the ground truth the fused
Triton kernels (``negforge.training.kernels``) are tested against. Shape letters: B batch,
K hard negatives per image, C = 1 + K candidates (positive first), T text tokens, P image
patches, D embedding dim.

Functional API (the fused kernels implement the same signatures)::

    clip_loss(image_features[B,D], text_features[B,D], logit_scale,
              all_image_features[N,D]=None, all_text_features[N,D]=None)            -> scalar
    scr_loss(logits[B,C], neg_mask[B,K], gamma, beta, missing)                      -> scalar
    local_scores(image_tokens[B,P,D], text_tokens[B,C,T,D], token_mask[B,C,T],
                 logit_scale, normalizer)                                           -> [B,C]

Modules hold only scalars (open_clip ``loss.py`` style) and :class:`FSCCLIPLoss` returns a dict
with fixed keys ``clip``, ``global_hn``, ``local_hn``, ``loss``; the trainer backpropagates
``loss`` and logs the rest. :class:`FSCCLIPLoss` also owns the three decisions around the math:
which implementation runs (``backend``; ``auto`` falls back to the reference op by op when a
kernel fails to compile or launch), in which precision (half-precision inputs to the kernels,
float32 everywhere else), and over which batch (``world_size``: features gathered across ranks).

``logit_scale`` everywhere is the *multiplier* (open_clip's ``model.logit_scale.exp()``), a
Python float or a 0-dim tensor (a learnable one receives gradients).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from . import distributed

logger = logging.getLogger(__name__)

MISSING_MODES = ("mask", "zero")
NORMALIZERS = ("minmax", "softmax")
BACKENDS = ("reference", "fused", "auto")
LOSS_KEYS = ("clip", "global_hn", "local_hn", "loss")

# Guards the min-max denominators (max - min, sum over patches) against division by zero.
_EPS = 1e-6


def _check_missing(missing: str) -> None:
    if missing not in MISSING_MODES:
        raise ValueError(f"missing must be one of {MISSING_MODES}, got {missing!r}")


def clip_loss(
    image_features: Tensor,
    text_features: Tensor,
    logit_scale: Tensor | float,
    all_image_features: Tensor | None = None,
    all_text_features: Tensor | None = None,
) -> Tensor:
    """Symmetric InfoNCE over the B positive pairs (CLIP's loss; FSC-CLIP Eq. 1).

    ``L_clip = ½ (CE(logit_scale · V Uᵀ, I) + CE(logit_scale · U Vᵀ, I))`` with V, U the
    L2-normalised image and text embeddings. Features are normalised here (idempotent for
    already-normalised inputs), so callers may pass raw projections. Hard negatives never enter
    this term as extra columns (DESIGN §6); they have their own losses below.

    Local form (data parallel, open_clip's ``local_loss``): with ``all_image_features`` and
    ``all_text_features`` (N, D), the features of every rank gathered (these B rows among them),
    the B local rows are scored against all N columns, each row's positive being its own pair:
    ``½ (mean_i [lse_n z(v_i, u_n) − z_ii] + mean_i [lse_n z(u_i, v_n) − z_ii])``.
    """
    if image_features.ndim != 2 or image_features.shape != text_features.shape:
        raise ValueError(
            "clip_loss expects image_features and text_features of the same shape [B, D], got "
            f"{tuple(image_features.shape)} and {tuple(text_features.shape)}"
        )
    if (all_image_features is None) != (all_text_features is None):
        raise ValueError("all_image_features and all_text_features must be given together")
    image = F.normalize(image_features, dim=-1)  # (B, D)
    text = F.normalize(text_features, dim=-1)  # (B, D)
    if all_image_features is None:
        logits_per_image = logit_scale * torch.einsum("id,jd->ij", image, text)  # (B, B)
        labels = torch.arange(image.shape[0], device=image.device)
        return 0.5 * (
            F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_image.t(), labels)
        )
    if all_image_features.shape != all_text_features.shape or all_image_features.shape[1:] != image.shape[1:]:
        raise ValueError(
            f"all_image_features and all_text_features must both be [N, D] with D = {image.shape[1]}, "
            f"got {tuple(all_image_features.shape)} and {tuple(all_text_features.shape)}"
        )
    all_image = F.normalize(all_image_features, dim=-1)  # (N, D)
    all_text = F.normalize(all_text_features, dim=-1)  # (N, D)
    logits_per_image = logit_scale * torch.einsum("id,nd->in", image, all_text)  # (B, N)
    logits_per_text = logit_scale * torch.einsum("id,nd->in", text, all_image)  # (B, N)
    diag = logit_scale * (image * text).sum(dim=-1)  # z_ii, (B,)
    return 0.5 * (
        (torch.logsumexp(logits_per_image, dim=-1) - diag).mean()
        + (torch.logsumexp(logits_per_text, dim=-1) - diag).mean()
    )


def scr_targets(neg_mask: Tensor, beta: float, dtype: torch.dtype) -> Tensor:
    """Label-smoothed targets of SCR, per row with k_i valid negatives.

    ``ỹ_0 = (1−β) + β/(k_i+1)``, ``ỹ_c = β/(k_i+1)`` for valid negatives, 0 for missing ones, so
    every row sums to 1 and smoothing mass never lands on a negative that does not exist.
    """
    positive = neg_mask.new_ones((neg_mask.shape[0], 1))  # not neg_mask[:, :1]: K may be 0
    valid = torch.cat([positive, neg_mask], dim=1).to(dtype)  # (B, 1+K)
    k = neg_mask.sum(dim=1, keepdim=True).to(dtype)  # (B, 1)
    targets = valid * (beta / (k + 1.0))  # (B, 1+K)
    targets[:, 0] += 1.0 - beta
    return targets


def scr_loss(
    logits: Tensor,
    neg_mask: Tensor,
    gamma: float = 2.0,
    beta: float = 0.02,
    missing: str = "mask",
) -> Tensor:
    """Separate-and-calibrate regulariser: focal loss with label smoothing (FSC-CLIP §3.3).

    ``p = softmax(z)``, ``loss_i = −Σ_c ỹ_c (1−p_c)^γ log p_c`` with the targets of
    :func:`scr_targets` (target index 0, the positive); the result is the mean over rows with at
    least one valid negative (rows with none carry no hard-negative signal and are skipped; if
    no row has one the loss is an exact, differentiable zero). γ = 0, β = 0 is plain
    cross-entropy.

    ``neg_mask[b, k]`` is True where negative k of image b exists. Missing negatives are taken
    out of the softmax (``missing="mask"``, negforge's default) or, as the FSC-CLIP reference
    code does by filling them with zero features, kept in it as logit 0 (``missing="zero"``).
    """
    _check_missing(missing)
    if logits.ndim != 2 or neg_mask.shape != (logits.shape[0], logits.shape[1] - 1):
        raise ValueError(
            f"scr_loss expects logits [B, 1+K] and neg_mask [B, K], got {tuple(logits.shape)} "
            f"and {tuple(neg_mask.shape)}"
        )
    neg_mask = neg_mask.to(torch.bool)
    valid = torch.cat([neg_mask.new_ones((neg_mask.shape[0], 1)), neg_mask], dim=1)  # (B, 1+K); K may be 0
    if missing == "mask":
        z = logits.masked_fill(~valid, float("-inf"))  # (B, 1+K)
    else:
        z = logits.masked_fill(~valid, 0.0)  # (B, 1+K)
    log_p = F.log_softmax(z.to(torch.promote_types(z.dtype, torch.float32)), dim=-1)  # (B, 1+K)
    # Masked entries have log p = -inf and target 0; zero them before multiplying so that
    # neither the forward value nor the backward pass sees 0 · inf.
    log_p = torch.where(valid, log_p, torch.zeros_like(log_p))
    rows = neg_mask.any(dim=1)  # (B,) rows with at least one negative
    # Skipped rows have p_0 = 1 exactly under "mask"; (1 - p)^γ has an infinite derivative at 0
    # for γ < 1, so their p is replaced by 0 before the focal term (they are not in the mean).
    p = torch.where(rows[:, None], log_p.exp() * valid, torch.zeros_like(log_p))
    focal = (1.0 - p).pow(gamma) if gamma != 0 else torch.ones_like(p)  # (B, 1+K)
    targets = scr_targets(neg_mask, beta, log_p.dtype)  # (B, 1+K)
    per_row = -(targets * focal * log_p).sum(dim=-1)  # (B,)
    n_rows = rows.sum()
    loss = (per_row * rows).sum() / n_rows.clamp_min(1)
    return loss.to(logits.dtype)


def local_scores(
    image_tokens: Tensor,
    text_tokens: Tensor,
    token_mask: Tensor,
    logit_scale: Tensor | float,
    normalizer: str = "minmax",
) -> Tensor:
    """Token-level image–caption scores ``S_ic`` of the Local HN loss (FSC-CLIP §3.2).

    For image i (patch tokens x_p) and candidate caption c (tokens w_t):

    1. ``A_tp = stopgrad(<w_t, x_p>)`` — raw, unnormalised token–patch similarity;
    2. ``α_tp``: min-max normalise over p per token, ``(A−min)/(max−min)``, then divide by the
       sum over p (``normalizer="softmax"``: ``softmax_p(A)``);
    3. ``v̂_t = normalize(Σ_p α_tp x_p)`` — a textual-token-conditioned visual feature;
    4. ``s_t = logit_scale · <v̂_t, normalize(w_t)>``;
    5. ``S_ic = logsumexp_t s_t`` over masked-in tokens (``token_mask``).

    A candidate with no masked-in token (a padded missing negative) gets score 0; SCR masks
    or zero-fills it anyway. Gradients flow through x (step 3) and w (step 4), never through
    the attention weights (step 1). Materialises the (B, C, T, P) tensor, which the fused
    kernel avoids.
    """
    if normalizer not in NORMALIZERS:
        raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {normalizer!r}")
    if image_tokens.ndim != 3 or text_tokens.ndim != 4 or token_mask.shape != text_tokens.shape[:3]:
        raise ValueError(
            "local_scores expects image_tokens [B,P,D], text_tokens [B,C,T,D], token_mask [B,C,T], "
            f"got {tuple(image_tokens.shape)}, {tuple(text_tokens.shape)}, {tuple(token_mask.shape)}"
        )
    if image_tokens.shape[0] != text_tokens.shape[0] or image_tokens.shape[2] != text_tokens.shape[3]:
        raise ValueError(
            f"batch and dim must match: image_tokens {tuple(image_tokens.shape)}, "
            f"text_tokens {tuple(text_tokens.shape)}"
        )
    with torch.no_grad():
        alpha = local_attention(image_tokens, text_tokens, normalizer)  # (B, C, T, P)
    return local_scores_from_attention(alpha, image_tokens, text_tokens, token_mask, logit_scale)


def local_attention(image_tokens: Tensor, text_tokens: Tensor, normalizer: str = "minmax") -> Tensor:
    """Steps 1–2 of :func:`local_scores`: the patch weights ``α_tp`` (B, C, T, P), each row summing to 1.

    Callers detach the inputs (or run this under ``no_grad``): the attention is a stop-gradient.
    """
    if normalizer not in NORMALIZERS:
        raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {normalizer!r}")
    sim = torch.einsum("bctd,bpd->bctp", text_tokens, image_tokens)  # (B, C, T, P)
    if normalizer == "softmax":
        return sim.softmax(dim=-1)
    lo = sim.amin(dim=-1, keepdim=True)  # (B, C, T, 1)
    hi = sim.amax(dim=-1, keepdim=True)  # (B, C, T, 1)
    alpha = (sim - lo) / (hi - lo).clamp_min(_EPS)  # (B, C, T, P)
    return alpha / alpha.sum(dim=-1, keepdim=True).clamp_min(_EPS)


def local_scores_from_attention(
    alpha: Tensor,
    image_tokens: Tensor,
    text_tokens: Tensor,
    token_mask: Tensor,
    logit_scale: Tensor | float,
) -> Tensor:
    """Steps 3–5 of :func:`local_scores` given fixed patch weights ``alpha`` (B, C, T, P).

    Split out so the differentiable part can be gradient-checked on its own (finite differences
    cannot see a stop-gradient).
    """
    token_mask = token_mask.to(torch.bool)
    pooled = torch.einsum("bctp,bpd->bctd", alpha.to(image_tokens.dtype), image_tokens)  # (B,C,T,D)
    v_hat = F.normalize(pooled, dim=-1)  # (B, C, T, D)
    w_hat = F.normalize(text_tokens, dim=-1)  # (B, C, T, D)
    s = logit_scale * torch.einsum("bctd,bctd->bct", v_hat, w_hat)  # (B, C, T)
    has_token = token_mask.any(dim=-1)  # (B, C)
    s = s.masked_fill(~token_mask, float("-inf"))
    # Rows without any token would give logsumexp(-inf…) = -inf and NaN gradients: feed them
    # zeros instead and overwrite their score with 0 below.
    s = torch.where(has_token.unsqueeze(-1), s, torch.zeros_like(s))
    scores = torch.logsumexp(s, dim=-1)  # (B, C)
    return torch.where(has_token, scores, torch.zeros_like(scores))


def global_logits(image_features: Tensor, text_features: Tensor, logit_scale: Tensor | float) -> Tensor:
    """``z_ic = logit_scale · <v_i, u_ic>`` over image i's own C candidates (global HN loss)."""
    image = F.normalize(image_features, dim=-1)  # (B, D)
    text = F.normalize(text_features, dim=-1)  # (B, C, D)
    return logit_scale * torch.einsum("bd,bcd->bc", image, text)  # (B, C)


# ---------------------------------------------------------------------------
# Backend selection and the fallback of "auto"
# ---------------------------------------------------------------------------


def _fused_module() -> Any:
    """``negforge.training.kernels``, imported only when the fused backend is chosen."""
    from negforge.training import kernels

    return kernels


def _auto_prefers_fused(device: torch.device) -> bool:
    """Where ``auto`` tries the kernels: CUDA only (the CPU interpreter is for tests, and slow)."""
    return device.type == "cuda"


def resolve_backend(backend: str, device: torch.device) -> str:
    """``auto`` → ``fused`` on CUDA tensors when Triton is importable, else ``reference``."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "auto":
        return backend
    if not _auto_prefers_fused(device):
        return "reference"
    try:
        kernels = _fused_module()
        ok = bool(kernels.triton_available())
    except (ImportError, AttributeError) as exc:
        logger.warning("fused FSC-CLIP kernels unavailable (%s); using the reference losses", exc)
        return "reference"
    return "fused" if ok else "reference"


# Fused ops that failed to compile or launch in this process under backend="auto", with the
# error. A kernel that cannot compile on this GPU / Triton will not compile on the next step
# either, so the op stays on the reference from then on (and is warned about once).
_FUSED_FAILURES: dict[str, str] = {}


def fused_failures() -> dict[str, str]:
    """Fused ops that ``backend="auto"`` replaced by the reference in this process → the error."""
    return dict(_FUSED_FAILURES)


def reset_fused_failures() -> None:
    """Forget recorded kernel failures (tests; or after fixing the environment in a live process)."""
    _FUSED_FAILURES.clear()


def _record_failure(op: str, phase: str, exc: BaseException) -> None:
    if op in _FUSED_FAILURES:
        return
    _FUSED_FAILURES[op] = f"{type(exc).__name__}: {exc}"
    logger.warning(
        "fused FSC-CLIP kernel %r failed in its %s pass (%s: %s); backend='auto' falls back to the "
        "PyTorch reference for %r for the rest of this process (results stay correct; memory and "
        "speed are the reference's). backend='fused' would raise instead.",
        op, phase, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "", op,
    )  # fmt: skip


def _is_fatal(exc: BaseException) -> bool:
    """Errors no fallback can fix: out of memory (the reference needs more) and interrupts."""
    return isinstance(exc, (torch.OutOfMemoryError, KeyboardInterrupt))


class _FallbackOnError(torch.autograd.Function):
    """Runs a fused op and, if its *backward* kernel fails, computes the gradient with the reference.

    Forward: the fused op runs on detached leaves under ``enable_grad``, so its own graph is
    kept inside this node (nothing else is saved: the fused op saves what it always saves).
    Backward: ``autograd.grad`` through that graph; on a kernel error the reference is
    re-run on the same inputs and differentiated instead. Forward failures are handled by
    :func:`_guarded` before this node is built.
    """

    @staticmethod
    def forward(ctx, op: str, fused: Callable, reference: Callable, kwargs: dict, *args: Any):
        leaves = [
            a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a for a in args
        ]
        with torch.enable_grad():
            out = fused(*leaves, **kwargs)
        ctx.op, ctx.reference, ctx.kwargs, ctx.leaves, ctx.out = op, reference, kwargs, leaves, out
        return out.detach()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        wanted = [i for i, a in enumerate(ctx.leaves) if isinstance(a, Tensor) and a.requires_grad]
        inputs = [ctx.leaves[i] for i in wanted]
        try:
            grads = torch.autograd.grad(ctx.out, inputs, grad_out, allow_unused=True)
        except Exception as exc:
            if _is_fatal(exc):
                raise
            _record_failure(ctx.op, "backward", exc)
            fresh = [a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a
                     for a in ctx.leaves]  # fmt: skip
            with torch.enable_grad():
                out = ctx.reference(*fresh, **ctx.kwargs)
                grads = torch.autograd.grad(out, [fresh[i] for i in wanted], grad_out, allow_unused=True)
        ctx.out = ctx.leaves = None  # release the inner graph
        result: list[Tensor | None] = [None] * len(ctx.needs_input_grad[4:])
        for i, g in zip(wanted, grads, strict=True):
            result[i] = g
        return (None, None, None, None, *result)


def _guarded(op: str, fused: Callable, reference: Callable, *args: Any, **kwargs: Any) -> Tensor:
    """``fused(*args, **kwargs)``, or ``reference(...)`` once the fused op has failed (auto only)."""
    if op in _FUSED_FAILURES:
        return reference(*args, **kwargs)
    try:
        if torch.is_grad_enabled() and any(isinstance(a, Tensor) and a.requires_grad for a in args):
            return _FallbackOnError.apply(op, fused, reference, kwargs, *args)
        return fused(*args, **kwargs)
    except Exception as exc:
        if _is_fatal(exc):
            raise
        _record_failure(op, "forward", exc)
        return reference(*args, **kwargs)


def _fp32(t: Tensor | None) -> Tensor | None:
    """Half-precision tensors as float32; float32/float64 unchanged (no copy)."""
    if t is None or t.dtype in (torch.float32, torch.float64):
        return t
    return t.float()


def _reference_clip(image, text, scale, all_image=None, all_text=None) -> Tensor:
    """The reference on float32 copies: it materialises its logits, so it computes them in fp32."""
    return clip_loss(_fp32(image), _fp32(text), scale, _fp32(all_image), _fp32(all_text))


def _reference_scr(logits, neg_mask, gamma=2.0, beta=0.02, missing="mask") -> Tensor:
    return scr_loss(_fp32(logits), neg_mask, gamma, beta, missing)


def _reference_local(image_tokens, text_tokens, token_mask, logit_scale, normalizer="minmax") -> Tensor:
    return local_scores(_fp32(image_tokens), _fp32(text_tokens), token_mask, logit_scale, normalizer)


class _Functions:
    """The three loss functions of one backend, looked up once per forward.

    ``reference``: the PyTorch functions on float32 copies of the inputs. ``fused``: the Triton
    kernels on the inputs' own dtype (bf16/fp16 under autocast: the kernels' fast path, fp32
    accumulation inside, float32 results). ``guarded``: fused, falling back to the reference
    op by op when a kernel fails to compile or launch (what ``backend="auto"`` uses on CUDA).
    """

    def __init__(self, backend: str, guarded: bool = False) -> None:
        self.fused = backend == "fused"
        if not self.fused:
            self.clip_loss, self.scr_loss, self.local_scores = _reference_clip, _reference_scr, _reference_local
            return
        kernels = _fused_module()
        if not guarded:
            self.clip_loss = kernels.fused_clip_loss
            self.scr_loss = kernels.fused_scr_loss
            self.local_scores = kernels.fused_local_scores
            return
        self.clip_loss = partial(_guarded, "clip_loss", kernels.fused_clip_loss, _reference_clip)
        self.scr_loss = partial(_guarded, "scr_loss", kernels.fused_scr_loss, _reference_scr)
        self.local_scores = partial(_guarded, "local_scores", kernels.fused_local_scores, _reference_local)

    @classmethod
    def choose(cls, backend: str, device: torch.device) -> _Functions:
        resolved = resolve_backend(backend, device)
        return cls(resolved, guarded=backend == "auto" and resolved == "fused")


# ---------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------


class ClipLoss(nn.Module):
    """:func:`clip_loss` as a module (the CLIP-only baseline's whole objective)."""

    def __init__(self, backend: str = "reference") -> None:
        super().__init__()
        resolve_backend(backend, torch.device("cpu"))  # validates the name
        self.backend = backend

    def forward(self, image_features: Tensor, text_features: Tensor, logit_scale: Tensor | float) -> Tensor:
        fn = _Functions.choose(self.backend, image_features.device)
        return fn.clip_loss(image_features, text_features, logit_scale)


class SCR(nn.Module):
    """:func:`scr_loss` with its scalars (γ, β, missing-negative mode) held by the module."""

    def __init__(self, gamma: float = 2.0, beta: float = 0.02, missing: str = "mask") -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta!r}")
        _check_missing(missing)
        self.gamma = gamma
        self.beta = beta
        self.missing = missing

    def forward(self, logits: Tensor, neg_mask: Tensor) -> Tensor:
        return scr_loss(logits, neg_mask, self.gamma, self.beta, self.missing)


class GlobalHardNegativeLoss(nn.Module):
    """``L_gHN``: SCR over ``z_ic = logit_scale · <v_i, u_ic>``, target 0 (the positive)."""

    def __init__(self, gamma: float = 2.0, beta: float = 0.02, missing: str = "mask") -> None:
        super().__init__()
        self.scr = SCR(gamma, beta, missing)

    def forward(
        self, image_features: Tensor, text_features: Tensor, neg_mask: Tensor, logit_scale: Tensor | float
    ) -> Tensor:
        logits = global_logits(image_features, text_features, logit_scale)  # (B, C)
        return self.scr(logits, neg_mask)


class LocalHardNegativeLoss(nn.Module):
    """``L_LHN``: SCR over the token-level scores ``S_ic`` of :func:`local_scores`."""

    def __init__(
        self, gamma: float = 2.0, beta: float = 0.02, missing: str = "mask", normalizer: str = "minmax"
    ) -> None:
        super().__init__()
        if normalizer not in NORMALIZERS:
            raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {normalizer!r}")
        self.scr = SCR(gamma, beta, missing)
        self.normalizer = normalizer

    def forward(
        self,
        image_tokens: Tensor,
        text_tokens: Tensor,
        token_mask: Tensor,
        neg_mask: Tensor,
        logit_scale: Tensor | float,
    ) -> Tensor:
        scores = local_scores(image_tokens, text_tokens, token_mask, logit_scale, self.normalizer)
        return self.scr(scores, neg_mask)


class FSCCLIPLoss(nn.Module):
    """``L = L_clip + λ_g L_gHN + λ_l L_LHN`` (FSC-CLIP Eq. 6; DESIGN §6).

    ``backend``: ``"reference"`` (this module's PyTorch functions), ``"fused"`` (the Triton
    kernels in ``negforge.training.kernels``, same signatures) or ``"auto"`` (fused on CUDA
    tensors when Triton imports, reference elsewhere; a fused op whose kernel fails to compile
    or launch falls back to the reference with one warning, see :func:`fused_failures`). The
    choice is made per forward from the inputs' device, so one module works on CPU tests and
    GPU training alike.

    Precision: inputs may be float32 or, under autocast, bf16/fp16. The fused kernels take the
    half-precision features and tokens as they are (fp32 accumulation, float32 results); the
    reference and every O(B·C) tail (global logits, SCR, logsumexps) run in float32. Results
    are float32.

    ``world_size > 1`` (data parallel; ``torch.distributed`` initialised): the contrastive term
    gathers every rank's features with gradients and scores the local rows against all of them
    (:mod:`negforge.training.distributed`), and the hard-negative means are taken over the rows
    of all ranks, so that DDP's gradient average equals the gradient of this loss on the whole
    global batch in one process. ``world_size=1`` keeps every term per rank.

    With ``lambda_local == 0`` the token-level branch is not computed at all (its entry in the
    result is a zero), which is how the trainer runs a global-HN-only ablation cheaply.
    """

    def __init__(
        self,
        lambda_global: float = 0.5,
        lambda_local: float = 0.2,
        gamma: float = 2.0,
        beta: float = 0.02,
        missing: str = "mask",
        backend: str = "auto",
        normalizer: str = "minmax",
        world_size: int = 1,
    ) -> None:
        super().__init__()
        if lambda_global < 0:
            raise ValueError(f"lambda_global must be >= 0, got {lambda_global!r}")
        if lambda_local < 0:
            raise ValueError(f"lambda_local must be >= 0, got {lambda_local!r}")
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma!r}")
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta!r}")
        _check_missing(missing)
        if normalizer not in NORMALIZERS:
            raise ValueError(f"normalizer must be one of {NORMALIZERS}, got {normalizer!r}")
        if world_size < 1:
            raise ValueError(f"world_size must be >= 1, got {world_size!r}")
        resolve_backend(backend, torch.device("cpu"))  # validates the name
        self.lambda_global = lambda_global
        self.lambda_local = lambda_local
        self.gamma = gamma
        self.beta = beta
        self.missing = missing
        self.backend = backend
        self.normalizer = normalizer
        self.world_size = world_size

    @property
    def uses_negatives(self) -> bool:
        """Whether any hard-negative term is on (else only the positives need encoding)."""
        return self.lambda_global > 0 or self.lambda_local > 0

    def hn_rows(self, neg_masks: Sequence[Tensor]) -> Tensor:
        """Per-rank share of the rows the hard-negative means run over, for :meth:`hard_negative_terms`.

        Rows with at least one valid negative, summed over ``neg_masks`` (the micro-batches of one
        optimizer step) and over ranks, divided by ``world_size`` — DDP averages the ranks'
        gradients, so each rank divides its sum by this share. A 0-dim float32 tensor.
        """
        rows = sum(m.to(torch.bool).any(dim=1).sum() for m in neg_masks).to(torch.float32)
        if self.world_size > 1:
            distributed.check_world(self.world_size)
            rows = distributed.all_reduce_sum(rows) / self.world_size
        return rows

    def clip_term(self, image_features: Tensor, text_features: Tensor, logit_scale: Tensor | float) -> Tensor:
        """``L_clip`` over the positives (B, D) each; gathered over ranks when ``world_size > 1``."""
        fn = _Functions.choose(self.backend, image_features.device)
        if fn.fused and image_features.dtype != text_features.dtype:
            dtype = torch.promote_types(image_features.dtype, text_features.dtype)
            image_features, text_features = image_features.to(dtype), text_features.to(dtype)
        if self.world_size == 1:
            return fn.clip_loss(image_features, text_features, logit_scale)
        distributed.check_world(self.world_size)
        all_image = distributed.gather_with_grad(image_features)  # (world·B, D)
        all_text = distributed.gather_with_grad(text_features)  # (world·B, D)
        return fn.clip_loss(image_features, text_features, logit_scale, all_image, all_text)

    def hard_negative_terms(
        self,
        image_features: Tensor,
        text_features: Tensor,
        image_tokens: Tensor | None,
        text_tokens: Tensor | None,
        token_mask: Tensor | None,
        neg_mask: Tensor,
        logit_scale: Tensor | float,
        hn_rows: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``(L_gHN, L_LHN)`` of one (micro-)batch, unweighted.

        Each is ``Σ_rows loss_i / hn_rows``: the mean over this batch's rows with a negative when
        ``hn_rows`` is None and ``world_size == 1``; otherwise this batch's share of the mean over
        every row of the step (see :meth:`hn_rows`), so that summing the shares of micro-batches
        and averaging over ranks gives the mean over the whole global batch.
        """
        zero = torch.zeros((), device=image_features.device)
        if not self.uses_negatives:
            return zero, zero
        fn = _Functions.choose(self.backend, image_features.device)
        if hn_rows is None and self.world_size > 1:
            hn_rows = self.hn_rows([neg_mask])
        local_rows = neg_mask.to(torch.bool).any(dim=1).sum().to(torch.float32)
        # SCR returns the mean over local rows; this turns it into the share of the wider mean.
        share = 1.0 if hn_rows is None else local_rows / hn_rows.clamp_min(1.0)
        if self.lambda_global > 0:
            z = global_logits(_fp32(image_features), _fp32(text_features), logit_scale)  # (B, C)
            l_global = fn.scr_loss(z, neg_mask, self.gamma, self.beta, self.missing) * share
        else:
            l_global = zero
        if self.lambda_local > 0:
            if image_tokens is None or text_tokens is None or token_mask is None:
                raise ValueError("lambda_local > 0 needs image_tokens, text_tokens and token_mask")
            if fn.fused and image_tokens.dtype != text_tokens.dtype:
                dtype = torch.promote_types(image_tokens.dtype, text_tokens.dtype)
                image_tokens, text_tokens = image_tokens.to(dtype), text_tokens.to(dtype)
            s = fn.local_scores(image_tokens, text_tokens, token_mask, logit_scale, self.normalizer)  # (B, C)
            l_local = fn.scr_loss(_fp32(s), neg_mask, self.gamma, self.beta, self.missing) * share
        else:
            l_local = zero
        return l_global, l_local

    def combine(self, l_clip: Tensor, l_global: Tensor, l_local: Tensor) -> dict[str, Tensor]:
        """The result dict: the three terms and their weighted sum ``loss``."""
        total = l_clip + self.lambda_global * l_global + self.lambda_local * l_local
        return {"clip": l_clip, "global_hn": l_global, "local_hn": l_local, "loss": total}

    def forward(
        self,
        image_features: Tensor,
        text_features: Tensor,
        image_tokens: Tensor | None,
        text_tokens: Tensor | None,
        token_mask: Tensor | None,
        neg_mask: Tensor,
        logit_scale: Tensor | float,
    ) -> dict[str, Tensor]:
        """Loss terms for one batch.

        image_features (B, D), text_features (B, C, D) with the positive at c = 0,
        image_tokens (B, P, D), text_tokens (B, C, T, D), token_mask (B, C, T),
        neg_mask (B, K) with K = C − 1. Token inputs may be None when ``lambda_local == 0``.
        """
        if text_features.ndim != 3 or text_features.shape[0] != image_features.shape[0]:
            raise ValueError(
                f"text_features must be [B, C, D] matching image_features [B, D], got "
                f"{tuple(text_features.shape)} and {tuple(image_features.shape)}"
            )
        l_clip = self.clip_term(image_features, text_features[:, 0], logit_scale)
        l_global, l_local = self.hard_negative_terms(
            image_features, text_features, image_tokens, text_tokens, token_mask, neg_mask, logit_scale
        )
        return self.combine(_fp32(l_clip), l_global, l_local)
