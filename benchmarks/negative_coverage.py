"""Per-type coverage of the rule generators on a caption file.

    .venv/bin/python benchmarks/negative_coverage.py --input benchmarks/data/coco_style_captions.jsonl

For each negative type it prints the fraction of captions that got at least one
negative, the same fraction among captions that have the parts the type needs
("applicable": two distinct objects for swap_obj, an attribute for replace_att,
a relation for replace_rel, ...), the mean length change in characters (add_*
negatives are longer by construction, a blind-model tell: DESIGN §5), and a few
seeded random examples. ``--dump`` writes every negative as JSONL for review.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

from negforge.generators import registry
from negforge.generators.config import GenerationConfig
from negforge.generators.resources import load_resources
from negforge.generators.rules.common import bare_singular
from negforge.generators.rules.replace_att import is_replaceable
from negforge.generators.rules.swap import can_move_to, swap_kind
from negforge.generators.scene_graph import DEFAULT_SPACY_MODEL, load_nlp, parse_captions
from negforge.schemas import SceneGraph


def applicable(neg_type: str, graph: SceneGraph, resources, caption: str) -> bool:
    """Whether the caption has the parts a type needs (the denominator of the goal).

    replace_rel needs a spatial or verbal relation ("of"/"with" alone mark parts
    and possession: "a kitchen with a stove" has no relation to turn around);
    swap_obj needs two different objects of the same kind (thing/thing or
    place/place: the rule refuses "two fields standing in a sheep"), swap_att an
    attribute that fits another object (not weather, age, mood or crowds: "a rainy
    umbrella", "a busy cell phone" are not scenes; a person takes no color: "a red
    man"); add_obj
    needs an object that is a thing.
    """
    objs = graph.objects
    names = {o.lemma for o in objs}
    if neg_type == "add_obj":  # a companion needs a thing, not a place or a mass noun ("the ocean")
        return any(swap_kind(o, resources) == "thing" for o in objs)
    if neg_type in ("replace_obj", "add_att", "count"):
        return bool(objs)
    if neg_type == "replace_att":
        return any(is_replaceable(a) for o in objs for a in o.attributes)
    if neg_type == "replace_rel":
        return any(r.predicate.lower() not in ("of", "with") for r in graph.relations)
    if neg_type == "swap_obj":  # bare singular nouns ("playing soccer") have no slot-neutral form
        kinds = defaultdict(set)
        for o in objs:
            if not bare_singular(caption, o):
                kinds[swap_kind(o, resources)].add(o.lemma)
        return any(len(v) >= 2 for v in kinds.values())
    if neg_type == "swap_att":  # an attribute that can sit on another object ("wet", not "rainy"/"busy")
        return len(names) >= 2 and any(
            is_replaceable(a) and can_move_to(a.lemma, other, resources)
            for o in objs
            for a in o.attributes
            for other in objs
            if other.lemma != o.lemma
        )
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", required=True, type=Path, help='JSONL with {"caption": ...} per line')
    parser.add_argument("--seed", type=int, default=0, help="generation and example-sampling seed")
    parser.add_argument("--examples", type=int, default=3, help="random examples printed per type")
    parser.add_argument("--types", nargs="*", default=None, help="generator names (default: all)")
    parser.add_argument("--spacy-model", default=DEFAULT_SPACY_MODEL)
    parser.add_argument("--dump", type=Path, default=None, help="write every negative here (JSONL)")
    args = parser.parse_args(argv)

    rows = [json.loads(line) for line in args.input.read_text("utf-8").splitlines() if line.strip()]
    captions = [r["caption"] for r in rows]
    ids = [str(r.get("id", i)) for i, r in enumerate(rows)]
    t0 = time.perf_counter()
    nlp = load_nlp(args.spacy_model)
    resources = load_resources()
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    graphs = parse_captions(nlp, captions)
    t_parse = time.perf_counter() - t0
    specs = registry.select(args.types)
    config = GenerationConfig(seed=args.seed, max_per_type=2, max_per_caption=10_000)
    t0 = time.perf_counter()
    per_caption = [
        registry.generate(c, g, rid, specs, resources, config)
        for c, g, rid in zip(captions, graphs, ids, strict=True)
    ]
    t_gen = time.perf_counter() - t0

    covered: dict[str, int] = defaultdict(int)
    covered_app: dict[str, int] = defaultdict(int)
    n_app: dict[str, int] = defaultdict(int)
    length_delta: dict[str, list[int]] = defaultdict(list)
    examples: dict[str, list[tuple[str, str]]] = defaultdict(list)
    types = list(dict.fromkeys(s.type for s in specs))
    for caption, graph, negs in zip(captions, graphs, per_caption, strict=True):
        got = {n.type for n in negs}
        for t in types:
            app = applicable(t, graph, resources, caption)
            n_app[t] += app
            covered[t] += t in got
            covered_app[t] += app and t in got
        for n in negs:
            length_delta[n.type].append(len(n.text) - len(caption))
            examples[n.type].append((caption, n.text))

    n = len(captions)
    print(
        f"{n} captions from {args.input}  (load {t_load:.1f}s, parse {n / max(t_parse, 1e-9):.0f} captions/s, "
        f"generate {n / max(t_gen, 1e-9):.0f} captions/s)"
    )
    print(f"{'type':12s} {'coverage':>9s} {'applicable':>10s} {'cov|appl':>9s} {'negs':>6s} {'Δlen':>6s}")
    for t in types:
        deltas = length_delta[t]
        mean_delta = sum(deltas) / len(deltas) if deltas else 0.0
        cov_app = covered_app[t] / n_app[t] if n_app[t] else 0.0
        print(
            f"{t:12s} {covered[t] / n:9.1%} {n_app[t] / n:10.1%} {cov_app:9.1%} {len(deltas):6d} {mean_delta:+6.1f}"
        )
    rng = random.Random(args.seed)
    for t in types:
        print(f"\n{t}:")
        for caption, text in rng.sample(examples[t], min(args.examples, len(examples[t]))):
            print(f"  {caption}\n    -> {text}")
    if args.dump is not None:
        with args.dump.open("w", encoding="utf-8") as out:
            for caption, rid, negs in zip(captions, ids, per_caption, strict=True):
                for neg in negs:
                    out.write(
                        json.dumps(
                            {
                                "id": rid,
                                "caption": caption,
                                "type": neg.type,
                                "text": neg.text,
                                "generator": neg.generator,
                            }
                        )
                        + "\n"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
