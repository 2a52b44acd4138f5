"""One optimizer step's gradient: GradCache over micro-batches, and the precision the losses see."""

from __future__ import annotations

import contextlib
import types

import pytest
import torch

from negforge.training import losses
from negforge.training.config import TrainConfig
from negforge.training.data import trim_padding
from negforge.training.model import ModelConfig, create_model
from negforge.training.train import Encoded, StepContext, TokenFeatures, backward_step, build_loss, encode

WORDS = ["a", "red", "blue", "green", "small", "large", "circle", "square", "left", "of", "above", "two"]
SMALL = {"vision_cfg": {"layers": 1}, "text_cfg": {"layers": 1}}


def _model(overrides=SMALL):
    torch.manual_seed(0)
    return create_model(ModelConfig(name="tiny", overrides=overrides))


def _batch(bundle, b: int, k: int, seed: int = 0) -> dict:
    """B images, each with its caption and up to K negatives (some missing), ids trimmed."""
    g = torch.Generator().manual_seed(seed)
    n_words = torch.randint(2, 9, (b * (1 + k),), generator=g)
    texts = [" ".join(WORDS[int(i)] for i in torch.randint(len(WORDS), (int(n),), generator=g)) for n in n_words]
    text = bundle.tokenizer(texts).reshape(b, 1 + k, -1)
    neg_mask = torch.rand(b, k, generator=g) > 0.3
    neg_mask[0] = False  # a row without negatives
    neg_mask[1] = True
    text[:, 1:][~neg_mask] = 0  # missing negatives carry no ids
    return {"images": torch.randn(b, 3, 32, 32, generator=g), "text": trim_padding(text), "neg_mask": neg_mask}


def _split(batch: dict, parts: int, trim: bool = True) -> list[dict]:
    b = batch["images"].shape[0] // parts
    out = []
    for i in range(parts):
        rows = slice(i * b, (i + 1) * b)
        text = batch["text"][rows]
        out.append({"images": batch["images"][rows], "text": trim_padding(text) if trim else text,
                    "neg_mask": batch["neg_mask"][rows]})  # fmt: skip
    return out


CTX = StepContext(autocast=contextlib.nullcontext, scale=lambda t: t, grad_cache=True)


def _grads(model, features, loss_fn, batches, ctx=CTX):
    model.zero_grad(set_to_none=True)
    terms = backward_step(features, loss_fn, batches, ctx)
    return terms, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_grad_cache_equals_the_full_batch():
    bundle = _model()
    model, features = bundle.model, TokenFeatures(bundle.model).train()
    loss_fn = build_loss(TrainConfig(data="-", backend="reference", num_negatives=2))
    batch = _batch(bundle, 8, 2)
    full_terms, full = _grads(model, features, loss_fn, [batch])
    cached_terms, cached = _grads(model, features, loss_fn, _split(batch, 2))
    assert cached_terms == pytest.approx(full_terms, rel=1e-5, abs=1e-6)
    assert set(cached) == set(full)
    for name in full:
        torch.testing.assert_close(cached[name], full[name], rtol=1e-4, atol=1e-6, msg=name)
    # Independent micro-batches are a different objective (4 in-batch negatives, not 8): the
    # gradients differ, which is what the trainer warns about when grad_cache is off.
    independent = StepContext(autocast=contextlib.nullcontext, scale=lambda t: t, grad_cache=False)
    ind_terms, ind = _grads(model, features, loss_fn, _split(batch, 2), independent)
    assert ind_terms["clip"] < full_terms["clip"] - 0.1  # log 4 vs log 8 worth of negatives
    assert max((ind[n] - full[n]).abs().max().item() for n in full) > 1e-3


