"""Trainer: config loading, checkpoints, exact resume, baseline mode."""

from __future__ import annotations

import json
import os

import pytest
import torch

from negforge.training.config import TrainConfig, load_config
from negforge.training.train import load_checkpoint, read_metrics, train


def _cfg(shard_dir, output, **kw):
    base = dict(
        data=shard_dir,
        output=str(output),
        batch_size=4,
        num_negatives=2,
        max_steps=4,
        lr=1e-3,
        warmup_steps=1,
        log_every=1,
        shuffle_buffer=8,
        progress=False,
        backend="reference",
        model_overrides={"vision_cfg": {"layers": 1}, "text_cfg": {"layers": 1}},
    )
    base.update(kw)
    return TrainConfig(**base)


def test_resume_equals_straight_run(shard_dir, tmp_path):
    straight = _cfg(shard_dir, tmp_path / "straight", max_steps=6, grad_accum=2)
    train(straight)
    part = _cfg(shard_dir, tmp_path / "resumed", max_steps=6, grad_accum=2)
    train(part, stop_at=3)
    ckpt = load_checkpoint(str(tmp_path / "resumed" / "checkpoints" / "last.pt"))
    assert ckpt["step"] == 3 and set(ckpt) >= {"model", "optimizer", "scheduler", "rng", "config"}
    train(part)
    a, b = read_metrics(straight.output), read_metrics(str(tmp_path / "resumed"))
    assert [r["step"] for r in b] == list(range(1, 7))
    for ra, rb in zip(a, b, strict=True):
        for key in ("loss", "clip", "global_hn", "local_hn", "lr"):
            assert ra[key] == pytest.approx(rb[key], rel=1e-5, abs=1e-6), (ra["step"], key)
    wa = load_checkpoint(os.path.join(straight.output, "checkpoints", "last.pt"))["model"]
    wb = load_checkpoint(str(tmp_path / "resumed" / "checkpoints" / "last.pt"))["model"]
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6)
    assert os.path.getsize(os.path.join(straight.output, "loss.png")) > 1000


def test_clip_baseline_skips_hard_negative_terms(shard_dir, tmp_path):
    summary = train(_cfg(shard_dir, tmp_path, loss="clip", max_steps=2, lora_rank=2))
    assert summary["last"]["global_hn"] == 0.0 and summary["last"]["local_hn"] == 0.0
    assert summary["last"]["loss"] == pytest.approx(summary["last"]["clip"])


def test_load_config_layers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("batch_size: 16\nlr: 1.0e-4\nnegative_types: {replace_att: 2.0}\n")
    cfg = load_config(str(path), overrides={"max_steps": 7, "seed": None}, sets=["lr=3e-4", "model=tiny"])
    assert (cfg.batch_size, cfg.max_steps, cfg.lr, cfg.seed) == (16, 7, 3e-4, 0)
    assert cfg.negative_types == {"replace_att": 2.0}
    assert load_config("tiny").model == "tiny"
    assert load_config(sets=["lr=5e-6", "pretrained=null"]).lr == 5e-6
    with pytest.raises(ValueError, match="bogus"):
        load_config(sets=["bogus=1"])
    with pytest.raises(ValueError, match="'hinge'"):
        TrainConfig(loss="hinge")
    json.dumps(cfg.to_dict())


