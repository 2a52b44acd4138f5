"""Time per training step and peak memory: CLIP-only vs FSC-CLIP (reference losses), same batch.

Both objectives run on the same model, batch and device, interleaved step by step so that
machine noise hits both alike. FSC-CLIP encodes B·(1+K) captions instead of B and adds the
token-level LHN term, so the ratio is the price of the hard negatives.

    python benchmarks/train_step.py                       # tiny model, CPU
    python benchmarks/train_step.py --model ViT-B-32 --batch-size 128 --device cuda --backend auto

Memory: on every device, the bytes of tensors autograd saves for backward (activations,
deduplicated by storage), measured with saved-tensor hooks; on CUDA also the peak of
``max_memory_allocated`` over a step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def _batch(bundle, batch_size: int, k: int, device: torch.device) -> dict:
    g = torch.Generator().manual_seed(0)
    size = bundle.model.visual.image_size
    size = size if isinstance(size, int) else size[0]
    words = ["red", "blue", "green", "small", "large", "circle", "square", "left", "of", "above", "two"]
    texts = [
        " ".join(words[int(i)] for i in torch.randint(len(words), (8,), generator=g))
        for _ in range(batch_size * (1 + k))
    ]
    text = bundle.tokenizer(texts).reshape(batch_size, 1 + k, -1)
    neg_mask = torch.ones(batch_size, k, dtype=torch.bool)
    return {
        "images": torch.randn(batch_size, 3, size, size, generator=g).to(device),
        "text": text.to(device),
        "neg_mask": neg_mask.to(device),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--negatives", type=int, default=4, help="K")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default="reference", choices=("reference", "fused", "auto"))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch default)")
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args()

    from negforge.training.config import TrainConfig
    from negforge.training.model import ModelConfig, create_model
    from negforge.training.train import TokenFeatures, build_loss, compute_losses

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    bundle = create_model(ModelConfig(name=args.model), device=device)
    features = TokenFeatures(bundle.model).train()
    optimizer = torch.optim.AdamW(bundle.model.parameters(), lr=1e-5)
    batch = _batch(bundle, args.batch_size, args.negatives, device)
    losses = {
        name: build_loss(TrainConfig(data="-", loss=name, backend=args.backend, batch_size=args.batch_size))
        for name in ("clip", "fsc")
    }

    def step(name: str) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = compute_losses(features, losses[name], batch)
        out["loss"].backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    saved: dict[str, float] = {}
    peak: dict[str, float] = {}
    for name in ("clip", "fsc"):  # memory first, each objective alone
        storages: dict[int, int] = {}

        def pack(t: torch.Tensor, storages: dict[int, int] = storages) -> torch.Tensor:
            storage = t.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = compute_losses(features, losses[name], batch)
        out["loss"].backward()
        optimizer.zero_grad(set_to_none=True)
        saved[name] = sum(storages.values()) / 2**20
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            step(name)
            peak[name] = (torch.cuda.max_memory_allocated() - base) / 2**20
    times: dict[str, list[float]] = {"clip": [], "fsc": []}
    for i in range(args.warmup + args.steps):
        for name in ("clip", "fsc"):  # interleaved: noise hits both
            dt = step(name)
            if i >= args.warmup:
                times[name].append(dt)
    median = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "model": args.model,
        "device": str(device),
        "backend": args.backend,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "negatives": args.negatives,
        "step_ms": {k: round(v * 1000, 2) for k, v in median.items()},
        "fsc_over_clip_time": round(median["fsc"] / median["clip"], 3),
        "saved_for_backward_mib": {k: round(v, 2) for k, v in saved.items()},
        "fsc_over_clip_saved_mem": round(saved["fsc"] / saved["clip"], 3),
    }
    if peak:
        result["cuda_peak_mib"] = {k: round(v, 1) for k, v in peak.items()}
    print(json.dumps(result, indent=1))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
