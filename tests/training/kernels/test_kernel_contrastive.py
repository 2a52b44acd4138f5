"""Fused tiled InfoNCE vs ``negforge.training.losses.clip_loss``: values and all gradients."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed: the fused kernels cannot run")

from negforge.training.kernels import fused_clip_loss  # noqa: E402
from negforge.training.losses import clip_loss  # noqa: E402


def _run_pair(image, text, scale):
    i_f = image.clone().requires_grad_(True)
    t_f = text.clone().requires_grad_(True)
    s_f = torch.tensor(scale, device=image.device, requires_grad=True)
    i_r = image.clone().float().requires_grad_(True)
    t_r = text.clone().float().requires_grad_(True)
    s_r = torch.tensor(scale, device=image.device, requires_grad=True)
    fused = fused_clip_loss(i_f, t_f, s_f)
    ref = clip_loss(i_r, t_r, s_r)
    fused.backward()
    ref.backward()
    return (fused, i_f.grad, t_f.grad, s_f.grad), (ref, i_r.grad, t_r.grad, s_r.grad)


def _compare(check_close, got, want, dtype, case):
    for name, a, e in zip(("loss", "d_image", "d_text", "d_logit_scale"), got, want, strict=True):
        check_close(name, a, e, dtype, case)


@pytest.mark.parametrize(
    "b,d,dtype,scale",
    [
        (5, 12, torch.float32, 20.0),
        (37, 10, torch.float32, 100.0),  # two row programs, two column tiles, large scale
        (1, 16, torch.float32, 1.0),  # a single pair: loss 0 exactly
        (6, 12, torch.float16, 20.0),
    ],
    ids=["B5-fp32", "B37-fp32-scale100", "B1-fp32", "B6-fp16"],
)
def test_matches_reference(b, d, dtype, scale, device, check_close):
    g = torch.Generator().manual_seed(b)
    image = torch.randn(b, d, generator=g).to(dtype).to(device)
    text = torch.randn(b, d, generator=g).to(dtype).to(device)
    got, want = _run_pair(image, text, scale)
    assert got[0].dtype == dtype and got[0].ndim == 0
    _compare(check_close, got, want, dtype, f"B{b} D{d} scale {scale}")


def test_float_scale_and_strided_features(device, check_close):
    g = torch.Generator().manual_seed(7)
    both = torch.randn(9, 2 * 12, generator=g).to(device)
    image, text = both[:, :12], both[:, 12:]  # row stride 24: not contiguous
    loss = fused_clip_loss(image, text, 14.0)
    check_close("loss", loss, clip_loss(image, text, 14.0), torch.float32, "float scale, strided")


def test_validation_messages_show_values(device):
    a = torch.randn(4, 8, device=device)
    with pytest.raises(ValueError, match=r"same shape \[B, D\], got \(4, 8\) and \(3, 8\)"):
        fused_clip_loss(a, a[:3], 1.0)
    with pytest.raises(ValueError, match="inputs must share one dtype"):
        fused_clip_loss(a, a.half(), 1.0)
    with pytest.raises(ValueError, match="logit_scale must be a scalar"):
        fused_clip_loss(a, a, torch.ones(2, device=device))


@pytest.mark.gpu
def test_bf16_and_large_batch_on_gpu(check_close):
    cuda = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    image = torch.randn(1000, 512, generator=g).to(torch.bfloat16).to(cuda)
    text = torch.randn(1000, 512, generator=g).to(torch.bfloat16).to(cuda)
    got, want = _run_pair(image, text, 100.0)
    _compare(check_close, got, want, torch.bfloat16, "bf16 B1000 D512")


@pytest.mark.gpu
def test_memory_is_linear_in_batch_on_gpu():
    """At B = 16384 one B×B fp32 logit matrix is 1 GiB; the fused path holds O(B·D) (~0.2 GiB)."""
    cuda = torch.device("cuda")
    b, d = 16384, 512
    image = torch.randn(b, d, device=cuda, dtype=torch.bfloat16, requires_grad=True)
    text = torch.randn(b, d, device=cuda, dtype=torch.bfloat16, requires_grad=True)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fused_clip_loss(image, text, 100.0).backward()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    # Normalised copies, fp32 gradient buffers and their casts: a handful of B×D tensors, no B×B.
    assert peak < b * b * 4 // 4, peak
