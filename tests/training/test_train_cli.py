"""`negforge train` and `negforge eval` through the CLI dispatcher."""

from __future__ import annotations

import json
import os

from negforge.pipeline.cli import main


def test_train_then_eval_cli(shard_dir, tmp_path, capsys, make_png):
    out = tmp_path / "run"
    rc = main(
        [
            "train",
            "--data",
            shard_dir,
            "--config",
            "tiny",
            "--output",
            str(out),
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--backend",
            "reference",
            "--set",
            "log_every=1",
            "--set",
            "progress=false",
            "--set",
            "model_overrides={vision_cfg: {layers: 1}, text_cfg: {layers: 1}}",
        ]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["step"] == 2 and os.path.exists(summary["checkpoint"])
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2]

    sc = tmp_path / "sc"
    (sc / "images").mkdir(parents=True)
    (sc / "images" / "a.png").write_bytes(make_png("red", "circle"))
    (sc / "replace_att.json").write_text(
        json.dumps(
            {"1": {"filename": "a.png", "caption": "a red circle", "negative_caption": "a blue circle"}}
        )
    )
    results = tmp_path / "results.json"
    rc = main(
        [
            "eval",
            "--checkpoint",
            f"mine={summary['checkpoint']}",
            "--sugarcrepe",
            str(sc),
            "--json",
            str(results),
        ]
    )
    assert rc == 0
    table = capsys.readouterr().out
    assert "mine" in table and "sugarcrepe/replace_att" in table
    data = json.loads(results.read_text())
    assert data["mine"]["sugarcrepe"]["types"]["replace_att"]["n"] == 1


def test_cli_errors(capsys):
    assert main(["train", "--set", "nonsense=1", "--data", "x"]) == 2
    assert main(["train"]) == 2
    assert main(["eval", "--checkpoint", "x.pt"]) == 2
    assert main(["train", "--data", "d", "--config", "tiny", "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "tiny"
