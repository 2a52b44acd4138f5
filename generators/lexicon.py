"""Selectional preferences counted from parsed captions: which things do, carry, wear, sit on what.

A negative that a text model rejects on world knowledge alone ("a sofa sitting on a boy", "a
striped lake", "a man surfing a sandwich") is a shortcut, not a hard negative (DESIGN §5.1).
Rules therefore only propose an edit whose new filler *fits its slot*: the noun, verb or
adjective has been seen in that slot in real captions, or its semantic class has.

The counts live in ``data/caption_stats.json.gz``, written by ``scripts/build_caption_stats.py``
from captions parsed with this project's own parser (so slots here mean what they mean at run
time). Slots ("contexts") are keyed as:

- ``S|<predicate>`` — subjects of a predicate ("S|ride" → man, woman, dog ...),
- ``O|<predicate>`` — its objects ("O|ride" → horse, bike, wave ...),
- ``A|<adjective>`` — nouns an adjective modifies ("A|striped" → shirt, dress ...),
- ``S|<predicate>@<object>`` / ``O|<predicate>@<subject>`` — the same with the other end named
  ("S|in@mouth" → ball, stick, toy; "O|surf on@man" → wave),

with predicates normalised by :func:`predicate_key` ("sitting on" → "sit on"). When a noun was
never seen in a context, the context's share of the noun's *class* decides (backing off to
WordNet lexicographer-style classes: person, animal, vehicle, clothing, food, ...), and a context
seen too rarely to judge accepts only the class of the filler the caption already had.

Everything here is pure and read-only after construction; ``Resources.lexicon`` loads it once
per process.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from typing import Any

logger = logging.getLogger(__name__)

STATS_FILE = "caption_stats.json.gz"
#: Mentions a counted noun needs to be offered as a replacement or addition.
MIN_CANDIDATE_COUNT = 8

#: WordNet synsets that name a semantic class, checked nearest ancestor first. The classes are
#: what slots prefer ("S|ride" holds persons; "O|wear" clothing) and what replacements keep
#: ("dog" -> "cat", both animal).
CLASS_ANCHORS: dict[str, str] = {
    "person.n.01": "person",
    "bird.n.01": "bird",
    "fish.n.01": "animal",
    "dog.n.01": "animal",
    "animal.n.01": "animal",
    "tree.n.01": "plant",
    "flower.n.01": "plant",
    "plant.n.02": "plant",
    "headdress.n.01": "clothing",
    "footwear.n.01": "clothing",
    "footwear.n.02": "clothing",
    "garment.n.01": "clothing",
    "clothing.n.01": "clothing",
    "glasses.n.01": "clothing",
    "jewelry.n.01": "clothing",
    "bag.n.01": "container",
    "bag.n.04": "container",
    "ball.n.01": "ball",
    "toy.n.01": "toy",
    "sports_equipment.n.01": "sports_gear",
    "skateboard.n.01": "sports_gear",
    "musical_instrument.n.01": "instrument",
    "vehicle.n.01": "vehicle",
    "craft.n.02": "vehicle",
    "conveyance.n.03": "vehicle",
    "furniture.n.01": "furniture",
    "container.n.01": "container",
    "beverage.n.01": "food",
    "dish.n.02": "food",
    "food.n.01": "food",
    "food.n.02": "food",
    "foodstuff.n.02": "food",
    "produce.n.01": "food",
    "body_part.n.01": "body_part",
    "hair.n.01": "body_part",
    "body_of_water.n.01": "water",
    "geological_formation.n.01": "landform",
    "building.n.01": "structure",
    "structure.n.01": "structure",
    "road.n.01": "way",
    "way.n.06": "way",
    "device.n.01": "device",
    "equipment.n.01": "device",
    "artifact.n.01": "artifact",
    "tract.n.01": "place",
    "geographical_area.n.01": "place",
    "location.n.01": "place",
    "material.n.01": "substance",
    "substance.n.01": "substance",
    "natural_object.n.01": "natural_object",
}

#: Classes of things that can be in a photo (objects a rule may edit or add).
SCENE_CLASSES = frozenset(
    {
        "person", "animal", "bird", "plant", "clothing", "container", "ball", "toy", "sports_gear",
        "instrument", "vehicle", "furniture", "food", "body_part", "water", "landform", "structure",
        "way", "device", "artifact", "place", "substance", "natural_object", "ground", "shape",
    }
)  # fmt: skip

#: Curated noun groups (vocab.json) and the class they belong to, so the COCO vocabulary and
#: the counted corpus share one set of classes.
GROUP_CLASS: dict[str, str] = {
    "person": "person",
    "animal_pet": "animal",
    "animal_farm": "animal",
    "animal_wild": "animal",
    "bird": "bird",
    "vehicle_road": "vehicle",
    "vehicle_other": "vehicle",
    "street_object": "structure",
    "furniture": "furniture",
    "kitchen_item": "container",
    "appliance": "device",
    "food_dish": "food",
    "fruit": "food",
    "vegetable": "food",
    "electronics": "device",
    "sports_gear": "sports_gear",
    "ball": "ball",
    "clothing": "clothing",
    "indoor_object": "artifact",
    "plant": "plant",
    "place_outdoor": "place",
    "place_indoor": "place",
    "shape": "shape",
}

#: Classes that are living doers: they walk, ride, hold, look.
AGENT_CLASSES = frozenset({"person", "animal", "bird"})


_ANCHOR_RANK = {name: k for k, name in enumerate(CLASS_ANCHORS)}


def _sense_class(synset: Any) -> str:
    """Class of one synset: the anchor nearest above it; at equal distance the one listed first
    in :data:`CLASS_ANCHORS` ("wheeled vehicle" is both a vehicle and a container)."""
    frontier, seen = [synset], {synset}
    for _ in range(20):
        found = [s.name() for s in frontier if s.name() in _ANCHOR_RANK]
        if found:
            return CLASS_ANCHORS[min(found, key=_ANCHOR_RANK.__getitem__)]
        nxt = []
        for syn in frontier:
            for hyper in syn.hypernyms() + syn.instance_hypernyms():
                if hyper not in seen:
                    seen.add(hyper)
                    nxt.append(hyper)
        if not nxt:
            break
        frontier = nxt
    return synset.lexname().split(".", 1)[-1]  # "noun.act" -> "act": not a scene class


def wordnet_class(wordnet: Any, noun: str) -> str | None:
    """The semantic class of ``noun`` from WordNet, ``None`` when it is not a known noun.

    Captions name things, so of the first three senses the first that is a scene class wins
    ("board" is a plank before a committee, "path" a track before a course of conduct);
    proper-noun senses ("Jersey") never count, and a later sense may not make a word a living
    thing ("game" is not an animal).
    """
    if wordnet is None:
        return None
    try:
        synsets = wordnet.synsets(noun.lower().replace(" ", "_"), pos="n")
    except Exception:  # noqa: BLE001  (odd unicode in NLTK's morphy)
        return None
    synsets = [s for s in synsets if not s.instance_hypernyms()]
    if not synsets:
        return None
    first = _sense_class(synsets[0])
    if first in SCENE_CLASSES:
        return first
    for syn in synsets[1:3]:
        cls = _sense_class(syn)
        if cls in SCENE_CLASSES and cls not in AGENT_CLASSES:
            return cls
    return first


def curated_class(vocab: Mapping[str, Any], lemma: str) -> str | None:
    """The class vocab.json gives a noun: ``noun_classes`` first, then its COCO group's class."""
    table = vocab.get("noun_classes", {})
    for word in (lemma, head_of(lemma)):
        if word in table and word != "_comment":
            return table[word]
    for word in (lemma, head_of(lemma)):
        for group, members in vocab["noun_groups"].items():
            if word in members and not (group == "shape" and word != lemma):  # "town square"
                return GROUP_CLASS.get(group)
    return None


