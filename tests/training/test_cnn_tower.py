"""CNN image towers (open_clip timm towers): registration, patch tokens, locking, LHN on both tower kinds."""

from __future__ import annotations

import pytest
import torch

from negforge.training.losses import FSCCLIPLoss
from negforge.training.model import (
    ModelConfig,
    create_model,
    encode_image,
    encode_image_tokens,
    import_open_clip,
    lock_image_trunk,
)
from negforge.training.train import TokenFeatures, compute_losses

CNN = "EfficientNet-Lite0-Tiny"


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return create_model(ModelConfig(name=CNN, image_pretrained="in1k"))


def test_config_is_registered_with_open_clip():
    open_clip = import_open_clip()
    assert CNN in open_clip.list_models()
    cfg = open_clip.get_model_config(CNN)
    assert cfg["vision_cfg"]["timm_model_name"] == "tf_efficientnet_lite0"


def test_cnn_patch_tokens_are_the_feature_map_positions_through_the_head(cnn):
    model = cnn.model.eval()
    images = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        pooled, tokens = encode_image_tokens(model, images)
        fmap = model.visual.trunk.forward_features(images)  # (2, 1280, 4, 4) at 128 px
        by_hand = fmap.flatten(2).transpose(1, 2) @ model.visual.head.proj.weight.t()
        reference = model.encode_image(images)
    assert fmap.shape == (2, 1280, 4, 4)
    assert tokens.shape == (2, 16, 64) and pooled.shape == (2, 64)
    assert torch.equal(pooled, reference)
    torch.testing.assert_close(tokens, by_hand)
    # Average pooling and a linear head commute: the global embedding is the mean token.
    torch.testing.assert_close(tokens.mean(1), pooled, atol=1e-5, rtol=1e-5)


