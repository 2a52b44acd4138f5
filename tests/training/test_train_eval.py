"""Evaluation on tiny synthetic SugarCrepe / zero-shot / retrieval folders."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from negforge.training import eval as ev
from negforge.training.model import ModelConfig, create_model


class _FixedModel(torch.nn.Module):
    """Embeds images by their mean color and texts by color words: a known-correct scorer."""

    WORDS = {"red": 0, "blue": 1, "green": 2, "yellow": 3}
    RGB = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 180, 60), "yellow": (230, 210, 40)}

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.rgb = torch.tensor(list(self.RGB.values()), dtype=torch.float32) / 255

    def encode_image(self, images):
        # Distance of the centre pixel to each palette color → one-hot-ish embedding.
        centre = images[:, :, images.shape[2] // 2, images.shape[3] // 2]  # (N, 3)
        return -torch.cdist(centre, self.rgb) * 10

    def encode_text(self, ids):
        return F.one_hot(ids[:, 0], 4).float() * 10 - 5


def _bundle():
    return ev.ModelBundle(
        model=_FixedModel(),
        preprocess=lambda img: (
            torch.tensor(list(img.getdata()), dtype=torch.float32).T.reshape(3, *img.size) / 255
        ),
        tokenizer=lambda texts: torch.tensor(
            [[_FixedModel.WORDS[next(w for w in t.split() if w in _FixedModel.WORDS)]] for t in texts]
        ),
        config=ModelConfig(),
    )


@pytest.fixture
def bundle():
    from negforge.training.compat import ensure_torchvision_importable

    ensure_torchvision_importable()
    return _bundle()


def _write_png(path, color, png):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png(color, "square"))


def test_sugarcrepe_accuracy_per_type(tmp_path, bundle, make_png):
    png = make_png
    for i, color in enumerate(["red", "blue", "green"]):
        _write_png(tmp_path / "images" / f"{i}.png", color, png)
    right = {
        str(i): {"filename": f"{i}.png", "caption": f"a {c} square", "negative_caption": "a yellow square"}
        for i, c in enumerate(["red", "blue", "green"])
    }
    swapped = {
        "0": {"filename": "0.png", "caption": "a blue square", "negative_caption": "a red square"},
        "1": {"filename": "1.png", "caption": "a blue square", "negative_caption": "a red square"},
    }
    (tmp_path / "replace_att.json").write_text(json.dumps(right))
    (tmp_path / "swap_att.json").write_text(json.dumps(swapped))
    result = ev.eval_sugarcrepe(bundle, str(tmp_path))
    assert result["types"]["replace_att"] == {"accuracy": 100.0, "n": 3}
    assert result["types"]["swap_att"] == {"accuracy": 50.0, "n": 2}
    assert result["mean"] == pytest.approx(75.0)
    table = ev.format_table({"fixed": {"sugarcrepe": result}})
    assert "sugarcrepe/swap_att" in table and "50.0" in table


def test_zero_shot_and_retrieval(tmp_path, bundle, make_png):
    png = make_png
    colors = ["blue", "red"]
    for c in colors:
        for j in range(2):
            _write_png(tmp_path / "zs" / c / f"{j}.png", c, png)
    (tmp_path / "zs" / "classnames.json").write_text(json.dumps(colors))
    (tmp_path / "zs" / "templates.json").write_text(json.dumps(["a {} square", "the {}"]))
    zs = ev.eval_zero_shot(bundle, str(tmp_path / "zs"))
    assert zs == {"top1": 100.0, "n": 4, "n_classes": 2}
    (tmp_path / "ret").mkdir()
    lines = [
        {"image_path": f"../zs/{c}/0.png", "captions": [f"a {c} square", f"the {c} one"]} for c in colors
    ]
    (tmp_path / "ret" / "set.jsonl").write_text("\n".join(json.dumps(x) for x in lines))
    ret = ev.eval_retrieval(bundle, str(tmp_path / "ret" / "set.jsonl"), ks=(1,))
    assert ret["i2t_r1"] == 100.0 and ret["t2i_r1"] == 100.0 and ret["n_captions"] == 4


def test_load_for_eval_round_trips_a_checkpoint(tmp_path):
    from negforge.training.config import TrainConfig
    from negforge.training.train import save_checkpoint

    torch.manual_seed(0)
    cfg = TrainConfig(data="x", lora_rank=2, model_overrides={"vision_cfg": {"layers": 1}})
    from negforge.training.train import model_config

    model = create_model(model_config(cfg)).model
    save_checkpoint(str(tmp_path / "last.pt"), {"model": model.state_dict(), "config": cfg.to_dict()})
    loaded = ev.load_for_eval(checkpoint=str(tmp_path / "last.pt"))
    ids = loaded.tokenizer(["a red square"])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model.encode_text(ids), model.eval().encode_text(ids))
