"""The frozen-trunk feature cache: exact features, exact gradients, one trunk pass per image."""

from __future__ import annotations

import pytest
import torch

from negforge.training.model import ModelConfig, create_model, encode_image, encode_image_tokens
from negforge.training.trunk_cache import (
    TrunkFeatureCache,
    attach_trunk_cache,
    detach_trunk_cache,
    fold_frozen_batchnorm,
    frozen_prefix,
    trunk_sequence,
)

CNN = "EfficientNet-Lite0-Tiny"


def _model(unlocked: int = 1, seed: int = 0):
    torch.manual_seed(seed)
    config = ModelConfig(name=CNN, lock_image=unlocked >= 0, lock_image_unlocked_groups=max(unlocked, 0))
    return create_model(config).model


def test_trunk_sequence_is_forward_features():
    model = _model().eval()
    images = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        x = images
        for _, module in trunk_sequence(model.visual.trunk):
            x = module(x)
        assert torch.equal(x, model.visual.trunk.forward_features(images))


def test_prefix_ends_where_the_lock_ends():
    prefix, rest, names = frozen_prefix(_model(unlocked=1).visual.trunk)
    assert names[0] == "conv_stem" and names[-1] == "blocks.5.3" and len(rest) == 3
    prefix, rest, names = frozen_prefix(_model(unlocked=0).visual.trunk)
    assert names[-1] == "bn2" and rest == []
    with pytest.raises(ValueError, match="no frozen prefix"):
        frozen_prefix(_model(unlocked=-1).visual.trunk)


def test_cached_training_step_equals_uncached():
    """Features, the loss and every gradient are the same with the cache (to the float rounding
    of channels-last kernels); the prefix runs once per distinct image (a repeated image in the
    batch and a second step are hits)."""
    images = torch.randn(3, 3, 128, 128)
    images = torch.cat([images, images[:1]])  # (4, ...): one image twice

    def step(model):
        pooled, tokens = encode_image_tokens(model, images)
        loss = pooled.square().mean() + tokens.abs().mean()
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain, cached = _model().train(), _model().train()
    cache = TrunkFeatureCache()
    attach_trunk_cache(cached.visual, cache)
    loss_a, grads_a = step(plain)
    loss_b, grads_b = step(cached)
    assert (cache.misses, cache.hits) == (3, 1) and len(cache) == 3
    torch.testing.assert_close(loss_b, loss_a, atol=1e-5, rtol=1e-5)
    assert set(grads_a) == set(grads_b) and any("trunk.blocks.6" in n for n in grads_a)
    for name in grads_a:
        torch.testing.assert_close(grads_b[name], grads_a[name], atol=1e-5, rtol=1e-4)
    step(cached)
    assert (cache.misses, cache.hits) == (3, 5)


def test_cache_is_shared_by_models_with_the_same_prefix_only():
    cache = TrunkFeatureCache()
    a, b = _model(seed=0).eval(), _model(seed=0).eval()
    attach_trunk_cache(a.visual, cache)
    attach_trunk_cache(b.visual, cache)  # same frozen weights: shares
    images = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(encode_image(a, images), a.encode_image(images), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(encode_image(b, images), b.encode_image(images), atol=1e-5, rtol=1e-4)
    assert (cache.misses, cache.hits) == (2, 2)
    with pytest.raises(ValueError, match="other prefix weights"):
        attach_trunk_cache(_model(seed=1).visual, cache)
    detach_trunk_cache(a.visual)
    with torch.no_grad():
        encode_image(a, images)
    assert (cache.misses, cache.hits) == (2, 2)


def test_cache_evicts_least_recently_used_and_rejects_other_towers():
    cache = TrunkFeatureCache(max_items=2)
    model = _model(unlocked=0).eval()
    attach_trunk_cache(model.visual, cache)
    images = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        encode_image(model, images[:2])
        encode_image(model, images[:1])  # refreshes image 0
        encode_image(model, images[2:])  # evicts image 1
        encode_image(model, images[:1])
    assert len(cache) == 2 and (cache.misses, cache.hits) == (3, 2)
    tiny = create_model(ModelConfig(name="tiny")).model
    with pytest.raises(ValueError, match="timm tower"):
        attach_trunk_cache(tiny.visual, cache)
    with pytest.raises(ValueError, match="max_items"):
        TrunkFeatureCache(max_items=0)


def test_folded_prefix_equals_the_prefix_and_leaves_it_untouched():
    """BatchNorm folded into the convolutions: the same features to float rounding, no frozen
    norm left in the copy, the original modules (what the cache fingerprints) unchanged."""
    model = _model(unlocked=1).eval()
    prefix, _, _ = frozen_prefix(model.visual.trunk)
    before = {k: v.clone() for m in prefix for k, v in m.state_dict().items()}
    folded = fold_frozen_batchnorm(prefix)
    assert not any(type(m).__name__.startswith("FrozenBatchNorm") for f in folded for m in f.modules())
    assert any(type(m).__name__.startswith("FrozenBatchNorm") for p in prefix for m in p.modules())
    images = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        x, y = images, images
        for a, b in zip(prefix, folded, strict=True):
            x, y = a(x), b(y)
    torch.testing.assert_close(y, x, atol=1e-4, rtol=1e-4)
    after = {k: v for m in prefix for k, v in m.state_dict().items()}
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_cache_travels_between_processes_as_one_payload():
    """export() -> load(): the same features under the same keys; another prefix's payload raises."""
    model = _model().eval()
    filled = TrunkFeatureCache()
    attach_trunk_cache(model.visual, filled)
    images = torch.randn(3, 3, 128, 128)
    with torch.no_grad():
        want = encode_image(model, images)
    weights, keys, features = filled.export()
    assert len(keys) == 3 and features.shape[0] == 3
    fresh = TrunkFeatureCache()
    fresh.load(weights, keys, features.clone())
    other = _model().eval()
    attach_trunk_cache(other.visual, fresh)
    with torch.no_grad():
        torch.testing.assert_close(encode_image(other, images), want)
    assert (fresh.misses, fresh.hits) == (0, 3)
    with pytest.raises(ValueError, match="other prefix weights"):
        fresh.load("0" * 32, keys, features)
    with pytest.raises(ValueError, match="one feature per key"):
        TrunkFeatureCache().load(weights, keys, features[:2])
