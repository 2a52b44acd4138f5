"""Two-process DDP (gloo, CPU): ranks read disjoint data and end with identical, trained weights.

The run gathers contrastive features across ranks and accumulates two micro-batches with
GradCache, so the collectives of both (all-gather with gradients, count all-reduces, DDP's
no_sync on the first micro-batch) run in the trainer's own loop.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, config_dict: dict, out: str) -> None:
    os.environ.update(
        {
            "RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(rank),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )
    torch.set_num_threads(1)
    import torch.distributed as dist

    from negforge.training.config import TrainConfig
    from negforge.training.train import train

    try:
        # Each rank saves the weights it holds in memory, so the test can compare them.
        train(TrainConfig(**config_dict), on_end=lambda m: torch.save(m.state_dict(), f"{out}/rank{rank}.pt"))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_ranks_stay_in_sync(shard_dir, tmp_path):
    from negforge.training.data import DataConfig, ShardBatches
    from negforge.training.model import ModelConfig, create_model

    overrides = {"vision_cfg": {"layers": 1}, "text_cfg": {"layers": 1}}
    config = dict(
        data=shard_dir,
        output=str(tmp_path / "run"),
        batch_size=4,
        num_negatives=2,
        grad_accum=2,
        max_steps=2,
        lr=1e-3,
        warmup_steps=0,
        log_every=1,
        progress=False,
        backend="reference",
        device="cpu",
        shuffle_buffer=4,
        model_overrides=overrides,
    )
    mp.spawn(_worker, args=(2, _free_port(), config, str(tmp_path)), nprocs=2, join=True)
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    torch.manual_seed(0)
    init = create_model(ModelConfig(overrides=overrides)).model.state_dict()
    assert any(not torch.allclose(init[k], a[k]) for k in a)  # trained, not an untouched init
    # The two ranks were fed different rows.
    cfg = DataConfig(shard_dir, batch_size=4, num_negatives=2, shuffle_buffer=4)
    firsts = [
        next(iter(ShardBatches(cfg, lambda img: torch.zeros(1), lambda t: torch.zeros(len(t), 2), r, 2)))[
            "ids"
        ]
        for r in range(2)
    ]
    assert not set(firsts[0]) & set(firsts[1])