def classify(vocab: Mapping[str, Any], wordnet: Any, lemma: str) -> str | None:
    """Semantic class of a noun lemma: curated (vocab.json), else WordNet (compound, then head)."""
    cls = curated_class(vocab, lemma)
    if cls is None and " " in lemma:
        cls = wordnet_class(wordnet, lemma)
    return cls or wordnet_class(wordnet, head_of(lemma))


def predicate_key(predicate: str) -> str:
    """A relation's predicate in the form the counts use: verbs lemmatised, lower case.

    "Sitting on" -> "sit on", "rides" -> "ride", "next to" -> "next to".
    """
    from .grammar import verb_lemma_and_tag

    words = predicate.lower().split()
    if not words:
        return ""
    tagged = verb_lemma_and_tag(words[0])
    if tagged is not None and words[0] not in ("left", "right", "close", "near", "behind"):
        words[0] = tagged[0]
    return " ".join(words)


def head_of(lemma: str) -> str:
    """The last word of a (possibly compound) noun lemma: "race dog" -> "dog"."""
    return lemma.rsplit(" ", 1)[-1]


#: First words that make an animal compound a made thing.
_TOY_MODIFIERS = frozenset({"rubber", "toy", "stuffed", "plastic", "wooden", "inflatable", "plush", "teddy", "stone", "metal"})


