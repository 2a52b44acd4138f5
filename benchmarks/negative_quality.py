#!/usr/bin/env python3
"""Quality of negatives on real captions: coverage, a trained blind classifier, the blind LM.

    .venv/bin/python benchmarks/negative_quality.py --input ../shared/data/flickr8k_captions.jsonl \
        --n 2000 [--split heldout] [--sample 15] [--pairs other.jsonl]

What it measures, per SugarCrepe type (DESIGN §5.1):

- **coverage**: the fraction of captions that get a negative of the type from the default
  build's generation (``GenerationConfig()``, every rule, the build's caps), of all captions and
  of the captions that have the parts the type needs in their parse (replace_obj/add_*: an
  object; replace_att: an attribute; replace_rel: a relation other than "of"; swap_obj: two
  objects with different names; swap_att: two different objects that each carry an
  attribute). The denominators come from the parse, not from the rules' own restrictions,
  so a rule cannot raise its coverage by declaring captions out of scope. ``cov|exch`` is a
  narrower denominator for replace_rel, swap_obj and swap_att (:func:`exchangeable`: parts of
  one kind that could trade places), still from the parse and noun classes only.
- **blind classifier**: can a text-only model tell the positive from the negative? Logistic
  regression on the difference of the two texts' features (hashed word 1+2-grams, length in
  characters, mean token NLL of a small LM), trained on pairs in both orders with no
  intercept, so it is symmetric; 5-fold cross-validation grouped by caption. Accuracy 50 =
  nothing learnable, 100 = every negative gives itself away. One pair per caption and type.
- **blind LM**: how often the LM's mean token NLL alone prefers the positive.
- ``--sample N``: N random pairs per type (seeded) for a strict read by a person.
- ``--pairs FILE``: score someone else's pairs (JSONL with ``caption``, ``negative``, ``type``;
  e.g. SugarCrepe's files converted) with the same classifier, side by side.

``--split`` keeps the measurement honest: ``dev``/``heldout`` split by image (crc32 of the
image name % 5 == 0 is held out), so vocabulary counted on dev captions is checked on images
it never saw. The LM NLLs are cached in ``--cache`` (keyed by text) across runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sqlite3
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from negforge.generators import registry
from negforge.generators.config import GenerationConfig
from negforge.generators.grammar import NUMBER_WORDS
from negforge.generators.resources import load_resources
from negforge.generators.scene_graph import DEFAULT_SPACY_MODEL, QUANTIFIER_WORDS, load_nlp, parse_captions
from negforge.schemas import SUGARCREPE_TYPES, SceneGraph

logger = logging.getLogger("negative_quality")

#: SugarCrepe's refined negatives under the same classifier (held-out COCO captions; DESIGN §5.1).
SUGARCREPE_BLIND = {
    "add_att": 99.7,
    "add_obj": 99.5,
    "replace_att": 72.6,
    "replace_obj": 79.8,
    "replace_rel": 83.2,
    "swap_att": 69.1,
    "swap_obj": 70.2,
}


# --------------------------------------------------------------------------- data


def image_key(row: dict) -> str:
    return str(row.get("image") or row.get("image_path") or row.get("id") or row["caption"])


def in_split(row: dict, split: str) -> bool:
    """``heldout``: one image in five by crc32 of its name; ``dev``: the rest; ``all``: every row."""
    if split == "all":
        return True
    held = zlib.crc32(image_key(row).encode("utf-8")) % 5 == 0
    return held if split == "heldout" else not held


def load_rows(path: Path, split: str, n: int | None, seed: int) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                if in_split(row, split):
                    rows.append(row)
    if n is not None and n < len(rows):
        rows = random.Random(seed).sample(rows, n)
    return rows


# --------------------------------------------------------------------------- applicability


def _is_value(word: str) -> bool:
    """An attribute that names a property value ("red", "wooden"), not a number or quantifier."""
    return word.isalpha() and word.lower() not in NUMBER_WORDS and word.lower() not in QUANTIFIER_WORDS


def applicable(neg_type: str, graph: SceneGraph) -> bool:
    """Whether the parse has the parts ``neg_type`` needs (see the module docstring)."""
    objs = [o for o in graph.objects if o.count != 0]
    if neg_type in ("replace_obj", "add_att", "add_obj"):
        return bool(objs)
    if neg_type == "replace_att":
        return any(_is_value(a.text) for o in objs for a in o.attributes)
    if neg_type == "replace_rel":
        return any(r.predicate.lower() != "of" for r in graph.relations)
    if neg_type == "swap_obj":
        return len({o.lemma for o in objs}) >= 2
    if neg_type == "swap_att":
        with_att = {o.lemma for o in objs if any(_is_value(a.text) for a in o.attributes)}
        return len(with_att) >= 2
    return bool(objs)


def exchangeable(neg_type: str, graph: SceneGraph, caption: str, resources) -> bool:
    """A narrower denominator for the three types whose parts must also be of one kind:

    - replace_rel: a relation between two things of the scene whose predicate is a verb or a
      preposition with an opposite; not "with"/"of" (having, parts) nor "in" + clothing
      (wearing), which name no relation to turn around;
    - swap_obj: two things of the scene of one class (or two living doers: people, animals),
      either both in relations or both with attributes, not a container and its contents;
    - swap_att: two different things, each with a pre-noun value of the same property
      (color and color, material and material).

    It uses the parse and the noun classes, never the rules' plausibility checks.
    """
    from negforge.generators.lexicon import AGENT_CLASSES
    from negforge.generators.rules.common import object_lemma
    from negforge.generators.rules.fit import editable_object, relation_end

    lex = resources.lexicon
    objs = graph.objects
    if neg_type == "replace_rel":
        for r in graph.relations:
            pred = r.predicate.lower()
            a, b = objs[r.subject], objs[r.object]
            if pred in ("of", "with") or not (
                relation_end(caption, a, resources) and relation_end(caption, b, resources)
            ):
                continue
            if pred in ("in", "inside") and lex.class_of(object_lemma(b)) == "clothing":
                continue
            first = pred.split(" ", 1)[0]
            if (
                first in resources.vocab["relations"]["opposites"]
                or pred in resources.vocab["relations"]["opposites"]
            ):
                return True
            if first not in ("in", "on", "at", "by", "to", "for", "from", "as", "near"):
                return True  # a verb
        return False
    if neg_type == "swap_obj":
        linked = {r.subject for r in graph.relations} | {r.object for r in graph.relations}
        ok = [k for k, o in enumerate(objs) if editable_object(caption, o, resources)]
        for x in ok:
            for y in ok:
                a, b = objs[x], objs[y]
                if x >= y or object_lemma(a) == object_lemma(b):
                    continue
                ca, cb = lex.class_of(object_lemma(a)), lex.class_of(object_lemma(b))
                if ca != cb and not (ca in AGENT_CLASSES and cb in AGENT_CLASSES):
                    continue
                if (x in linked and y in linked) or (a.attributes and b.attributes):
                    return True
        return False
    if neg_type == "swap_att":
        groups = []
        for o in objs:
            gs = set()
            for a in o.attributes:
                if _is_value(a.text) and a.end <= o.start:
                    gs.update(resources.adjective_group.get(a.text.lower(), ()))
            groups.append((o.lemma, gs))
        return any(la != lb and ga & gb for k, (la, ga) in enumerate(groups) for lb, gb in groups[k + 1 :])
    return applicable(neg_type, graph)


# --------------------------------------------------------------------------- blind LM


class NLLCache:
    """Mean token NLL of texts under the scoring LM, cached in SQLite by text."""

    def __init__(self, path: Path | None, lm: str):
        self.lm = lm
        self._scorer = None
        self.db = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path))
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS nll (lm TEXT, text TEXT, value REAL, PRIMARY KEY (lm, text))"
            )

    def __call__(self, texts: Sequence[str], batch_size: int = 64) -> dict[str, float]:
        unique = list(dict.fromkeys(texts))
        out: dict[str, float] = {}
        if self.db is not None:
            for i in range(0, len(unique), 500):
                chunk = unique[i : i + 500]
                q = f"SELECT text, value FROM nll WHERE lm = ? AND text IN ({','.join('?' * len(chunk))})"
                out.update(self.db.execute(q, [self.lm, *chunk]).fetchall())
        todo = [t for t in unique if t not in out]
        if todo:
            if self._scorer is None:
                from negforge.pipeline.stages.score import FluencyScorer

                self._scorer = FluencyScorer(self.lm)
            t0 = time.perf_counter()
            todo.sort(key=len)  # similar lengths per batch: less padding
            for i in range(0, len(todo), batch_size):
                batch = todo[i : i + batch_size]
                values = self._scorer.nll(batch)
                out.update(zip(batch, values, strict=True))
                if self.db is not None:
                    self.db.executemany(
                        "INSERT OR REPLACE INTO nll VALUES (?, ?, ?)",
                        [(self.lm, t, v) for t, v in zip(batch, values, strict=True)],
                    )
                    self.db.commit()
            logger.info("scored %d texts in %.0f s", len(todo), time.perf_counter() - t0)
        return out


# --------------------------------------------------------------------------- classifier


@dataclass(frozen=True)
class Pair:
    group: str  # the caption's id: CV folds never split a caption
    caption: str
    negative: str
    type: str


def _features(pairs: Sequence[Pair], nll: dict[str, float] | None):
    """Difference features f(positive) - f(negative): sparse n-grams + dense [len, nll]."""
    from scipy import sparse
    from sklearn.feature_extraction.text import HashingVectorizer

    vec = HashingVectorizer(
        ngram_range=(1, 2),
        n_features=2**18,
        alternate_sign=False,
        norm=None,
        lowercase=True,
        token_pattern=r"(?u)\b\w+\b|[^\w\s]",
    )
    pos = vec.transform([p.caption for p in pairs])
    neg = vec.transform([p.negative for p in pairs])
    dense = [[len(p.caption) - len(p.negative)] for p in pairs]
    if nll is not None:
        for row, p in zip(dense, pairs, strict=True):
            row.append(nll[p.caption] - nll[p.negative])
    dense = np.asarray(dense, dtype=np.float64)
    dense = np.nan_to_num(dense)
    return sparse.hstack([pos - neg, sparse.csr_matrix(dense)]).tocsr(), dense.shape[1]


def blind_accuracy(
    pairs: Sequence[Pair], nll: dict[str, float] | None, seed: int = 0, folds: int = 5
) -> float:
    """Cross-validated accuracy (%) of the symmetric pair classifier; nan with too few pairs."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    if len(pairs) < 2 * folds:
        return float("nan")
    x, n_dense = _features(pairs, nll)
    groups = np.array([p.group for p in pairs])
    correct = 0
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, groups=groups):
        xt = x[train]
        scale = np.ones(x.shape[1])
        dense_cols = xt[:, -n_dense:].toarray()
        scale[-n_dense:] = np.maximum(dense_cols.std(axis=0), 1e-6)  # dense columns to unit scale
        d = sparse.diags(1.0 / scale)
        xt = xt @ d
        xs = sparse.vstack([xt, -xt])  # both orders: label 1 = positive first
        ys = np.r_[np.ones(len(train)), np.zeros(len(train))]
        model = LogisticRegression(C=1.0, fit_intercept=False, max_iter=2000)
        model.fit(xs, ys)
        margin = (x[test] @ d) @ model.coef_.ravel()
        correct += int((margin > 0).sum())
    return 100.0 * correct / len(pairs)


