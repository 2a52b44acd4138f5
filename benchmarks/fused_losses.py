#!/usr/bin/env python3
"""Fused Triton FSC-CLIP losses vs the PyTorch reference: forward+backward time and peak memory.

Both paths run side by side in one process on the same inputs, and the table prints the ratios
reference / fused (higher is better for the fused kernels) plus the largest output difference,
so a speed-up that breaks parity shows at once. Shapes follow ViT-B/32 (P = 49) and ViT-B/16
(P = 196): D = 512, T = 77 token slots with caption lengths drawn from 8..32 (CLIP pads to 77;
``--full-mask`` keeps every slot, the kernels' worst case).

Goals (issue 9, on a modern GPU): LHN fused ≥ 3× faster and ≥ 10× less peak memory than the
reference at B = 256, K = 4, P = 196; contrastive-loss memory flat in B (the ``--clip-batches``
sweep goes where the reference's B×B logits dominate).

Memory (MiB above what was allocated before the call, i.e. above the inputs) is reported twice:
*saved*, what stays allocated between forward and backward (activations and saved tensors, what
a training step holds per loss term), and *peak*, ``max_memory_allocated`` over forward+backward,
which also counts transient buffers and the input gradients that both paths must produce
(∂w alone is B·C·T·D elements, so the peak ratio is bounded by the gradients, the saved one not).

    .venv/bin/python benchmarks/fused_losses.py                      # CUDA: full sweep
    .venv/bin/python benchmarks/fused_losses.py --batches 256 --negatives 4 --patches 196
    .venv/bin/python benchmarks/fused_losses.py --dry-run             # CPU interpreter smoke run
    .venv/bin/python benchmarks/fused_losses.py --resource-usage      # sm_90 registers/spills, no GPU

``--resource-usage`` compiles every kernel with the block sizes the host functions pick, for an
sm_90 target (Triton's bundled ptxas; no GPU needed), and prints registers, spill stack and
shared memory per program — the evidence behind the block-size choices in the kernel docstrings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


@dataclass
class Row:
    """One measured configuration."""

    op: str  # lhn | scr | clip
    batch: int  # B
    negatives: int  # K
    patches: int  # P (0 where it does not apply)
    ref_ms: float  # reference forward+backward, milliseconds
    fused_ms: float  # fused forward+backward, milliseconds
    ref_mb: float  # reference peak extra memory over forward+backward, MiB (nan without CUDA)
    fused_mb: float  # fused peak extra memory over forward+backward, MiB
    ref_saved_mb: float  # reference memory held between forward and backward (activations), MiB
    fused_saved_mb: float  # fused memory held between forward and backward, MiB
    max_abs_diff: float  # largest |fused − reference| over the output


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ints = lambda s: [int(v) for v in s.split(",") if v]  # noqa: E731
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on CPU (Triton interpreter)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    parser.add_argument("--batches", type=ints, default=[64, 256, 1024])
    parser.add_argument("--negatives", type=ints, default=[1, 4])
    parser.add_argument("--patches", type=ints, default=[49, 196])
    parser.add_argument("--tokens", type=int, default=77)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--clip-batches", type=ints, default=[4096, 16384, 65536])
    parser.add_argument("--full-mask", action="store_true", help="every token slot masked in")
    parser.add_argument("--ops", default="lhn,scr,clip", help="comma list of lhn, scr, clip")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--resource-usage", action="store_true", help="compile for sm_90, print regs/spills")
    parser.add_argument("--arch", type=int, default=90, help="CUDA arch for --resource-usage")
    parser.add_argument(
        "--usage-dims", type=ints, default=[256, 512, 768], help="D values for --resource-usage"
    )
    parser.add_argument("--usage-dtypes", default="bf16,fp32", help="dtypes for --resource-usage")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.device = "cpu"
        args.dtype = "fp32"  # the interpreter's bf16 tl.dot is wrong
        args.batches, args.negatives, args.patches = [4], [1], [6]
        args.tokens, args.dim, args.clip_batches = 7, 16, [8]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.resource_usage:
        return resource_usage(
            args.arch, dims=tuple(args.usage_dims), dtypes=tuple(args.usage_dtypes.split(","))
        )
    if args.device == "cpu":
        # Must be set before any @triton.jit runs (the kernel modules are imported lazily below).
        os.environ.setdefault("TRITON_INTERPRET", "1")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "fused_losses: no CUDA device here. The timings and memory ratios only mean something on "
            "a GPU; run with --dry-run for an end-to-end smoke test through the Triton interpreter.",
            file=sys.stderr,
        )
        return 2
    from negforge.training import losses
    from negforge.training.kernels import (
        fused_clip_loss,
        fused_local_scores,
        fused_scr_loss,
        triton_available,
    )

    if not triton_available():
        print("fused_losses: triton is not installed (pip install 'negforge[kernels]')", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    dtype = getattr(torch, DTYPES[args.dtype])
    bench = Bench(device)
    ops = {op.strip() for op in args.ops.split(",") if op.strip()}
    rows: list[Row] = []
    gen = torch.Generator().manual_seed(0)

    for batch in args.batches:
        for k in args.negatives:
            c = 1 + k
            if "scr" in ops:
                logits = (4 * torch.randn(batch, c, generator=gen)).to(device)
                neg_mask = (torch.rand(batch, k, generator=gen) > 0.2).to(device)
                rows.append(
                    bench.compare(
                        "scr", batch, k, 0,
                        lambda z, f, nm=neg_mask: f(z, nm), [logits],
                        losses.scr_loss, fused_scr_loss,
                    )
                )  # fmt: skip
            if "lhn" not in ops:
                continue
            for p in args.patches:
                x = torch.randn(batch, p, args.dim, generator=gen).to(dtype).to(device)
                w = torch.randn(batch, c, args.tokens, args.dim, generator=gen).to(dtype).to(device)
                if args.full_mask:
                    mask = torch.ones(batch, c, args.tokens, dtype=torch.bool)
                else:
                    lo, hi = min(8, args.tokens), min(32, args.tokens)
                    lengths = torch.randint(lo, hi + 1, (batch, c, 1), generator=gen)
                    mask = torch.arange(args.tokens)[None, None, :] < lengths
                mask = mask.to(device)
                upstream = torch.randn(batch, c, generator=gen).to(device)
                rows.append(
                    bench.compare(
                        "lhn", batch, k, p,
                        lambda xx, ww, f, m=mask, up=upstream: (f(xx, ww, m, 100.0, "minmax").float() * up).sum(),
                        [x, w],
                        losses.local_scores, fused_local_scores,
                    )
                )  # fmt: skip
        if "clip" in ops:
            rows.append(
                _clip_row(bench, batch, args.dim, dtype, device, gen, losses.clip_loss, fused_clip_loss)
            )
    if "clip" in ops:
        for batch in args.clip_batches:
            rows.append(
                _clip_row(bench, batch, args.dim, dtype, device, gen, losses.clip_loss, fused_clip_loss)
            )

    print_table(
        rows, args, torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (interpreter)"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([asdict(r) for r in rows], fh, indent=2)
    return 0


def _clip_row(bench, batch, dim, dtype, device, gen, ref_fn, fused_fn) -> Row:
    import torch

    image = torch.randn(batch, dim, generator=gen).to(dtype).to(device)
    text = torch.randn(batch, dim, generator=gen).to(dtype).to(device)
    return bench.compare("clip", batch, 0, 0, lambda i, t, f: f(i, t, 100.0), [image, text], ref_fn, fused_fn)


class Bench:
    """Times and measures forward+backward of a reference and a fused callable on shared inputs."""

    def __init__(self, device) -> None:
        self.device = device

    def compare(self, op, batch, k, p, body: Callable, inputs, ref_fn, fused_fn) -> Row:
        import torch

        leaves = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]

        def forward(fn):
            for leaf in leaves:
                leaf.grad = None
            return body(*leaves, fn)

        def backward(out):
            out.float().sum().backward()

        def step(fn):
            return lambda: backward(forward(fn))

        results = {}
        for name, fn in (("ref", ref_fn), ("fused", fused_fn)):
            try:
                out = forward(fn)
                backward(out)
                saved_mb, peak_mb = self.memory_mb(lambda fn=fn: forward(fn), backward)
                results[name] = (self.time_ms(step(fn)), peak_mb, saved_mb, out.detach().float())
            except torch.OutOfMemoryError:
                torch.cuda.empty_cache()
                results[name] = (float("nan"), float("nan"), float("nan"), None)
        (ref_ms, ref_mb, ref_saved, ref_out), (fused_ms, fused_mb, fused_saved, fused_out) = (
            results["ref"],
            results["fused"],
        )
        diff = float("nan")
        if ref_out is not None and fused_out is not None:
            diff = (ref_out - fused_out).abs().max().item()
        return Row(op, batch, k, p, ref_ms, fused_ms, ref_mb, fused_mb, ref_saved, fused_saved, diff)

    def time_ms(self, step: Callable) -> float:
        if self.device.type == "cuda":
            from triton.testing import do_bench

            return float(do_bench(step, warmup=25, rep=100, return_mode="median"))
        step()  # interpreter: one warm call, one timed call (a smoke number, not a benchmark)
        t = time.perf_counter()
        step()
        return (time.perf_counter() - t) * 1e3

    def memory_mb(self, forward: Callable, backward: Callable) -> tuple[float, float]:
        """(held after forward, peak over forward+backward), MiB above what was allocated before.

        The first is what training keeps alive per loss between the two passes (activations and
        saved tensors); the second adds the transient buffers and the input gradients, which
        both paths must produce (∂w alone is B·C·T·D elements).
        """
        import torch

        if self.device.type != "cuda":
            return float("nan"), float("nan")
        torch.cuda.synchronize(self.device)
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        out = forward()
        torch.cuda.synchronize(self.device)
        saved = torch.cuda.memory_allocated(self.device) - base
        backward(out)
        del out
        torch.cuda.synchronize(self.device)
        peak = torch.cuda.max_memory_allocated(self.device) - base
        return saved / 2**20, peak / 2**20


def print_table(rows: list[Row], args: argparse.Namespace, device_name: str) -> None:
    mask = "full" if args.full_mask else "lengths 8..32"
    print(f"# {device_name}, dtype {args.dtype}, T={args.tokens}, D={args.dim}, token mask {mask}")
    print("# time: forward+backward median; saved: held between forward and backward; peak: over both")
    print(f"{'op':5} {'B':>6} {'K':>2} {'P':>4} {'ref ms':>9} {'fused ms':>9} {'speed-up':>8} "
          f"{'ref saved':>10} {'fused saved':>11} {'ratio':>8} {'ref peak':>9} {'fused peak':>10} {'ratio':>8} "
          f"{'max|diff|':>10}")  # fmt: skip

    def ratio(a: float, b: float) -> float:
        return a / b if b > 0 else float("nan")

    for r in rows:
        print(
            f"{r.op:5} {r.batch:6d} {r.negatives:2d} {r.patches:4d} {r.ref_ms:9.3f} {r.fused_ms:9.3f} "
            f"{ratio(r.ref_ms, r.fused_ms):7.2f}x {r.ref_saved_mb:10.1f} {r.fused_saved_mb:11.1f} "
            f"{ratio(r.ref_saved_mb, r.fused_saved_mb):7.1f}x {r.ref_mb:9.1f} {r.fused_mb:10.1f} "
            f"{ratio(r.ref_mb, r.fused_mb):7.1f}x {r.max_abs_diff:10.3g}"
        )


def resource_usage(arch: int, dims: tuple[int, ...], dtypes: tuple[str, ...]) -> int:
    """Compile each kernel for ``sm_{arch}`` and print its register / spill / shared-memory use."""
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        print("fused_losses: --resource-usage needs TRITON_INTERPRET unset", file=sys.stderr)
        return 2
    import subprocess
    import tempfile

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from negforge.training.kernels import contrastive, local_scores, scr

    cuobjdump = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    target = GPUTarget("cuda", arch, 32)

    def compile_one(
        label: str, fn, pointers: dict[str, str], consts: dict, num_warps: int, num_stages: int = 3
    ) -> None:
        signature = {
            name: "constexpr"
            if name in consts
            else pointers.get(name, "i64" if name.startswith("stride") else "i32")
            for name in fn.arg_names
        }
        kernel = triton.compile(
            ASTSource(fn, signature, consts),
            target=target,
            options={"num_warps": num_warps, "num_stages": num_stages},
        )
        with tempfile.NamedTemporaryFile(suffix=".cubin") as fh:
            fh.write(kernel.asm["cubin"])
            fh.flush()
            out = subprocess.run([cuobjdump, "-res-usage", fh.name], capture_output=True, text=True).stdout
        usage = next((line.strip() for line in out.splitlines() if "REG:" in line), out.strip())
        fields = dict(item.split(":", 1) for item in usage.split() if ":" in item)
        print(f"{label:38} warps {num_warps:2d} stages {num_stages}  regs {fields.get('REG', '?'):>4}  "
              f"spill-stack {fields.get('STACK', '?'):>5} B  shared {kernel.metadata.shared:>6} B")  # fmt: skip

    print(f"# sm_{arch}, Triton {triton.__version__}: per-thread registers and spill stack per kernel")
    for dt in dtypes:
        precision = "ieee" if dt == "fp32" else "tf32"
        for dim in dims:
            cfg = local_scores.LocalScoresConfig.for_shape(dim)
            ptrs = {
                "X_ptr": f"*{dt}", "W_ptr": f"*{dt}", "M_ptr": "*i8", "COS_ptr": "*fp32", "STAT_ptr": "*fp32",
                "DCOS_ptr": "*fp32", "DX_ptr": "*fp32", "DW_ptr": f"*{dt}", "minmax_eps": "fp32",
            }  # fmt: skip
            for fn, name in (
                (local_scores._lhn_fwd_kernel, "lhn fwd"),
                (local_scores._lhn_bwd_kernel, "lhn bwd"),
            ):
                consts = {
                    "BLOCK_T": cfg.block_t, "BLOCK_P": cfg.block_p, "BLOCK_D": cfg.block_d, "SOFTMAX": False,
                    "DOT_PRECISION": precision, "N_STATS": local_scores.N_STATS,
                }  # fmt: skip
                compile_one(f"{name} {dt} D={dim} (BLOCK_D {cfg.block_d})", fn, ptrs, consts, cfg.num_warps)
            ccfg = contrastive.ContrastiveConfig.for_shape(dim, 4 if dt == "fp32" else 2)
            cptrs = {
                name: "*fp32"
                for name in ("SCALE_ptr", "LSE_ptr", "LSE_Q_ptr", "LSE_K_ptr", "DLSE_Q_ptr", "DLSE_K_ptr",
                             "DQ_ptr", "DSCALE_ptr")
            }  # fmt: skip
            cptrs.update({"Q_ptr": f"*{dt}", "K_ptr": f"*{dt}"})
            consts = {"BLOCK_M": ccfg.block_m, "BLOCK_N": ccfg.block_n, "BLOCK_D": ccfg.block_d,
                      "DOT_PRECISION": precision}  # fmt: skip
            for fn, name in (
                (contrastive._row_lse_kernel, "clip lse"),
                (contrastive._row_grad_kernel, "clip grad"),
            ):
                compile_one(f"{name} {dt} D={dim}", fn, cptrs, consts, ccfg.num_warps, ccfg.num_stages)
        sptrs = {"Z_ptr": f"*{dt}", "NM_ptr": "*i8", "LOSS_ptr": "*fp32", "DZ_ptr": "*fp32", "gamma": "fp32",
                 "beta": "fp32"}  # fmt: skip
        consts = {"BLOCK_B": 16, "BLOCK_C": 8, "ZERO_MISSING": False, "FOCAL": True}
        compile_one(f"scr {dt} C<=8", scr._scr_fwd_kernel, sptrs, consts, 4)
    return 0


if __name__ == "__main__":
    sys.exit(main())
