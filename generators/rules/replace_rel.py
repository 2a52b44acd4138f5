"""replace_rel: a relation changes ("riding a horse" → "feeding a horse", "on a bench" → "under a bench").

A relation is a verb ("riding"), a verb with its preposition ("sitting on") or a preposition
("next to") between two objects of the scene graph. Two kinds of edit:

- **the verb** becomes another verb that the same subject does to the same object in real
  captions (``lexicon``: the subject was seen in "S|feed" and the horse in "O|feed", or their
  classes are common there), with the same preposition ("sitting on" → "standing on"). It must
  be false for the photo, so never a WordNet synonym, hypernym or hyponym of the original, nor
  a verb of the same everyday sense (vocab ``verb_compatible``: "using" ↔ "holding",
  "looking at" ↔ "watching"). Verbs are drawn in proportion to how often captions use them
  there, so new verbs are distributed like original ones.
- **a spatial preposition** becomes its opposite or another of its group ("on" → "under",
  "in front of" → "behind") only where the preposition is spatial: after a posture or motion
  verb or directly after a noun, never a verb's own complement ("filled with", "playing with",
  "looking at", "dressed in") or a fixed phrase ("in costume", "on top of" a part); and only when
  the new relation is one captions make between such things ("a dog digs under the sand" is not).
  After a posture, after a verb done anywhere ("playing", "running") or right after the noun,
  "in"/"on" a thing one may as well be beside becomes "next to"/"beside" ("two boys playing in
  a lake" → "playing next to a lake"; never grounds: "next to the snow").
- **a verb with a directed complement** ("carrying a ball through the grass", "ride their
  bikes down a road") becomes only a verb that moves the thing along too ("chasing a ball",
  "walk their bikes"); any other reads wrong ("holding a ball through the grass").
- **a worn garment is held** instead ("wearing a gray jacket" / "in a gray jacket" → "holding
  a gray jacket"): only people, only garments one plausibly holds, never one of a list.

What follows the object may bind the verb: an instrument, a prevented motion or a manner ("hit a
ball *with their sticks*", "stopping a ball *from going*", "headfirst") keeps it; a recipient
("kicks a ball *to his father*") takes only verbs that send; a thing in the mouth only what
mouths do; pouring verbs ("dumps water on a girl") are never replaced.

Verb forms follow the original (lemminflect; a participle form with no auxiliary before it is
the active past: "missed the ball" -> "bit the ball"); casing is kept.
"""

from __future__ import annotations

import random
import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from negforge.schemas import Negative, SceneGraph, SceneObject

from ..grammar import apply_edit, inflect_verb, match_case, verb_lemma_and_tag
from ..lexicon import AGENT_CLASSES, predicate_key
from ..registry import register
from .common import (
    BARE_PLACES,
    MAX_NEGATIVES,
    PREPOSITIONS,
    Candidate,
    bare_singular,
    compatible_words,
    finish,
    is_plural,
    object_lemma,
)
from .fit import relation_end, weighted_order

NAME, VERSION = (
    "replace_rel",
    11,
)  # 4: free front/behind, on/in -> next to; 5: no put/place without a place, no "riding" for sports, infinitives; 6: bare infinitives ("watching a man do"), more verbs of one sense (aim/hold, climb/hike, cross/walk, navigate/drive, strike/return); 7: worn garments held ("wearing a jacket" -> "holding a jacket"), beside for what is done anywhere ("playing in a lake" -> "next to a lake"), a directed complement keeps verbs that move the thing along ("ride their bikes down a road" -> "walk their bikes"); 8: verbs of one sense also catch/hold, walk/hold (a leash), stand/lean (against), catch/chase, ride/fight (the rapids); no worn garment held where something is held already, no preposition edit where the caption puts someone inside a vehicle ("sits next to a car behind the steering wheel"), "feed" is a base form (never "to chased"), more verbs of one sense (drive/race, ride/race, catch/fetch/retrieve, carry/fetch/return, crowd/ride), "attempt" is vague, pouring verbs ("dumps water on a girl") are never replaced, a thing in the mouth takes only what mouths do, a recipient ("kicks a ball to his father") only verbs that send, an instrument/prevention/manner after the object ("hit a ball with their sticks", "stopping a ball from going", "headfirst") keeps the verb, a mostly intransitive verb takes an object only seen as a fair share of its objects ("leaping to run an orange ball"); verbs of one sense also soak/sit, soak/lie, eat/hold, ride/stand, ride/sit, grind/ride, carry/wear; a participle form with no auxiliary is the active past ("missed the ball" -> "bit", never "bitten"); "in its mouth" does not hide a directed complement; 9: a verb with only a place after it never becomes one the caption already says ("stands smiling and standing"), no verb after a body part's state ("her eyes closed"), nothing ridden after walking/standing ("walking on the beach riding a surfboard"), perform is compatible with stand/sit/dance/sing/walk/jump/ride/pose, after "be" with no agent only state participles ("are gathered" never "are stood"), a posture becomes only another posture or a motion ("sits with a boy" never "smiles with"), catch/ride/surf and slide/sled are compatible, no state noun is an end ("in mid flight"), surround is a group's verb, a thing in someone's hands takes only hand verbs ("watching a camera in her hands"), hold/swing (a bat) and romp/bound/run/play are verbs of one sense, so are retrieve/hold and fetch/hold and pose/smile, leap/dive and jump/dive; a ride whose vehicle the caption names after it is kept ("riding down a hill on tricycles"), "surrounded by" and "lined with" are fixed; 10: "inside"/"outside" only around what encloses ("sits in a chair" never "outside a chair"), "wearing a mask on her mouth" never "holding", "in bed" keeps its preposition (never "beside bed"), smile/look and dunk/hold are verbs of one sense, selling becomes only buying, "dressed in" and "shown"/"pictured" are never replaced ("posed in a red bikini", "skiers sat on a mountain"), operate/hold and ride/jump (a horse) are one sense ("smiles into the camera" -> "looks into"); 11: no verb the caption already says elsewhere ("watches the ball he hit" never "hits"), a bare infinitive after a short relative clause ("the ball he hit go flying"), overlook/watch, fetch/chase/grab/bite, read/carry and walk/follow are one sense, "face", "smile", "laugh" are never the drawn verb (one faces what one climbs or holds, smiles while skateboarding), a base form that is no past ("two dogs run") keeps the present, seen once after a preposition counts no less than never ("runs across the lawn" -> "walks across"), a posture or sleep on a seat becomes only another posture ("walking in the driver's seat", "hikes in her seat"), nothing is under a ground ("running under the beach"), a thing's verb is its state and stays ("benches that overlook the water" never "drink")
GENERATOR = f"rule:{NAME}@{VERSION}"
PER_RELATION = 2
MIN_PREDICATE_COUNT = 5  # a replacement verb must have been seen this often with its preposition
OPTIONS_CACHE = 20_000  # (predicate, subject, object) triples whose verb options are kept
MIN_EVIDENCE = 2  # ... and with the object this often (one parse error is not a preference)
#: A mostly intransitive verb's object must also be a fair share of what it takes
#: (``MIN_SHARE``), up to ``MIN_SHARE_EVIDENCE`` sightings: "run" takes a race; twice "a ball"
#: is a parse of "run with".
MIN_SHARE, MIN_SHARE_EVIDENCE = 0.1, 3
#: Verbs that rarely take an object: the share test above is theirs.
_MOSTLY_INTRANSITIVE = frozenset({"run", "swim", "dance", "sit", "stand", "lie", "lay", "sleep", "fall", "smile", "laugh"})
#: Verbs whose meaning is their object's ("taking a picture", "doing a trick", "making a face"):
#: another verb breaks the idiom ("dragging a picture").
LIGHT_VERBS = frozenset({"take", "do", "make", "have", "get", "give", "go", "let", "be"})
#: What follows a transitive verb's object and belongs to that verb: an instrument ("hit a ball
#: *with their sticks*"), a prevented motion ("stopping a ball *from going*"), a manner
#: ("entering the water *headfirst*"), an opponent ("advance the ball *against* a tackler").
_BOUND_COMPLEMENT = re.compile(
    r"\s+(with\s+(his|her|their|its|a|an|the|one|two|both)\b|from\s+\w+ing\b|headfirst|head first|against\b|"
    r"to\s+(him|her|them|each other|one another)\b)",
    re.I,
)
_DIRECTED = re.compile(r"\s+(into|onto|out of|off|across|through|over|up|down|away)\b", re.I)
_BASE_FORM_BEFORE = frozenset("to do does did can could will would may might must should".split())
_PARTICIPLE_BEFORE = frozenset("has have had been being is are was were be get gets got".split())


