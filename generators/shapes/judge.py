"""Judging any caption against a shapes-world scene: true, false, or outside the world's language.

The world's captions come from a closed grammar (:func:`.captions.write_caption`),
so a caption written by anyone else (a rule generator, an LLM) can be read back
into a :class:`CaptionSpec` when it stays inside that grammar, and then checked
exactly against the scene. The reader also accepts noun phrases without a
color ("and a circle": any color), which rule generators write. That measures what no text-only check can: how many
"negatives" are actually true of the image (false negatives), and how many
leave the world's vocabulary or grammar (easy for a blind model to spot).
"""

from __future__ import annotations

import re
from functools import lru_cache

from .captions import CaptionSpec, NounPhrase, spec_holds
from .scene import Scene
from .vocab import COLORS, NUMBER_WORDS, RELATION_PHRASES, SHAPES, SIZES, article

VERDICTS = ("true", "false", "outside")


def _alt(words) -> str:
    # Longest first, so "to the left of" wins over "left of".
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, str], dict[str, int]]:
    nouns = {**{s: s for s in SHAPES}, **{p: s for s, p in SHAPES.items()}}
    numbers = {"a": 1, "an": 1, **{w: n for n, w in NUMBER_WORDS.items()}}
    np = rf"(?:{_alt(numbers)}) (?:(?:{_alt(SIZES)}) )?(?:(?:{_alt(COLORS)}) )?(?:{_alt(nouns)})"
    phrases = [p for ps in RELATION_PHRASES.values() for p in ps]
    sentence = re.compile(
        rf"(?P<there>there (?:is|are) )?(?P<first>{np})(?: (?P<phrase>{_alt(phrases)}) (?P<second>{np}))?"
        rf"(?P<rest>(?:(?:, | and ){np})*)"
    )
    np_re = re.compile(
        rf"(?P<det>{_alt(numbers)}) (?:(?P<size>{_alt(SIZES)}) )?(?:(?P<color>{_alt(COLORS)}) )?"
        rf"(?P<noun>{_alt(nouns)})"
    )
    return sentence, np_re, nouns, numbers


def _read_np(text: str) -> NounPhrase | None:
    _, np_re, nouns, numbers = _patterns()
    m = np_re.fullmatch(text)
    if m is None:
        return None
    count, noun = numbers[m["det"]], m["noun"]
    shape = nouns[noun]
    if (count == 1) != (noun == shape):  # "two red circle", "a red circles"
        return None
    if count == 1 and m["det"] != article(m["size"] or m["color"] or noun):  # "a orange circle"
        return None
    return NounPhrase(shape=shape, color=m["color"], size=m["size"], count=count)


def parse_spec(caption: str) -> CaptionSpec | None:
    """The spec a caption states, or None when it is outside the world's grammar/vocabulary.

    Exact inverse of :func:`.captions.write_caption` on everything it writes.
    """
    sentence, np_re, _, _ = _patterns()
    m = sentence.fullmatch(caption)
    if m is None:
        return None
    parts = [m["first"]] + ([m["second"]] if m["second"] else [])
    rest = m["rest"] or ""
    seps = re.findall(r", | and ", rest)
    tail = [p for p in re.split(r", | and ", rest) if p]
    if len(tail) != len(seps):
        return None
    if (tail and seps[-1] != " and ") or any(s != ", " for s in seps[:-1]):  # "A, B and C" only
        return None
    nps = [_read_np(p) for p in parts + tail]
    if any(np is None for np in nps):
        return None
    relation = None
    if m["phrase"]:
        relation = next(rel for rel, ps in RELATION_PHRASES.items() if m["phrase"] in ps)
    template = "plain"
    if m["there"]:
        if m["there"] != ("there is " if nps[0].count == 1 else "there are "):
            return None
        template = "there"
    return CaptionSpec(tuple(nps), relation, m["phrase"], template)  # type: ignore[arg-type]


def judge(caption: str, scene: Scene) -> str:
    """ "true" (the caption holds in the scene), "false", or "outside" the world's language."""
    spec = parse_spec(caption)
    if spec is None:
        return "outside"
    return "true" if spec_holds(spec, scene) else "false"
