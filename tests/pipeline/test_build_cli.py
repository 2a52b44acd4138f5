"""`negforge build` flags: left out, the config dataclasses' defaults apply; given, they reach the config."""

from __future__ import annotations

import argparse

import pytest

from negforge.pipeline.build import BuildConfig
from negforge.pipeline.cli import build_parser, main
from negforge.pipeline.commands import build as build_cmd


def _args(*argv: str) -> argparse.Namespace:
    args, extra = build_parser().parse_known_args(["build", *argv])
    assert extra == []
    return args


def test_every_flag_defaults_to_none_so_configs_own_their_defaults():
    parser = argparse.ArgumentParser()
    build_cmd.add_arguments(parser)
    restated = {
        a.option_strings[0]: a.default
        for a in parser._actions
        if a.option_strings and a.dest not in ("help", "input", "output") and a.default is not None
    }
    assert restated == {}  # a default here would shadow (and drift from) the dataclass's


def test_no_flags_give_the_dataclass_defaults():
    config = build_cmd.config_from_args(_args("--input", "in.jsonl", "--output", "out"))
    assert config == BuildConfig(inputs=("in.jsonl",), output="out")
    assert config.llm is None and config.scoring is None and config.license is None


def test_given_flags_reach_the_nested_configs():
    config = build_cmd.config_from_args(_args(
        "--input", "a.jsonl", "--input", "b.csv", "--output", "o", "--shards", "3", "--seed", "7",
        "--split", "val.2014", "--max-caption-chars", "99", "--types", "swap_obj, count",
        "--max-per-type", "1", "--embed-images", "--license", "cc-by-4.0", "--overwrite",
    ))  # fmt: skip
    assert config.inputs == ("a.jsonl", "b.csv") and config.shards == 3 and config.seed == 7
    assert config.read.split == "val.2014" and config.read.max_caption_chars == 99
    assert config.generation.types == ("swap_obj", "count") and config.generation.max_per_type == 1
    assert config.generation.seed == 7 and config.generation.max_per_caption == 12  # default kept
    assert config.embed_images and config.overwrite and config.license == "cc-by-4.0"


def test_shapes_flags_override_only_what_is_given():
    from negforge.generators.shapes import ShapesConfig

    config = build_cmd.config_from_args(_args("--format", "shapes", "--output", "o", "--seed", "3",
                                              "--shapes-train", "30", "--shapes-filter", "outside"))  # fmt: skip
    assert config.shapes == ShapesConfig(seed=3, n_train=30)
    assert config.shapes_filter == "outside"


def test_llm_selectors_map_to_types_and_the_config_default_backend():
    from negforge.pipeline.stages.llm import LLMConfig

    config = build_cmd.config_from_args(
        _args("--input", "i", "--output", "o", "--types", "replace_obj,llm_replace_obj,llm_count,llm_replace_obj",
              "--llm-model", "m", "--llm-temperature", "0.2")  # fmt: skip
    )
    assert config.generation.types == ("replace_obj",)
    assert config.llm == LLMConfig(model="m", types=("replace_obj", "count"), temperature=0.2)
    assert config.llm.backend == LLMConfig.__dataclass_fields__["backend"].default == "server"
    engine = build_cmd.config_from_args(
        _args("--input", "i", "--output", "o", "--types", "llm_count", "--llm-model", "m", "--llm-backend",
              "engine", "--llm-no-checks")  # fmt: skip
    )
    assert engine.llm.backend == "engine" and engine.llm.use_checks is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--types", "llm_swap_obj"], "--llm-model is required"),
        (["--types", "llm_shuffle", "--llm-model", "m"], "types must be among"),
        (["--split", "val-2014"], "split 'val-2014' is not a valid split name"),
        (["--split", "val/2014"], "no '-', '/' or spaces"),
        (["--shards", "0"], "shards must be in 1..99999"),
        (["--score", "--score-target-blind-accuracy", "1.5"], "target_blind_accuracy"),
        (["--license", "cc by"], "license must be a license id"),
    ],
)
def test_bad_values_exit_2_naming_the_problem(tmp_path, capsys, argv, message):
    assert main(["build", "--input", str(tmp_path), "--output", str(tmp_path / "o"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_scoring_flags():
    from negforge.generators.scoring import FilterThresholds
    from negforge.pipeline.stages.score import ScoringConfig

    assert build_cmd.config_from_args(_args("--input", "i", "--output", "o")).scoring is None
    assert build_cmd.config_from_args(_args("--input", "i", "--output", "o", "--score")).scoring == ScoringConfig()
    cfg = build_cmd.config_from_args(_args(
        "--input", "i", "--output", "o", "--score", "--score-max-nll-gap", "-1", "--score-text-encoder", "none",
        "--score-no-balance", "--score-batch-size", "8",
    )).scoring  # fmt: skip
    assert cfg == ScoringConfig(
        text_encoder=None, batch_size=8, thresholds=FilterThresholds(max_nll_gap=None, blind_balance=False)
    )


def test_version(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"negforge {metadata.version('negforge')}"