def _word_before(caption: str, start: int) -> str:
    """The word right before ``start``, lower case ("" at the start)."""
    prev = re.search(r"([A-Za-z']+)\s*$", caption[:start])
    return prev.group(1).lower() if prev else ""


def verb_tag_in_context(
    caption: str, start: int, word: str, tag: str, plural_subject: bool, by_agent: bool = False
) -> str:
    """The Penn tag of a verb form in its caption. A form whose base, past and participle coincide
    ("hit", "put", "run"): "to hit" is VB, "has hit" VBN, "two men hit" VBP, "a man hit" VBD. A
    participle form with no auxiliary before it and no agent ("chased by") is the active past ("a
    batter *missed* the ball": VBD, so never "bitten the ball"). Other forms keep lemminflect's tag."""
    prev_word = _word_before(caption, start)
    lemma_form = verb_lemma_and_tag(word)
    if lemma_form is None or lemma_form[0] != word.lower():
        return "VBD" if tag == "VBN" and not by_agent and prev_word not in _PARTICIPLE_BEFORE else tag
    if prev_word in _BASE_FORM_BEFORE:
        return "VB"
    if prev_word in _PARTICIPLE_BEFORE:
        return "VBN"
    if not plural_subject and inflect_verb(lemma_form[0], "VBD") != word.lower():
        return "VBP"  # "a black dog and a grey dog *run*": never a past ("ran"), so the subject is a list
    return "VBP" if plural_subject else "VBD"


#: Verbs after which a preposition is spatial and may change ("sitting on" -> "sitting under").
SPATIAL_VERB_GROUPS = ("posture", "locomotion")


@lru_cache(maxsize=65536)
def verb_form(word: str) -> tuple[str, str] | None:
    """(lemma, Penn tag) of a verb form, the plain present included: "two people *sit* on a
    bench", "kids *play* in water" (VBP), which ``verb_lemma_and_tag`` does not list, so plural
    subjects' relations were never edited."""
    tagged = verb_lemma_and_tag(word)
    if tagged is not None:
        return tagged
    low = word.lower()
    if low in PREPOSITIONS:
        return None
    from lemminflect import getAllInflections

    return (low, "VBP") if low in getAllInflections(low, upos="VERB").get("VBP", ()) else None


def _split_predicate(predicate: str) -> tuple[str | None, str]:
    """(verb or None, preposition part) of a predicate: "sitting on" -> ("sitting", "on")."""
    first, _, rest = predicate.partition(" ")
    tagged = verb_form(first)
    if tagged is not None and first.lower() not in ("left", "right", "close", "near", "behind", "like"):
        return first, rest
    return None, predicate


def _governs_infinitive(after_object: str, lex: Any) -> bool:
    """Whether the object is followed by "to" + a verb ("a dog to stand"), not "to" + a place
    ("to shore"), or by a bare verb ("watching a man *do* a pose"): the word is one captions use
    as a predicate far more than as a noun."""
    m = (
        _INFINITIVE_AFTER.match(after_object)
        or _CLAUSE_THEN_BARE.match(after_object)
        or _BARE_INFINITIVE_AFTER.match(after_object)
    )
    if m is None:
        return False
    word = m.group(1).lower()
    if m.re is not _INFINITIVE_AFTER:
        tagged = verb_lemma_and_tag(word)
        if word in PREPOSITIONS or word in _NOT_VERBS or (tagged is not None and tagged[0] != word):
            return False  # only a base form right after the object: "watching a man do a pose"
    return lex.predicate_total(word) >= 5 and lex.predicate_total(word) > lex.count(word)


