#!/usr/bin/env python3
"""Fused Triton FSC-CLIP losses vs the PyTorch reference and torch.compile: time, memory, parity.

Three implementations of each op run side by side in one process on the same inputs:

* ``ref``: what ``backend="reference"`` runs in training — the PyTorch functions of
  ``negforge.training.losses`` computing in float32 on the (bf16) inputs, fp32 copies included;
* ``compiled``: the same reference function through ``torch.compile`` (the obvious alternative
  to hand-written kernels);
* ``fused``: the Triton kernels on the inputs' own dtype (what ``backend="auto"`` runs on CUDA).

For each: forward+backward time, peak memory, memory held between forward and backward, and
parity with the ground truth (the reference on float32 copies of the same input values): the
largest output difference and the largest gradient difference of every input, relative to that
input's largest true gradient entry. A speed-up that breaks values or gradients shows at once.

Shapes follow ViT-B/32 (P = 49) and ViT-B/16 (P = 196): D = 512, T = 77 token slots with caption
lengths drawn from 8..32 (``--full-mask`` keeps every slot, the kernels' worst case; training
trims T to the batch's longest caption, so 77 is pessimistic for the reference).

Goals (on a modern GPU): LHN fused ≥ 3× faster and ≥ 10× less peak memory than the reference at
B = 256, K = 4, P = 196; contrastive-loss memory flat in B (``--clip-batches`` goes where the
reference's B×B logits dominate).

Memory is measured from a clean state — no gradients left from earlier runs, earlier outputs
freed — as MiB above what was allocated before the call: *saved* is what stays allocated after
the forward (activations and saved tensors, what a training step holds per loss term), *peak*
the maximum over forward+backward, which also counts transient buffers and the input gradients
that every implementation must produce (∂w alone is B·C·T·D elements, so the peak ratio is
bounded by the gradients, the saved one is not). CUDA: the caching allocator's counters. CPU:
allocation events of the CPU allocator recorded by the profiler (the Triton interpreter copies
its arguments, so CPU numbers are plumbing checks, not a benchmark).

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
import gc
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
IMPLS = ("ref", "compiled", "fused")


@dataclass
class Measurement:
    """One implementation of one op on one shape (NaN where it could not run, e.g. OOM)."""

    ms: float = math.nan  # forward+backward, milliseconds (CUDA: median of do_bench)
    peak_mb: float = math.nan  # peak extra memory over forward+backward, MiB
    saved_mb: float = math.nan  # memory held between forward and backward, MiB
    out_err: float = math.nan  # max |output − fp32 truth|
    grad_err: float = math.nan  # max over inputs of max |grad − truth| / max |truth grad|
    error: str = ""  # why it did not run, if it did not


@dataclass
class Row:
    """One measured configuration: the three implementations side by side."""

    op: str  # lhn | scr | clip
    batch: int  # B
    negatives: int  # K
    patches: int  # P (0 where it does not apply)
    dtype: str  # input dtype
    impls: dict[str, Measurement] = field(default_factory=dict)


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
    parser.add_argument(
        "--compile-backend",
        default=None,
        help="torch.compile backend of the compiled row (default inductor; aot_eager in --dry-run); "
        "'none' drops the row",
    )
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
        # inductor's C++ compile of three ops costs minutes on a small CPU; aot_eager traces the
        # same graphs through AOTAutograd and runs them eagerly (the compile plumbing, not speed)
        args.compile_backend = args.compile_backend or "aot_eager"
    args.compile_backend = args.compile_backend or "inductor"
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
    bench = Bench(device, args.compile_backend)
    ops = {op.strip() for op in args.ops.split(",") if op.strip()}
    rows: list[Row] = []
    gen = torch.Generator().manual_seed(0)
    # The reference as the trainer runs it: fp32 compute on half-precision inputs.
    ref_scr, ref_local, ref_clip = losses._reference_scr, losses._reference_local, losses._reference_clip

    for batch in args.batches:
        for k in args.negatives:
            c = 1 + k
            if "scr" in ops:
                logits = (4 * torch.randn(batch, c, generator=gen)).to(device)  # fp32, as in training
                neg_mask = (torch.rand(batch, k, generator=gen) > 0.2).to(device)
                rows.append(
                    bench.compare(
                        Row("scr", batch, k, 0, "fp32"),
                        lambda z, f, nm=neg_mask: f(z, nm), [logits],
                        {"ref": ref_scr, "fused": fused_scr_loss},
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
                rows.append(
                    bench.compare(
                        Row("lhn", batch, k, p, args.dtype),
                        lambda xx, ww, f, m=mask: f(xx, ww, m, 100.0, "minmax"), [x, w],
                        {"ref": ref_local, "fused": fused_local_scores},
                    )
                )  # fmt: skip
        if "clip" in ops:
            rows.append(_clip_row(bench, batch, args.dim, dtype, args.dtype, device, gen, ref_clip, fused_clip_loss))
    if "clip" in ops:
        for batch in args.clip_batches:
            rows.append(_clip_row(bench, batch, args.dim, dtype, args.dtype, device, gen, ref_clip, fused_clip_loss))

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (interpreter)"
    print_table(rows, args, name)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": name, "compile_backend": args.compile_backend, "tokens": args.tokens,
                       "dim": args.dim, "rows": [asdict(r) for r in rows]}, fh, indent=2)  # fmt: skip
    return 0


def _clip_row(bench, batch, dim, dtype, dtype_name, device, gen, ref_fn, fused_fn) -> Row:
    import torch

    image = torch.randn(batch, dim, generator=gen).to(dtype).to(device)
    text = torch.randn(batch, dim, generator=gen).to(dtype).to(device)
    return bench.compare(
        Row("clip", batch, 0, 0, dtype_name), lambda i, t, f: f(i, t, 100.0), [image, text],
        {"ref": ref_fn, "fused": fused_fn},
    )  # fmt: skip


class Bench:
    """Times, measures and checks forward+backward of each implementation on shared inputs."""

    def __init__(self, device, compile_backend: str) -> None:
        self.device = device
        self.compile_backend = compile_backend

    def compare(self, row: Row, body: Callable, inputs, fns: dict[str, Callable]) -> Row:
        """``body(*leaves, fn)`` → the op's output; backward with a fixed upstream gradient."""
        import torch

        fns = dict(fns)
        if self.compile_backend != "none":
            fns = {"ref": fns["ref"], "compiled": torch.compile(fns["ref"], backend=self.compile_backend,
                                                                 dynamic=False), "fused": fns["fused"]}  # fmt: skip
        truth_out, truth_grads = self._truth(body, inputs, fns["ref"])
        upstream = torch.randn(truth_out.shape, generator=torch.Generator().manual_seed(1)).to(self.device)
        for name, fn in fns.items():
            leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
            forward = lambda fn=fn, leaves=leaves: body(*leaves, fn)  # noqa: E731

            def backward(out, leaves=leaves):
                (out.float() * upstream).sum().backward()

            m = Measurement()
            try:
                out = forward()  # warm-up (compiles) and parity
                backward(out)
                m.out_err = (out.detach().float() - truth_out).abs().max().item()
                m.grad_err = max(
                    ((leaf.grad.float() - g).abs().max() / g.abs().max().clamp_min(1e-30)).item()
                    for leaf, g in zip(leaves, truth_grads, strict=True)
                )
                del out
                m.saved_mb, m.peak_mb = self.memory_mb(forward, backward, leaves)
                m.ms = self.time_ms(forward, backward, leaves)
            except torch.OutOfMemoryError as exc:
                m.error = f"OutOfMemoryError: {str(exc).splitlines()[0]}"
            except Exception as exc:  # a failed compile is a result too: report it, keep going
                m.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            finally:
                for leaf in leaves:
                    leaf.grad = None
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
            row.impls[name] = m
        return row

    def _truth(self, body, inputs, ref_fn):
        """Output and input gradients of the reference on float32 copies of the input values."""
        import torch

        leaves = [x.detach().float().requires_grad_(True) for x in inputs]
        out = body(*leaves, ref_fn).float()
        upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).to(self.device)
        (out * upstream).sum().backward()
        result = out.detach(), [leaf.grad.detach() for leaf in leaves]
        del leaves, out
        return result

    def _clean(self, leaves) -> None:
        import torch

        for leaf in leaves:
            leaf.grad = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()

    def time_ms(self, forward: Callable, backward: Callable, leaves) -> float:
        def step():
            for leaf in leaves:
                leaf.grad = None
            backward(forward())

        if self.device.type == "cuda":
            from triton.testing import do_bench

            return float(do_bench(step, warmup=25, rep=100, return_mode="median"))
        step()  # interpreter: one warm call, one timed call (a smoke number, not a benchmark)
        t = time.perf_counter()
        step()
        return (time.perf_counter() - t) * 1e3

    def memory_mb(self, forward: Callable, backward: Callable, leaves) -> tuple[float, float]:
        """(held after forward, peak over forward+backward), MiB above a clean start."""
        import torch

        self._clean(leaves)
        if self.device.type == "cuda":
            base = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            out = forward()
            torch.cuda.synchronize(self.device)
            saved = torch.cuda.memory_allocated(self.device) - base
            backward(out)
            del out
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device) - base
        else:
            fwd_events, out = _cpu_allocations(forward)
            bwd_events, _ = _cpu_allocations(lambda: backward(out))
            fwd_live = list(itertools.accumulate(fwd_events, initial=0))
            saved = fwd_live[-1]
            peak = max(max(fwd_live), saved + max(itertools.accumulate(bwd_events, initial=0)))
            del out
        self._clean(leaves)
        return saved / 2**20, peak / 2**20


