"""``FSCCLIPLoss(backend="fused")`` equals ``backend="reference"``: every term and every gradient."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed: the fused kernels cannot run")

from negforge.training.losses import FSCCLIPLoss  # noqa: E402


@pytest.mark.parametrize("missing", ["mask", "zero"])
def test_fused_backend_matches_reference(missing, device, check_close):
    g = torch.Generator().manual_seed(11)
    b, k, t, p, d = 4, 2, 6, 5, 16
    inputs = {
        "image_features": torch.randn(b, d, generator=g),
        "text_features": torch.randn(b, k + 1, d, generator=g),
        "image_tokens": torch.randn(b, p, d, generator=g),
        "text_tokens": torch.randn(b, k + 1, t, d, generator=g),
    }
    token_mask = torch.arange(t)[None, None, :] < torch.randint(1, t + 1, (b, k + 1, 1), generator=g)
    neg_mask = torch.tensor([[True, True], [True, False], [False, False], [False, True]])
    token_mask[2, 1:] = False  # missing negatives carry no tokens
    token_mask[1, 2] = False
    token_mask[3, 1] = False

    results = {}
    for backend in ("reference", "fused"):
        leaves = {name: x.clone().to(device).requires_grad_(True) for name, x in inputs.items()}
        scale = torch.tensor(14.0, device=device, requires_grad=True)
        out = FSCCLIPLoss(missing=missing, backend=backend)(
            leaves["image_features"],
            leaves["text_features"],
            leaves["image_tokens"],
            leaves["text_tokens"],
            token_mask.to(device),
            neg_mask.to(device),
            scale,
        )
        out["loss"].backward()
        results[backend] = (out, {name: x.grad for name, x in leaves.items()}, scale.grad)

    (ref, ref_grads, ref_ds), (fused, grads, ds) = results["reference"], results["fused"]
    for key in ("clip", "global_hn", "local_hn", "loss"):
        check_close(key, fused[key], ref[key], torch.float32, missing)
    for name in inputs:
        check_close(f"d_{name}", grads[name], ref_grads[name], torch.float32, missing)
    check_close("d_logit_scale", ds, ref_ds, torch.float32, missing)