def _compatible_verbs(lemma: str, resources: Any) -> frozenset[str]:
    """Verbs of the same everyday sense as ``lemma`` (vocab ``verb_compatible``), itself included."""
    return compatible_words("verb_compatible", lemma, resources) | {lemma}


def _argument_fits(lex: Any, ctx: str, lemma: str, own_class: str | None) -> tuple[bool, int]:
    """(fits, evidence count) of an argument noun in a predicate's slot.

    Seen there: fits, with its count as evidence. Otherwise ``Lexicon.fits`` decides (a common
    word never seen there does not fit: "dressing a tennis racket"; a rare one by its class),
    with no evidence.
    """
    seen = lex.fillers(ctx).get(lemma, 0) or lex.fillers(ctx).get(lemma.rsplit(" ", 1)[-1], 0)
    if seen:
        return True, seen
    return lex.fits(ctx, lemma, fallback_class=own_class, min_share=0.2), 0


#: Verbs that cover many others: "playing" may be jumping, "using" a ramp may be jumping it.
VAGUE_VERBS = frozenset({"play", "use", "go", "move", "enjoy", "spend", "try", "attempt", "come"})
#: Verbs whose prepositional use captions make in the passive ("covered in mud").
PASSIVE_VERBS = frozenset(
    {
        "cover",
        "dress",
        "fill",
        "surround",
        "coat",
        "paint",
        "decorate",
        "soak",
        "drench",
        "clothe",
        "clad",
        "load",
        "line",
        "pile",
        "stack",
        "crowd",
        "pack",
    }
)
#: Verbs that need a destination a transitive caption does not have: "wearing black shoes"
#: -> "putting black shoes", "holding his baby" -> "placing his baby".
DESTINATION_VERBS = frozenset({"put", "place", "set", "lay", "position", "stick"})
#: A verb that covers others: one "rides" a snowboard, a bike or a wave, so "snowboarding down
#: an incline" -> "riding down an incline" may still be true (and the converse).
_COVERING = {
    "ride": frozenset(
        {
            "snowboard", "skateboard", "ski", "surf", "sled", "skate", "bike", "cycle", "bicycle",
            "wakeboard", "motorcycle", "kayak", "canoe", "raft", "sail", "drive", "paddle", "row",
        }
    )
}  # fmt: skip
#: "encouraging a dog to stand", "teaching a boy to swim": the verb governs the infinitive.
_INFINITIVE_AFTER = re.compile(r"\s+to\s+([a-z]+)", re.I)
_NOT_VERBS = frozenset({"and", "or", "while", "as", "with", "a", "an", "the", "his", "her", "their", "its", "that", "who"})
#: "watching another man do a pose", "helping a girl climb": a bare infinitive after the object.
_BARE_INFINITIVE_AFTER = re.compile(r"\s+([a-z]+)\b")
#: "watches the tennis ball he hit *go* flying": the bare infinitive after a short relative clause.
_CLAUSE_THEN_BARE = re.compile(r"\s+(?:that\s+|which\s+)?(?:he|she|they|it|we|i|you)\s+[a-z]+\s+([a-z]+)\b", re.I)
#: Verbs whose preposition is where the eyes go, not where the doer is ("looking over a
#: balcony", "staring into the distance"): another verb moves the doer there.
_GAZE_VERBS = frozenset({"look", "stare", "gaze", "peer", "peek", "glance", "squint"})
#: Verbs only several doers do together.
COLLECTIVE_VERBS = frozenset(
    {"gather", "huddle", "crowd", "congregate", "meet", "assemble", "cluster", "converge", "surround", "encircle"}
)
#: Postures a person or an animal takes on, in, at or by things: one excludes the others.
_POSTURES = frozenset({"sit", "stand", "lie", "lay", "kneel", "crouch"})
#: What one does in a place as well as beside it: "two boys playing in a lake" -> "playing next
#: to a lake", "a dog runs in the water" -> "runs beside the water" (never "swimming beside").
_ANYWHERE_VERBS = _POSTURES | frozenset({"play", "run", "walk", "jump", "dance", "wait", "rest", "pose", "hide"})
#: Worn clothes may be held instead: "a boy wearing a gray jacket" -> "holding a gray jacket"
#: (SugarCrepe's own kind of edit); counted evidence is thin ("hold hat" a few times). Only what
#: one plausibly holds in a photo: outer layers and accessories, not "holding black shorts" nor
#: a shirt mid-activity ("a boy holding a black shirt is climbing").
_HELD, _HELD_WEIGHT = "hold", 2.0
_HELD_GARMENTS = frozenset(
    """jacket coat hat cap helmet sweater sweatshirt hoodie vest scarf glove mitten shoe sneaker
    boot sandal sunglasses sunglass glasses glass goggles goggle mask poncho cape wig crown bandana
    windbreaker parka raincoat beanie""".split()
)
#: Verbs that move their object along with the doer: "carrying a ball through the grass" ->
#: "chasing a ball through the grass", "ride their bikes down a road" -> "push their bikes". A
#: directed complement ("through", "down", "across") reads with these, and with no other verb
#: ("holding a ball through the grass", "throws a boy into the pool" -> "hugs a boy into").
_ALONG_VERBS: dict[str, frozenset[str]] = {
    "ride": frozenset({"walk", "push", "lead"}),  # "walk their bikes", "lead their horses"
    "carry": frozenset({"drag", "chase"}),
    "chase": frozenset({"carry"}),  # "following" the dog may be chasing it
    "walk": frozenset({"chase", "carry"}),  # "walking a dog": "leading" or "following" may be it
    "lead": frozenset({"chase", "ride"}),
    "follow": frozenset({"lead", "chase"}),
    "pull": frozenset({"push", "ride"}),
    "push": frozenset({"pull", "ride", "carry"}),
    "drag": frozenset({"carry", "push"}),
    "kick": frozenset({"carry", "chase"}),
}
#: What one chases along: moving things ("chasing a ball", never "chasing bags down a street").
_CHASED = frozenset({"animal", "bird", "ball", "sports_gear"})
#: "wearing a white shirt and blue jeans": held, the list would be held too ("holding ... jeans").
_LIST_AFTER = re.compile(r"\s*(,|and\b|&)", re.I)
#: Verbs of letting something land somewhere ("dumps water on a girl"): never replaced.
_POURS = frozenset({"dump", "pour", "spill", "splash", "spray", "throw", "toss", "drop", "sprinkle", "squirt"})
#: A recipient after the object ("kicks a ball to his father"): only a verb that sends it reads.
_TO_SOMEONE = re.compile(r"\s+to\s+(his|her|their|its|a|an|the|another|each)\b", re.I)
_TRANSFERS = frozenset({"throw", "kick", "pass", "hand", "toss", "give", "roll", "hit", "bring", "carry", "show", "serve", "pitch"})
#: What a mouth does with a thing ("a stick in its mouth").
_IN_MOUTH = re.compile(r"\s+in\s+(its|his|her|their|the)\s+mouths?\b", re.I)
_MOUTH_VERBS = frozenset({"carry", "hold", "catch", "fetch", "chew", "bite", "drop", "grab", "retrieve", "shake", "eat", "lick"})
#: What no one does while sitting, standing or lying: another posture, or moving about.
_EXCLUSIVE_OF_POSTURE = frozenset(
    {"sit", "stand", "lie", "lay", "kneel", "crouch", "squat", "sleep", "walk", "run", "jump", "ride", "swim",
     "climb", "dance", "crawl", "roll", "slide", "hop", "bounce"}
)  # fmt: skip
#: Things whose verb says where they are, not a doing ("benches that overlook the water", "a
#: wall covered in graffiti"); a garment or a ball as the parse's doer is the wearer's or the
#: thrower's verb, and stays editable.
_STILL_THINGS = frozenset({"furniture", "structure", "place", "ground", "landform", "way", "plant"})
#: Verbs true alongside nearly any doing toward a thing: never drawn as the false one.
_TRUE_OF_ANY_DOING = frozenset({"face", "smile", "laugh", "grin"})
#: Seats: one sits, lies or kneels on them, never walks or jumps in them.
_SEATS = frozenset(
    {"seat", "chair", "couch", "sofa", "bench", "lap", "stool", "armchair", "recliner", "wheelchair", "highchair",
     "saddle", "hammock", "bed", "beanbag"}
)  # fmt: skip
#: "are gathered", "is seated": a participle after "be" (or "get") with no agent is a state.
_BE_BEFORE = _PARTICIPLE_BEFORE - {"has", "have", "had"}
_STATE_PARTICIPLES = frozenset(
    {"gather", "seat", "crowd", "huddle", "line", "surround", "cover", "park", "dress", "pile", "stack",
     "bundle", "tie", "strap", "chain", "perch", "station", "position", "squeeze", "pack"}
)  # fmt: skip
#: A doer on its feet or seated before the verb ("walking on the beach carrying a surfboard").
_ON_FOOT = re.compile(r"\b(walk|walks|walking|stand|stands|standing|sit|sits|sitting|run|runs|running)\b", re.I)
_RIDES = frozenset({"ride", "surf", "skate", "ski", "drive", "pedal", "paddle", "sail", "row"})
#: What one rides, named after the verb: the riding is said twice ("riding down a hill on tricycles").
_ON_VEHICLE = re.compile(
    r"\bon\s+(?:(?:a|an|the|his|her|their|its|two|three|four)\s+)?(?:\w+\s+)?"
    r"(bikes?|bicycles?|tricycles?|motorcycles?|scooters?|skateboards?|horses?|ponies|pony|sleds?|skis|snowboards?|surfboards?)\b",
    re.I,
)
#: What hands do with a thing ("holding a camera in her hands"): looking at it is still true.
_TRADES = frozenset({"sell", "buy"})
#: Participles that say a photo shows someone: "shown", "pictured", "seen".
_SHOWN = frozenset({"shown", "pictured", "seen", "depicted"})
#: Where on the body a worn thing sits ("a mask on her mouth", "goggles over his eyes").
_ON_BODY = re.compile(r"\s+(on|over|around|across)\s+(his|her|their|its)\s+\w+", re.I)
_IN_HANDS = re.compile(r"\s+in\s+(his|her|their|its|the|both|one)\s+(\w+\s+)?hands?\b", re.I)
_HAND_VERBS = frozenset({"throw", "toss", "drop", "catch", "grab", "swing", "wave", "shake", "squeeze", "pass", "carry"})
#: A caption that holds something already: a second "holding" reads as a stammer.
_HOLDS = re.compile(r"\bhold(s|ing)?\b", re.I)


