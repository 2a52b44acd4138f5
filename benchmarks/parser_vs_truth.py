"""The spaCy scene-graph parser against the shapes world's exact graphs.

Shapes-world captions come with the graph they were written from, so the
parser (``negforge.generators.scene_graph``) can be scored exactly:

- objects: predicted span == true span (the shape noun); lemma accuracy on matches
- attributes: (object span, attribute span) pairs; number words are scored as
  counts, not attributes (the parser keeps numerals as attributes as well)
- counts: the count of each true object, when the object is found
- relations: (subject span, relation, object span); ``exact`` also needs the
  predicate span, ``canonical`` maps the predicate to left/right/above/below

With ``--rules``, the rule generators also run on every caption, once with
the exact graph (what ``negforge build --format shapes`` does) and once with the
parser's graph, and each negative is judged against the scene
(:func:`negforge.generators.shapes.judge.judge`): ``false`` is a valid negative,
``true`` is a false negative (the "negative" describes the image), ``outside``
left the world's grammar or vocabulary (a blind model can spot it).

    .venv/bin/python benchmarks/parser_vs_truth.py --n 2000 --show 5
    .venv/bin/python benchmarks/parser_vs_truth.py --n 500 --rules
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import replace

from negforge.generators.scene_graph import load_nlp, parse_captions
from negforge.generators.shapes import ShapesConfig
from negforge.generators.shapes.judge import VERDICTS, judge
from negforge.generators.shapes.records import item_records, iter_scene_items
from negforge.generators.shapes.vocab import NUMBER_WORDS, relation_of_phrase
from negforge.schemas import SceneGraph

_NUMERALS = set(NUMBER_WORDS.values()) | {"one", "a", "an"}


def _prf(tp: int, n_pred: int, n_true: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_true if n_true else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": n_true}


def _objects(g: SceneGraph) -> set[tuple[int, int]]:
    return {(o.start, o.end) for o in g.objects}


def _attributes(g: SceneGraph, numerals: bool) -> set[tuple[int, int, int, int]]:
    return {
        (o.start, o.end, a.start, a.end)
        for o in g.objects
        for a in o.attributes
        if numerals or a.text.lower() not in _NUMERALS
    }


def _relations(g: SceneGraph, exact: bool) -> set[tuple]:
    out = set()
    for r in g.relations:
        if not (0 <= r.subject < len(g.objects) and 0 <= r.object < len(g.objects)):
            continue
        s, o = g.objects[r.subject], g.objects[r.object]
        pred = (r.start, r.end) if exact else relation_of_phrase(r.predicate)
        out.add(((s.start, s.end), pred, (o.start, o.end)))
    return out


class Tally:
    def __init__(self) -> None:
        self.c: Counter[str] = Counter()

    def add(self, name: str, pred: set, true: set) -> bool:
        self.c[f"{name}.tp"] += len(pred & true)
        self.c[f"{name}.pred"] += len(pred)
        self.c[f"{name}.true"] += len(true)
        return pred == true

    def prf(self, name: str) -> dict[str, float]:
        return _prf(self.c[f"{name}.tp"], self.c[f"{name}.pred"], self.c[f"{name}.true"])


def score(captions: list[str], truths: list[SceneGraph], preds: list[SceneGraph], show: int) -> dict:
    t = Tally()
    lemma_ok = lemma_n = 0
    shown = 0
    exact_graphs = 0
    spurious: Counter[str] = Counter()  # predicted object texts that are not objects
    missed_rel: Counter[str] = Counter()  # relation phrases of missed relations
    missed_obj_after: Counter[str] = Counter()  # the word before a missed object's head
    for caption, truth, pred in zip(captions, truths, preds, strict=True):
        ok = t.add("objects", _objects(pred), _objects(truth))
        true_spans = _objects(truth)
        spurious.update(o.text.lower() for o in pred.objects if (o.start, o.end) not in true_spans)
        pred_spans = _objects(pred)
        for o in truth.objects:
            if (o.start, o.end) not in pred_spans:
                missed_obj_after[caption[: o.start].split()[-1] if o.start else "<start>"] += 1
        found = _relations(pred, False)
        for r in truth.relations:
            s, o = truth.objects[r.subject], truth.objects[r.object]
            if ((s.start, s.end), relation_of_phrase(r.predicate), (o.start, o.end)) not in found:
                missed_rel[r.predicate] += 1
        ok &= t.add("attributes", _attributes(pred, False), _attributes(truth, False))
        t.add("attributes_incl_numerals", _attributes(pred, True), _attributes(truth, True))
        pred_by_span = {(o.start, o.end): o for o in pred.objects}
        pred_counts = {(o.start, o.end, o.count) for o in pred.objects if o.count is not None}
        ok &= t.add("counts", pred_counts, {(o.start, o.end, o.count) for o in truth.objects})
        for o in truth.objects:
            p = pred_by_span.get((o.start, o.end))
            if p is not None:
                lemma_n += 1
                lemma_ok += p.lemma == o.lemma
        ok &= t.add("relations_canonical", _relations(pred, False), _relations(truth, False))
        t.add("relations_exact", _relations(pred, True), _relations(truth, True))
        exact_graphs += ok
        if not ok and shown < show:
            shown += 1
            print(f"--- {caption!r}\n  truth: {truth}\n  pred:  {pred}")
    names = (
        "objects",
        "attributes",
        "attributes_incl_numerals",
        "counts",
        "relations_canonical",
        "relations_exact",
    )
    result = {name: t.prf(name) for name in names}
    result["object_lemma_accuracy"] = round(lemma_ok / lemma_n, 4) if lemma_n else 0.0
    result["captions_fully_correct"] = round(exact_graphs / len(captions), 4)
    result["top_spurious_objects"] = dict(spurious.most_common(8))
    result["top_missed_objects_by_previous_word"] = dict(missed_obj_after.most_common(8))
    result["top_missed_relation_phrases"] = dict(missed_rel.most_common(8))
    return result


def judge_rules(records, scenes, graphs_by_name: dict[str, list[SceneGraph]], seed: int) -> dict:
    """Per graph source and negative type: share of negatives that are false / true / outside."""
    from negforge.generators import registry
    from negforge.generators.config import GenerationConfig
    from negforge.generators.resources import load_resources

    resources = load_resources()
    specs = registry.select(None)
    config = GenerationConfig(seed=seed)
    out = {}
    for name, graphs in graphs_by_name.items():
        tally: dict[str, Counter[str]] = {}
        examples: dict[str, list[str]] = {}
        outside: dict[str, list[str]] = {}
        for record, scene, graph in zip(records, scenes, graphs, strict=True):
            for neg in registry.generate(record.caption, graph, record.id, specs, resources, config):
                verdict = judge(neg.text, scene)
                tally.setdefault(neg.type, Counter())[verdict] += 1
                if verdict == "true" and len(examples.setdefault(neg.type, [])) < 2:
                    examples[neg.type].append(f"{record.caption!r} -> {neg.text!r}")
                if verdict == "outside" and len(outside.setdefault(neg.type, [])) < 3:
                    outside[neg.type].append(neg.text)
        table = {}
        for type, c in sorted(tally.items()):
            n = sum(c.values())
            table[type] = {"n": n, **{v: round(c[v] / n, 4) for v in VERDICTS}}
        total = sum((c for c in tally.values()), Counter())
        n = sum(total.values())
        table["all"] = {"n": n, **{v: round(total[v] / n, 4) if n else 0.0 for v in VERDICTS}}
        out[name] = {"per_type": table, "false_negative_examples": examples, "outside_examples": outside}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000, help="scenes (captions = n * captions-per-image)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--captions-per-image", type=int, default=2)
    parser.add_argument("--spacy-model", default=None)
    parser.add_argument("--show", type=int, default=0, help="print this many mismatching captions")
    parser.add_argument("--rules", action="store_true", help="also judge rule negatives against the scenes")
    args = parser.parse_args()
    config = replace(
        ShapesConfig(seed=args.seed, captions_per_image=args.captions_per_image),
        **{f"n_{args.split}": args.n},
    )
    items = list(iter_scene_items(config, args.split, 0, args.n))
    records = [r for item in items for r in item_records(config, item)]
    scenes = [item.scene for item in items for _ in item.specs]
    captions = [r.caption for r in records]
    truths = [r.scene_graph for r in records]
    nlp = load_nlp(args.spacy_model) if args.spacy_model else load_nlp()
    t0 = time.perf_counter()
    preds = parse_captions(nlp, captions)
    seconds = time.perf_counter() - t0
    result = {"captions": len(captions), "parse_captions_per_s": round(len(captions) / seconds, 1)}
    result.update(score(captions, truths, preds, args.show))
    if args.rules:
        result["rule_negatives"] = judge_rules(
            records, scenes, {"exact_graph": truths, "parsed_graph": preds}, args.seed
        )
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