@dataclass
class Lexicon:
    """Counted slots and noun classes; queries back off from words to classes."""

    nouns: dict[str, int]  # noun lemma -> mentions as a scene object
    classes: dict[str, str]  # noun lemma -> semantic class
    contexts: dict[str, dict[str, int]]  # context key -> noun lemma -> count
    cooccur: dict[str, dict[str, int]] = field(default_factory=dict)  # noun -> noun -> captions
    meta: dict[str, Any] = field(default_factory=dict)
    wordnet: Any = None  # for classes of words the corpus never had
    vocab: Mapping[str, Any] | None = None  # vocab.json, for the curated classes of such words

    def __post_init__(self) -> None:
        self._class_cache: dict[str, str | None] = {}
        self._by_class: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for lemma, n in sorted(self.nouns.items()):
            cls = self.class_of(lemma) if n >= MIN_CANDIDATE_COUNT else None
            if cls:
                self._by_class[cls].append((lemma, n))
        self._n_mentions = max(sum(self.nouns.values()), 1)
        self._verb_total: dict[str, int] = defaultdict(int)  # "run" <- "S|run", "S|run through", ...
        # context -> class -> count, and context totals: the backoff tables
        self._ctx_class: dict[str, dict[str, int]] = {}
        self._ctx_total: dict[str, int] = {}
        self._ctx_top: dict[str, int] = {}  # the commonest filler's count
        for ctx, fillers in self.contexts.items():
            by_class: dict[str, int] = defaultdict(int)
            for lemma, n in fillers.items():
                by_class[self.class_of(lemma)] += n
            self._ctx_class[ctx] = dict(by_class)
            self._ctx_total[ctx] = sum(fillers.values())
            self._ctx_top[ctx] = max(fillers.values(), default=0)
            if ctx.startswith("S|") and "@" not in ctx:
                self._verb_total[ctx[2:].split(" ", 1)[0]] += self._ctx_total[ctx]
        # adjective -> nouns is stored; noun -> adjectives is what add/replace_att ask
        self._adj_of: dict[str, dict[str, int]] = defaultdict(dict)
        for ctx, fillers in self.contexts.items():
            if ctx.startswith("A|"):
                for lemma, n in fillers.items():
                    self._adj_of[lemma][ctx[2:]] = n

    # ------------------------------------------------------------------ nouns
    def count(self, lemma: str) -> int:
        return self.nouns.get(lemma.lower(), 0)

    def class_of(self, lemma: str) -> str | None:
        """Semantic class of a noun lemma (compounds by their head: "race dog" -> animal).

        vocab.json's curated classes win (so a fix there needs no recount), then the counted
        file's, then WordNet for words the corpus never had.
        """
        low = lemma.lower()
        if low in self._class_cache:
            return self._class_cache[low]
        cls = curated_class(self.vocab, low) if self.vocab is not None else None
        if cls is None:
            cls = self.classes.get(low)
            if cls is None:
                cls = self.classes.get(head_of(low))
            if cls is None and self.vocab is not None:
                cls = classify(self.vocab, self.wordnet, low)
            cls = cls or None  # "" = counted, but no class
        if cls in ("animal", "bird") and low.split(" ", 1)[0] in _TOY_MODIFIERS and " " in low:
            cls = "artifact"  # "rubber duck", "stuffed bear", "toy horse": things, not animals
        self._class_cache[low] = cls
        return cls

    def is_scene_noun(self, lemma: str) -> bool:
        return self.class_of(lemma) in SCENE_CLASSES

    def nouns_of_class(self, cls: str) -> list[tuple[str, int]]:
        """(lemma, count) of the counted nouns of a class seen at least ``MIN_CANDIDATE_COUNT``
        times, sorted by lemma: the pool replacements come from (rare words are a blind tell)."""
        return self._by_class.get(cls, [])

    # --------------------------------------------------------------- contexts
    def context_total(self, ctx: str) -> int:
        return self._ctx_total.get(ctx, 0)

    def top_count(self, ctx: str) -> int:
        """How often the context's commonest filler was counted there."""
        return self._ctx_top.get(ctx, 0)

    def fits(self, ctx: str, lemma: str, fallback_class: str | None = None, min_share: float = 0.1) -> bool:
        """Whether ``lemma`` can fill context ``ctx`` ("O|ride" takes "horse", not "sandwich").

        Seen there: yes. A word common enough that the context should have shown it at least once
        by chance, but never did: no ("riding a cat" in a corpus with 800 "O|ride"). Otherwise the
        word is too rare to tell, and its class decides: it must hold ``min_share`` of the
        context's fillers (and three of them). A context seen fewer than five times says little;
        then only ``fallback_class`` (the class of the filler the caption had) is accepted.
        """
        if self.seen(ctx, lemma):
            return True
        low = lemma.lower()
        cls = self.class_of(low)
        total = self._ctx_total.get(ctx, 0)
        if total < 5:
            return cls is not None and cls == fallback_class
        if total * max(self.count(low), self.count(head_of(low))) / self._n_mentions >= 1.0:
            return False
        n = self._ctx_class[ctx].get(cls, 0) if cls is not None else 0
        return n >= 3 and n / total >= min_share

    def predicate_total(self, word: str) -> int:
        """How often captions use ``word`` (a verb lemma or preposition) to lead a relation."""
        return self._verb_total.get(word.lower(), 0)

    def class_share(self, ctx: str, cls: str | None) -> float:
        """Fraction of the context's fillers that are of class ``cls``."""
        total = self._ctx_total.get(ctx, 0)
        return self._ctx_class[ctx].get(cls, 0) / total if total and cls is not None else 0.0

    def seen(self, ctx: str, lemma: str) -> bool:
        """``lemma`` (or its head) was counted in ``ctx``."""
        fillers = self.contexts.get(ctx)
        low = lemma.lower()
        return bool(fillers) and (fillers.get(low, 0) > 0 or fillers.get(head_of(low), 0) > 0)

    def fillers(self, ctx: str) -> Mapping[str, int]:
        return self.contexts.get(ctx, {})

    def adjectives_of(self, noun: str) -> Mapping[str, int]:
        """Adjective -> count for a noun lemma (its head when the compound was never counted)."""
        low = noun.lower()
        return self._adj_of.get(low) or self._adj_of.get(head_of(low), {})

    def adjective_fits(self, adjective: str, noun: str, min_share: float = 0.05) -> bool:
        """An adjective suits a noun: seen with it, or with enough of the noun's class."""
        return self.fits(f"A|{adjective.lower()}", noun, fallback_class=None, min_share=min_share)

    def cooccurring(self, noun: str) -> Mapping[str, int]:
        low = noun.lower()
        return self.cooccur.get(low) or self.cooccur.get(head_of(low), {})