def verb_options(
    key: str,
    subj: str,
    obj: str,
    resources: Any,
    by_agent: bool = False,
    plural_doer: bool = True,
    relaxed: bool = False,
) -> list[tuple[str, float]]:
    """(new verb lemma, weight) for predicate ``key`` ("ride", "sit on") between ``subj`` and ``obj``.

    A candidate predicate keeps the preposition part and must be counted at least
    ``MIN_PREDICATE_COUNT`` times; both arguments must fit it, and one of them by word (not
    only by class). ``by_agent``: a passive "chased by": the subject is the verb's object.
    ``relaxed``: the arguments need only fit (by class): the wider list an LLM chooses from
    (``llm_fill``), where the rule alone would not dare.
    """
    lru = resources._cache.setdefault(("replace_rel.options",), OrderedDict())
    memo = (key, subj, obj, by_agent, plural_doer, relaxed)  # captions repeat their relations: "man riding horse"
    if memo in lru:
        lru.move_to_end(memo)
        return lru[memo]
    lex = resources.lexicon
    verb, _, tail = key.partition(" ")
    avoid = _compatible_verbs(verb, resources)
    doer, done = (obj, subj) if by_agent else (subj, obj)
    out: list[tuple[str, float]] = []
    backoff = bool(tail) and lex.seen(f"O|{tail}", done)
    posture = _POSTURES if verb in _POSTURES and tail and lex.class_of(doer) in AGENT_CLASSES else frozenset()
    for cand_key in resources._cache.get(("replace_rel.keys", tail)) or _predicate_keys(tail, resources):
        cand_verb = cand_key.split(" ", 1)[0]
        if cand_verb in avoid or cand_key == key or cand_verb in LIGHT_VERBS or cand_verb in VAGUE_VERBS:
            continue
        if cand_verb in COLLECTIVE_VERBS and not plural_doer:
            continue  # "a man gathers on a bench"
        if cand_verb in DESTINATION_VERBS and not tail:
            continue  # "putting black shoes": where to?
        if cand_verb in _COVERING.get(verb, ()) or verb in _COVERING.get(cand_verb, ()):
            continue  # "snowboarding" -> "riding": one rides a snowboard
        if cand_verb in PASSIVE_VERBS and tail:
            continue  # counted from "covered in", "dressed in": never "is covering in the grass"
        ok_o, ev_o = _argument_fits(lex, f"O|{cand_key}", done, lex.class_of(done))
        if cand_verb in posture:
            # "children stand on a pedestal" -> "sit on a pedestal": a doer takes any posture on
            # what it can be on; the doer's evidence stands in for a rarely counted object
            ok_s, ev_s = _argument_fits(lex, f"S|{cand_key}", doer, lex.class_of(doer))
            if ev_s >= MIN_EVIDENCE and (
                ok_o or lex.fits(f"O|{cand_key}", done, fallback_class=lex.class_of(done), min_share=0.05)
            ):
                ok_o, ev_o = True, max(ev_o, MIN_EVIDENCE)
        if not ok_o or (ev_o < MIN_EVIDENCE and not backoff and not relaxed):
            continue  # the cheap test first: most verbs were never seen with the object
        if (
            not tail
            and cand_verb in _MOSTLY_INTRANSITIVE
            and ev_o < min(MIN_SHARE_EVIDENCE, MIN_SHARE * lex.context_total(f"O|{cand_key}"))
        ):
            continue  # a verb mostly without an object, once with this one: "leaping to run an orange ball"
        ok_s, ev_s = _argument_fits(lex, f"S|{cand_key}", doer, lex.class_of(doer))
        if backoff and ev_o < MIN_EVIDENCE and ev_s:
            # "standing on a mountain" -> "sitting on a mountain": its class is common after
            # "sit on", and mountains are what things are on (seen there once counts no less
            # than never: "runs across the lawn" -> "walks across")
            ev_o = MIN_EVIDENCE
        if not (ok_s and ok_o and (ev_o >= MIN_EVIDENCE or (relaxed and ev_s >= MIN_EVIDENCE))):
            # what is done to the object must have been seen done to it ("feeding a horse"); the
            # relaxed list takes a verb seen done by the doer instead ("a woman drags ...")
            continue
        if resources.lexical_relation(verb, cand_verb, "v") is not None:
            continue  # "walk" -> "move", "run" -> "jog": still true
        out.append((cand_verb, float(min(ev_s, ev_o) + 1) * (1 + max(ev_s, ev_o)) ** 0.5))
    if verb == "wear" and not tail and not by_agent and _wears_clothes(doer, done, lex):
        if all(v != _HELD for v, _ in out):
            out.append((_HELD, _HELD_WEIGHT))
    lru[memo] = out
    if len(lru) > OPTIONS_CACHE:
        lru.popitem(last=False)
    return out