def test_pretrained_cnn_tower_locked_cached_and_slower_trunk_lr(shard_dir, tmp_path):
    """The demo's recipe end to end: pretrained EfficientNet-Lite0, all but its last layer group
    locked, frozen features cached, the trainable trunk layers at a tenth of the learning rate.
    The cache changes nothing but speed; locked weights never move."""
    from negforge.training.towers import TOWER_WEIGHTS

    common = dict(
        model="EfficientNet-Lite0-Tiny",
        model_overrides={},
        image_pretrained="in1k",
        lock_image=True,
        lock_image_unlocked_groups=1,
        image_trunk_lr_mult=0.1,
        max_steps=2,
    )
    cached = _cfg(shard_dir, tmp_path / "cached", cache_trunk_features=True, **common)
    plain = _cfg(shard_dir, tmp_path / "plain", **common)
    train(cached)
    train(plain)
    for ra, rb in zip(read_metrics(cached.output), read_metrics(plain.output), strict=True):
        for key in ("loss", "clip", "global_hn", "local_hn"):
            assert ra[key] == pytest.approx(rb[key], rel=1e-4, abs=1e-5), (ra["step"], key)
    a = load_checkpoint(os.path.join(cached.output, "checkpoints", "last.pt"))
    b = load_checkpoint(os.path.join(plain.output, "checkpoints", "last.pt"))
    # Adam's first steps move each weight by about ±lr whatever the gradient's size, so where a
    # gradient is ~0 the float rounding of channels-last kernels can pick the sign: compare the
    # weights to a fraction of one step (lr = 1e-3), and the loss values tightly above.
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=5e-4, msg=k)
    source = TOWER_WEIGHTS["tf_efficientnet_lite0.in1k"].load_source()
    weights = a["model"]
    assert torch.equal(weights["visual.trunk.conv_stem.weight"], source["_conv_stem.weight"])
    assert not torch.equal(weights["visual.trunk.conv_head.weight"], source["_conv_head.weight"])
    # The scheduler scales each group's own base lr: trunk groups at lr x 0.1, the rest at lr.
    initial = sorted({g["initial_lr"] for g in a["optimizer"]["param_groups"]})
    assert initial == pytest.approx([1e-4, 1e-3])
    with pytest.raises(ValueError, match="cache_trunk_features must be false unless lock_image"):
        TrainConfig(cache_trunk_features=True)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"batch_size": 6}, "batch_size 4 → 6"),
        ({"grad_accum": 2}, "grad_accum 1 → 2"),
        ({"num_workers": 1}, "num_workers 0 → 1"),
    ],
)
def test_resume_refuses_a_different_run_shape(shard_dir, tmp_path, change, message):
    train(_cfg(shard_dir, tmp_path, max_steps=2), stop_at=1)
    ckpt = load_checkpoint(str(tmp_path / "checkpoints" / "last.pt"))
    assert ckpt["run"] == {"world_size": 1, "batch_size": 4, "grad_accum": 1, "num_workers": 0}
    with pytest.raises(ValueError, match=f"cannot resume from checkpoint .*last.pt: {message}"):
        train(_cfg(shard_dir, tmp_path, max_steps=2, **change))


def test_resume_refuses_another_world_size(shard_dir, tmp_path):
    from negforge.training.train import save_checkpoint

    train(_cfg(shard_dir, tmp_path, max_steps=2), stop_at=1)
    path = str(tmp_path / "checkpoints" / "last.pt")
    ckpt = load_checkpoint(path)
    ckpt["run"]["world_size"] = 8  # as if written by an 8-GPU run
    save_checkpoint(path, ckpt)
    with pytest.raises(ValueError, match="world_size 8 → 1"):
        train(_cfg(shard_dir, tmp_path, max_steps=2))
    ckpt["run"]["world_size"] = 1
    save_checkpoint(path, ckpt)
    assert train(_cfg(shard_dir, tmp_path, max_steps=2))["step"] == 2  # same shape: resumes


def test_param_groups_follow_open_clip():
    """Decay everything 2-d (token and positional embeddings included, as the original);
    never 1-d tensors, biases or the logit scale; embeddings exempt only when asked."""
    from negforge.training.model import ModelConfig, create_model
    from negforge.training.train import param_groups

    model = create_model(ModelConfig(overrides={"vision_cfg": {"layers": 1}, "text_cfg": {"layers": 1}})).model
    names = {id(p): n for n, p in model.named_parameters()}

    def groups(**kw):
        decay, no_decay = param_groups(model, 0.1, **kw)
        assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
        return {names[id(p)] for p in decay["params"]}, {names[id(p)] for p in no_decay["params"]}

    decay, no_decay = groups()
    assert {"token_embedding.weight", "positional_embedding", "visual.positional_embedding"} <= decay
    assert {"logit_scale", "visual.class_embedding", "ln_final.weight", "ln_final.bias"} <= no_decay
    assert all(model.get_parameter(n).ndim >= 2 for n in decay)
    decay, no_decay = groups(decay_embeddings=False)
    assert {"token_embedding.weight", "positional_embedding", "visual.positional_embedding"} <= no_decay


def test_vit_b_32_config_follows_the_original_recipe():
    cfg = load_config("vit-b-32")
    assert (cfg.model, cfg.pretrained, cfg.batch_size, cfg.lr, cfg.weight_decay, cfg.warmup_steps) == (
        "ViT-B-32", "openai", 256, 5e-6, 0.1, 50,
    )  # fmt: skip
    assert cfg.grad_clip == 0.0 and cfg.decay_embeddings is True
    assert (cfg.gamma, cfg.beta, cfg.lambda_global, cfg.lambda_local) == (2.0, 0.02, 0.5, 0.2)
    assert cfg.gather_features and cfg.grad_cache
