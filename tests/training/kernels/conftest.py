"""Shared pieces of the fused-kernel parity tests: device, tolerances, verbose comparison.

The kernels run on CUDA when there is one and on CPU through Triton's interpreter otherwise
(``tests/conftest.py`` sets ``TRITON_INTERPRET=1`` before anything defines a kernel). The
interpreter is slow, so every shape here is tiny.

Each fused result is compared with the PyTorch reference (``negforge.training.losses``)
evaluated in float32 on the *same* (possibly half-precision) input values, so the tolerance
row of a dtype measures only the fused path's own rounding.
"""

from __future__ import annotations

import pytest
import torch

# (atol, rtol) per input dtype, for values and gradients alike.
TOLERANCES = {
    torch.float32: (1e-5, 1e-4),
    torch.float16: (1e-2, 1e-2),
    torch.bfloat16: (6e-2, 6e-2),
}


@pytest.fixture(scope="session")
def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@pytest.fixture
def check_close():
    """``check_close(name, actual, expected, dtype, case)``: assert_close with a case report."""

    def _check(
        name: str, actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, case: str
    ) -> None:
        atol, rtol = TOLERANCES[dtype]
        actual = actual.detach().float().cpu()
        expected = expected.detach().float().cpu()
        assert torch.isfinite(actual).all(), f"{name} [{case}]: fused result has non-finite values\n{actual}"

        def report(msg: str) -> str:
            err = (actual - expected).abs()
            worst = tuple(int(i) for i in torch.unravel_index(err.argmax(), err.shape))
            return (
                f"{name} [{case}] differs from the reference (dtype {dtype}, atol {atol}, rtol {rtol}); "
                f"worst at index {worst}: fused {actual[worst].item():.6g} vs reference "
                f"{expected[worst].item():.6g}\n{msg}"
            )

        torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, msg=report)

    return _check