def _wears_clothes(doer: str, worn: str, lex: Any) -> bool:
    """A person wearing something one may hold instead (not a dog in a sweater: "a dog holding
    a sweater"; not "holding a tutu")."""
    return lex.class_of(doer) == "person" and worn.rsplit(" ", 1)[-1] in _HELD_GARMENTS


def _predicate_keys(tail: str, resources: Any) -> list[str]:
    """Counted verb predicates with preposition part ``tail`` ("" = transitive), sorted; cached."""
    lex = resources.lexicon
    preps = set(resources.vocab["relations"]["opposites"]) | {"of", "with", "at", "for", "to", "from"}
    keys = []
    for ctx in lex.contexts:
        if not ctx.startswith("S|") or "@" in ctx or lex.context_total(ctx) < MIN_PREDICATE_COUNT:
            continue
        k = ctx[2:]
        verb, _, rest = k.partition(" ")
        if rest != tail or verb in preps or not verb.isalpha():
            continue
        if verb in PREPOSITIONS or verb_lemma_and_tag(inflect_verb(verb, "VBG")) is None:
            continue  # not a verb ("next to", "left of", "past")
        keys.append(k)
    keys.sort()
    resources._cache[("replace_rel.keys", tail)] = keys
    return keys


def prep_options(
    verb_lemma: str | None, prep: str, subj: str, obj: str, resources: Any, beside: bool = False
) -> list[tuple[str, float]]:
    """(new preposition, weight) for a spatial preposition between ``subj`` and ``obj``.

    ``beside``: the preposition follows its subject directly, a copula or a posture verb ("a
    man on a bike", "boys are in the water", "sits on a bench"), so "next to" may replace it;
    after other words it is often a verb's complement ("ride together on a motorcycle").
    """
    lex = resources.lexicon
    rel = resources.vocab["relations"]
    low = prep.lower()
    same = {low}
    for syn in rel["synonyms"]:
        if low in syn:
            same.update(syn)
    # only the opposite: two prepositions of one group are often both true ("floating above" /
    # "on" the waves, "walks across" / "along" a field)
    options: list[str] = []
    opposite = rel["opposites"].get(low)
    if opposite and opposite not in same and low not in ("with", "without"):
        options.append(opposite)
    out = []
    free = _free_relation(low, subj, resources)
    for p in options:
        if p in _ENCLOSED and lex.class_of(obj) not in _ENCLOSING:
            continue  # "sits in a chair" never becomes "sits outside a chair"
        if p in _UNDER and lex.class_of(obj) in _UNDERFOOT:
            continue  # "running on the beach" never becomes "running under the beach"
        key = f"{verb_lemma} {p}" if verb_lemma else p
        ok_s, ev_s = _argument_fits(lex, f"S|{key}", subj, lex.class_of(subj))
        ok_o, ev_o = _argument_fits(lex, f"O|{key}", obj, lex.class_of(obj))
        if free or (
            ok_s and ok_o and (ev_s or ev_o)
        ):  # "sitting under a bench" was seen, "digging under sand" not
            out.append((p, float(1 + ev_o)))
    if beside and (verb_lemma is None or verb_lemma in _ANYWHERE_VERBS) and lex.class_of(subj) not in _PLACES:
        if lex.class_of(obj) in _BESIDE.get(low, frozenset()):
            # "a man on a bike" -> "a man next to a bike", "boys in the water" -> "next to the
            # water": off the thing, still beside it (never for grounds: "next to the grass")
            out += [("next to", 2.0), ("beside", 1.0)]
    return out


