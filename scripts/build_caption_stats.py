#!/usr/bin/env python3
"""Count selectional preferences from a caption corpus into ``generators/data/caption_stats.json.gz``.

    .venv/bin/python scripts/build_caption_stats.py --input ../shared/data/flickr8k_captions.jsonl \
        --split dev [--extra benchmarks/data/coco_style_captions.jsonl]

Every caption is parsed with the project's own parser (``graph_from_doc``), so a slot counted
here is the slot a rule sees at run time. What is counted (see ``generators/lexicon.py``):
noun mentions, the subjects and objects of every relation predicate, the nouns each adjective
modifies, and which nouns share a caption. Each counted noun gets its semantic class (curated
group, else WordNet's nearest anchor), so the generators need no WordNet walk for them.

``--split dev`` keeps four images in five (crc32 of the image name % 5 != 0): the fifth is
what ``benchmarks/negative_quality.py --split heldout`` measures on, so the numbers there are
on images whose captions were never counted. Output is deterministic (sorted keys, fixed gzip
mtime), so rebuilding from the same corpus gives the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from negforge.generators.lexicon import STATS_FILE, classify, head_of, iter_contexts
from negforge.generators.resources import load_resources
from negforge.generators.scene_graph import DEFAULT_SPACY_MODEL, load_nlp, parse_captions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from negative_quality import in_split  # noqa: E402  (one split rule for counting and measuring)

logger = logging.getLogger("build_caption_stats")
OUT = Path(__file__).resolve().parents[1] / "generators" / "data" / STATS_FILE


def read_captions(path: Path, split: str) -> list[str]:
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                if in_split(row, split):
                    out.append(row["caption"])
    return out


def shapes_graphs(n_scenes: int) -> list:
    """Exact graphs of the embedded shapes world's train captions: the demo's rules need its
    slots ("a small circle", "left of a square") counted like any other captions."""
    from negforge.generators.shapes.captions import scene_specs, write_caption
    from negforge.generators.shapes.config import ShapesConfig
    from negforge.generators.shapes.records import caption_rng
    from negforge.generators.shapes.scene import sample_scene

    config = ShapesConfig()
    out = []
    for index in range(n_scenes):
        scene = sample_scene(config, "train", index)
        specs = scene_specs(
            scene, caption_rng(config, "train", index), config.captions_per_image, config.size_mention_prob
        )
        out.extend(write_caption(spec)[1] for spec in specs)
    return out


def count(graphs, min_cooccur: int = 2) -> dict:
    nouns: Counter[str] = Counter()
    contexts: dict[str, Counter[str]] = defaultdict(Counter)
    cooccur: dict[str, Counter[str]] = defaultdict(Counter)
    for graph in graphs:
        lemmas = [o.lemma.lower() for o in graph.objects]
        nouns.update(lemmas)
        for i, ctx in iter_contexts(graph):
            contexts[ctx][lemmas[i]] += 1
        heads = sorted({head_of(x) for x in lemmas})
        for a in heads:
            for b in heads:
                if a != b:
                    cooccur[a][b] += 1
    cooccur_out = {
        a: dict(sorted((b, n) for b, n in c.items() if n >= min_cooccur))
        for a, c in sorted(cooccur.items())
        if nouns[a] >= 5
    }
    return {
        "nouns": dict(sorted(nouns.items())),
        "contexts": {k: dict(sorted(v.items())) for k, v in sorted(contexts.items())},
        "cooccur": {a: c for a, c in cooccur_out.items() if c},
    }


def classify_all(nouns: dict[str, int], resources) -> dict[str, str]:
    """Class of every counted noun ("" = none), so generators need no WordNet walk for them."""
    return {lemma: classify(resources.vocab, resources.wordnet, lemma) or "" for lemma in sorted(nouns)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", type=Path, required=True, help="caption JSONL (caption, image)")
    parser.add_argument("--split", choices=("all", "dev", "heldout"), default="dev")
    parser.add_argument(
        "--extra", type=Path, action="append", default=[], help="more caption JSONL, all rows"
    )
    parser.add_argument(
        "--shapes", type=int, default=0, help="also count this many shapes-world train scenes"
    )
    parser.add_argument("--output", type=Path, default=OUT)
    parser.add_argument("--spacy-model", default=DEFAULT_SPACY_MODEL)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    captions = read_captions(args.input, args.split)
    sources = [{"file": args.input.name, "split": args.split, "captions": len(captions)}]
    for extra in args.extra:
        more = read_captions(extra, "all")
        captions += more
        sources.append({"file": extra.name, "split": "all", "captions": len(more)})
    t0 = time.perf_counter()
    graphs = parse_captions(load_nlp(args.spacy_model), captions)
    logger.info("parsed %d captions in %.0f s", len(captions), time.perf_counter() - t0)
    if args.shapes:
        shape_graphs = shapes_graphs(args.shapes)
        graphs += shape_graphs
        sources.append(
            {"file": "shapes-world (train, exact graphs)", "split": "train", "captions": len(shape_graphs)}
        )
    data = count(graphs)
    data["classes"] = classify_all(data["nouns"], load_resources())
    data["meta"] = {"sources": sources, "spacy_model": args.spacy_model, "format": 1}
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")
    args.output.write_bytes(gzip.compress(raw, mtime=0))
    logger.info(
        "%d nouns, %d contexts -> %s (%.1f MB raw, %.2f MB gz)",
        len(data["nouns"]), len(data["contexts"]), args.output, len(raw) / 1e6, args.output.stat().st_size / 1e6,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
