"""shuffle: NegCLIP-style word-order perturbations (a weak type kept for ablations).

Three variants, as in NegCLIP / FSC-CLIP: permute the object nouns, permute
the adjectives, or cut the caption into trigrams and permute them. The edit is
None (there is no single span). Casing of the first letter and the trailing
punctuation are kept, so only the word order differs. The grammar checks are
not applied: shuffles are ungrammatical by design, which is why the type is weak.
"""

from __future__ import annotations

import random
import re
from typing import Any

from negforge.schemas import Negative, SceneGraph

from ..grammar import fix_articles
from ..registry import register
from .common import MAX_NEGATIVES, Candidate, finish

NAME, VERSION = "shuffle", 1
GENERATOR = f"rule:{NAME}@{VERSION}"
_MAX_TRIES = 8


def _permute_spans(caption: str, spans: list[tuple[int, int]], rng: random.Random) -> str | None:
    """Rewrite ``spans`` (sorted, disjoint) with a permutation of their texts that changes the caption."""
    texts = [caption[s:e] for s, e in spans]
    if len({t.lower() for t in texts}) < 2:
        return None
    for _ in range(_MAX_TRIES):
        perm = texts[:]
        rng.shuffle(perm)
        if [p.lower() for p in perm] == [t.lower() for t in texts]:
            continue
        parts, prev = [], 0
        for (s, e), new in zip(spans, perm, strict=True):
            parts.append(caption[prev:s])
            parts.append(new)
            prev = e
        parts.append(caption[prev:])
        return fix_articles("".join(parts))
    return None


def _trigram_shuffle(caption: str, rng: random.Random) -> str | None:
    core = caption.strip()
    lead = caption[: len(caption) - len(caption.lstrip())]
    trail = caption[len(caption.rstrip()) :]
    m = re.search(r"[.!?]+$", core)
    punct = m.group(0) if m else ""
    body = core[: len(core) - len(punct)]
    tokens = body.split()
    if len(tokens) < 4:
        return None
    grams = [tokens[i : i + 3] for i in range(0, len(tokens), 3)]
    for _ in range(_MAX_TRIES):
        perm = grams[:]
        rng.shuffle(perm)
        if perm == grams:
            continue
        words = [w for g in perm for w in g]
        first_upper = body[:1].isupper()
        words = [w if (w[:1].isupper() and w.isupper() and len(w) > 1) else w for w in words]
        if first_upper:
            words = [w[:1].lower() + w[1:] if w == tokens[0] else w for w in words]
            words[0] = words[0][:1].upper() + words[0][1:]
        return lead + fix_articles(" ".join(words)) + punct + trail
    return None


@register(NAME, type="shuffle", version=VERSION)
def shuffle(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Noun, adjective and trigram shuffles; edit None."""
    cands: list[Candidate] = []
    nouns = sorted((o.start, o.end) for o in graph.objects)
    text = _permute_spans(caption, nouns, rng) if len(nouns) >= 2 else None
    if text:
        cands.append(Candidate(text, None))
    adjs = sorted({(a.start, a.end) for o in graph.objects for a in o.attributes if a.text.isalpha()})
    text = _permute_spans(caption, adjs, rng) if len(adjs) >= 2 else None
    if text:
        cands.append(Candidate(text, None))
    text = _trigram_shuffle(caption, rng)
    if text:
        cands.append(Candidate(text, None))
    return finish(caption, cands, "shuffle", GENERATOR, resources, check=False, limit=limit)
