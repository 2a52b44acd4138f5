"""Streaming batches of (image, positive, K hard negatives) from negforge Parquet shards.

Shards are ``DIR/data/{split}-{i:05d}-of-{N:05d}.parquet`` (schema v1). The dataset is an
infinite, deterministic stream of *batches*, which is what makes exact resume cheap:

- Consumers: every (distributed rank, DataLoader worker) pair is one consumer; consumer
  ``j = rank · W + worker`` of ``n = world · W``. When n divides the number of shards, each
  consumer reads only its own shards (``shards[j::n]`` of the epoch's shuffled shard order);
  otherwise every consumer scans all shards and keeps rows ``j::n`` (balanced, more reading).
  Either way consumers are disjoint and together cover every row once per epoch.
- Order: per epoch, the shard order and a shuffle buffer are seeded from
  ``(seed, epoch, consumer)``; negatives are sampled with an rng seeded from
  ``(seed, epoch, record id)``, so the stream does not depend on how it is consumed.
- Batching happens inside the worker (use ``DataLoader(batch_size=None)``). DataLoader
  takes batches from workers round-robin, so global batch ``i`` is worker ``i mod W``'s
  ``⌊i / W⌋``-th batch. A loader resumed at batch ``s`` starts again at worker 0, so its
  worker w plays the part of worker ``(w + s) mod W`` and skips that worker's share of the
  first s batches without decoding a single image.
"""

from __future__ import annotations

import glob
import io
import logging
import os
import random
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import IterableDataset, get_worker_info

from negforge.schemas import layout

logger = logging.getLogger(__name__)

_COLUMNS = ["id", "caption", "image", "negatives"]


@dataclass(frozen=True)
class DataConfig:
    """Where the shards are and how batches are drawn from them."""

    # dataset folder written by `negforge build` (holds data/*.parquet)
    data_dir: str
    # split name in the shard file names
    split: str = "train"
    # images per batch (per rank)
    batch_size: int = 32
    # K: hard negatives per image; fewer available → padded and flagged in neg_mask
    num_negatives: int = 4
    # sampling weight per negative type, e.g. (("replace_att", 2.0), ("swap_att", 1.0));
    # empty = every type with weight 1; types not listed are never sampled
    type_weights: tuple[tuple[str, float], ...] = ()
    # rows held in the shuffle buffer (1 = no shuffling beyond the shard order)
    shuffle_buffer: int = 1024
    # base seed of shard order, shuffling and negative sampling
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size!r}")
        if self.num_negatives < 0:
            raise ValueError(f"num_negatives must be >= 0, got {self.num_negatives!r}")
        if self.shuffle_buffer < 1:
            raise ValueError(f"shuffle_buffer must be >= 1, got {self.shuffle_buffer!r}")
        for entry in self.type_weights:
            if len(entry) != 2 or not isinstance(entry[0], str) or float(entry[1]) < 0:
                raise ValueError(f"type_weights entries must be (type, weight >= 0), got {entry!r}")


def shard_paths(data_dir: str, split: str) -> list[str]:
    """The split's shards in index order; raises if none or if the set is incomplete."""
    folder = os.path.join(data_dir, layout.DATA_DIR)
    paths = sorted(glob.glob(os.path.join(folder, f"{glob.escape(split)}-*-of-*.parquet")))
    matched = [(p, layout.parse_shard_name(os.path.basename(p))) for p in paths]
    matched = [(p, m) for p, m in matched if m is not None and m.split == split]
    if not matched:
        raise FileNotFoundError(f"no shards for split {split!r} under {folder}")
    total = matched[0][1].total
    indices = sorted(m.index for _, m in matched)
    if indices != list(range(total)) or any(m.total != total for _, m in matched):
        raise ValueError(f"incomplete shard set for split {split!r}: have {indices}, expected 0..{total - 1}")
    return [p for p, _ in matched]


def _seed(*parts: Any) -> int:
    """A stable 32-bit seed (crc32, not Python's salted hash)."""
    return zlib.crc32("\x00".join(str(p) for p in parts).encode())


