"""Fused SCR loss vs ``negforge.training.losses.scr_loss``: values and logit gradients."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed: the fused kernels cannot run")

from negforge.training.kernels import fused_scr_loss  # noqa: E402
from negforge.training.losses import scr_loss  # noqa: E402


def _inputs(b, k, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(b, k + 1, generator=g)).to(dtype)
    neg_mask = torch.rand(b, k, generator=g) > 0.4  # ragged k_i
    if k:
        neg_mask[0] = False  # a row with every negative missing: skipped from the mean
        neg_mask[1] = True  # a full row
    return logits.to(device), neg_mask.to(device)


def _run_pair(logits, neg_mask, gamma, beta, missing):
    z_f = logits.clone().requires_grad_(True)
    z_r = logits.clone().float().requires_grad_(True)
    fused = fused_scr_loss(z_f, neg_mask, gamma, beta, missing)
    ref = scr_loss(z_r, neg_mask, gamma, beta, missing)
    fused.backward()
    ref.backward()
    return (fused, z_f.grad), (ref, z_r.grad)


@pytest.mark.parametrize("missing", ["mask", "zero"])
@pytest.mark.parametrize("gamma,beta", [(2.0, 0.02), (0.0, 0.0), (1.5, 0.3)])
def test_matches_reference(missing, gamma, beta, device, check_close):
    logits, neg_mask = _inputs(37, 3, torch.float32, device)  # 37 rows: three programs of 16
    (loss, grad), (ref, ref_grad) = _run_pair(logits, neg_mask, gamma, beta, missing)
    case = f"{missing} γ={gamma} β={beta} B37 K3"
    check_close("loss", loss, ref, torch.float32, case)
    check_close("d_logits", grad, ref_grad, torch.float32, case)
    assert grad[0].abs().sum().item() == 0.0  # the skipped row gets no gradient


@pytest.mark.parametrize("missing", ["mask", "zero"])
def test_fp16_logits(missing, device, check_close):
    logits, neg_mask = _inputs(6, 4, torch.float16, device, seed=1)
    (loss, grad), (ref, ref_grad) = _run_pair(logits, neg_mask, 2.0, 0.02, missing)
    assert loss.dtype == torch.float32 and grad.dtype == torch.float16  # fp32 result, fp16 grad
    check_close("loss", loss, ref, torch.float16, f"{missing} fp16 B6 K4")
    check_close("d_logits", grad, ref_grad, torch.float16, f"{missing} fp16 B6 K4")


def test_non_contiguous_logits(device, check_close):
    logits, neg_mask = _inputs(5, 2, torch.float32, device, seed=2)
    wide = torch.zeros(3, 5, device=device).t()  # (5, 3) with strides (1, 5)
    wide.copy_(logits)
    (loss, grad), (ref, ref_grad) = _run_pair(wide, neg_mask, 2.0, 0.02, "mask")
    check_close("loss", loss, ref, torch.float32, "transposed storage")
    check_close("d_logits", grad, ref_grad, torch.float32, "transposed storage")


def test_k0_and_all_missing_give_an_exact_differentiable_zero(device):
    """No row has a negative (K = 0, or every negative missing): loss 0, gradient 0, no NaN."""
    for k in (0, 2):
        z = torch.randn(4, k + 1, device=device, requires_grad=True)
        loss = fused_scr_loss(z, torch.zeros(4, k, dtype=torch.bool, device=device))
        loss.backward()
        assert loss.item() == 0.0
        assert torch.equal(z.grad, torch.zeros_like(z))


def test_fractional_gamma_skipped_row_stays_finite(device):
    """γ < 1 on a row with p_0 = 1 (all negatives missing): the focal derivative is defined as 0."""
    logits, neg_mask = _inputs(5, 2, torch.float32, device, seed=3)
    z = logits.clone().requires_grad_(True)
    fused_scr_loss(z, neg_mask, gamma=0.5, beta=0.1).backward()
    assert torch.isfinite(z.grad).all()
    assert z.grad[0].abs().sum().item() == 0.0


def test_validation_messages_show_values(device):
    logits, neg_mask = _inputs(3, 2, torch.float32, device)
    with pytest.raises(
        ValueError, match=r"logits \[B, 1\+K\] and neg_mask \[B, K\], got \(3, 3\) and \(3, 3\)"
    ):
        fused_scr_loss(logits, torch.ones(3, 3, dtype=torch.bool, device=device))
    with pytest.raises(ValueError, match="missing must be one of"):
        fused_scr_loss(logits, neg_mask, missing="drop")
    with pytest.raises(ValueError, match="gamma must be >= 0, got -1.0"):
        fused_scr_loss(logits, neg_mask, gamma=-1.0)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\), got 1.0"):
        fused_scr_loss(logits, neg_mask, beta=1.0)
    with pytest.raises(ValueError, match="logits must have 2 dimensions"):
        fused_scr_loss(logits[0], neg_mask)


@pytest.mark.gpu
@pytest.mark.parametrize("missing", ["mask", "zero"])
def test_bf16_on_gpu(missing, check_close):
    logits, neg_mask = _inputs(256, 4, torch.bfloat16, torch.device("cuda"), seed=4)
    (loss, grad), (ref, ref_grad) = _run_pair(logits, neg_mask, 2.0, 0.02, missing)
    check_close("loss", loss, ref, torch.bfloat16, f"{missing} bf16 B256 K4")
    check_close("d_logits", grad, ref_grad, torch.bfloat16, f"{missing} bf16 B256 K4")