def _read_stats() -> dict[str, Any]:
    raw = (importlib_resources.files("negforge.generators") / "data" / STATS_FILE).read_bytes()
    return json.loads(gzip.decompress(raw))


def load_lexicon(wordnet: Any = None, vocab: Mapping[str, Any] | None = None) -> Lexicon:
    """The shipped counts (``data/caption_stats.json.gz``); ``Resources.lexicon`` holds one per process."""
    data = _read_stats()
    return Lexicon(
        nouns=data["nouns"],
        classes=data["classes"],
        contexts=data["contexts"],
        cooccur=data.get("cooccur", {}),
        meta=data.get("meta", {}),
        wordnet=wordnet,
        vocab=vocab,
    )


def iter_contexts(graph: Any, joint: bool = True) -> Iterable[tuple[int, str]]:
    """(object index, context key) for every slot an object fills in a scene graph.

    ``joint`` adds the slot *with the other end named* ("S|in@mouth": what is in a mouth;
    "O|ride@man": what a man rides): one-sided slots cannot tell "a toy in his mouth" from
    "a paddle in his mouth", both are things in something.
    """
    for rel in graph.relations:
        key = predicate_key(rel.predicate)
        if not key:
            continue
        yield rel.subject, f"S|{key}"
        yield rel.object, f"O|{key}"
        if joint:
            subj = head_of(graph.objects[rel.subject].lemma.lower())
            obj = head_of(graph.objects[rel.object].lemma.lower())
            yield rel.subject, f"S|{key}@{obj}"
            yield rel.object, f"O|{key}@{subj}"
    for i, obj in enumerate(graph.objects):
        for att in obj.attributes:
            if att.text.isalpha():
                yield i, f"A|{att.lemma.lower()}"
