"""Fused LHN scores vs ``negforge.training.losses.local_scores``: values and all gradients."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed: the fused kernels cannot run")

from negforge.training.kernels import fused_local_scores  # noqa: E402
from negforge.training.kernels.local_scores import LocalScoresConfig  # noqa: E402
from negforge.training.losses import local_scores  # noqa: E402


def _inputs(b, c, t, p, d, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, p, d, generator=g).to(dtype)
    w = torch.randn(b, c, t, d, generator=g).to(dtype)
    lengths = torch.randint(1, t + 1, (b, c), generator=g)  # ragged captions
    mask = torch.arange(t)[None, None, :] < lengths[..., None]  # (B, C, T)
    if c > 1:
        mask[0, c - 1] = False  # a padded missing negative: no token at all
        w[0, c - 1] = 0
    upstream = torch.randn(b, c, generator=g)
    return x.to(device), w.to(device), mask.to(device), upstream.to(device)


def _run_pair(x, w, mask, upstream, scale, normalizer, config=None):
    """Fused on the given dtype, reference in float32 on the same values; inputs cloned."""
    x_f = x.clone().requires_grad_(True)
    w_f = w.clone().requires_grad_(True)
    s_f = torch.tensor(scale, device=x.device, requires_grad=True)
    x_r = x.clone().float().requires_grad_(True)
    w_r = w.clone().float().requires_grad_(True)
    s_r = torch.tensor(scale, device=x.device, requires_grad=True)
    if config is None:
        fused = fused_local_scores(x_f, w_f, mask, s_f, normalizer)
    else:
        from negforge.training.kernels.local_scores import fused_local_scores as impl

        fused = impl(x_f, w_f, mask, s_f, normalizer, config=config)
    ref = local_scores(x_r, w_r, mask, s_r, normalizer)
    (fused.float() * upstream).sum().backward()
    (ref * upstream).sum().backward()
    return (fused, x_f.grad, w_f.grad, s_f.grad), (ref, x_r.grad, w_r.grad, s_r.grad)


def _compare(check_close, got, want, dtype, case):
    for name, a, e in zip(
        ("scores", "d_image_tokens", "d_text_tokens", "d_logit_scale"), got, want, strict=True
    ):
        check_close(name, a, e, dtype, case)


@pytest.mark.parametrize("normalizer", ["minmax", "softmax"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=["fp32", "fp16"])
def test_matches_reference(normalizer, dtype, device, check_close):
    x, w, mask, up = _inputs(3, 3, 7, 6, 12, dtype, device)
    got, want = _run_pair(x, w, mask, up, 10.0, normalizer)
    assert got[0].dtype == torch.float32 and got[0].shape == (3, 3)  # scores fp32 for any input
    assert got[1].dtype == dtype and got[2].dtype == dtype
    assert got[0][0, 2].item() == 0.0  # no token → score 0, as the reference
    _compare(check_close, got, want, dtype, f"{normalizer} B3 C3 T7 P6 D12")


@pytest.mark.parametrize("normalizer", ["minmax", "softmax"])
def test_several_token_and_patch_blocks(normalizer, device, check_close):
    """T and P larger than their blocks, odd sizes: the cross-block min/max, online softmax and the
    backward's read-modify-write of ∂x across candidates and token blocks are all exercised."""
    x, w, mask, up = _inputs(2, 2, 19, 21, 10, torch.float32, device, seed=1)
    cfg = LocalScoresConfig(normalizer=normalizer, block_t=16, block_p=16, block_d=16)
    got, want = _run_pair(x, w, mask, up, 4.0, normalizer, config=cfg)
    _compare(check_close, got, want, torch.float32, f"{normalizer} B2 C2 T19 P21 D10 blocks 16")


def test_single_candidate_k0_and_odd_sizes(device, check_close):
    x, w, mask, up = _inputs(2, 1, 5, 5, 10, torch.float32, device, seed=2)
    got, want = _run_pair(x, w, mask, up, 3.0, "minmax")
    _compare(check_close, got, want, torch.float32, "K=0 B2 C1 T5 P5 D10")


def test_constant_similarity_row_uses_eps_like_reference(device, check_close):
    """All patches equal → max − min = 0: the ε clamps make α = 0, V = 0, cos = 0 in both paths."""
    x, w, mask, up = _inputs(2, 2, 4, 5, 8, torch.float32, device, seed=3)
    x[1] = x[1, :1].expand_as(x[1]).clone()
    got, want = _run_pair(x, w, mask, up, 5.0, "minmax")
    _compare(check_close, got, want, torch.float32, "constant patches")


def test_float_logit_scale_and_no_grad(device):
    x, w, mask, _ = _inputs(2, 2, 4, 5, 8, torch.float32, device, seed=4)
    with torch.no_grad():
        fused = fused_local_scores(x, w, mask, 7.0)
    ref = local_scores(x, w, mask, 7.0)
    torch.testing.assert_close(fused, ref, atol=1e-5, rtol=1e-4)