def lm_preference(pairs: Sequence[Pair], nll: dict[str, float]) -> float:
    """% of pairs where the negative has the higher mean NLL (the LM prefers the positive)."""
    ok = [nll[p.negative] > nll[p.caption] for p in pairs if not np.isnan(nll[p.negative] - nll[p.caption])]
    return 100.0 * sum(ok) / len(ok) if ok else float("nan")


# --------------------------------------------------------------------------- main


def rule_negatives(captions: Sequence[str], graphs, ids: Sequence[str], seed: int, resources) -> list:
    """Each caption's negatives from the default build's generation (every rule, its caps)."""
    specs, config = registry.select(None), GenerationConfig(seed=seed)
    return [
        registry.generate(c, g, rid, specs, resources, config)
        for c, g, rid in zip(captions, graphs, ids, strict=True)
    ]


def generate_pairs(rows: list[dict], seed: int, types: Sequence[str], spacy_model: str):
    """(pairs per type, coverage rows, timings) from the default build's generation."""
    captions = [r["caption"] for r in rows]
    ids = [str(r.get("id", i)) for i, r in enumerate(rows)]
    t0 = time.perf_counter()
    nlp = load_nlp(spacy_model)
    resources = load_resources()
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    graphs = parse_captions(nlp, captions)
    t_parse = time.perf_counter() - t0
    t0 = time.perf_counter()
    negatives = rule_negatives(captions, graphs, ids, seed, resources)
    t_gen = time.perf_counter() - t0
    pairs: dict[str, list[Pair]] = defaultdict(list)
    all_negs: dict[str, list[Pair]] = defaultdict(list)
    cov = {
        t: [0, 0, 0, 0, 0] for t in types
    }  # covered, applicable, covered & applicable, exchangeable, & covered
    for rid, caption, graph, negs in zip(ids, captions, graphs, negatives, strict=True):
        by_type: dict[str, list[str]] = defaultdict(list)
        for n in negs:
            by_type[n.type].append(n.text)
        for t in types:
            app = applicable(t, graph)
            exc = app and exchangeable(t, graph, caption, resources)
            got = bool(by_type.get(t))
            cov[t][0] += got
            cov[t][1] += app
            cov[t][2] += got and app
            cov[t][3] += exc
            cov[t][4] += got and exc
            if got:
                pairs[t].append(Pair(rid, caption, by_type[t][0], t))
                all_negs[t].extend(Pair(rid, caption, x, t) for x in by_type[t])
    timings = {"load_s": t_load, "parse_per_s": len(rows) / t_parse, "generate_per_s": len(rows) / t_gen}
    return pairs, all_negs, cov, timings


