"""``negforge.training.kernels`` imports cleanly without Triton and loads nothing eagerly."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_import_without_triton_reports_unavailable():
    proc = _run(
        """
        import sys
        sys.modules["triton"] = None  # makes `import triton` fail, as on a machine without it
        import torch
        import negforge.training.kernels as k
        assert k.triton_available() is False
        try:
            k.fused_scr_loss(torch.zeros(2, 2), torch.ones(2, 1, dtype=torch.bool))
        except ImportError as exc:
            assert "need Triton" in str(exc), exc
        else:
            raise AssertionError("expected ImportError")
        print("ok")
        """
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_import_defines_no_kernel_and_touches_no_device():
    proc = _run(
        """
        import sys
        import negforge.training.kernels as k
        loaded = [m for m in ("triton", "negforge.training.kernels.local_scores",
                              "negforge.training.kernels.scr", "negforge.training.kernels.contrastive")
                  if m in sys.modules]
        assert not loaded, loaded
        assert sorted(k.__all__) == ["fused_clip_loss", "fused_local_scores", "fused_scr_loss",
                                     "triton_available"]
        print("ok")
        """
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
