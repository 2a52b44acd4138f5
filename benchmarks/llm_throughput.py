"""LLM negatives throughput: completions/s and accepted negatives/s, engine and/or server backend.

Runs the stage's own code without Beam — the completer (in-process ``vllm.LLM`` or
the vLLM server process), prompt rendering, constrained decoding, validation — on
N captions x the requested types, timing only the completion calls (model load
and one warm-up request are reported apart):

  # in-process engine (run from the vLLM venv):
  .venv-llm/bin/python benchmarks/llm_throughput.py --model smollm2-135m-instruct --backend engine
  # OpenAI-compatible server started from .venv-llm (run from the main venv):
  .venv/bin/python benchmarks/llm_throughput.py --model smollm2-135m-instruct --backend server
  # both, side by side in one run (from .venv-llm):
  .venv-llm/bin/python benchmarks/llm_throughput.py --backend engine,server

Prints one JSON object per backend and a side-by-side line (also written to
--output). benchmarks/llm_quality.py reads the negatives; this one only counts.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path

CAPTIONS = [
    "A dog sitting on a red couch.",
    "Two people riding bikes down a busy street.",
    "A white plate with a sandwich on a wooden table.",
    "A man holding an umbrella in the rain.",
    "A cat sleeping on top of a laptop.",
    "Three zebras standing in a grassy field.",
    "A woman in a blue dress walking a small dog.",
    "A red fire hydrant next to a parked car.",
    "A group of children playing soccer in a park.",
    "A bowl of fruit on a kitchen counter.",
    "A large airplane flying over a city.",
    "An old man reading a newspaper on a bench.",
]


def _captions(path: str | None, n: int) -> list[str]:
    base = CAPTIONS
    if path:
        base = [json.loads(line)["caption"] for line in Path(path).read_text().splitlines() if line.strip()]
    return [base[i % len(base)] for i in range(n)]


def run(args: argparse.Namespace, backend: str) -> dict:
    from negforge.generators.resources import load_resources
    from negforge.generators.scene_graph import load_nlp, parse_captions
    from negforge.pipeline.stages.llm import LLMConfig, RequestBuilder
    from negforge.pipeline.stages.llm.dofn import make_completer
    from negforge.pipeline.stages.llm.requests import chat_renderer
    from negforge.schemas import CaptionRecord

    extra = {"enforce_eager": args.enforce_eager} if args.enforce_eager is not None else {}
    config = LLMConfig(
        model=args.model, types=tuple(args.types.split(",")), backend=backend, max_tokens=args.max_tokens,
        temperature=args.temperature, max_model_len=args.max_model_len, batch_size=args.batch_size,
        server_python=args.llm_python, prompt_version=args.prompt_version, **extra,
    )  # fmt: skip
    captions = _captions(args.input, args.n)
    graphs = parse_captions(load_nlp(), captions) if config.style == "fill" else [None] * len(captions)
    records = [CaptionRecord(id=f"b{i}", caption=c, source="bench", scene_graph=g)
               for i, (c, g) in enumerate(zip(captions, graphs, strict=True))]  # fmt: skip

    t0 = time.perf_counter()
    completer = make_completer(config, args.seed)
    load_s = time.perf_counter() - t0
    try:
        builder = RequestBuilder(config, args.seed, chat_renderer(completer.tokenizer, config.use_chat_template),
                                 load_resources())  # fmt: skip
        warm, _ = builder.requests(records[0])
        completer.complete(warm[:1])  # compilation, grammar caches: not timed
        totals: Counter = Counter()
        n_requests = 0
        elapsed = 0.0
        for start in range(0, len(records), config.batch_size):
            batch = records[start : start + config.batch_size]
            plans = [(rec, *builder.requests(rec)) for rec in batch]
            requests = [r for _, reqs, _ in plans for r in reqs]
            n_requests += len(requests)
            t1 = time.perf_counter()
            outs = completer.complete(requests) if requests else []
            elapsed += time.perf_counter() - t1
            by_id: dict[str, list] = {}
            for req, comp in zip(requests, outs, strict=True):
                by_id.setdefault(req.record_id, []).append((req, comp))
            for rec, _, no_slot in plans:
                for k, v in builder.attach(rec, by_id.get(rec.id, []), no_slot)[1]:
                    totals[k] += v
    finally:
        completer.close()
    accepted = sum(v for k, v in totals.items() if k.startswith("llm.generated."))
    rejected = {k.removeprefix("llm.rejected."): v for k, v in totals.items() if k.startswith("llm.rejected.")}
    return {
        "model": args.model,
        "generator": config.generator,
        "backend": backend,
        "captions": len(records),
        "types": list(config.types),
        "requests": n_requests,
        "load_s": round(load_s, 2),
        "elapsed_s": round(elapsed, 2),
        "completions_per_s": round(n_requests / elapsed, 2) if elapsed else None,
        "negatives_per_s": round(accepted / elapsed, 2) if elapsed else None,
        "pass_rate": round(accepted / max(n_requests, 1), 4),
        "rejected": dict(sorted(rejected.items())),
        "batch_size": config.batch_size,
        "temperature": config.temperature,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct", help="shipped name, .gguf file or HF folder")
    p.add_argument("--backend", default="engine", help="engine, server, or both comma-separated")
    p.add_argument("--types", default="replace_obj,replace_att,swap_att")
    p.add_argument("--prompt-version")
    p.add_argument("--n", type=int, default=64, help="captions")
    p.add_argument("--input", help="JSONL with a caption field (default: built-in COCO-style captions)")
    p.add_argument("--batch-size", type=int, default=32, help="captions per completion call")
    p.add_argument("--max-tokens", type=int, default=160)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--max-model-len", type=int)
    p.add_argument("--enforce-eager", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--llm-python", help="server backend: interpreter with vLLM")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", help="also write the JSON results here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = [run(args, b) for b in args.backend.split(",")]
    for r in results:
        print(json.dumps(r, indent=1))
    if len(results) > 1:
        base = results[0]["completions_per_s"] or 0
        print("side by side: " + ", ".join(
            f"{r['backend']} {r['completions_per_s']} completions/s ({(r['completions_per_s'] or 0) / base:.2f}x)"
            for r in results
        ))  # fmt: skip
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