#: "Inside"/"outside" need a thing that encloses: a room, a car, a tent, a pool, a city; one is
#: "in" a chair or "in" the grass too, but never "outside" them.
_ENCLOSED = frozenset({"inside", "inside of", "outside", "outside of"})
_ENCLOSING = frozenset({"structure", "place", "vehicle", "container", "water"})
_SLEEPS = frozenset({"sleep", "rest", "nap", "doze"})
#: Nothing one stands on is above one: no "under the beach", "beneath the road".
_UNDER = frozenset({"under", "underneath", "beneath", "below"})
_UNDERFOOT = frozenset({"ground", "way", "landform", "place"})
_COPULAS = frozenset({"is", "are", "was", "were"})
_NEXT_TO = frozenset({"next to", "beside"})
#: "a man on a bike in midair": in the air one is on the thing, never next to it.
#: What puts one inside a vehicle whatever the preposition says: "sits in a car behind the
#: steering wheel" never becomes "sits next to a car behind the steering wheel".
_INSIDE_CUES = re.compile(
    r"\b(steering wheel|behind the wheel|at the wheel|driver'?s? seat|passenger seat|dashboard|seat ?belt|cockpit)\b",
    re.I,
)
_AIRBORNE = re.compile(r"\b(mid-?air|in the air|airborne|flying through)\b", re.I)
#: After "a man on a bike" nothing but the end or another place: no main verb follows
#: ("two people in canoes ride through the water" is not where the people are).
_ENDS_PHRASE = re.compile(r"\s*($|[.,;!]|(in|on|at|near|by|with|under|during|while)\b)", re.I)
#: A wave is in the ocean, never beside it.
_PLACES = frozenset({"water", "ground", "landform", "way", "place"})
#: Classes of things one is on or in, and beside which one may as well stand.
_BESIDE = {
    "on": frozenset({"vehicle", "furniture", "structure", "sports_gear", "animal", "way"}),
    "in": frozenset({"water", "vehicle", "container", "furniture", "structure", "way"}),  # "in the street"
    "inside": frozenset({"vehicle", "container", "structure"}),
}


#: Relations any two things of a scene can stand in: a thing is in front of or behind another,
#: left or right of it, whatever the two are; a doer moves toward or away from anything.
_FREE_GROUPS = ("depth", "horizontal")
_FREE_FOR_DOERS = frozenset({"toward", "towards", "away from"})


def _free_relation(prep: str, subj: str, resources: Any) -> bool:
    """The preposition's opposite needs no evidence from the counts ("the skiers are in front of
    the lodge" -> "behind the lodge"): unlike "on" -> "under", it never puts a thing where it
    cannot be ("a dog digs under the sand")."""
    groups = resources.vocab["relations"]["groups"]
    if any(prep in groups[g] for g in _FREE_GROUPS):
        return True
    return prep in _FREE_FOR_DOERS and resources.lexicon.class_of(subj) in AGENT_CLASSES


@dataclass(frozen=True)
class VerbSlot:
    """A relation's verb that a negative may replace, with what choosing a replacement needs."""

    start: int
    end: int
    verb: str  # as the caption has it ("riding")
    tag: str  # its form in context (VBG, VBZ, VBP, ...)
    key: str  # predicate key ("ride", "sit on")
    subj: str  # lemmas of the two ends
    obj: str
    by_agent: bool  # passive "chased by": the subject is the verb's object
    plural_doer: bool
    directed: bool = False  # "carrying a ball through the grass": only verbs that move it along


@dataclass(frozen=True)
class _Parts:
    """A relation of two things, read once: its ends, its verb (if any) and its preposition."""

    subj_obj: SceneObject
    obj_obj: SceneObject
    verb: str | None
    prep: str
    tagged: tuple[str, str] | None  # the verb's lemma and form (``verb_form``)
    key: str  # predicate key


def _relation_parts(caption: str, graph: SceneGraph, rel: Any, resources: Any) -> _Parts | None:
    """The relation when either of its parts may be replaced: spelled as parsed, between two
    things, and not a fixed phrase."""
    if rel.start < 0 or caption[rel.start : rel.end] != rel.predicate:
        return None
    subj_obj, obj_obj = graph.objects[rel.subject], graph.objects[rel.object]
    if not (relation_end(caption, subj_obj, resources) and relation_end(caption, obj_obj, resources)):
        return None  # "the side of the road", "doing a trick": not a relation between two things
    verb, prep = _split_predicate(rel.predicate)
    key = predicate_key(rel.predicate)
    fixed = resources._cache.get(("replace_rel.fixed",))
    if fixed is None:
        fixed = resources._cache[("replace_rel.fixed",)] = frozenset(resources.vocab["relations"].get("fixed", ()))
    if prep.lower() in fixed or key in fixed:
        return None
    return _Parts(subj_obj, obj_obj, verb, prep, verb_form(verb) if verb is not None else None, key)


def _words_outside(caption: str, start: int, end: int) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z]+", f"{caption[:start]} {caption[end:]}".lower()))


