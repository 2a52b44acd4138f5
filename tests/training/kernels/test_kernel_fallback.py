"""``backend="auto"``: a fused kernel that fails to compile or launch falls back to the reference.

On CUDA ``auto`` picks the Triton kernels. Without a GPU the CPU interpreter stands in for it
(``auto`` is made to prefer the kernels on CPU); with one, the same tests run on CUDA tensors. A
kernel is replaced by one that raises the way Triton does when compilation or the launch fails. The losses and gradients must then be the reference's,
with exactly one warning, and the broken kernel must not be tried again.
"""

from __future__ import annotations

import logging

import pytest
import torch

pytest.importorskip("triton", reason="triton is not installed: the fused kernels cannot run")

from triton.runtime.errors import OutOfResources  # noqa: E402

from negforge.training import losses  # noqa: E402
from negforge.training.kernels import contrastive, local_scores  # noqa: E402


class BrokenKernel:
    """Stands in for a ``@triton.jit`` function: ``kernel[grid](...)`` raises like a failed launch."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.launches = 0

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            self.launches += 1
            raise self.exc

        return launch


@pytest.fixture
def auto_on_cpu(monkeypatch):
    """``auto`` resolves to the kernels on CPU (interpreter) and starts with no recorded failure."""
    monkeypatch.setattr(losses, "_auto_prefers_fused", lambda device: True)
    losses.reset_fused_failures()
    yield
    losses.reset_fused_failures()


def _inputs(device, seed=0):
    g = torch.Generator().manual_seed(seed)
    b, k, t, p, d = 3, 2, 5, 6, 16
    tensors = {
        "image_features": torch.randn(b, d, generator=g),
        "text_features": torch.randn(b, k + 1, d, generator=g),
        "image_tokens": torch.randn(b, p, d, generator=g),
        "text_tokens": torch.randn(b, k + 1, t, d, generator=g),
    }
    token_mask = torch.arange(t)[None, None, :] < torch.randint(1, t + 1, (b, k + 1, 1), generator=g)
    neg_mask = torch.tensor([[True, True], [True, False], [False, True]])
    return {n: x.to(device) for n, x in tensors.items()}, token_mask.to(device), neg_mask.to(device)


def _run(backend, device):
    tensors, token_mask, neg_mask = _inputs(device)
    leaves = {name: x.clone().requires_grad_(True) for name, x in tensors.items()}
    scale = torch.tensor(12.0, device=device, requires_grad=True)
    out = losses.FSCCLIPLoss(backend=backend)(
        leaves["image_features"], leaves["text_features"], leaves["image_tokens"],
        leaves["text_tokens"], token_mask, neg_mask, scale,
    )  # fmt: skip
    out["loss"].backward()
    return out, {**{n: x.grad for n, x in leaves.items()}, "logit_scale": scale.grad}


def _assert_same(got, want):
    (out, grads), (ref_out, ref_grads) = got, want
    for key in losses.LOSS_KEYS:
        torch.testing.assert_close(out[key], ref_out[key], rtol=1e-4, atol=1e-5, msg=key)
    for name in ref_grads:
        torch.testing.assert_close(grads[name], ref_grads[name], rtol=1e-4, atol=1e-5, msg=name)


def _warnings(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING and "falls back" in r.getMessage()]


@pytest.mark.parametrize(
    "module,kernel,op,phase",
    [
        (local_scores, "_lhn_fwd_kernel", "local_scores", "forward"),
        (local_scores, "_lhn_bwd_kernel", "local_scores", "backward"),
        (contrastive, "_row_lse_kernel", "clip_loss", "forward"),
        (contrastive, "_row_grad_kernel", "clip_loss", "backward"),
    ],
)
def test_failing_kernel_falls_back_once_with_one_warning(
    module, kernel, op, phase, auto_on_cpu, monkeypatch, caplog, device
):
    want = _run("reference", device)
    broken = BrokenKernel(OutOfResources(232448, 101376, "shared memory"))
    monkeypatch.setattr(module, kernel, broken)
    with caplog.at_level(logging.WARNING, logger="negforge.training.losses"):
        first = _run("auto", device)
        launches = broken.launches
        second = _run("auto", device)
    _assert_same(first, want)
    _assert_same(second, want)
    assert launches >= 1 and broken.launches == launches  # not tried again after failing
    (record,) = _warnings(caplog)  # one warning for the whole run
    assert repr(op) in record.getMessage() and phase in record.getMessage()
    assert "shared memory" in record.getMessage()
    assert set(losses.fused_failures()) == {op}


def test_auto_without_failure_uses_the_kernels(auto_on_cpu, caplog, device):
    """The guard is transparent: same numbers as backend="fused", no warning, nothing recorded."""
    with caplog.at_level(logging.WARNING, logger="negforge.training.losses"):
        auto = _run("auto", device)
    _assert_same(auto, _run("fused", device))
    assert not _warnings(caplog) and losses.fused_failures() == {}


def test_forced_fused_backend_raises_instead(auto_on_cpu, monkeypatch, device):
    monkeypatch.setattr(local_scores, "_lhn_fwd_kernel", BrokenKernel(RuntimeError("PTX JIT failed")))
    with pytest.raises(RuntimeError, match="PTX JIT failed"):
        _run("fused", device)
    assert losses.fused_failures() == {}


def test_out_of_memory_is_not_a_reason_to_fall_back(auto_on_cpu, monkeypatch, device):
    """The reference needs more memory than the kernels: OOM propagates, nothing is recorded."""
    monkeypatch.setattr(local_scores, "_lhn_fwd_kernel", BrokenKernel(torch.OutOfMemoryError("CUDA OOM")))
    with pytest.raises(torch.OutOfMemoryError):
        _run("auto", device)
    assert losses.fused_failures() == {}
