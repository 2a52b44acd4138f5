"""Collectives for data-parallel FSC-CLIP: feature gathering with gradients, count reductions.

The contrastive term of CLIP takes its in-batch negatives from the whole global batch; with N
ranks each holding B pairs, every rank gathers the other ranks' features and scores its own B
rows against all N·B columns (open_clip's ``gather_with_grad`` + ``local_loss``). The gather
must carry gradients: rank r's loss depends on rank s's features, so the backward of the
all-gather sums, for each rank's slice, the gradients that every rank's loss sends it
(``torch.distributed.nn.functional.all_gather`` does this: reduce-scatter on NCCL, all-to-all
elsewhere). DDP then averages the parameter gradients over ranks, which makes the result the
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


def gather_with_grad(t: Tensor) -> Tensor:
    """``cat`` of every rank's ``t`` along dim 0, in rank order, differentiable (see module doc).

    Every rank must pass the same shape (the trainer's per-rank batches are all ``batch_size``).
    """
    import torch.distributed.nn.functional as dist_fn

    return torch.cat(dist_fn.all_gather(t), dim=0)


def all_reduce_sum(t: Tensor) -> Tensor:
    """Sum of ``t`` over ranks, as a new tensor outside autograd (for counts and normalisers)."""
    out = t.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out