def _said(lemma: str, words: frozenset[str]) -> bool:
    """A form of verb ``lemma`` (its first word) is among ``words``."""
    first = lemma.split(" ", 1)[0]
    return first in words or any(inflect_verb(first, t) in words for t in ("VBG", "VBZ", "VBD", "VBN"))


def _state_of_body_part(caption: str, graph: SceneGraph, start: int, tag: str, resources: Any) -> bool:
    """A participle right after a body part is that part's state ("her eyes closed", "arms raised")."""
    if tag not in ("VBN", "VBD"):
        return False
    lex = resources.lexicon
    return any(
        o.end <= start
        and not caption[o.end : start].strip()
        and lex.class_of(object_lemma(o)) == "body_part"
        for o in graph.objects
    )


def verb_slot(caption: str, graph: SceneGraph, rel: Any, resources: Any) -> VerbSlot | None:
    """The relation's verb when it may be replaced (the rule's and the LLM fill's one test)."""
    parts = _relation_parts(caption, graph, rel, resources)
    return _verb_slot(caption, graph, rel, parts, resources) if parts is not None else None


def _verb_slot(caption: str, graph: SceneGraph, rel: Any, parts: _Parts, resources: Any) -> VerbSlot | None:
    subj_obj, obj_obj, verb, prep, tagged = parts.subj_obj, parts.obj_obj, parts.verb, parts.prep, parts.tagged
    if verb is None or tagged is None:
        return None
    after = caption[obj_obj.end :]
    mouth = _IN_MOUTH.match(after)  # "carrying a stick in its mouth through the grass"
    directed = _DIRECTED.match(after[mouth.end() :] if mouth else after) is not None
    if (
        tagged[0] in LIGHT_VERBS  # "taking a picture" -> "dragging a picture"
        or tagged[0] in VAGUE_VERBS  # "a dog plays in the snow": it may well be jumping
        or bare_singular(caption, obj_obj)  # "playing cricket" -> "racing cricket"
        or (directed and tagged[0] not in _ALONG_VERBS)  # "throws a boy into the pool"
        or _governs_infinitive(caption[obj_obj.end :], resources.lexicon)  # "encouraging a dog to stand"
        or (tagged[0] in _GAZE_VERBS and " " in parts.key)  # "looking over a balcony" -> "walking over"
        or (prep.lower() == "from" and re.match(r"\s+to\b", caption[obj_obj.end :]))
        # "jumps from one rock to another" -> "hangs from one rock to another"
        or (not prep and _BOUND_COMPLEMENT.match(caption, obj_obj.end))
    ):  # "hit a ball with their sticks" -> "toss a ball with ...", "stopping a ball from going"
        return None
    by_agent = prep.lower() == "by"
    doer = obj_obj if by_agent else subj_obj
    doer_class = resources.lexicon.class_of(object_lemma(doer))
    if doer_class in _STILL_THINGS and tagged[1] in ("VBZ", "VBP", "VBD"):
        # a finite verb of a still thing is its state ("benches that overlook the water" ->
        # "that drink"); a participle after a place is the doer's before it ("two boys in a
        # field kicking")
        return None
    if doer_class == "body_part" or _state_of_body_part(
        caption, graph, rel.start, tagged[1], resources
    ):
        return None  # "with her eyes closed in a park": the eyes' state, not the girl's doing
    return VerbSlot(
        start=rel.start,
        end=rel.start + len(verb),
        verb=verb,
        tag=verb_tag_in_context(caption, rel.start, verb, tagged[1], is_plural(subj_obj), by_agent),
        key=parts.key,
        subj=object_lemma(subj_obj),
        obj=object_lemma(obj_obj),
        by_agent=by_agent,
        plural_doer=is_plural(doer) or bool(doer.count and doer.count > 1),
        directed=directed,
    )


def _verbs_that_read(
    caption: str, slot: VerbSlot, obj_obj: SceneObject, options: list[tuple[str, float]], resources: Any
) -> list[tuple[str, float]]:
    """The verb options that read with the rest of the caption: what follows the object, what
    the doer already does, and the verb's own form and sense."""
    verb = slot.key.split(" ", 1)[0]
    # "climbing a mountain" -> "facing a mountain", "holds a camera" -> "faces a camera": one
    # faces what one climbs, leaves, holds or runs at, so facing is never the false doing
    options = [(v, w) for v, w in options if v not in _TRUE_OF_ANY_DOING]
    if (verb in _POSTURES or verb in _SLEEPS) and slot.obj.rsplit(" ", 1)[-1] in _SEATS:
        # "sitting in the driver's seat" -> "walking in the driver's seat": a seat takes postures;
        # one sleeps sitting or lying, so sleep becomes only standing or kneeling
        upright = _POSTURES - {"sit", "lie", "lay"} if verb in _SLEEPS else _POSTURES
        options = [(v, w) for v, w in options if v in upright]
    if slot.key == "wear" and (_LIST_AFTER.match(caption[obj_obj.end :]) or _ON_BODY.match(caption, obj_obj.end)):
        # "wearing a hat and a scarf", "wearing a dust mask on her mouth": holding it there
        # may be what the photo shows
        options = [(v, w) for v, w in options if v != "hold"]
    if caption[slot.start : slot.end].lower() in _SHOWN:
        options = []  # "skiers shown on a mountain" -> "sat on": the photo's word, no doing
    if slot.key in ("dress in", "dress as", "clothe in"):
        options = []  # "dressed in a red bikini" -> "posed in": one poses dressed so
    if verb in _TRADES:
        # "a vendor sells toys": holding, showing or carrying them may be true, riding them is
        # no scene; only the other side of the trade reads
        options = [(v, w) for v, w in options if v in _TRADES]
    if slot.key in _POURS:
        # "dumps a bucket of water on another girl": no other verb reads with where it
        # lands ("carries ... on another girl"), and the pouring verbs may all be true
        options = []
    if _TO_SOMEONE.match(caption, obj_obj.end):
        options = [(v, w) for v, w in options if v in _TRANSFERS]  # "kicks a ball to his father" -> "throws"
    if _IN_MOUTH.match(caption, obj_obj.end):
        options = [(v, w) for v, w in options if v in _MOUTH_VERBS]  # never "to wear a strap in its mouth"
    if _IN_HANDS.match(caption, obj_obj.end):
        options = [(v, w) for v, w in options if v in _HAND_VERBS]  # "watching a camera in her hands"
    if verb in _POSTURES:
        # "a man sits with a boy" -> "smiles with a boy": one smiles, waits or talks
        # while sitting; only another posture or a motion rules the sitting out
        options = [(v, w) for v, w in options if v in _EXCLUSIVE_OF_POSTURE]
    if slot.tag == "VBN" and not slot.by_agent and _word_before(caption, slot.start) in _BE_BEFORE:
        # "people are gathered outside a building" -> "are stood", "are walked": after
        # "be" only a verb whose participle says a state reads
        options = [(v, w) for v, w in options if v in _STATE_PARTICIPLES]
    if _ON_FOOT.search(caption[: slot.start]):
        # "walking on the beach carrying a surfboard" -> "... riding a surfboard": one
        # cannot walk or stand while riding it
        options = [(v, w) for v, w in options if v not in _RIDES]
    # "stands smiling and laughing in front of a wall" -> "... and standing in front of", "a
    # boy watches the ball he hit" -> "hits the ball he hit": a verb the caption already says
    # may well be true of this slot too
    said = _words_outside(caption, slot.start, slot.end)
    options = [(v, w) for v, w in options if not _said(v, said)]
    if verb == "ride" and _ON_VEHICLE.search(caption, slot.end):
        options = []  # "riding down a hill on tricycles" -> "running down a hill on tricycles"
    if slot.directed:
        along = _ALONG_VERBS.get(slot.key, frozenset())
        chased = resources.lexicon.class_of(slot.obj) in _CHASED
        options = [(v, w) for v, w in options if v in along and (v != "chase" or chased)]
    return options


