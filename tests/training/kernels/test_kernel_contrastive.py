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
    assert got[0].dtype == torch.float32 and got[0].ndim == 0  # fp32 whatever the input dtype
    assert got[1].dtype == dtype and got[2].dtype == dtype
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


def _local_form_inputs(b, world, d, rank, dtype, device, seed=3):
    """Every rank's features (world·b, D) and this rank's slice of them, kept in the graph."""
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(world * b, d, generator=g).to(dtype).to(device)
    text = torch.randn(world * b, d, generator=g).to(dtype).to(device)
    return image, text, slice(rank * b, (rank + 1) * b)


def _local_losses(fn, image, text, rows, scale):
    """``fn`` in local form; gradients reach every rank's rows through the gathered copies."""
    leaves = [image.clone().requires_grad_(True), text.clone().requires_grad_(True)]
    s = torch.tensor(scale, device=image.device, requires_grad=True)
    all_image, all_text = leaves[0] * 1.0, leaves[1] * 1.0  # stand-ins for the gathered copies
    loss = fn(leaves[0][rows], leaves[1][rows], s, all_image, all_text)
    loss.backward()
    return loss, leaves[0].grad, leaves[1].grad, s.grad


@pytest.mark.parametrize(
    "b,world,d,rank,dtype",
    [(5, 3, 12, 1, torch.float32), (4, 2, 10, 0, torch.float32), (3, 4, 16, 3, torch.float16)],
    ids=["B5x3-rank1-fp32", "B4x2-rank0-fp32", "B3x4-rank3-fp16"],
)
def test_local_rows_global_columns_match_reference(b, world, d, rank, dtype, device, check_close):
    image, text, rows = _local_form_inputs(b, world, d, rank, dtype, device)
    got = _local_losses(fused_clip_loss, image, text, rows, 30.0)
    want = _local_losses(clip_loss, image.float(), text.float(), rows, 30.0)
    _compare(check_close, got, want, dtype, f"local B{b} x {world} ranks, rank {rank}")
    # Gradients reach other ranks' rows (through the gather) and this rank's rows alike.
    others = torch.ones(world * b, dtype=torch.bool)
    others[rows] = False
    assert got[1][others].abs().sum() > 0 and got[1][rows].abs().sum() > 0


def test_local_form_over_all_ranks_is_the_global_loss(device, check_close):
    """Mean of the ranks' local losses (what DDP averages) = the loss of the whole batch."""
    image, text, _ = _local_form_inputs(4, 3, 12, 0, torch.float32, device, seed=9)
    i_all = image.clone().requires_grad_(True)
    t_all = text.clone().requires_grad_(True)
    per_rank = [fused_clip_loss(i_all[r * 4 : (r + 1) * 4], t_all[r * 4 : (r + 1) * 4], 20.0, i_all, t_all)
                for r in range(3)]  # fmt: skip
    mean = sum(per_rank) / 3
    mean.backward()
    want = _run_pair(image, text, 20.0)[1]
    check_close("loss", mean, want[0], torch.float32, "mean over 3 ranks")
    check_close("d_image", i_all.grad, want[1], torch.float32, "mean over 3 ranks")
    check_close("d_text", t_all.grad, want[2], torch.float32, "mean over 3 ranks")


def test_local_form_validation(device):
    a = torch.randn(4, 8, device=device)
    with pytest.raises(ValueError, match="given together"):
        fused_clip_loss(a, a, 1.0, all_image_features=a)
    with pytest.raises(ValueError, match=r"\[N, D\] with D = 8, got \(6, 8\) and \(6, 7\)"):
        fused_clip_loss(a, a, 1.0, torch.randn(6, 8, device=device), torch.randn(6, 7, device=device))