def read_pairs(path: Path) -> dict[str, list[Pair]]:
    out: dict[str, list[Pair]] = defaultdict(list)
    with path.open(encoding="utf-8") as f:
        for k, line in enumerate(f):
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                out[row["type"]].append(
                    Pair(str(row.get("id", row["caption"])), row["caption"], row["negative"], row["type"])
                )
            except KeyError as exc:
                raise SystemExit(
                    f"{path}:{k + 1}: missing field {exc} (need caption, negative, type)"
                ) from exc
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", type=Path, help="caption JSONL ({'caption', 'id', 'image'} per line)")
    parser.add_argument("--n", type=int, default=2000, help="random captions to use (default 2000; 0 = all)")
    parser.add_argument("--split", choices=("all", "dev", "heldout"), default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--types", default=",".join(SUGARCREPE_TYPES), help="comma-separated negative types")
    parser.add_argument("--spacy-model", default=DEFAULT_SPACY_MODEL)
    parser.add_argument("--lm", default="smollm2", help="blind LM for the NLL feature ('none' = off)")
    parser.add_argument("--cache", type=Path, default=Path("out/cache/nll.sqlite"), help="NLL cache (SQLite)")
    parser.add_argument("--sample", type=int, default=0, help="print N random pairs per type for a read")
    parser.add_argument("--pairs", type=Path, action="append", default=[], help="extra pair files to compare")
    parser.add_argument("--json", type=Path, default=None, help="write the table as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    types = [t for t in args.types.split(",") if t]

    sources: dict[str, dict[str, list[Pair]]] = {}
    cov = None
    all_negs: dict[str, list[Pair]] = {}
    if args.input is not None:
        rows = load_rows(args.input, args.split, args.n or None, args.seed)
        pairs, all_negs, cov, timings = generate_pairs(rows, args.seed, types, args.spacy_model)
        sources["negforge"] = pairs
        print(
            f"{len(rows)} captions from {args.input} (split {args.split}, seed {args.seed}): parse "
            f"{timings['parse_per_s']:.0f}/s, generate {timings['generate_per_s']:.0f}/s"
        )
    for path in args.pairs:
        sources[path.stem] = read_pairs(path)
    if not sources:
        parser.error("give --input and/or --pairs")

    nll = None
    if args.lm != "none":
        texts = [
            x for src in sources.values() for ps in src.values() for p in ps for x in (p.caption, p.negative)
        ]
        nll = NLLCache(args.cache, args.lm)(texts)

    table: dict[str, dict[str, dict]] = {}
    for name, src in sources.items():
        for t in types:
            ps = src.get(t, [])
            row: dict = {
                "pairs": len(ps),
                "blind": blind_accuracy(ps, nll, args.seed) if ps else float("nan"),
            }
            if nll is not None and ps:
                row["lm_prefers_positive"] = lm_preference(ps, nll)
                row["nll_gap"] = float(np.nanmean([nll[p.negative] - nll[p.caption] for p in ps]))
            row["len_delta"] = (
                float(np.mean([len(p.negative) - len(p.caption) for p in ps])) if ps else float("nan")
            )
            if name == "negforge" and cov is not None:
                covered, n_app, covered_app, n_exc, covered_exc = cov[t]
                row["coverage_all"] = covered / len(rows)
                row["applicable"] = n_app / len(rows)
                row["coverage_applicable"] = covered_app / n_app if n_app else float("nan")
                row["exchangeable"] = n_exc / len(rows)
                row["coverage_exchangeable"] = covered_exc / n_exc if n_exc else float("nan")
            table.setdefault(name, {})[t] = row

    for name, rows_t in table.items():
        print(f"\n== {name}")
        head = (
            f"{'type':12s} {'pairs':>6s} {'cov|appl':>8s} {'cov|exch':>8s} {'cov':>6s} {'appl':>6s} "
            f"{'blind':>6s} {'SugarC':>6s} {'LM pos':>6s} {'ΔNLL':>6s} {'Δlen':>6s}"
        )
        print(head)
        for t, r in rows_t.items():
            print(
                f"{t:12s} {r['pairs']:6d} {r.get('coverage_applicable', float('nan')):8.2f} "
                f"{r.get('coverage_exchangeable', float('nan')):8.2f} "
                f"{r.get('coverage_all', float('nan')):6.2f} {r.get('applicable', float('nan')):6.2f} "
                f"{r['blind']:6.1f} {SUGARCREPE_BLIND.get(t, float('nan')):6.1f} "
                f"{r.get('lm_prefers_positive', float('nan')):6.1f} {r.get('nll_gap', float('nan')):+6.2f} "
                f"{r['len_delta']:+6.1f}"
            )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(table, indent=2))

    if args.sample and all_negs:
        rng = random.Random(args.seed)
        for t in types:
            pool = all_negs.get(t, [])
            print(f"\n--- {t}: {min(args.sample, len(pool))} random of {len(pool)}")
            for p in rng.sample(pool, min(args.sample, len(pool))):
                print(f"  {p.caption}\n    -> {p.negative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