def sample_negatives(
    negatives: Sequence[dict[str, Any]],
    k: int,
    type_weights: dict[str, float] | None,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """Up to ``k`` distinct negatives, mixing types by weight.

    Each draw picks a type with probability ∝ its weight among types that still have unused
    negatives, then a negative of that type uniformly, so a type with many negatives does not
    crowd out rare ones. ``type_weights=None`` weighs every type 1; a type absent from the
    mapping (or with weight 0) is never drawn.
    """
    by_type: dict[str, list[dict[str, Any]]] = {}
    for neg in negatives:
        weight = 1.0 if type_weights is None else type_weights.get(neg["type"], 0.0)
        if weight > 0 and neg.get("text"):
            by_type.setdefault(neg["type"], []).append(neg)
    chosen: list[dict[str, Any]] = []
    while len(chosen) < k and by_type:
        types = sorted(by_type)
        weights = [1.0 if type_weights is None else type_weights[t] for t in types]
        t = rng.choices(types, weights=weights)[0]
        pool = by_type[t]
        chosen.append(pool.pop(rng.randrange(len(pool))))
        if not pool:
            del by_type[t]
    return chosen


def trim_padding(text: torch.Tensor) -> torch.Tensor:
    """Token ids (..., L) cut after the last column any sequence uses (at least one column).

    The tokenizer pads every caption to the context length (77 for CLIP) while captions use
    10–30 tokens; the text tower is causal, so the features of the kept positions do not
    change, and every (B·(1+K), T, D) activation of the text tower and the LHN loss shrinks by
    L / T. Returns a compact copy (a view would drag the padded storage through worker pickling).
    """
    used = (text != 0).reshape(-1, text.shape[-1]).any(dim=0)  # (L,)
    last = int(used.nonzero().max()) + 1 if bool(used.any()) else 1
    return text[..., :last].contiguous()


def load_image(image: dict[str, Any] | None, root: str):
    """Decode an image struct (``bytes`` first, else ``uri``: a path, relative to ``root``)."""
    from PIL import Image

    if image is None:
        raise ValueError("record has no image")
    if image.get("bytes"):
        img = Image.open(io.BytesIO(image["bytes"]))
    elif image.get("uri"):
        uri = image["uri"]
        if uri.startswith("file://"):
            uri = uri[len("file://") :]
        elif "://" in uri:
            raise ValueError(f"only local image uris are supported in training, got {uri!r}")
        img = Image.open(uri if os.path.isabs(uri) else os.path.join(root, uri))
    else:
        raise ValueError("image has neither bytes nor uri")
    return img.convert("RGB")


class ShardBatches(IterableDataset):
    """Infinite stream of training batches (see the module docstring for the guarantees).

    Each batch is a dict: ``images`` (B, 3, H, W) float, ``text`` (B, 1+K, T) long token ids
    (positive at 0, missing negatives all-zero; T ≤ the context length: padding after the
    batch's longest caption is cut, see :func:`trim_padding`), ``neg_mask`` (B, K) bool, ``ids`` list[str],
    ``neg_types`` list[list[str]] (one entry per valid negative).
    """

    def __init__(
        self,
        config: DataConfig,
        preprocess: Callable[[Any], torch.Tensor],
        tokenizer: Callable[[list[str]], torch.Tensor],
        rank: int = 0,
        world_size: int = 1,
        start_batch: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank!r}")
        if start_batch < 0:
            raise ValueError(f"start_batch must be >= 0, got {start_batch!r}")
        self.config = config
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.rank = rank
        self.world_size = world_size
        self.start_batch = start_batch
        self.num_workers = num_workers
        self.shards = shard_paths(config.data_dir, config.split)
        self._weights = None if not config.type_weights else {t: float(w) for t, w in config.type_weights}

    # -- row stream ------------------------------------------------------------------------

    def _consumer(self) -> tuple[int, int, int, int]:
        """(consumer index, number of consumers, worker role, number of workers W).

        The role is the worker of the uninterrupted run whose batches this worker produces.
        """
        info = get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        if info is not None and self.num_workers and n_workers != self.num_workers:
            raise ValueError(f"dataset built for {self.num_workers} workers, DataLoader has {n_workers}")
        role = (worker + self.start_batch) % n_workers
        return self.rank * n_workers + role, self.world_size * n_workers, role, n_workers

    def _epoch_rows(self, epoch: int, consumer: int, n_consumers: int) -> Iterator[dict[str, Any]]:
        import pyarrow.parquet as pq

        order = list(self.shards)
        random.Random(_seed(self.config.seed, epoch, "shards")).shuffle(order)
        by_shard = len(order) % n_consumers == 0
        mine = order[consumer::n_consumers] if by_shard else order
        position = 0
        for path in mine:
            pf = pq.ParquetFile(path)
            for rg in range(pf.num_row_groups):
                table = pf.read_row_group(rg, columns=_COLUMNS)
                if by_shard:
                    yield from table.to_pylist()
                    continue
                n = table.num_rows
                first = (consumer - position) % n_consumers
                if first < n:
                    yield from table.take(list(range(first, n, n_consumers))).to_pylist()
                position += n

    def _shuffled(self, rows: Iterator[dict[str, Any]], rng: random.Random) -> Iterator[dict[str, Any]]:
        size = self.config.shuffle_buffer
        buffer: list[dict[str, Any]] = []
        for row in rows:
            if len(buffer) < size:
                buffer.append(row)
                continue
            i = rng.randrange(size)
            buffer[i], row = row, buffer[i]
            yield row
        rng.shuffle(buffer)
        yield from buffer

    def _rows(self, consumer: int, n_consumers: int) -> Iterator[tuple[int, dict[str, Any]]]:
        epoch = 0
        while True:
            rng = random.Random(_seed(self.config.seed, epoch, consumer, "buffer"))
            empty = True
            for row in self._shuffled(self._epoch_rows(epoch, consumer, n_consumers), rng):
                empty = False
                yield epoch, row
            if empty:
                raise ValueError(
                    f"consumer {consumer} of {n_consumers} got no rows: fewer rows than ranks × workers"
                )
            epoch += 1

    # -- batches ----------------------------------------------------------------------------

    def _collate(self, items: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
        k = self.config.num_negatives
        root = self.config.data_dir
        images, texts, masks, ids, types = [], [], [], [], []
        for epoch, row in items:
            rng = random.Random(_seed(self.config.seed, epoch, row["id"], "negatives"))
            negs = sample_negatives(row.get("negatives") or [], k, self._weights, rng)
            images.append(self.preprocess(load_image(row.get("image"), root)))
            texts.append([row["caption"]] + [n["text"] for n in negs])
            masks.append([True] * len(negs) + [False] * (k - len(negs)))
            ids.append(row["id"])
            types.append([n["type"] for n in negs])
        flat = [t for group in texts for t in group]
        tokens = self.tokenizer(flat)  # (sum of 1+k_i, L)
        text = torch.zeros(len(items), 1 + k, tokens.shape[-1], dtype=torch.long)  # (B, 1+K, L)
        start = 0
        for b, group in enumerate(texts):
            text[b, : len(group)] = tokens[start : start + len(group)]
            start += len(group)
        return {
            "images": torch.stack(images),  # (B, 3, H, W)
            "text": trim_padding(text),  # (B, 1+K, T): up to the batch's longest caption
            "neg_mask": torch.tensor(masks, dtype=torch.bool).reshape(len(items), k),  # (B, K)
            "ids": ids,
            "neg_types": types,
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        consumer, n_consumers, role, n_workers = self._consumer()
        # Batches 0..start_batch-1 are consumed; worker `role` produced those ≡ role (mod W).
        skip = max(0, (self.start_batch - role + n_workers - 1) // n_workers)
        batch: list[tuple[int, dict[str, Any]]] = []
        for item in self._rows(consumer, n_consumers):
            batch.append(item)
            if len(batch) < self.config.batch_size:
                continue
            if skip:
                skip -= 1
            else:
                yield self._collate(batch)
            batch = []


def make_loader(dataset: ShardBatches, num_workers: int = 0) -> torch.utils.data.DataLoader:
    """A DataLoader over already-batched items (``batch_size=None``), workers in order."""
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=None,
        num_workers=num_workers,
        persistent_workers=False,
        prefetch_factor=2 if num_workers > 0 else None,
    )
