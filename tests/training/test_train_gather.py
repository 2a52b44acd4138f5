"""Two processes (gloo, CPU): the gathered FSC-CLIP loss is the loss of the global batch.

Each rank holds half of a global batch of 6 images (uneven hard-negative counts per rank, so the
hard-negative normalisation matters), runs its features through a DDP-wrapped module and
backpropagates ``FSCCLIPLoss(world_size=2)``. The mean of the ranks' loss terms and the DDP
gradients must equal one process's loss and gradients over all 6 images; without the gather
(``world_size=1`` per rank) they must not.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from negforge.training.losses import LOSS_KEYS, FSCCLIPLoss

B, K, T, P, D, IN = 3, 2, 5, 4, 16, 8  # per-rank batch, negatives, tokens, patches, dim, input dim


class Toy(nn.Module):
    """Features as a function of parameters, so DDP has gradients to average."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.image = nn.Parameter(torch.randn(IN, D, generator=g) / IN**0.5)
        self.text = nn.Parameter(torch.randn(IN, D, generator=g) / IN**0.5)
        self.logit_scale = nn.Parameter(torch.tensor(2.3))

    def forward(self, x_img, x_txt, x_img_tok, x_txt_tok):
        return (x_img @ self.image, x_txt @ self.text, x_img_tok @ self.image, x_txt_tok @ self.text,
                self.logit_scale.exp())  # fmt: skip


def global_batch(world: int):
    g = torch.Generator().manual_seed(1)
    n = world * B
    inputs = (
        torch.randn(n, IN, generator=g),
        torch.randn(n, 1 + K, IN, generator=g),
        torch.randn(n, P, IN, generator=g),
        torch.randn(n, 1 + K, T, IN, generator=g),
    )
    token_mask = torch.arange(T)[None, None, :] < torch.randint(1, T + 1, (n, 1 + K, 1), generator=g)
    neg_mask = torch.zeros(n, K, dtype=torch.bool)
    neg_mask[:B] = torch.tensor([[True, True], [True, False], [True, True]])  # rank 0: 3 rows
    neg_mask[B:] = torch.tensor([[False, False], [False, True], [False, False]])  # rank 1: 1 row
    return inputs, token_mask, neg_mask


def losses_and_grads(module, loss_fn, inputs, token_mask, neg_mask):
    module.zero_grad(set_to_none=True)
    img, txt, img_tok, txt_tok, scale = module(*inputs)
    out = loss_fn(img, txt, img_tok, txt_tok, token_mask, neg_mask, scale)
    out["loss"].backward()
    params = getattr(module, "module", module).named_parameters()  # DDP: the wrapped module's names
    return {k: float(v.detach()) for k, v in out.items()}, {n: p.grad.clone() for n, p in params}


def _worker(rank: int, world: int, port: int, backend: str, out: str) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    import torch.distributed as dist

    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        ddp = nn.parallel.DistributedDataParallel(Toy())
        inputs, token_mask, neg_mask = global_batch(world)
        rows = slice(rank * B, (rank + 1) * B)
        mine = (tuple(x[rows] for x in inputs), token_mask[rows], neg_mask[rows])
        results = {}
        for name, world_size in (("gathered", world), ("per_rank", 1)):
            loss_fn = FSCCLIPLoss(backend=backend, world_size=world_size)
            terms, grads = losses_and_grads(ddp, loss_fn, *mine)
            mean = torch.tensor([terms[k] for k in LOSS_KEYS], dtype=torch.float64)
            dist.all_reduce(mean)
            results[name] = ({k: float(v) / world for k, v in zip(LOSS_KEYS, mean, strict=True)}, grads)
        if rank == 0:
            torch.save(results, os.path.join(out, "ranks.pt"))
        # Tear down in order: DDP's reducer holds the process group, and a rank that leaves
        # while its peer still talks can abort in gloo's threads ("terminate called without an
        # active exception", seen once under a loaded 2-core CI run).
        del ddp
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("backend", ["reference", "fused"])
def test_gathered_loss_equals_single_process_global_batch(backend, tmp_path):
    if backend == "fused":
        pytest.importorskip("triton", reason="triton is not installed: the fused kernels cannot run")
        from negforge.training.kernels._common import interpreter_enabled

        if not interpreter_enabled():
            pytest.skip("gloo runs on CPU tensors: the fused kernels need the Triton interpreter there")
    mp.spawn(_worker, args=(2, _free_port(), backend, str(tmp_path)), nprocs=2, join=True)
    results = torch.load(tmp_path / "ranks.pt", weights_only=True)
    # One process, the whole batch of 6 (the reference backend: the ground truth).
    want_terms, want_grads = losses_and_grads(Toy(), FSCCLIPLoss(backend="reference"), *global_batch(2))

    terms, grads = results["gathered"]
    assert terms == pytest.approx(want_terms, rel=1e-5, abs=1e-6)
    for name, grad in want_grads.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)

    # Per-rank losses (no gather; each rank's HN mean over its own rows) are another objective.
    terms, grads = results["per_rank"]
    assert terms["clip"] < want_terms["clip"] - 0.1  # 2 in-batch negatives instead of 5
    assert terms["global_hn"] != pytest.approx(want_terms["global_hn"], rel=1e-3)  # mean of 2 means
    assert max((grads[n] - want_grads[n]).abs().max().item() for n in want_grads) > 1e-3
