"""replace_att: one attribute becomes another value of the same property ("a red car" → "a blue car").

A replacement is a negative only when it is false for the photo, so it changes the value of one
property: an antonym (curated, then WordNet: "empty" → "full", "shallow" → "deep"), or for
properties with many exclusive values (color, material, pattern, weather, food state...) another
value of that property. Sizes, ages and moods change only to their antonym: "a small dog" →
"a tall dog" could still be true. Synonyms and WordNet's similar adjectives never replace each
other ("big"/"large").

The new value must suit the noun (``fit.adjective_fits``): it was seen on that noun in real
captions, or it is a color on a made thing; "a silver dog", "elderly girls", "a ripe jacket"
are rejected. Values are drawn in proportion to how often captions use them on that noun.
A covering is an attribute too: "a snow covered field" -> "a grass covered field" (never snow
where someone skis). Numbers and quantifiers are left to ``count``; parts of a longer modifier ("middle eastern",
"stainless steel") are left alone.
"""

from __future__ import annotations

import random
import re
from typing import Any

from negforge.schemas import Attribute, Negative, SceneGraph

from ..grammar import NUMBER_WORDS, apply_edit, match_case
from ..registry import register
from ..scene_graph import QUANTIFIER_WORDS
from .common import (
    MAX_NEGATIVES,
    Candidate,
    after_shade,
    compatible_words,
    finish,
    glued_modifier,
    object_lemma,
    one_per_look,
    word_before,
)
from .fit import adjective_fits, caption_words, weighted_order
from .worn import worn_colors

NAME, VERSION = "replace_att", 9  # 3: snow stays snow where someone skis or sleds; 4: fixed "body of", numbered compounds, "a little snow"; 5: a covering is an attribute ("a snow covered field" -> "a grass covered field"); 6: no value of one look ("small" -> "tiny"), "parked"/"stopped" only on vehicles, a participle after its adverb stays ("a fast moving stream"), never a noun's own stuff ("snowy grass" -> "grassy grass"); 7: a color worn with no garment named is replaced too ("a girl in red" -> "a girl in green"), hair takes hair colors only ("blond hair" -> "black hair", never "green hair" nor "dark" -> "brown"); 8: fluffy/furry/shaggy/fuzzy are one look ("a fluffy dog" never "a furry dog"); 9: a colorful thing becomes black, white or gray, a young boy or girl a teenage one, a blond one redheaded (the synonym check had refused all three: vocab adjective_distinct)
GENERATOR = f"rule:{NAME}@{VERSION}"
PER_ATTRIBUTE = 2
ANTONYM_WEIGHT = 4.0  # an antonym is the clearest change of value: drawn more often
#: Properties with many exclusive values: any other value is false ("red" -> "blue").
SIBLING_GROUPS = frozenset(
    {
        "color",
        "material",
        "pattern",
        "food_state",
        "weather",  # sunny/rainy/snowy day; wet/dry change only to their antonym
        "surface",  # muddy/grassy/sandy ground
        "temperature",
        "texture",
        "speed_state",
        "hair",
    }
)
#: Values that do not exclude the others of their property: "colorful" may be "striped".
NOT_EXCLUSIVE = frozenset({"colorful", "multicolored", "patterned", "plain", "light", "bright", "dark"})
MIN_ANTONYM_COUNT = 3  # tagged-sense count a WordNet antonym needs ("nonmetallic" is a rarity tell)
#: "a blonde haired toddler": the adjective is the hair's color ("redheaded haired" is no English).
_HAIRED = re.compile(r"[\s-]+haired\b", re.I)
_COPULA = re.compile(r"\s+(is|are|was|were|looks?|seems?)\s+", re.I)
#: Doing these says the ground is snow: "snowy" stays ("skis down a rocky hill" is a tell).
_SNOW_SPORT = re.compile(r"\b(ski\w*|snowboard\w*|sled\w*|sleigh\w*|snowmobil\w*|snowshoe\w*)\b", re.I)
_SNOW_VALUES = frozenset({"snowy", "icy", "frozen", "snow-covered"})
#: Spelling variants that must never replace each other.
_VARIANTS = {
    frozenset({"gray", "grey"}),
    frozenset({"wood", "wooden"}),
    frozenset({"big", "large"}),
    frozenset({"little", "small"}),
    frozenset({"blond", "blonde"}),
}