def test_validation_messages_show_values(device):
    x, w, mask, _ = _inputs(2, 2, 4, 5, 8, torch.float32, device)
    with pytest.raises(ValueError, match=r"token_mask must be a tensor of shape \[B, C, T\] = \(2, 2, 4\)"):
        fused_local_scores(x, w, mask[:, :1], 1.0)
    with pytest.raises(ValueError, match="batch and dim must match"):
        fused_local_scores(x[:1], w, mask, 1.0)
    with pytest.raises(ValueError, match="inputs must share one dtype"):
        fused_local_scores(x.half(), w, mask, 1.0)
    with pytest.raises(ValueError, match="dtype must be one of"):
        fused_local_scores(x.double(), w.double(), mask, 1.0)
    with pytest.raises(ValueError, match="normalizer must be one of"):
        fused_local_scores(x, w, mask, 1.0, "max")
    wide_x = torch.zeros(1, 2, 1500, device=device)
    wide_w = torch.zeros(1, 1, 2, 1500, device=device)
    with pytest.raises(ValueError, match="embedding dim D=1500"):
        fused_local_scores(wide_x, wide_w, torch.ones(1, 1, 2, dtype=torch.bool, device=device), 1.0)


def test_cpu_tensors_need_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    x, w, mask, _ = _inputs(1, 1, 2, 2, 4, torch.float32, torch.device("cpu"))
    with pytest.raises(ValueError, match="fused kernels need CUDA tensors"):
        fused_local_scores(x, w, mask, 1.0)


@pytest.mark.gpu
@pytest.mark.parametrize("normalizer", ["minmax", "softmax"])
def test_bf16_and_clip_shapes_on_gpu(normalizer, check_close):
    """ViT-B/32-like shapes in bf16 (the interpreter's bf16 tl.dot is wrong, so GPU only)."""
    cuda = torch.device("cuda")
    x, w, mask, up = _inputs(4, 5, 77, 49, 512, torch.bfloat16, cuda, seed=5)
    got, want = _run_pair(x, w, mask, up, 100.0 / 8, normalizer)
    _compare(check_close, got, want, torch.bfloat16, f"{normalizer} bf16 B4 C5 T77 P49 D512")
    x, w, mask, up = _inputs(4, 5, 77, 196, 512, torch.float32, cuda, seed=6)
    got, want = _run_pair(x, w, mask, up, 100.0 / 8, normalizer)
    _compare(check_close, got, want, torch.float32, f"{normalizer} fp32 B4 C5 T77 P196 D512")
    # The backward owns one image per program (no atomics): gradients are bitwise repeatable.
    again, _ = _run_pair(x, w, mask, up, 100.0 / 8, normalizer)
    assert torch.equal(got[1], again[1]) and torch.equal(got[2], again[2])


@pytest.mark.gpu
def test_peak_memory_is_gradients_plus_small_state_on_gpu():
    """No (B, C, T, P) tensor: the fused peak is the gradients plus O(B·C·T) statistics."""
    cuda = torch.device("cuda")
    b, c, t, p, d = 64, 5, 77, 196, 512
    x, w, mask, up = _inputs(b, c, t, p, d, torch.bfloat16, cuda, seed=7)
    peaks = {}
    for name, fn in (("fused", fused_local_scores), ("reference", local_scores)):
        xx, ww = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        (fn(xx, ww, mask, 100.0).float() * up).sum().backward()
        torch.cuda.synchronize()
        peaks[name] = torch.cuda.max_memory_allocated() - base
        del xx, ww
    grads = b * c * t * d * 2 + b * p * d * (4 + 2)  # ∂w (bf16), ∂x (fp32 buffer + bf16 copy)
    small = b * c * t * 4 * 16 + (8 << 20)  # cos, stats, the torch tail, allocator slack
    one_bctp = b * c * t * p * 4
    assert peaks["fused"] <= grads + small, peaks
    assert peaks["reference"] > peaks["fused"] + 2 * one_bctp, peaks


def test_strided_views_are_read_in_place(device, check_close):
    """Text tokens as a permuted view and image tokens as a slice: read through their strides."""
    x, w, mask, up = _inputs(2, 3, 5, 6, 8, torch.float32, device, seed=8)
    w_view = w.permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3).requires_grad_(True)  # C-major
    x_view = torch.cat([x, torch.zeros_like(x)], dim=2)[..., :8].requires_grad_(True)  # row stride 16
    assert not w_view.is_contiguous() and not x_view.is_contiguous()
    (fused_local_scores(x_view, w_view, mask, 6.0) * up).sum().backward()
    x_r, w_r = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    (local_scores(x_r, w_r, mask, 6.0) * up).sum().backward()
    check_close("d_image_tokens", x_view.grad, x_r.grad, torch.float32, "strided views")
    check_close("d_text_tokens", w_view.grad, w_r.grad, torch.float32, "strided views")
