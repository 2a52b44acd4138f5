"""The blind pair classifier of benchmarks/negative_quality.py: it finds a tell when there is one
and nothing when there is none (50 = chance), and coverage denominators come from the parse."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import negative_quality  # noqa: E402  (benchmarks/ is not a package; a failing import must fail, not skip)

WORDS = "dog cat man woman ball frisbee park beach grass snow water red blue runs jumps sits".split()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(8))


def _pairs(tell: bool, n: int = 400):
    rng = random.Random(0)
    out = []
    for i in range(n):
        pos = _sentence(rng)
        neg = _sentence(rng)
        if tell:
            neg = neg.replace(neg.split()[0], "purple", 1)  # every negative says "purple"
        out.append(negative_quality.Pair(str(i), pos, neg, "replace_att"))
    return out


def test_classifier_finds_a_tell():
    assert negative_quality.blind_accuracy(_pairs(tell=True), nll=None) > 95.0


def test_classifier_is_at_chance_without_one():
    assert 38.0 < negative_quality.blind_accuracy(_pairs(tell=False), nll=None) < 62.0


def test_length_difference_is_a_tell():
    rng = random.Random(1)
    pairs = [
        negative_quality.Pair(str(i), s, s + " nearby", "add_obj")
        for i, s in enumerate(_sentence(rng) for _ in range(200))
    ]
    assert negative_quality.blind_accuracy(pairs, nll=None) == 100.0


def test_applicable_reads_the_parse(parse):
    graph = parse("A white dog chases a black cat .")
    assert negative_quality.applicable("swap_att", graph)
    assert negative_quality.applicable("swap_obj", graph)
    lone = parse("A dog runs .")
    assert not negative_quality.applicable("swap_obj", lone)
    assert not negative_quality.applicable("replace_att", parse("Two dogs run ."))  # a number is not a value


def test_heldout_split_is_by_image():
    rows = [{"caption": f"c{i}", "image": f"img{i // 5}.jpg"} for i in range(500)]
    held = [r for r in rows if negative_quality.in_split(r, "heldout")]
    dev = [r for r in rows if negative_quality.in_split(r, "dev")]
    assert len(held) + len(dev) == len(rows) and 50 < len(held) < 150
    assert not {r["image"] for r in held} & {r["image"] for r in dev}
