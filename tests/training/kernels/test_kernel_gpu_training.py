"""On a GPU: the path training takes — ``backend="auto"``, bf16 autocast — really runs the kernels.

CUDA only (``-m gpu``; ``benchmarks/gpu_check.sh`` runs them when a GPU is lent). Each test fails
if a kernel fell back to the reference, so a green run means the fused path compiled, launched and
matched the float32 reference on this GPU at CLIP shapes.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed: the fused kernels cannot run")

from negforge.training import losses  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _no_failures_before():
    losses.reset_fused_failures()
    yield
    losses.reset_fused_failures()


def _fsc_inputs(b, k, t, p, d, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    cuda = torch.device("cuda")
    tensors = {
        "image_features": torch.randn(b, d, generator=g),
        "text_features": torch.randn(b, k + 1, d, generator=g),
        "image_tokens": torch.randn(b, p, d, generator=g),
        "text_tokens": torch.randn(b, k + 1, t, d, generator=g),
    }
    lengths = torch.randint(4, t + 1, (b, k + 1, 1), generator=g)
    token_mask = (torch.arange(t)[None, None, :] < lengths).to(cuda)
    neg_mask = (torch.rand(b, k, generator=g) > 0.2).to(cuda)
    return {n: x.to(dtype).to(cuda) for n, x in tensors.items()}, token_mask, neg_mask


def _loss_and_grads(backend, tensors, token_mask, neg_mask, upcast=False):
    leaves = {n: (x.float() if upcast else x).clone().requires_grad_(True) for n, x in tensors.items()}
    scale = torch.tensor(50.0, device="cuda", requires_grad=True)
    out = losses.FSCCLIPLoss(backend=backend)(
        leaves["image_features"], leaves["text_features"], leaves["image_tokens"], leaves["text_tokens"],
        token_mask, neg_mask, scale,
    )  # fmt: skip
    out["loss"].backward()
    return out, {**{n: x.grad for n, x in leaves.items()}, "logit_scale": scale.grad}


def test_auto_bf16_fsc_loss_runs_fused_and_matches_fp32_reference():
    tensors, token_mask, neg_mask = _fsc_inputs(32, 4, 32, 49, 512, torch.bfloat16)
    out, grads = _loss_and_grads("auto", tensors, token_mask, neg_mask)
    assert losses.fused_failures() == {}, losses.fused_failures()
    ref, ref_grads = _loss_and_grads("reference", tensors, token_mask, neg_mask, upcast=True)
    for key in losses.LOSS_KEYS:
        assert out[key].dtype == torch.float32
        torch.testing.assert_close(out[key], ref[key], rtol=2e-2, atol=2e-2, msg=key)
    for name, g in ref_grads.items():
        assert grads[name].dtype == (torch.float32 if name == "logit_scale" else torch.bfloat16)
        scale = g.abs().max()
        torch.testing.assert_close(grads[name].float() / scale, g / scale, rtol=0, atol=3e-2, msg=name)


def test_local_form_bf16_matches_reference():
    from negforge.training.kernels import fused_clip_loss

    g = torch.Generator().manual_seed(1)
    world, b, d = 4, 256, 512
    image = torch.randn(world * b, d, generator=g).to(torch.bfloat16).cuda()
    text = torch.randn(world * b, d, generator=g).to(torch.bfloat16).cuda()
    rows = slice(2 * b, 3 * b)
    results = []
    for fn, dtype in ((fused_clip_loss, torch.bfloat16), (losses.clip_loss, torch.float32)):
        i = image.to(dtype).clone().requires_grad_(True)  # a fresh leaf per implementation
        t = text.to(dtype).clone().requires_grad_(True)
        loss = fn(i[rows], t[rows], 100.0, i * 1.0, t * 1.0)
        loss.backward()
        results.append((loss, i.grad, t.grad))
    (loss, di, dt), (ref, ref_di, ref_dt) = results
    torch.testing.assert_close(loss, ref, rtol=1e-2, atol=1e-2)
    for got, want in ((di, ref_di), (dt, ref_dt)):
        scale = want.abs().max()
        torch.testing.assert_close(got.float() / scale, want / scale, rtol=0, atol=2e-2)


def test_trainer_step_under_bf16_autocast_uses_the_kernels():
    from negforge.training.config import TrainConfig
    from negforge.training.data import trim_padding
    from negforge.training.model import ModelConfig, create_model
    from negforge.training.train import StepContext, TokenFeatures, backward_step, build_loss

    torch.manual_seed(0)
    bundle = create_model(ModelConfig(name="tiny"), device="cuda")
    features = TokenFeatures(bundle.model).train()
    texts = ["a red circle left of a blue square"] * 16 + ["two green squares above a circle"] * 16
    batch = {
        "images": torch.randn(8, 3, 32, 32, device="cuda"),
        "text": trim_padding(bundle.tokenizer(texts).reshape(8, 4, -1)).cuda(),
        "neg_mask": torch.ones(8, 3, dtype=torch.bool, device="cuda"),
    }
    ctx = StepContext(autocast=lambda: torch.autocast("cuda", dtype=torch.bfloat16),
                      scale=lambda t: t, grad_cache=True)  # fmt: skip
    terms = {}
    for backend in ("auto", "reference"):
        bundle.model.zero_grad(set_to_none=True)
        terms[backend] = backward_step(features, build_loss(TrainConfig(data="-", backend=backend)), [batch], ctx)
    assert losses.fused_failures() == {}, losses.fused_failures()
    assert terms["auto"] == pytest.approx(terms["reference"], rel=2e-2, abs=2e-2)