def _cpu_allocations(fn: Callable):
    """Run ``fn`` under the profiler; the CPU allocator's allocations (+) and frees (−) in order."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    return [e.nbytes() for e in sorted(events, key=lambda e: e.start_ns())], result


def print_table(rows: list[Row], args: argparse.Namespace, device_name: str) -> None:
    mask = "full" if args.full_mask else "lengths 8..32"
    print(f"# {device_name}, dtype {args.dtype}, T={args.tokens}, D={args.dim}, token mask {mask}; "
          f"compiled = torch.compile(reference, backend={args.compile_backend!r})")  # fmt: skip
    peaks = [m.peak_mb for r in rows for m in r.impls.values() if math.isfinite(m.peak_mb)]
    unit, per_mb = ("KiB", 1024.0) if peaks and max(peaks) < 1 else ("MiB", 1.0)
    print(f"# ms: forward+backward; saved: {unit} held between forward and backward; peak: {unit} over "
          "both (from a clean state)")  # fmt: skip
    print("# out err: max |out − fp32 truth|; grad err: max |∂input − truth| / max |truth| over inputs; "
          "x: ref / impl")  # fmt: skip

    def ratio(a: float, b: float) -> str:
        return f"{a / b:6.2f}x" if b > 0 and math.isfinite(a) and math.isfinite(b) else "    n/a"

    print(f"{'op':5} {'B':>6} {'K':>2} {'P':>4} {'impl':9} {'ms':>9} {'speed-up':>8} {'saved':>9} {'x':>7} "
          f"{'peak':>9} {'x':>7} {'out err':>9} {'grad err':>9}")  # fmt: skip
    for r in rows:
        ref = r.impls.get("ref", Measurement())
        for name in IMPLS:
            m = r.impls.get(name)
            if m is None:
                continue
            if m.error:
                print(f"{r.op:5} {r.batch:6d} {r.negatives:2d} {r.patches:4d} {name:9} failed: {m.error}")
                continue
            print(
                f"{r.op:5} {r.batch:6d} {r.negatives:2d} {r.patches:4d} {name:9} {m.ms:9.3f} "
                f"{ratio(ref.ms, m.ms):>8} {m.saved_mb * per_mb:9.2f} {ratio(ref.saved_mb, m.saved_mb):>7} "
                f"{m.peak_mb * per_mb:9.2f} {ratio(ref.peak_mb, m.peak_mb):>7} {m.out_err:9.2e} "
                f"{m.grad_err:9.2e}"
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
            both = {"ROW_TERM": True, "COL_TERM": True}  # one GPU: both softmax terms in one pass
            row_only = {"ROW_TERM": True, "COL_TERM": False}  # multi-GPU local rows (the other pass alike)
            for fn, name, extra in (
                (contrastive._row_lse_kernel, "clip lse", {}),
                (contrastive._row_grad_kernel, "clip grad", both),
                (contrastive._row_grad_kernel, "clip grad (local rows)", row_only),
            ):
                compile_one(f"{name} {dt} D={dim}", fn, cptrs, {**consts, **extra}, ccfg.num_warps,
                            ccfg.num_stages)  # fmt: skip
        sptrs = {"Z_ptr": f"*{dt}", "NM_ptr": "*i8", "LOSS_ptr": "*fp32", "DZ_ptr": "*fp32", "gamma": "fp32",
                 "beta": "fp32"}  # fmt: skip
        consts = {"BLOCK_B": 16, "BLOCK_C": 8, "ZERO_MISSING": False, "FOCAL": True}
        compile_one(f"scr {dt} C<=8", scr._scr_fwd_kernel, sptrs, consts, 4)
    return 0


if __name__ == "__main__":
    sys.exit(main())