def test_grad_cache_replays_each_micro_batch_rng():
    """With patch dropout the two forwards of a micro-batch must draw the same patches: the
    result equals the loss of the concatenated micro-batches encoded once, in order."""
    overrides = {"vision_cfg": {"layers": 1, "patch_dropout": 0.5}, "text_cfg": {"layers": 1}}
    bundle = _model(overrides)
    model, features = bundle.model, TokenFeatures(bundle.model).train()
    loss_fn = build_loss(TrainConfig(data="-", backend="reference", num_negatives=2))
    micro = _split(_batch(bundle, 8, 2, seed=1), 2, trim=False)  # one T, so tokens concatenate

    torch.manual_seed(5)
    model.zero_grad(set_to_none=True)
    encs = [encode(features, loss_fn, b) for b in micro]
    cat = Encoded(*(torch.cat([getattr(e, f) for e in encs]) for f in ("image_features", "text_features",
                  "image_tokens", "text_tokens", "token_mask", "neg_mask")), encs[0].logit_scale)  # fmt: skip
    want_terms = loss_fn(cat.image_features, cat.text_features, cat.image_tokens, cat.text_tokens,
                         cat.token_mask, cat.neg_mask, cat.logit_scale)  # fmt: skip
    want_terms["loss"].backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    torch.manual_seed(5)
    got_terms, got = _grads(model, features, loss_fn, micro)
    assert got_terms == pytest.approx({k: float(v.detach()) for k, v in want_terms.items()}, rel=1e-5, abs=1e-6)
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-6, msg=name)


class _Spy:
    """Stands in for the kernels package: records input dtypes, computes with the reference."""

    def __init__(self):
        self.dtypes: dict[str, list[torch.dtype]] = {}

    def module(self):
        def record(name, fn):
            def call(*args, **kwargs):
                self.dtypes[name] = [a.dtype for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
                return fn(*(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a
                            for a in args), **kwargs)  # fmt: skip

            return call

        return types.SimpleNamespace(
            fused_clip_loss=record("clip", losses.clip_loss),
            fused_scr_loss=record("scr", losses.scr_loss),
            fused_local_scores=record("local", losses.local_scores),
            triton_available=lambda: True,
        )


def test_under_autocast_the_kernels_get_half_precision_and_tails_stay_fp32(monkeypatch):
    """bf16 features and tokens go to the fused LHN and contrastive kernels as they are (no fp32
    copy); SCR gets fp32 logits; every loss term comes back fp32."""
    spy = _Spy()
    monkeypatch.setattr(losses, "_fused_module", spy.module)
    bundle = _model()
    features = TokenFeatures(bundle.model).train()
    loss_fn = build_loss(TrainConfig(data="-", backend="fused", num_negatives=2))
    bf16 = StepContext(autocast=lambda: torch.autocast("cpu", dtype=torch.bfloat16), scale=lambda t: t,
                       grad_cache=True)  # fmt: skip
    terms = backward_step(features, loss_fn, [_batch(bundle, 4, 2)], bf16)
    # logit_scale is an fp32 parameter; the features and tokens are the model's bf16 outputs.
    assert spy.dtypes["clip"] == [torch.bfloat16, torch.bfloat16, torch.float32]
    assert spy.dtypes["local"] == [torch.bfloat16, torch.bfloat16, torch.float32]
    assert spy.dtypes["scr"] == [torch.float32]
    assert all(isinstance(v, float) for v in terms.values()) and terms["local_hn"] > 0


def test_reference_backend_computes_in_fp32_under_autocast(monkeypatch):
    seen = {}
    real = losses.local_scores

    def spy(image_tokens, text_tokens, *args, **kwargs):
        seen["dtypes"] = (image_tokens.dtype, text_tokens.dtype)
        return real(image_tokens, text_tokens, *args, **kwargs)

    monkeypatch.setattr(losses, "local_scores", spy)
    bundle = _model()
    features = TokenFeatures(bundle.model).train()
    loss_fn = build_loss(TrainConfig(data="-", backend="reference", num_negatives=2))
    bf16 = StepContext(autocast=lambda: torch.autocast("cpu", dtype=torch.bfloat16), scale=lambda t: t,
                       grad_cache=True)  # fmt: skip
    backward_step(features, loss_fn, [_batch(bundle, 4, 2)], bf16)
    assert seen["dtypes"] == (torch.float32, torch.float32)