def is_replaceable(att: Attribute) -> bool:
    """Adjectives and material/color nouns; not numbers or quantifiers."""
    low = att.text.lower()
    return low.isalpha() and low not in NUMBER_WORDS and low not in QUANTIFIER_WORDS


def attribute_candidates(word: str, resources: Any) -> list[tuple[str, bool]]:
    """(value, is_antonym) for ``word``: antonyms, then same-property values; sorted, lower case."""
    low = word.lower()
    rare = set(resources.vocab["rare_adjectives"]) - {low}
    curated = resources.vocab["antonyms"].get(low)
    antonyms = [
        a
        for a in resources.adjective_antonyms(low)
        if a == curated or (a not in rare and resources.frequency(a, "a") >= MIN_ANTONYM_COUNT)
    ]
    siblings: set[str] = set()
    for group in resources.adjective_group.get(low, ()):
        if group in SIBLING_GROUPS:
            siblings.update(resources.vocab["adjective_groups"][group])
    siblings -= NOT_EXCLUSIVE
    if low in NOT_EXCLUSIVE:
        # "colorful" dresses may well be striped or red; only no color at all is surely false
        # ("a colorful outfit" -> "a black outfit": vocab adjective_distinct)
        siblings = set(resources.vocab.get("adjective_distinct", {}).get(low, ()))
    out: list[tuple[str, bool]] = []
    seen = {low}
    for cand in antonyms + sorted(siblings):
        if cand in seen or cand in rare or frozenset({cand, low}) in _VARIANTS or " " in cand:
            continue
        seen.add(cand)
        is_antonym = cand in antonyms
        if not is_antonym and resources.lexical_relation(low, cand, "a") is not None:
            continue
        out.append((cand, is_antonym))
    return out


#: Age words on people and the ages they are clearly not, by the noun's age (vocab person_nouns).
PERSON_AGE_VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "young": {
        "child": ("teenage",),
        "adult": ("old", "elderly"),
        "teen": ("old",),
        "any": ("old", "elderly"),
    },
    "little": {"child": ("teenage",)},
    "small": {"child": ("teenage",)},
    "tiny": {"child": ("teenage",)},
    "old": {"adult": ("young",)},
    "older": {"adult": ("young",), "child": ()},
    "elderly": {"adult": ("young",)},
    "teenage": {"child": ("little",), "teen": ()},
}


def _person_age(noun: str, resources: Any) -> str | None:
    """The age class of a person noun ("boy" -> "child"), None for other nouns."""
    entry = resources.vocab["person_nouns"].get(noun)
    return entry["age"] if isinstance(entry, dict) else None


_GRAY_HAIR = frozenset({"gray", "grey", "white"})


def _owner_age(graph: SceneGraph, part: Any, resources: Any) -> str | None:
    """The age class of whoever has ``part`` ("a boy with blond hair": "child")."""
    for rel in graph.relations:
        if graph.objects[rel.object] is part:
            return _person_age(object_lemma(graph.objects[rel.subject]), resources)
    return None


def _base_form(word: str, resources: Any) -> bool:
    """The adjective is in its base form: "smaller" would need "larger", not "large"."""
    wordnet = resources.wordnet
    if wordnet is None:
        return True
    low = word.lower()
    base = wordnet.morphy(low, "a")
    return base is None or base == low


def _made_of(adjective: str, noun: str) -> bool:
    """The adjective is the noun's own stuff: "grassy grass", "sandy sand", "rocky rocks"."""
    if not adjective.endswith("y") or len(adjective) < 4:
        return False
    stem = adjective[:-1]
    stems = {stem, stem[:-1]} if stem[-1] == stem[-2] else {stem}  # "muddy" -> "mud"
    head = noun.rsplit(" ", 1)[-1]
    return bool(stems & {head, head.removesuffix("s")})