@register(NAME, type="replace_rel", version=VERSION)
def replace_rel(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Replace a relation's verb or spatial preposition with one that fits both of its ends."""
    edits: list[tuple[int, int, list[str]]] = []  # (start, end, replacements in draw order)
    spatial_verbs = {v for g in SPATIAL_VERB_GROUPS for v in resources.vocab["verb_groups"][g]}
    clothing = {"clothing"}
    for rel in graph.relations:
        parts = _relation_parts(caption, graph, rel, resources)
        if parts is None:
            continue
        subj_obj, obj_obj, verb, prep, tagged = parts.subj_obj, parts.obj_obj, parts.verb, parts.prep, parts.tagged
        subj, obj = object_lemma(subj_obj), object_lemma(obj_obj)
        slot = _verb_slot(caption, graph, rel, parts, resources)
        if slot is not None:
            options = verb_options(
                slot.key, slot.subj, slot.obj, resources, by_agent=slot.by_agent, plural_doer=slot.plural_doer
            )
            options = _verbs_that_read(caption, slot, obj_obj, options, resources)
            order = weighted_order(rng, options)
            edits.append((slot.start, slot.end, [match_case(inflect_verb(v, slot.tag), verb) for v in order]))
        if not prep or prep.lower() in ("of", "by", "with", "for", "to", "at", "from", "as"):
            continue  # possession, agents, complements: "a plate of food", "chased by", "waiting for"
        if obj in BARE_PLACES and bare_singular(caption, obj_obj):
            continue  # "in bed" is an idiom: "beside bed" is no English
        anywhere_only = False  # only "next to"/"beside": the verb is done anywhere ("playing in")
        if verb is not None:
            if tagged is None or (tagged[0] not in spatial_verbs and tagged[0] not in _ANYWHERE_VERBS):
                continue  # "swimming in", "dressed in": the verb chose its preposition
            anywhere_only = tagged[0] not in spatial_verbs
        p_start = rel.end - len(prep)
        between = caption[subj_obj.end : p_start].strip().lower()
        if prep.lower() in ("in", "inside") and resources.lexicon.class_of(obj) in clothing:
            # "a boy in a yellow jacket": "outside a jacket" is not a relation, but "a boy
            # holding a yellow jacket" is one: the jacket is no longer worn
            if (
                verb is None
                and between == ""
                and _wears_clothes(subj, obj, resources.lexicon)
                and not bare_singular(caption, obj_obj)  # "three women in costume"
                and not _LIST_AFTER.match(caption[obj_obj.end :])
                and not _HOLDS.search(caption)  # "a child holding a red jacket holding up two fingers"
            ):
                edits.append((p_start, rel.end, [match_case(inflect_verb(_HELD, "VBG"), prep)]))
            continue
        if prep.lower() in ("up", "down") and resources.lexicon.class_of(obj) == "way":
            continue  # "walks down the road" is "walks up the road": along it either way
        # the preposition follows its subject, a copula or its posture verb: "a man in a grey
        # shirt is on a boat", never a verb's complement ("ride together on a motorcycle")
        last = between.rsplit(" ", 1)[-1]
        if _INSIDE_CUES.search(caption):
            continue  # "sits in a car behind the steering wheel": neither "outside a car" nor "in front of the wheel"
        beside = subj_obj.end <= p_start and not _AIRBORNE.search(caption) and (
            (between == "" and _ENDS_PHRASE.match(caption[obj_obj.end :]) is not None)  # "a man on a bike ."
            or (between and (between in _COPULAS or last in _COPULAS))
            or (verb is not None and last == verb.lower())
        )
        options = prep_options(
            tagged[0] if tagged is not None else None, prep, subj, obj, resources, beside=beside
        )
        if anywhere_only:
            options = [(p, w) for p, w in options if p in _NEXT_TO]
        edits.append((p_start, rel.end, [match_case(p, prep) for p in weighted_order(rng, options)]))
    rng.shuffle(edits)
    cands = [
        Candidate(*apply_edit(caption, start, end, new))
        for start, end, forms in edits
        for new in forms[:PER_RELATION]
    ]
    return finish(caption, cands, "replace_rel", GENERATOR, resources, limit=limit)
