"""Does an edit fit its slot? Shared by every rule that puts a new word into a caption.

Three questions decide whether a negative is worth keeping (DESIGN §5.1), and all three are
answered from the parse, not from string positions:

- the slot: only real scene objects are edited (:func:`editable_object`): never part or
  quantifier nouns ("side", "kind", "group"), activities ("trick", "game"), generic nouns that
  any replacement would still describe ("person", "thing"), or proper names;
- the candidate: it must be false for the photo, so never a synonym, hypernym or hyponym
  (``Resources.lexical_relation``) and, for people, never a role the original may also have
  ("woman" -> "tourist", "boy" -> "child"): :func:`person_swap_ok`;
- plausibility: the new word must fit every slot the old one filled (:func:`noun_fits`), by the
  counts in ``lexicon.Lexicon``, so that no blind text model can reject the negative on world
  knowledge alone ("a cup holding a woman").

:func:`weighted_order` draws candidates in proportion to how often captions use them in that
slot, so replacement words are distributed like original words and carry no unigram tell.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from negforge.schemas import SceneGraph, SceneObject

from ..grammar import NUMBER_WORDS, is_plural_noun, singularize, verb_lemma_and_tag
from ..lexicon import iter_contexts
from .common import PREPOSITIONS, object_lemma, word_before

T = TypeVar("T")

#: Nouns so general that a replacement of them may still be true ("a person" -> "a woman").
GENERIC_NOUNS = frozenset(
    "person people someone somebody thing things object objects something stuff animal animals "
    "creature item items area place one ones other others individual individuals human humans body bodies "
    "figure figures adult adults spot surface closeup close-up horizon view scene distance "
    "background foreground setting location position space middle way air front top side back "
    "edge end bottom corner center midst landscape scenery outdoors nature sky picture pictures photo "
    "photos photograph image shot snapshot ground clothes clothing outfit outfits attire gear apparel "
    "equipment left right north south east west".split()  # "look to the left": a direction, no object
)
#: Nouns of a state or an image, not a thing: "a bird in (mid) flight", "a dog in action" ("next
#: to mid flight"), a shadow or a reflection.
STATE_NOUNS = frozenset(
    {"flight", "midair", "mid-air", "motion", "action", "progress", "mid flight", "shadow", "reflection", "silhouette"}
    # markings are a look, not a thing: "a white dog with black patches" -> "with black toys"
    | {"patch", "patches", "spot", "spots", "marking", "markings", "stripe", "stripes", "speckle", "freckle"}
)  # "casting a shadow" -> "casting a parking lot": a shadow is no thing to replace
#: Classes whose members are not edited as objects: a dog has no "hand", "the air" no sibling.
NON_EDITABLE_CLASSES = frozenset({"body_part", "substance"})
#: Made things: they come in any color, so a color attribute never rules them out.
COLORED_CLASSES = frozenset(
    {"clothing", "container", "ball", "toy", "sports_gear", "vehicle", "furniture", "device", "artifact",
     "structure", "instrument"}
)  # fmt: skip


_LAST_GRAPH: list = [None, None]  # (graph, index -> contexts): rules ask per candidate, graphs repeat


def object_contexts(graph: SceneGraph, index: int, joint: bool = True) -> list[str]:
    """Every slot object ``index`` fills: "S|ride", "O|sit on", "A|red", and with ``joint`` the
    slots with their other end named ("S|in@mouth").

    Computed once per graph (the last one is remembered: every candidate of a caption asks).
    """
    if _LAST_GRAPH[0] is not graph:
        by_index: dict[int, list[str]] = {}
        for i, ctx in iter_contexts(graph):
            by_index.setdefault(i, []).append(ctx)
        _LAST_GRAPH[:] = [graph, by_index]
    found = _LAST_GRAPH[1].get(index, [])
    return found if joint else [c for c in found if "@" not in c]


def editable_object(caption: str, obj: SceneObject, resources: Any) -> bool:
    """A thing in the scene that a rule may replace, swap or give an attribute."""
    if obj.count == 0 or not obj.text.replace(" ", "").replace("-", "").isalpha():
        return False
    lemma = object_lemma(obj)
    if lemma in GENERIC_NOUNS or lemma.rsplit(" ", 1)[-1] in GENERIC_NOUNS or lemma in STATE_NOUNS:
        return False
    if any(w[:1].isupper() for w in obj.text.split()[1:]) or (
        obj.start > 0 and obj.text[:1].isupper() and not capitalised_common_noun(obj, resources)
    ):
        return False  # a name ("Hello Kitty balloon", "Roman Candles")
    if obj.start > 0 and (caption[obj.start - 1] in "-'" or caption[obj.start - 1].isdigit()):
        return False  # half of a word the parser split: "4-wheeler", "t-shirt"
    if caption[obj.end : obj.end + 1] == "-" and caption[obj.end + 1 : obj.end + 2].isalpha():
        return False  # the first half: "port-o-potties" -> "city-o-potties"
    if _numbered_compound(caption, obj):
        return False  # "a two lane path": the number belongs to "lane", not to the path
    if _FIXED_BEFORE.search(caption[max(0, obj.start - 12) : obj.start]):
        return False  # "a body of water" is a lake or the sea, not water to replace
    if viewer_camera(caption, obj):
        return False  # "smiling at the camera" is the viewer: "smiling at the wheel" reads wrong
    if obj.text.lower() == "well" and (after := caption[obj.end :].split()):
        tagged = verb_lemma_and_tag(after[0].lower())
        if tagged is not None and tagged[1] == "VBN":
            return False  # "a well kept path": an adverb the tagger took for a noun
    lex = resources.lexicon
    glued = re.match(r"-([a-z]+)", caption[obj.end :], re.I)
    if glued and glued.group(1).lower() in _ADJECTIVE_MAKERS:
        return False  # "leaf-covered hills": the leaf is half of an adjective ("orange leaf-covered")
    after = caption[obj.end :].split()
    if len(after) >= 2 and after[0].lower() in _ADJECTIVE_MAKERS and after[1].lower() not in PREPOSITIONS:
        if lex.class_of(singularize(after[1].lower())) is not None:
            return False  # "a wheelchair bound person", "a snow covered field": half of an adjective
    words = obj.text.lower().split()
    if any(_verb_as_noun(w, lex, head=k == len(words) - 1, alone=len(words) == 1) for k, w in enumerate(words)):
        return False  # "a little boy chases chickens" parsed as one noun "boy chases chickens"
    if any(
        w.endswith("ing") and lex.class_of(words[k - 1]) in ("person", "animal", "bird")
        for k, w in enumerate(words[1:-1], start=1)
    ):
        return False  # "dog jumping hurdle": a doer and its doing, never one thing ("ice skating rink" is)
    if (word_before(caption, obj.start) or "").lower() == "another" and is_plural_noun(obj.text.split()[-1].lower()):
        return False  # "while another snowboards": "another" takes no plural noun, so it is a verb
    cls = lex.class_of(lemma)
    return lex.is_scene_noun(lemma) and cls not in NON_EDITABLE_CLASSES


#: How often captions must use a capitalised word's lower-case form for it to be a common noun.
COMMON_NOUN_COUNT = 20


def capitalised_common_noun(obj: SceneObject, resources: Any) -> bool:
    """A one-word thing written with a capital inside a caption that captions name often in lower
    case, of a class that holds no people: a trademark used as a common noun ("catches a
    Frisbee", "on Rollerblades"), not a name ("Obama", "a Mohawk")."""
    if " " in obj.text or not obj.text[1:].islower():
        return False
    lex = resources.lexicon
    lemma = object_lemma(obj)
    return lex.count(lemma) >= COMMON_NOUN_COUNT and lex.class_of(lemma) not in (None, "person")


#: Participles that make an adjective of the noun before them ("wheelchair bound", "snow covered").
_ADJECTIVE_MAKERS = frozenset(
    "bound covered filled shaped themed lined colored coloured topped capped clad laden sized painted "
    "soaked stained caked dusted draped dotted strewn splattered".split()
)

#: Words after which a noun is half of a fixed expression.
_FIXED_BEFORE = re.compile(r"\bbod(y|ies) of\s*$", re.I)
#: "... at the camera", "back to the camera", "behind the camera": the photographer's camera, the viewer.
_VIEWER_BEFORE = re.compile(r"\b(at|to|for|toward|towards|into|from|behind|past|away from)\s+the\s*$", re.I)


def viewer_camera(caption: str, obj: SceneObject) -> bool:
    """"looks at the camera", "back to the camera": the photographer's camera, which is no
    thing in the photo to replace or describe, only a direction."""
    return obj.text.lower() == "camera" and _VIEWER_BEFORE.search(caption[max(0, obj.start - 12) : obj.start]) is not None


def _numbered_compound(caption: str, obj: SceneObject) -> bool:
    """A singular noun right after a number above one: the number is part of a compound
    modifier ("a two lane path", "a 10 speed bike", "a three story building"), so editing the
    noun leaves "a two road"."""
    word = (word_before(caption, obj.start) or "").lower()
    if not (word in NUMBER_WORDS or word.isdigit()) or is_plural_noun(obj.text.split()[-1].lower()):
        return False
    return (word in NUMBER_WORDS and NUMBER_WORDS[word] > 1) or (word.isdigit() and int(word) > 1)


def _verb_as_noun(word: str, lex: Any, head: bool = True, alone: bool = True) -> bool:
    """A third-person verb form the tagger took for a noun ("leaps", "kneels", "climbs"), an
    -ing form as the head ("beside her writing"; "a swimming pool" is a pool), or a base form as
    a whole one-word object (``alone``: "on gather"): it is counted far more often as a
    predicate than as a noun ("waves", "slides", "building", "a jump" stay nouns)."""
    tagged = verb_lemma_and_tag(word)
    if tagged is None:
        # a base form alone ("with facepaint on gather outside"): far more often a predicate
        # than a noun ("a jump", "a swing", "a carnival ride" are things, "gather" is not)
        return alone and lex.predicate_total(word) >= 10 and lex.predicate_total(word) > 10 * lex.count(word)
    if tagged[1] not in (("VBZ", "VBG") if head else ("VBZ",)):
        return False
    lemma = tagged[0]
    noun = lex.count(lemma) if tagged[1] == "VBZ" else lex.count(word)
    return lex.predicate_total(lemma) >= 10 and lex.predicate_total(lemma) > 2 * noun


def mostly_verb(word: str, lex: Any) -> bool:
    """A one-word noun the counts know far better as a verb ("a ride", "a gather"): never drawn
    in as a thing ("with his viewfinder to his eye" -> "with his ride to his eye")."""
    return " " not in word and _verb_as_noun(word, lex)


#: A slot seen this often in the counts is well known: a filler for it must have been seen
#: there, not only be of a fitting class ("riding a camel" yes, "riding a cat" no).
ATTESTED_TOTAL = 20
#: ... unless the new noun is of the original's class and that class fills most of the slot.
DOMINANT_SHARE = 0.5


#: General nouns a relation may still hold between ("a person sitting on a bench").
_GENERIC_ENDS = frozenset("person people someone somebody man men".split())


def relation_end(caption: str, obj: SceneObject, resources: Any) -> bool:
    """An object a relation edit may keep as one of its ends: a thing of the scene, or a
    general noun of people; never a part, an activity or nothing ("no dogs")."""
    if editable_object(caption, obj, resources) or viewer_camera(caption, obj):
        return True  # "running away from the camera" -> "toward the camera"
    lemma = object_lemma(obj)
    return obj.count != 0 and lemma in _GENERIC_ENDS


def noun_fits(
    resources: Any,
    graph: SceneGraph,
    index: int,
    new_lemma: str,
    attributes: bool = True,
    joint: bool = True,
    moving: frozenset[str] = frozenset(),
    strict_joint: bool = False,
) -> bool:
    """``new_lemma`` can take object ``index``'s place in every slot it fills.

    A well-known slot (seen ``ATTESTED_TOTAL`` times) only takes nouns seen in it: "two dogs
    swimming" may become "two horses swimming", and the animal class alone does not license
    "two camels swimming". A rarer slot takes nouns whose class it holds (``Lexicon.fits``);
    a color takes any made thing. ``attributes=False`` checks relation slots only (a noun added
    beside the object does not take its adjectives); ``joint=False`` leaves out the slots that
    name the other end; ``moving`` names heads that a swap moves, whose joint slots are skipped;
    ``strict_joint``: a doer must have been seen in every joint slot it lands in (swaps, where
    the other end stays: "a child ... helps a woman in a stroller").
    """
    lex = resources.lexicon
    old_lemma = object_lemma(graph.objects[index])
    own, new_cls = lex.class_of(old_lemma), lex.class_of(new_lemma)
    person = new_cls == "person"
    role = person and person_kind(new_lemma, resources) == "role"
    doer = new_cls in ("person", "animal", "bird")
    for ctx in object_contexts(graph, index, joint=joint):
        slot, at, other = ctx.rpartition("@")
        if at and other in moving:
            if strict_joint and doer:
                # the two swapped doers trade roles: "a woman holds a baby" -> "a baby holds a
                # woman" must have been seen that way round, unless the two are alike in size
                turned = f"{slot}@{old_lemma.rsplit(' ', 1)[-1]}"
                if not lex.seen(turned, new_lemma) and not _alike(old_lemma, new_lemma, resources):
                    return False
            continue  # the other end moves too (a swap): this slot will name another noun
        if at and new_cls in ("animal", "bird") and lex.class_of(other) in _HANDLED_CLASSES:
            if not lex.cooccurring(new_lemma).get(other, 0):
                return False  # "a deer jumping for a Frisbee", "a cow trotting with a rubber duck"
        if at and ctx.startswith("O|") and new_cls in _HANDLED_CLASSES and lex.class_of(other) in ("animal", "bird"):
            if not lex.seen(ctx, new_lemma):
                return False  # what an animal catches or carries was seen so: "a dog catching a surfboard"
        if at and person and lex.class_of(other) == "clothing":
            if not _wears_it(lex, ctx, new_lemma, old_lemma):
                return False  # what one wears is not anyone's: "a man in a pink bikini", "a boy in a sari"
            continue
        if at and strict_joint and (doer or new_cls == "clothing"):
            if not lex.seen(ctx, new_lemma) or (
                is_baby(new_lemma, resources) and lex.fillers(ctx).get(new_lemma, 0) < 2
            ):  # a baby "takes a picture" once in the counts: a parse error, not a scene
                # a doer swapped into a scene it was never counted in ("a woman in a stroller"),
                # clothes onto someone never counted in them ("a man with a black dress")
                return False
            continue
        if ctx.startswith("A|"):
            if attributes and not adjective_fits(resources, ctx[2:], new_lemma):
                return False  # "green mud", "a striped lake"; made things take any color
            continue
        if lex.seen(ctx, new_lemma):
            continue
        if not at and ctx.startswith("O|") and _one_thing_slot(lex, ctx):
            return False  # "speaks into a microphone" -> "into a wheel": the slot names one thing
        if new_cls in ("animal", "bird") and not at and not moving and ctx[:2] in ("S|", "O|"):
            # animals are no one kind of thing: "a fish jumps over a hurdle", "the horse barks at
            # the mailman", "a man walks his cricket" fit the class but were never seen so (a
            # swap of two animals keeps its own, joint test: "a cat chased by a dog")
            if ctx.startswith("S|") and new_cls == own and seen_doing(resources, ctx, new_lemma, old_lemma):
                continue
            return False
        if lex.context_total(ctx) >= ATTESTED_TOTAL:
            same = new_cls == own and not role and not is_baby(new_lemma, resources)
            if same and lex.class_share(ctx, own) >= DOMINANT_SHARE and _prep_allows(lex, ctx, new_lemma):
                continue  # "a boy runs along the beach": anyone may; a role does only its own thing
            if same and seen_doing(resources, ctx, new_lemma, old_lemma):
                continue  # "a dog walking down steps" -> "a cat walking down steps": cats walk
            return False  # a well-known slot that never held it: "riding a cat"
        if not lex.fits(ctx, new_lemma, fallback_class=own):
            return False
        prep = _slot_preposition(ctx)
        if not at and prep is not None and not after_preposition(lex, prep, new_lemma, old_lemma):
            return False  # a rare slot backs off to its preposition: "weaves through green books"
    return True


#: A new noun after a preposition must follow it at least this share of the old noun's rate,
#: and at least this often.
PREPOSITION_RATE, PREPOSITION_MIN = 0.25, 2


def _slot_preposition(ctx: str) -> str | None:
    """The preposition of an object slot ("O|weave through" -> "through"), None for others."""
    if not ctx.startswith("O|") or "@" in ctx:
        return None
    words = ctx[2:].split()
    return place_preposition(words[-1]) if len(words) > 1 else None


def place_preposition(word: str | None) -> str | None:
    """``word`` when it is a preposition of place ("in", "through"), None otherwise ("by")."""
    return word if word in PREPOSITIONS and word not in NON_PLACE_PREPOSITIONS else None


#: Prepositions that name no place: an agent ("chased by"), a part, a tool, a goal.
NON_PLACE_PREPOSITIONS = frozenset({"by", "of", "with", "for", "to", "as", "from", "like", "without", "during", "about", "via"})


def after_preposition(lex: Any, prep: str, new: str, old: str) -> bool:
    """``new`` follows ``prep`` in captions (counted "O|in") at a fair share of the rate ``old``
    does, each rate relative to how often the noun is named: "in a church" (2 of 15) may become
    "in a house" (11 of 106), never "in a bench" (1 of 261); the slot is rare, so the bare
    preposition is the evidence there is."""
    fillers = lex.fillers(f"O|{prep}")

    def rate(noun: str) -> float:
        return fillers.get(noun, 0) / max(lex.count(noun), 1)

    return fillers.get(new, 0) >= PREPOSITION_MIN and rate(new) >= PREPOSITION_RATE * rate(old)


#: A slot is one thing's when its commonest filler holds this share of at least five counts.
ONE_THING_SHARE = 0.6


def _one_thing_slot(lex: Any, ctx: str) -> bool:
    """"O|speak into" is a microphone's, "O|talk on" a phone's: no class share licenses
    another noun there, only counts do."""
    total = lex.context_total(ctx)
    if total < 5:
        return False
    return lex.top_count(ctx) >= ONE_THING_SHARE * total


def _prep_allows(lex: Any, ctx: str, new: str) -> bool:
    """An object slot with a preposition ("O|sit at") takes a noun of the dominant class only
    if the preposition alone was seen with it: one sits "at" a table, never "at" a chair."""
    if not ctx.startswith("O|"):
        return True
    words = ctx[2:].split()
    preps = [w for w in words[1:] if w in PREPOSITIONS]
    if not preps:
        return True
    bare = f"O|{' '.join(words[words.index(preps[0]):])}"
    return lex.context_total(bare) < ATTESTED_TOTAL or lex.seen(bare, new)


def seen_doing(resources: Any, ctx: str, new: str, old: str) -> bool:
    """A doer's slot with a particle or preposition ("S|walk down") backs off to its verb.

    The counts of a caption corpus hold few doers besides people and dogs, so a cat is rarely
    seen walking down anything. ``new`` may take the slot when it was seen doing the bare verb
    ("S|walk"), or when the verb is one that ``verb_subjects`` (vocab.json) grants to a COCO
    group that ``new`` shares with ``old`` ("a dog walking down steps" -> "a cat ..."; never
    "a fish walks", and a dog never becomes a horse on a bed). Objects never back off: "riding a
    horse" never becomes "riding a cat".
    """
    if not ctx.startswith("S|") or "@" in ctx:
        return False
    verb = ctx[2:].split(" ", 1)[0]
    if verb in PREPOSITIONS:
        return False
    if " " in ctx and resources.lexicon.seen(f"S|{verb}", new):
        return True
    allowed = resources.vocab["verb_subjects"].get(verb)
    if not allowed:
        return False
    shared = set(resources.groups_of_noun(new)) & set(resources.groups_of_noun(old))
    return bool(shared & set(allowed))


#: Things an animal plays with, carries or meets: a new animal must have been named in one
#: caption with the thing at least once (grounds and water are anyone's: "a cat on the grass").
_HANDLED_CLASSES = frozenset({"sports_gear", "artifact", "device", "container", "animal", "bird"})

#: A person takes another's clothes only if captions put them in those clothes at least this
#: often, relative to how often each is mentioned ("a man in a dress" is counted, rarely).
WEAR_RATE = 0.5


def _wears_it(lex: Any, ctx: str, new: str, old: str) -> bool:
    """``new`` is in clothing slot ``ctx`` ("S|in@dress") about as often as ``old`` is."""
    seen_new = lex.fillers(ctx).get(new, 0)
    if not seen_new:
        return False
    rate_new = seen_new / max(lex.count(new), 1)
    rate_old = lex.fillers(ctx).get(old, 0) / max(lex.count(old), 1)
    return rate_new >= WEAR_RATE * rate_old


def is_baby(lemma: str, resources: Any) -> bool:
    """Babies and toddlers do few of the things people do: they must have been seen doing it
    ("a baby drives a truck")."""
    entry = resources.vocab["person_nouns"].get(lemma)
    return isinstance(entry, dict) and entry["age"] == "baby"


def _alike(a: str, b: str, resources: Any) -> bool:
    """Two people of one age (vocab ``person_nouns``), two roles, or two animals of one group:
    either may do to the other what the other did ("a girl pushes a boy" -> "a boy pushes a
    girl"); a sheep does not herd a dog, a baby does not hold a woman."""
    table = resources.vocab["person_nouns"]
    lex = resources.lexicon
    if lex.class_of(a) != "person" or lex.class_of(b) != "person":
        # animals of one COCO group: "a dog chasing a cat" -> "a cat chasing a dog"
        return bool(set(resources.groups_of_noun(a)) & set(resources.groups_of_noun(b)))
    ta, tb = table.get(a), table.get(b)
    if ta is None or tb is None:
        return ta is None and tb is None  # "a coach speaking to a player"
    return ta["age"] == tb["age"] and ta["age"] != "any"


def is_verb_context(ctx: str) -> bool:
    """A subject or object slot of a verb ("S|ride", "O|sit on"), not of a bare preposition."""
    if ctx.startswith("A|"):
        return False
    first = ctx[2:].split("@", 1)[0].split(" ", 1)[0]
    return first not in PREPOSITIONS  # predicates lead with a verb or a preposition


#: Ages whose border is fuzzy: a noun of either may name the same person.
_ADJACENT_AGES = frozenset(
    {frozenset({"baby", "child"}), frozenset({"child", "teen"}), frozenset({"teen", "adult"})}
)


def person_swap_ok(old: str, new: str, resources: Any) -> bool:
    """For nouns of people: whether ``new`` is clearly not ``old``.

    Nouns that say who someone is (``person_nouns`` in vocab.json: gender and age) replace each
    other only when gender or age differ ("man" -> "woman", "boy" -> "man"), and never across
    the ambiguous pair woman/girl ("girl" names young women too). A role ("skier", "tourist",
    "player") says what someone does, so it never replaces or is replaced by an identity noun:
    "a woman" may well be the tourist.
    """
    table = resources.vocab["person_nouns"]
    a, b = table.get(old), table.get(new)
    if a is None or b is None:
        return a is None and b is None  # role <-> role: the slot fit decides
    if frozenset({a["gender"], b["gender"]}) == frozenset({"f"}) and {a["age"], b["age"]} == {
        "adult",
        "child",
    }:
        return False  # "woman" <-> "girl"
    if "any" in (a["gender"], b["gender"]) and frozenset({a["age"], b["age"]}) in _ADJACENT_AGES:
        return False  # "girl" -> "toddler", "boy" -> "teenager": a toddler may be the girl
    gender = a["gender"] != "any" and b["gender"] != "any" and a["gender"] != b["gender"]
    age = a["age"] != "any" and b["age"] != "any" and a["age"] != b["age"]
    return gender or age


def adjective_fits(resources: Any, adjective: str, noun: str) -> bool:
    """``adjective`` suits ``noun``: seen on it in captions, or a color on a made thing, or (for
    an adjective too rare to judge by word) common enough on the noun's class."""
    lex = resources.lexicon
    ctx = f"A|{adjective.lower()}"
    is_color = adjective.lower() in resources.vocab["adjective_groups"]["color"]
    hair = resources.vocab["hair_colors"]
    if noun.rsplit(" ", 1)[-1] in hair["nouns"] and (is_color or adjective.lower() in hair["colors"]):
        return adjective.lower() in hair["colors"]  # "red hair", never "pink hair" or "green hair"
    cls = lex.class_of(noun)
    if is_color and cls == "person":
        return False  # "a black man" is not a color of clothing to swap or add
    if is_color and cls in ("animal", "bird"):
        # animals come in few colors: "a red dog" was counted a few times, it is still a tell
        colors = lex.adjectives_of(noun)
        total = sum(colors.get(c, 0) for c in resources.vocab["adjective_groups"]["color"])
        return colors.get(adjective.lower(), 0) >= max(3, 0.03 * total)
    if lex.seen(ctx, noun):
        return True
    if is_color and lex.class_of(noun) in COLORED_CLASSES:
        return True
    if lex.context_total(ctx) >= ATTESTED_TOTAL:
        return False
    return lex.fits(ctx, noun, fallback_class=None, min_share=0.05)


#: Kinds of thing that can trade places in a scene: living doers, made things, grounds and places.
_KINDS = (
    frozenset({"person", "animal", "bird"}),
    COLORED_CLASSES | {"food", "plant"},
    frozenset({"ground", "water", "way", "place", "landform", "structure"}),
)


def same_kind(a: str, b: str, resources: Any) -> bool:
    """Two nouns of one kind (doers, made things, places): a swap between kinds reads as
    nonsense ("a rock jumping in a person", "a bikini in a girl")."""
    lex = resources.lexicon
    ca, cb = lex.class_of(a), lex.class_of(b)
    if ca is None or cb is None:
        return False
    return ca == cb or any(ca in kind and cb in kind for kind in _KINDS)


def may_be_one_person(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """Two vocab ``person_nouns`` entries whose nouns may name one person (or one of a group):
    ages and genders that fit both ("boy" and "child", "kids" and "boys", "teenagers" and
    "girls"; never "men" and "woman"). A missing age fits only "any", a missing gender any."""
    ages = {a.get("age"), b.get("age")}
    genders = {a.get("gender", "any"), b.get("gender", "any")}
    same_age = len(ages) == 1 or "any" in ages or ages == {"child", "teen"}
    return same_age and (len(genders) == 1 or "any" in genders)


def person_kind(lemma: str, resources: Any) -> str:
    """ "identity" (man, girl: vocab ``person_nouns``), "role" (skier, chef: ``role_nouns``) or
    "other" (friend, tourist, spectator: true of anyone, never edited)."""
    if lemma in resources.vocab["person_nouns"]:
        return "identity"
    roles = resources._cache.get(("role_nouns",))
    if roles is None:
        roles = resources._cache[("role_nouns",)] = frozenset(resources.vocab["role_nouns"]["nouns"])
    return "role" if lemma in roles else "other"


def gender_change(old: str, new: str, resources: Any) -> str | None:
    """ "f" or "m" when a person noun changes gender ("man" -> "woman": "f"), else None."""
    table = resources.vocab["person_nouns"]
    a, b = table.get(old), table.get(new)
    if a is None or b is None or a["gender"] == b["gender"] or b["gender"] == "any":
        return None
    return b["gender"]


def weighted_order(rng: random.Random, items: Sequence[tuple[T, float]]) -> list[T]:
    """Items in a seeded random order where heavier items tend to come first.

    Efraimidis–Spirakis keys (u ** (1 / w)): taking the first k is weighted sampling without
    replacement. ``items`` must be in a deterministic order (sorted by the caller).
    """
    keyed = [(rng.random() ** (1.0 / w), k) for k, (_, w) in enumerate(items) if w > 0]
    keyed.sort(reverse=True)
    return [items[k][0] for _, k in keyed]


_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def caption_words(caption: str) -> frozenset[str]:
    """Lower-cased words of the caption: a candidate already in it is no change of scene."""
    return frozenset(w.lower() for w in _WORD.findall(caption))