#: Adverbs that make one word with the participle after them ("fast moving", "brightly lit").
_MANNER = re.compile(r"(fast|slow|brightly|dimly|freshly|newly|well|badly|heavily|lightly|slowly|quickly|fast-)$", re.I)


def _after_manner_adverb(caption: str, att: Attribute) -> bool:
    """A participle bound to the adverb before it: replacing it leaves "fast parked"."""
    before = word_before(caption, att.start)
    return before is not None and att.text.lower().endswith(("ing", "ed")) and _MANNER.match(before) is not None


@register(NAME, type="replace_att", version=VERSION)
def replace_att(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Replace one attribute with another value of its property that suits the noun."""
    present = caption_words(caption)
    lex = resources.lexicon
    mass = set(resources.vocab["mass_nouns"])
    atts = [
        (obj, a)
        for obj in graph.objects
        for a in obj.attributes
        if is_replaceable(a)
        and not glued_modifier(caption, a, obj, resources)
        and _base_form(a.text, resources)
        and not (a.start > 0 and a.text[:1].isupper())  # "Asian", "American": names, not values
        and not after_shade(caption, a.start)  # "light brown" -> "light black"
        and not _after_manner_adverb(caption, a)  # "a fast moving stream" -> "a fast parked stream"
        and not (a.lemma.lower() == "little" and object_lemma(obj) in mass)  # "a little snow": an amount
        and (
            a.end <= obj.start or _COPULA.fullmatch(caption[obj.end : a.start])
        )  # not "a man , low to the ground"
    ]
    rng.shuffle(atts)
    speed_states = resources.vocab["adjective_groups"]["speed_state"]
    cands: list[Candidate] = []
    # a person's age word last: "young" -> "teenage" is the edit a blind reader learns fastest
    # (captions seldom say "teenage"), so it is the fallback when nothing else is editable
    ages: list[Candidate] = []
    for obj, att in atts:
        noun = object_lemma(obj)
        others = {t.text.lower() for t in obj.attributes if t is not att}
        options = []
        living = lex.class_of(noun) in ("person", "animal", "bird")
        candidates = attribute_candidates(att.text, resources)
        age = _person_age(noun, resources)
        is_age = age is not None and att.text.lower() in PERSON_AGE_VALUES  # "a *young* boy"
        if is_age:
            # on people "young", "little", "old" are ages: a young boy has no antonym that is still a
            # boy, but he is no teenager; a young man is no old man
            candidates = [(v, True) for v in PERSON_AGE_VALUES[att.text.lower()].get(age, ())]
        same_look = compatible_words("adjective_compatible", att.text.lower(), resources)
        hair = resources.vocab["hair_colors"]
        haired = _HAIRED.match(caption, att.end) is not None  # "a blonde haired toddler"
        if (noun.rsplit(" ", 1)[-1] in hair["nouns"] or haired) and (att.text.lower() in hair["colors"] or haired):
            # "blond hair" -> "black hair": hair comes in few colors, never one of the same look
            # ("dark hair" may be brown)
            owner_age = _person_age(noun, resources) if haired else _owner_age(graph, obj, resources)
            young = owner_age in ("child", "baby")
            candidates = [(c, False) for c in hair["colors"] if not (young and c in _GRAY_HAIR)]  # "children with gray hair"
            same_look = same_look | compatible_words("hair_colors", att.text.lower(), resources)
        snow_scene = _SNOW_SPORT.search(caption) is not None
        for value, is_antonym in candidates:
            if value in present or value in others or value in same_look:
                continue  # "a small dog" -> "a tiny dog" is still true
            if _made_of(value, noun):
                continue  # "snowy grass" -> "grassy grass"
            if snow_scene and att.text.lower() in _SNOW_VALUES:
                continue  # "a man skis down a snowy hill" -> "a rocky hill": the skis say snow
            if value in speed_states and lex.class_of(noun) != "vehicle":
                continue  # "a moving stream" -> "a parked stream": only vehicles park
            curated = resources.vocab["antonyms"].get(att.text.lower()) == value
            if not adjective_fits(resources, value, "hair" if haired else noun) and (living or not curated):
                continue  # "a silver dog", "ripe beads"; a thing takes a curated antonym ("a low branch" -> "a high branch")
            seen = lex.adjectives_of(noun).get(value, 0)
            options.append((value, (1.0 + seen) * (ANTONYM_WEIGHT if is_antonym else 1.0)))
        for new in one_per_look(weighted_order(rng, options), PER_ATTRIBUTE, resources):  # never "blond" and "blonde"
            text, edit = apply_edit(caption, att.start, att.end, match_case(new, att.text))
            (ages if is_age else cands).append(Candidate(text, edit))
    cands.extend(_covering_candidates(caption, graph, rng, resources))
    cands.extend(_worn_candidates(caption, graph, rng, resources))
    cands.extend(ages)
    return finish(caption, cands, "replace_att", GENERATOR, resources, limit=limit)


def _worn_candidates(caption: str, graph: SceneGraph, rng: random.Random, resources: Any) -> list[Candidate]:
    """"a girl in red" -> "a girl in green": a color worn with no garment named is any other
    color clothes come in, drawn as often as captions give it to a shirt (no "in grey" for "in
    silver", no color the caption already names)."""
    out: list[Candidate] = []
    present = caption_words(caption)
    shirts = resources.lexicon.adjectives_of("shirt")
    for worn in worn_colors(caption, graph, resources):
        old = worn.text.lower()
        same = compatible_words("adjective_compatible", old, resources)
        options = [
            (color, 1.0 + shirts.get(color, 0))
            for color in sorted(resources.vocab["adjective_groups"]["color"])
            if color != old and color not in present and color not in same
        ]
        for new in weighted_order(rng, options)[:PER_ATTRIBUTE]:
            out.append(Candidate(*apply_edit(caption, worn.start, worn.end, match_case(new, worn.text))))
    return out


#: What a thing may be covered in, and the adjective that says so ("a snow covered hill" is a
#: snowy hill): the covering is the attribute, "snow covered" -> "grass covered".
COVERINGS = {"snow": "snowy", "grass": "grassy", "sand": "sandy", "mud": "muddy", "leaf": "leafy", "moss": "mossy"}
_COVERED = re.compile(r"\b(" + "|".join(COVERINGS) + r")([ -])covered\b", re.I)


def _covering_candidates(caption: str, graph: SceneGraph, rng: random.Random, resources: Any) -> list[Candidate]:
    """"a snow covered hill" -> "a grass covered hill": another covering the thing is seen to
    have (its adjective counted on the noun: "a grassy hill"); never snow where someone skis."""
    out: list[Candidate] = []
    present = caption_words(caption)
    for m in _COVERED.finditer(caption):
        head = next((o for o in sorted(graph.objects, key=lambda o: o.start) if o.start >= m.end()), None)
        between = caption[m.end() : head.start] if head is not None else ""
        if head is None or (between.strip(" ,") and len(between.split()) > 2):
            continue  # the covered thing is the next noun, at most two words on
        old = m.group(1).lower()
        if old == "snow" and _SNOW_SPORT.search(caption):
            continue  # "skiing down a snow covered slope": the skis say snow
        noun = object_lemma(head)
        options = [
            (new, 1.0 + resources.lexicon.adjectives_of(noun).get(adj, 0))
            for new, adj in sorted(COVERINGS.items())
            if new != old and new not in present and adjective_fits(resources, adj, noun)
        ]
        for new in weighted_order(rng, options)[:PER_ATTRIBUTE]:
            out.append(Candidate(*apply_edit(caption, m.start(1), m.end(1), match_case(new, m.group(1)))))
    return out
