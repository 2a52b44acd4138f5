"""Shard dataset: determinism, rank/worker sharding, negatives and masks, resume skipping."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
import torch

from negforge.training.data import (
    DataConfig,
    ShardBatches,
    make_loader,
    sample_negatives,
    shard_paths,
    trim_padding,
)


def _pre(img):
    return torch.tensor(img.getpixel((16, 16)), dtype=torch.float32).reshape(3, 1, 1)


def _tok(texts):
    # Deterministic fake tokenizer: one "token" per word length, SOT/EOT like CLIP.
    out = torch.zeros(len(texts), 8, dtype=torch.long)
    for i, t in enumerate(texts):
        ids = [49406] + [len(w) for w in t.split()] + [49407]
        out[i, : len(ids)] = torch.tensor(ids)
    return out


def _ids(dataset, n_batches, workers=0):
    loader = make_loader(dataset, workers)
    return [b["ids"] for b in itertools.islice(iter(loader), n_batches)]


def test_shard_paths_checks_completeness(shard_dir, tmp_path, make_shards):
    assert len(shard_paths(shard_dir, "train")) == 3
    with pytest.raises(FileNotFoundError, match="'val'"):
        shard_paths(shard_dir, "val")
    make_shards(str(tmp_path), n=4, num_shards=2)
    (tmp_path / "data" / "train-00001-of-00002.parquet").unlink()
    with pytest.raises(ValueError, match="incomplete"):
        shard_paths(str(tmp_path), "train")


def test_batches_are_deterministic_and_cover_each_epoch(shard_dir):
    cfg = DataConfig(shard_dir, batch_size=8, num_negatives=2, shuffle_buffer=16, seed=3)
    a = _ids(ShardBatches(cfg, _pre, _tok), 12)
    b = _ids(ShardBatches(cfg, _pre, _tok), 12)
    assert a == b
    epoch0 = [i for batch in a[:6] for i in batch]  # 48 rows / 8
    assert sorted(epoch0) == [f"train-{i:04d}" for i in range(48)]
    epoch1 = [i for batch in a[6:] for i in batch]
    assert sorted(epoch1) == sorted(epoch0) and epoch1 != epoch0  # reshuffled
    c = _ids(ShardBatches(DataConfig(shard_dir, batch_size=8, shuffle_buffer=16, seed=4), _pre, _tok), 6)
    assert c != a[:6]


@pytest.mark.parametrize("world", [2, 3, 5])  # 5 > 3 shards: row-level striding
def test_ranks_are_disjoint_and_complete(shard_dir, world):
    cfg = DataConfig(shard_dir, batch_size=1, num_negatives=0, shuffle_buffer=4)
    seen = []
    for rank in range(world):
        ds = ShardBatches(cfg, _pre, _tok, rank=rank, world_size=world)
        rows = list(itertools.islice(ds._epoch_rows(0, rank, world), 100))
        seen.extend(r["id"] for r in rows)
    assert sorted(seen) == [f"train-{i:04d}" for i in range(48)]


def test_dataloader_workers_split_the_stream(shard_dir):
    cfg = DataConfig(shard_dir, batch_size=4, num_negatives=1, shuffle_buffer=8)
    batches = _ids(ShardBatches(cfg, _pre, _tok, num_workers=2), 12, workers=2)
    ids = [i for b in batches for i in b]
    assert len(ids) == len(set(ids)) == 48  # one epoch across both workers, no duplicate


def test_resume_skips_to_the_same_batches(shard_dir):
    cfg = DataConfig(shard_dir, batch_size=4, num_negatives=2, shuffle_buffer=8)
    straight = _ids(ShardBatches(cfg, _pre, _tok, num_workers=2), 9, workers=2)
    resumed = _ids(ShardBatches(cfg, _pre, _tok, start_batch=5, num_workers=2), 4, workers=2)
    assert resumed == straight[5:]
    single = _ids(ShardBatches(cfg, _pre, _tok), 9)
    assert _ids(ShardBatches(cfg, _pre, _tok, start_batch=7), 2) == single[7:]


def test_batch_tensors_and_neg_mask(shard_dir):
    cfg = DataConfig(shard_dir, batch_size=6, num_negatives=3, shuffle_buffer=1)
    batch = next(iter(ShardBatches(cfg, _pre, _tok)))
    assert batch["images"].shape == (6, 3, 1, 1)
    # Token ids are cut after the batch's longest caption ("a red square" + SOT/EOT = 5 < 8).
    assert batch["text"].shape == (6, 4, 5) and batch["neg_mask"].shape == (6, 3)
    assert (batch["text"][..., -1] != 0).any()
    for b in range(6):
        k = int(batch["neg_mask"][b].sum())
        assert k == len(batch["neg_types"][b]) <= 2  # records have 0–2 negatives, K = 3
        assert batch["neg_mask"][b, :k].all()
        assert (batch["text"][b, 1 + k :] == 0).all()  # missing: all-zero ids
        assert (batch["text"][b, : 1 + k, 0] == 49406).all()
    # Images decode from PNG bytes: the centre pixel is the shape's color, not white.
    assert (batch["images"].flatten(1) < 250).any(dim=1).all()


def test_type_weights_select_types(shard_dir):
    cfg = DataConfig(shard_dir, batch_size=48, num_negatives=2, type_weights=(("replace_att", 1.0),))
    batch = next(iter(ShardBatches(cfg, _pre, _tok)))
    types = Counter(t for row in batch["neg_types"] for t in row)
    assert set(types) == {"replace_att"}


def test_sample_negatives_mixes_types_by_weight():
    negs = [{"text": f"x{i}", "type": "a"} for i in range(50)] + [{"text": "y", "type": "b"}]
    rng = random.Random(0)
    firsts = Counter(sample_negatives(negs, 1, None, rng)[0]["type"] for _ in range(400))
    assert 150 < firsts["b"] < 250  # per-type, not per-negative: b is drawn ~half the time
    got = sample_negatives(negs, 3, {"a": 0.0, "b": 1.0}, random.Random(1))
    assert [n["text"] for n in got] == ["y"]
    assert len({n["text"] for n in sample_negatives(negs, 10, None, random.Random(2))}) == 10


def test_config_validation():
    with pytest.raises(ValueError, match="batch_size"):
        DataConfig("x", batch_size=0)
    with pytest.raises(ValueError, match="type_weights"):
        DataConfig("x", type_weights=(("a", -1.0),))


def test_trim_padding_cuts_after_the_longest_sequence():
    ids = torch.zeros(2, 3, 9, dtype=torch.long)
    ids[0, 0, :4] = torch.tensor([49406, 5, 6, 49407])
    ids[1, 2, :6] = torch.tensor([49406, 1, 2, 3, 4, 49407])  # the longest: 6 columns
    out = trim_padding(ids)
    assert out.shape == (2, 3, 6) and out.is_contiguous()
    assert torch.equal(out, ids[..., :6]) and (ids[..., 6:] == 0).all()
    assert trim_padding(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 1)  # nothing used: one column