def test_attention_pool_heads_have_no_patch_tokens():
    open_clip = import_open_clip()
    model = open_clip.CLIP(
        embed_dim=32,
        vision_cfg={
            "timm_model_name": "test_efficientnet",
            "timm_pool": "abs_attn",
            "timm_proj": "",
            "image_size": 64,
        },
        text_cfg={"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    )
    with pytest.raises(ValueError, match="per-position head"):
        encode_image_tokens(model, torch.randn(1, 3, 64, 64))


def test_lock_freezes_all_but_the_last_groups_and_keeps_the_function(cnn):
    """timm's frozen BatchNorm keeps EfficientNet's BatchNorm+ReLU6 blocks intact (open_clip's own
    lock_image_tower(freeze_bn_stats=True) would drop the activation); outputs are unchanged."""
    from timm.layers import BatchNormAct2d, FrozenBatchNormAct2d

    model = create_model(ModelConfig(name=CNN, image_pretrained="in1k")).model.eval()
    images = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        before = model.encode_image(images)
    lock_image_trunk(model.visual, unlocked_groups=1)
    with torch.no_grad():
        after = model.encode_image(images)
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)
    trainable = {n for n, p in model.visual.named_parameters() if p.requires_grad}
    assert trainable == {
        "head.proj.weight",
        "trunk.conv_head.weight",
        "trunk.bn2.weight",
        "trunk.bn2.bias",
        *(f"trunk.blocks.6.0.{m}.{w}" for m in ("bn1", "bn2", "bn3") for w in ("weight", "bias")),
        *(f"trunk.blocks.6.0.{c}.weight" for c in ("conv_pw", "conv_dw", "conv_pwl")),
    }
    trunk = model.visual.trunk
    assert isinstance(trunk.blocks[5][3].bn1, FrozenBatchNormAct2d)
    assert isinstance(trunk.blocks[5][3].bn1.act, torch.nn.ReLU6)
    assert isinstance(trunk.bn2, BatchNormAct2d) and not isinstance(trunk.bn2, FrozenBatchNormAct2d)
    with pytest.raises(ValueError, match="layer groups"):
        lock_image_trunk(model.visual, unlocked_groups=99)


def test_locked_config_state_dict_round_trips_into_a_fresh_locked_model(cnn):
    config = ModelConfig(name=CNN, image_pretrained="in1k", lock_image=True, lock_image_unlocked_groups=1)
    trained = create_model(config).model
    fresh = create_model(config, load_pretrained=False).model
    fresh.load_state_dict(trained.state_dict())  # strict: frozen BatchNorms have the same keys
    images = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(fresh.eval().encode_image(images), trained.eval().encode_image(images))
    assert torch.equal(encode_image(fresh, images), fresh.encode_image(images))


def test_model_config_validates_locking():
    with pytest.raises(ValueError, match="needs lock_image"):
        ModelConfig(name=CNN, lock_image_unlocked_groups=1)
    with pytest.raises(ValueError, match="lock_image_unlocked_groups must be >= 0"):
        ModelConfig(name=CNN, lock_image=True, lock_image_unlocked_groups=-1)
    with pytest.raises(ValueError, match="timm image tower"):
        create_model(ModelConfig(name="tiny", lock_image=True))


def _batch(tokenizer, image_size: int, b: int = 2, k: int = 2) -> dict:
    captions = [
        ["a red circle left of a blue square", "a blue circle left of a red square", "a red square"],
        ["two green stars", "two green hearts", ""],
    ][:b]
    text = torch.stack([tokenizer(row) for row in captions])  # (B, 1+K, L)
    text[1, 2] = 0  # a missing negative
    neg_mask = torch.tensor([[True, True], [True, False]])[:b, :k]
    g = torch.Generator().manual_seed(3)
    return {
        "images": torch.randn(b, 3, image_size, image_size, generator=g),
        "text": text,
        "neg_mask": neg_mask,
    }


@pytest.mark.parametrize("tower", ["vit", "cnn"])
def test_local_hn_reference_and_fused_agree_on_both_towers(tower):
    """FSC-CLIP losses through real token features: the fused kernels (Triton; interpreter on CPU)
    give the reference's values and parameter gradients for ViT patches and CNN positions alike."""
    pytest.importorskip("triton", reason="triton is not installed: the fused kernels cannot run")
    torch.manual_seed(0)
    if tower == "vit":
        bundle, size = create_model(ModelConfig(name="tiny")), 32
    else:
        config = ModelConfig(name=CNN, image_pretrained="in1k", lock_image=True, lock_image_unlocked_groups=1)
        bundle, size = create_model(config), 128
    model = bundle.model.eval()  # eval: BatchNorm statistics identical across the two passes
    batch = _batch(bundle.tokenizer, size)
    results = {}
    for backend in ("reference", "fused"):
        model.zero_grad(set_to_none=True)
        losses = compute_losses(TokenFeatures(model), FSCCLIPLoss(backend=backend), batch)
        losses["loss"].backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results[backend] = ({k: v.detach() for k, v in losses.items()}, grads)
    (ref, ref_grads), (fused, fused_grads) = results["reference"], results["fused"]
    assert ref["local_hn"] > 0
    for key in ref:
        torch.testing.assert_close(fused[key], ref[key], atol=1e-5, rtol=1e-4, msg=f"{tower} {key}")
    assert set(fused_grads) == set(ref_grads) and any(n.startswith("visual.") for n in ref_grads)
    for name, grad in ref_grads.items():
        torch.testing.assert_close(fused_grads[name], grad, atol=1e-5, rtol=1e-3, msg=f"{tower} d{name}")


def test_merging_lora_keeps_a_locked_trunk_locked():
    from negforge.training.model import apply_lora, merge_lora

    config = ModelConfig(name=CNN, lock_image=True, lock_image_unlocked_groups=1)
    model = create_model(config).model
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith("visual.trunk.") for n in frozen)
    apply_lora(model, rank=2)
    merge_lora(model)
    assert {n for n, p in model.named_parameters() if not p.requires_grad} == frozen
