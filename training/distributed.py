"""Collectives for data-parallel FSC-CLIP: feature gathering with gradients, count reductions.

The contrastive term of CLIP takes its in-batch negatives from the whole global batch; with N
ranks each holding B pairs, every rank gathers the other ranks' features and scores its own B
rows against all N·B columns (open_clip's ``gather_with_grad`` + ``local_loss``). The gather
must carry gradients: rank r's loss depends on rank s's features, so the backward of the
all-gather sums, for each rank's slice, the gradients that every rank's loss sends it. DDP then averages the parameter gradients over ranks, which makes the result the
gradient of the mean of the per-rank losses — the loss of the global batch in one process.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    """Ranks in the default process group (1 when torch.distributed is not initialised)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def check_world(expected: int) -> None:
    """The default process group exists and has ``expected`` ranks (the loss was built for it)."""
    actual = world_size()
    if actual != expected:
        raise ValueError(
            f"the loss was built for world_size={expected} but the default process group has {actual} "
            "rank(s); initialise torch.distributed first or build the loss with world_size=1"
        )


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums every rank's gradient for this rank's slice.

    Written out (rather than ``torch.distributed.nn.functional.all_gather``, deprecated in torch
    2.13 in favour of private functional collectives) on public collectives that every backend
    has: the backward all-reduces the full gradient and keeps this rank's rows. Features are
    small (B·D per rank), so the all-reduce costs nothing next to DDP's gradient all-reduce.
    """

    @staticmethod
    def forward(ctx, t: Tensor) -> Tensor:
        ctx.rank, ctx.rows = dist.get_rank(), t.shape[0]
        out = t.new_empty((dist.get_world_size() * t.shape[0], *t.shape[1:]))
        dist.all_gather_into_tensor(out, t.contiguous())
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous()  # a fresh buffer: all_reduce writes in place
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def gather_with_grad(t: Tensor) -> Tensor:
    """``cat`` of every rank's ``t`` along dim 0, in rank order, differentiable (see module doc).

    Every rank must pass the same shape (the trainer's per-rank batches are all ``batch_size``).
    """
    return _GatherWithGrad.apply(t)


def all_reduce_sum(t: Tensor) -> Tensor:
    """Sum of ``t`` over ranks, as a new tensor outside autograd (for counts and normalisers)."""
    out = t.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out
