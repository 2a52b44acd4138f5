"""LLM negatives throughput: completions/s, accepted negatives/s and validation pass rate.

Runs the same code the Beam stage runs (prompt rendering, constrained decoding,
parsing, the shared checks), without Beam, on N captions x the requested types:

  # in-process engine (run from the vLLM venv):
  .venv-llm/bin/python benchmarks/llm_throughput.py --model PATH --backend engine
  # OpenAI-compatible server started from .venv-llm (run from the main venv):
  .venv/bin/python benchmarks/llm_throughput.py --model PATH --backend server

Prints one JSON object (also written to --output if given). With a random tiny
model the pass rate measures the plumbing, not the prose.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
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


def run(args: argparse.Namespace) -> dict:
    from negforge.generators import llm as gen_llm
    from negforge.pipeline.stages.llm import (
        LLMConfig,
        _chat_renderer,
        _load_checker,
        attach_completions,
        make_requests,
    )
    from negforge.schemas import CaptionRecord

    config = LLMConfig(
        model=args.model,
        types=tuple(args.types.split(",")),
        backend=args.backend,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        max_model_len=args.max_model_len,
        enforce_eager=args.enforce_eager,
        batch_size=args.batch_size,
        server_python=args.llm_python,
    )
    records = [
        CaptionRecord(id=f"b{i}", caption=c, source="bench")
        for i, c in enumerate(_captions(args.input, args.n))
    ]
    template = gen_llm.load_prompts(config.prompt_version)
    check = _load_checker(config)

    t0 = time.perf_counter()
    if args.backend == "engine":
        from negforge.pipeline.stages.llm import acquire_engine, release_engine

        engine = acquire_engine(config, args.seed)
        chat = _chat_renderer(engine.tokenizer, config.chat_template)
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        structured = StructuredOutputsParams(json=config.json_schema)

        def complete(requests):
            params = [
                SamplingParams(temperature=config.temperature, top_p=config.top_p, max_tokens=config.max_tokens,
                               seed=r.seed, structured_outputs=structured)
                for r in requests
            ]  # fmt: skip
            outs = engine.llm.generate([r.prompt for r in requests], params, use_tqdm=False)
            return [(o.outputs[0].text, o.outputs[0].finish_reason) for o in outs]

        def close():
            release_engine(config, args.seed)
    else:
        from negforge.pipeline import llm_server
        from negforge.pipeline.stages.llm import _completions_handler_cls
        from negforge.training.compat import ensure_torchvision_importable

        ensure_torchvision_importable()
        from transformers import AutoTokenizer

        chat = _chat_renderer(AutoTokenizer.from_pretrained(config.model), config.chat_template)
        handler = _completions_handler_cls()(config, args.seed)
        server = handler.load_model()

        def complete(requests):
            return [tuple(pr.inference) for pr in handler.run_inference(requests, server)]

        def close():
            llm_server.shutdown_all()

    load_s = time.perf_counter() - t0
    try:
        from negforge.pipeline.stages.llm import Completion

        # Warm-up batch (compilation, grammar caches) is not timed.
        warm = make_requests(records[0], config, template, chat, args.seed)
        complete(warm)
        totals: Counter = Counter()
        t1 = time.perf_counter()
        n_requests = 0
        for start in range(0, len(records), config.batch_size):
            batch = records[start : start + config.batch_size]
            requests = [r for rec in batch for r in make_requests(rec, config, template, chat, args.seed)]
            n_requests += len(requests)
            outs = complete(requests)
            by_id: dict[str, list] = {}
            for req, (text, finish) in zip(requests, outs, strict=True):
                by_id.setdefault(req.record_id, []).append((req.type, Completion(text, finish)))
            for rec in batch:
                _, stats = attach_completions(rec, by_id.get(rec.id, []), config, check)
                for k, v in stats:
                    totals[k] += v
        elapsed = time.perf_counter() - t1
    finally:
        close()
    accepted = sum(v for k, v in totals.items() if k.startswith("llm.generated."))
    rejected = {
        k.removeprefix("llm.rejected."): v for k, v in totals.items() if k.startswith("llm.rejected.")
    }
    return {
        "model": args.model,
        "backend": args.backend,
        "device": "cuda" if _cuda() else f"cpu ({platform.processor() or platform.machine()})",
        "captions": len(records),
        "types": list(config.types),
        "requests": n_requests,
        "load_s": round(load_s, 2),
        "elapsed_s": round(elapsed, 2),
        "completions_per_s": round(n_requests / elapsed, 2),
        "negatives_per_s": round(accepted / elapsed, 2),
        "pass_rate": round(accepted / max(n_requests, 1), 4),
        "rejected": dict(sorted(rejected.items())),
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
        "batch_size": config.batch_size,
    }


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="HF causal LM path or name")
    p.add_argument("--backend", choices=("engine", "server"), default="engine")
    p.add_argument("--types", default="replace_obj,replace_att,swap_obj")
    p.add_argument("--n", type=int, default=64, help="captions")
    p.add_argument("--input", help="JSONL with a caption field (default: built-in COCO-style captions)")
    p.add_argument("--batch-size", type=int, default=32, help="captions per generate call")
    p.add_argument("--max-tokens", type=int, default=160)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--max-model-len", type=int)
    p.add_argument("--enforce-eager", action="store_true")
    p.add_argument("--llm-python", help="server backend: interpreter with vLLM")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", help="also write the JSON result here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = run(args)
    text = json.dumps(result, indent=1)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
