"""Time per training step and memory: CLIP-only vs FSC-CLIP, reference vs fused losses, same batch.

Every (backend, objective) pair runs on the same model, batch and device through the trainer's
own step (:func:`negforge.training.train.backward_step`: token trimming, autocast, the losses'
precision policy, then an AdamW step), interleaved step by step so that machine noise hits all
alike. FSC-CLIP encodes B·(1+K) captions instead of B and adds the token-level LHN term, so the
FSC / CLIP ratio is the price of the hard negatives; reference / fused is what the kernels save.

    python benchmarks/train_step.py                                   # tiny model, CPU, reference
    python benchmarks/train_step.py --model ViT-B-32 --batch-size 256 --device cuda \\
        --backends fused,reference --steps 50 --json step.json        # random-init ViT-B/32, bf16

Memory: on every device, the bytes of tensors autograd saves for backward (activations,
deduplicated by storage), measured with saved-tensor hooks; on CUDA also the peak of
``max_memory_allocated`` over a step. ``fallbacks`` lists fused ops that failed and ran as the
reference (then the "fused" numbers are not the kernels').
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time

import torch

WORDS = ["a", "red", "blue", "green", "small", "large", "circle", "square", "left", "of", "above", "two",
         "dog", "man", "riding", "wooden", "table", "next", "to", "the"]  # fmt: skip


def _batch(bundle, batch_size: int, k: int, words: tuple[int, int], device: torch.device, trim: bool) -> dict:
    from negforge.training.data import trim_padding

    g = torch.Generator().manual_seed(0)
    size = bundle.model.visual.image_size
    size = size if isinstance(size, int) else size[0]
    lengths = torch.randint(words[0], words[1] + 1, (batch_size * (1 + k),), generator=g)
    texts = [" ".join(WORDS[int(i)] for i in torch.randint(len(WORDS), (int(n),), generator=g)) for n in lengths]
    text = bundle.tokenizer(texts).reshape(batch_size, 1 + k, -1)  # padded to the context length
    if trim:
        text = trim_padding(text)  # as the data loader does
    return {
        "images": torch.randn(batch_size, 3, size, size, generator=g).to(device),
        "text": text.to(device),
        "neg_mask": torch.ones(batch_size, k, dtype=torch.bool, device=device),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--negatives", type=int, default=4, help="K")
    parser.add_argument("--words", default="8,16", help="caption length range in words (min,max)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backends", default="reference", help="comma list of reference, fused, auto")
    parser.add_argument("--amp", choices=("bf16", "fp16", "off"), default=None,
                        help="autocast dtype (default: bf16 on CUDA, off on CPU)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch default)")
    parser.add_argument("--pad-to-context", action="store_true",
                        help="keep the tokenizer's padding (no trimming), to measure what trimming saves")  # fmt: skip
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.amp is None:
        args.amp = "bf16" if args.device.startswith("cuda") else "off"
    args.words = tuple(int(v) for v in args.words.split(","))
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if "fused" in args.backends and not args.device.startswith("cuda"):
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before any kernel is defined
    from negforge.training import losses as losses_mod
    from negforge.training.config import TrainConfig
    from negforge.training.model import ModelConfig, create_model
    from negforge.training.train import StepContext, TokenFeatures, backward_step, build_loss

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    bundle = create_model(ModelConfig(name=args.model), device=device)
    features = TokenFeatures(bundle.model).train()
    optimizer = torch.optim.AdamW(bundle.model.parameters(), lr=1e-5)
    batch = _batch(bundle, args.batch_size, args.negatives, args.words, device, trim=not args.pad_to_context)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.amp)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    ctx = StepContext(
        autocast=(lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext,
        scale=scaler.scale,
        grad_cache=True,
    )
    combos = [(backend, objective) for backend in args.backends for objective in ("clip", "fsc")]
    losses = {
        combo: build_loss(TrainConfig(data="-", loss=combo[1], backend=combo[0], batch_size=args.batch_size,
                                      num_negatives=args.negatives))  # fmt: skip
        for combo in combos
    }

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def step(combo) -> tuple[float, dict[str, float]]:
        sync()
        t = time.perf_counter()
        terms = backward_step(features, losses[combo], [batch], ctx)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        sync()
        return time.perf_counter() - t, terms

    saved: dict[str, float] = {}
    peak: dict[str, float] = {}
    first: dict[str, dict[str, float]] = {}
    for combo in combos:  # saved activations and losses, same weights for all (also compiles kernels)
        name = "/".join(combo)
        storages: dict[int, int] = {}

        def pack(t: torch.Tensor, storages: dict[int, int] = storages) -> torch.Tensor:
            storage = t.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            first[name] = backward_step(features, losses[combo], [batch], ctx)
        optimizer.zero_grad(set_to_none=True)
        saved[name] = sum(storages.values()) / 2**20
    if device.type == "cuda":
        step(combos[0])  # AdamW allocates its state on the first step: not any combination's peak
        for combo in combos:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            step(combo)
            peak["/".join(combo)] = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    times: dict[str, list[float]] = {"/".join(c): [] for c in combos}
    for i in range(args.warmup + args.steps):
        for combo in combos:  # interleaved: noise hits all
            dt, _ = step(combo)
            if i >= args.warmup:
                times["/".join(combo)].append(dt)
    median = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "model": args.model,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else str(device),
        "amp": args.amp,
        "batch_size": args.batch_size,
        "negatives": args.negatives,
        "text_tokens": int(batch["text"].shape[-1]),
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "step_ms": {k: round(v * 1000, 2) for k, v in median.items()},
        "fsc_over_clip_time": {b: round(median[f"{b}/fsc"] / median[f"{b}/clip"], 3) for b in args.backends},
        "saved_for_backward_mib": {k: round(v, 2) for k, v in saved.items()},
        # the same weights and batch for every combination: fused and reference must agree here
        "first_step_losses": {k: {t: round(x, 5) for t, x in v.items()} for k, v in first.items()},
        "fallbacks": losses_mod.fused_failures(),
    }
    if {"fused", "reference"} <= set(args.backends):
        result["reference_over_fused_fsc_time"] = round(median["reference/fsc"] / median["fused/fsc"], 3)
    if peak:
        result["cuda_peak_mib"] = {k: round(v, 1) for k, v in peak.items()}
    print(json.dumps(result, indent=1))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
