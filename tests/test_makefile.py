"""`make data && make train` works: train reads the folder data writes (also when it is moved)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _commands(*args: str) -> list[str]:
    out = subprocess.run(["make", "-n", "-C", ROOT, *args], check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "negforge " in line]


def _flag(command: str, flag: str) -> str:
    match = re.search(rf"{flag} (\S+)", command)
    assert match, f"{flag} missing in {command!r}"
    return match.group(1)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("extra", [(), ("DATA_OUT=out/elsewhere",)])
def test_train_reads_where_data_writes(extra):
    build, train = _commands("data", "train", *extra)
    assert " build " in build and " train " in train
    assert _flag(train, "--data") == _flag(build, "--output")
    assert _flag(build, "--output") == ("out/elsewhere" if extra else "out/shapes")
