"""Token features (DESIGN §6) and LoRA on the tiny open_clip model."""

from __future__ import annotations

import pytest
import torch

from negforge.training.model import (
    ModelConfig,
    apply_lora,
    create_model,
    encode_image_tokens,
    encode_text_tokens,
    merge_lora,
    text_token_mask,
    trainable_parameters,
)


@pytest.fixture(scope="module")
def bundle():
    torch.manual_seed(0)
    b = create_model(ModelConfig(name="tiny"))
    b.model.eval()
    return b


def test_image_tokens_match_design(bundle):
    model = bundle.model
    images = torch.randn(2, 3, 32, 32)
    pooled, tokens = encode_image_tokens(model, images)
    assert pooled.shape == (2, 64) and tokens.shape == (2, 64, 64)  # P = (32/4)^2
    torch.testing.assert_close(pooled, model.encode_image(images))
    # By hand: ln_post(visual tokens)[:, 1:] @ visual.proj.
    v = model.visual
    x = v.transformer(v._embeds(images))
    torch.testing.assert_close(tokens, v.ln_post(x)[:, 1:] @ v.proj)


def test_text_tokens_and_mask(bundle):
    model, tok = bundle.model, bundle.tokenizer
    ids = tok(["a red circle left of a blue square", "two dogs"])
    pooled, tokens, mask = encode_text_tokens(model, ids)
    assert tokens.shape == (2, 32, 64) and mask.shape == (2, 32)
    torch.testing.assert_close(pooled, model.encode_text(ids))
    # SOT cleared, content + EOT kept, padding out.
    for row, m in zip(ids, mask, strict=True):
        n = int((row > 0).sum())
        assert not m[0] and m[1:n].all() and not m[n:].any()
        assert row[n - 1] == row.max()  # EOT is the last kept token
    # Tokens are ln_final(x) @ text_projection at every position.
    x = model.token_embedding(ids) + model.positional_embedding
    x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask))
    torch.testing.assert_close(tokens, x @ model.text_projection)
    assert text_token_mask(torch.zeros(1, 5, dtype=torch.long)).sum() == 0


def test_lora_starts_identical_trains_only_adapters_and_merges():
    torch.manual_seed(0)
    base = create_model(ModelConfig(name="tiny")).model.eval()
    torch.manual_seed(0)
    lora = create_model(ModelConfig(name="tiny")).model.eval()
    n = apply_lora(lora, rank=4, alpha=8.0)
    assert n == 4 * 2 * 2  # (attn in/out + mlp fc/proj) x 2 layers x 2 towers
    names = [name for name, _ in trainable_parameters(lora)]
    assert names and all("lora_" in name for name in names)
    images, ids = torch.randn(2, 3, 32, 32), torch.randint(1, 1000, (2, 32))
    with torch.no_grad():
        torch.testing.assert_close(lora.encode_image(images), base.encode_image(images))
        for _, p in trainable_parameters(lora):
            if p.abs().sum() == 0:
                p.add_(0.05)  # move B off zero
        adapted = lora.encode_text(ids)
        assert not torch.allclose(adapted, base.encode_text(ids))
    merged = merge_lora(lora)
    assert not any("lora_" in name for name, _ in merged.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(merged.encode_text(ids), adapted)


def test_model_config_validation():
    with pytest.raises(ValueError, match="-1"):
        ModelConfig(lora_rank=-1)
    with pytest.raises(ValueError, match="'qkv'"):
        ModelConfig(lora_targets=("qkv",))
    with pytest.raises(ValueError, match="ViT-B-32"):
        ModelConfig(name="ViT-B-32", overrides={"embed_dim": 8})


def test_trimmed_text_gives_the_features_of_full_padding():
    """Cutting the padding after the longest caption is exact under the causal mask: every kept
    position (and the pooled EOT feature) equals the padded-to-77 result up to float rounding."""
    from negforge.training.data import trim_padding

    torch.manual_seed(0)
    bundle = create_model(ModelConfig(name="tiny", overrides={"text_cfg": {"context_length": 77}}))
    model = bundle.model.eval()
    ids = bundle.tokenizer(
        ["a red circle left of a blue square", "two dogs", "a small green triangle above two large red squares"]
    )
    trimmed = trim_padding(ids)
    assert ids.shape == (3, 77) and trimmed.shape == (3, 11)
    with torch.no_grad():
        pooled, tokens, mask = encode_text_tokens(model, ids)
        pooled_t, tokens_t, mask_t = encode_text_tokens(model, trimmed)
    n = trimmed.shape[1]
    torch.testing.assert_close(pooled_t, pooled, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(tokens_t, tokens[:, :n], rtol=1e-5, atol=1e-5)
    assert torch.equal(mask_t, mask[:, :n]) and not mask[:, n:].any()  # nothing masked in was cut
    # A bidirectional tower (no causal mask) would see the padding: there the cut is not exact.
    with torch.no_grad():

        def bidirectional(t):
            x = model.token_embedding(t) + model.positional_embedding[: t.shape[1]]
            return model.ln_final(model.transformer(x)) @ model.text_projection

        assert (bidirectional(trimmed) - bidirectional(ids)[:, :n]).abs().max() > 1e-2
