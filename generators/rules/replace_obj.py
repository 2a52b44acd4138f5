"""replace_obj: one object becomes another thing of its kind ("a dog on a couch" → "a cat on a couch").

What may be replaced (:func:`fit.editable_object`): scene objects only — not part or quantifier
nouns, activities, body parts, generic nouns ("person", "thing") or names.

Candidates: nouns of the same semantic class (curated COCO groups first, then the nouns counted
in real captions, ``lexicon.Lexicon``) that

- are not the same thing under another name: no synonym, hypernym or hyponym (WordNet), and for
  people no role the original may also have ("woman" -> "tourist"; :func:`fit.person_swap_ok`);
- fit every slot the original fills — its verbs, prepositions and attributes ("a man riding a
  horse" -> "a man riding a camel", never "... riding a sandwich"; "a striped shirt" never
  becomes "a striped lake") — by the counted selectional preferences;
- are drawn in proportion to how often captions use them (:func:`fit.weighted_order`), so the
  words that come in are distributed like the words that go out: no unigram tell.

Across kinds, only where nothing of the kind fits: an animal doer no other animal was seen
doing it becomes a person, and general people ("people", "a person") doing what an animal was
seen doing become that animal ("two people playing in the snow" -> "two dogs"; WordNet's rare
senses, "dog" = "an informal term for a man", do not count across kinds). Two names a caption
may use for one thing (vocab ``noun_compatible``: hurdle/fence, yard/park) never replace each
other; a listed thing is replaced by one captions name with what it is listed with; after "a
cup of" comes only what was seen after a cup.

Plurality and casing follow the original (a capitalised trademark inside a caption, "a
Frisbee", becomes lower case); the article before it is fixed.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from negforge.schemas import Negative, SceneGraph

from ..grammar import apply_edit, last_gendered_pronoun, regender_pronouns, singularize, verb_lemma_and_tag
from ..registry import register
from .common import (
    ANIMAL_PARTS,
    MAX_NEGATIVES,
    POSSESSIVES,
    Candidate,
    bare_singular,
    finish,
    inflect_like,
    is_plural,
    object_lemma,
    one_thing,
    phrase_start,
    word_after,
    word_before,
)
from .fit import (
    GENERIC_NOUNS,
    after_preposition,
    caption_words,
    editable_object,
    gender_change,
    is_baby,
    may_be_one_person,
    mostly_verb,
    noun_fits,
    object_contexts,
    person_kind,
    person_swap_ok,
    place_preposition,
    weighted_order,
)

NAME, VERSION = (
    "replace_obj",
    13,
)  # 4: doers back off to their verb within a COCO group; 5: "a two lane path", "body of water", "well kept", "an ocean" takes count nouns; 6: vehicles keep their medium, ways change kind ("road" never "track"), no "midair" for a place, no half of an adjective ("wheelchair bound"); 7: dog breeds are dogs ("lab", "shepherd": never drawn, never "a lab" -> "a puppy"); 8: an animal doer no other animal fits becomes a person ("two dogs running through a field" -> "two girls"); animals never stand in for what they were not seen doing ("a fish jumps over a hurdle"), never "another X" nor an unparsed subject ("while snow falls"); 9: "people" doing what an animal was seen doing become that animal ("two people playing in the snow" -> "two dogs"), a capitalised trademark is an object ("catch a Frisbee" -> "catch a ball"), what a dog catches or carries was seen so, roads never become the tunnels or barrels of an agility course nor stairs, moving water (wave, surf, waterfall) is neither replaced nor brought in; the head of "a wall of graffiti" is no object, and after "a cup of" comes only what was seen after it ("a cup of cake" gone), no compound after an adverb ("a mostly dirt road" -> "a mostly path"), no partner of an animal ("the horse and rider" -> "the man and rider"), a caption's own subject with no relation is edited ("The snowboarder is sitting down" -> "The skateboarder ..."), an animal with no relation only by one seen doing the verbs that follow ("a dog runs while holding" never "a cow runs while holding"), never "male"/"female" for an animal, never one of two names a caption may use for one thing (vocab noun_compatible: hurdle/fence, yard/park, mountaintop/mountain, rock/cliff), a listed thing only by one captions name with the thing it is listed with ("a yellow ball and a building", "a bull and a cat play" gone), no place-class word that is no place ("at a heel", "down a climb"); 10: an -ing head the counts know as a verb is no object ("beside her writing"), the viewer's camera ("smiling at the camera") is none either, a slot one thing fills ("speaks into a microphone") takes only counted nouns, a prepositional slot takes a dominant-class noun only if the preposition alone was seen with it ("sits at a chair" gone), nothing glued to "-covered" ("leaf-covered"), no state noun ("in flight", "in action"), a bike is a motorcycle's or a bicycle's other name, after a possessive a relative stays the same relative ("his mom" -> "his dad", never "his kid"), a shadow, reflection or silhouette is no thing to replace; 11: a sidewalk or a crosswalk is the street's other name ("walking down the sidewalk" never "down the street"), a noun known far better as a verb is never drawn in ("with his ride to his eye"), so are soccer ball/football, shirt/top/jersey, sweatshirt/sweater/hoodie, jacket/coat, vest/life jacket; 12: a rare slot with a preposition, or a place the parse tied to no verb, takes only a noun that follows the preposition in captions about as often as the old one ("getting married in a church" -> "in a bench", "weaves through green cones" -> "green books"), no half of a hyphenated word ("port-o-potties"), a dog of any breed never becomes a puppy ("a black poodle"); 13: two people listed by who they are ("a man and a woman") need not have been listed so in the counts: another person who cannot be the other ("mother and daughter" -> "son and daughter", never "a boy and child", "girls and girls", "adults and men"), a relative only for a relative, a baby only where seen listed; hat/cap/baseball cap, playground/park, hiker/climber/backpacker are one thing's names; a noun that makes one WordNet noun with the adjective before it is not replaced ("hard hats" -> "hard hoods"), "behind the camera" is the viewer's, a thing has its hypernym's parts ("a house" never "a door")
GENERATOR = f"rule:{NAME}@{VERSION}"
PER_OBJECT = 2  # negatives kept per object
TRIES_PER_OBJECT = 12  # candidates checked per object before moving on


def _is_mass(lemma: str, mass: set[str]) -> bool:
    return lemma in mass or lemma.rsplit(" ", 1)[-1] in mass


#: Where one is rather than a place ("in midair"): never put in for a room or a field.
_STATES = frozenset({"midair", "air", "distance", "background", "foreground"})
#: Animal-class words that are as often people in captions ("a male in a red shirt").
_SEXES = frozenset({"male", "female"})


#: Place- and landform-class lemmas that name no place one could be in or on (parts, directions,
#: parse leftovers): never drawn ("snowboarding at a heel", "skiing down a climb").
_NO_PLACE = frozenset(
    "top side direction shadow setting front end point scene horizon midst crown break sheet bottom "
    "position space target heel silhouette dark way seat spot hole counter distance landscape place "
    "area land terrain climb fall bank course left right".split()
) | {"ball pit", "kitchen counter"}
#: Lemmas that name a scene thing only with more words: "a flight (of stairs)", "rapids" (whose
#: singular "a rapid" is no place to swim).
_NOT_ALONE = frozenset({"flight", "rapid"})
#: A dog of any breed may be young.
_YOUNG_DOGS = frozenset({"puppy", "pup", "puppies"})

#: WordNet roots that tell a vehicle's medium: "rowing a canoe" never becomes "rowing a motorcycle".
_MEDIA = (("vessel.n.02", "water"), ("float.n.06", "water"), ("aircraft.n.01", "air"), ("sled.n.01", "snow"))
#: Where WordNet's first sense is not the captions' one ("scooter" is an ice boat there).
_MEDIUM_OF = {"scooter": "land", "tug": "water", "snowmobile": "snow"}


#: Ways captions name loosely: one word of a kind may well describe what another names ("a
#: snowy road" is "a snowy track"); a replacement must change the kind.
_WAY_KINDS = {
    **dict.fromkeys(("path", "trail", "pathway", "walkway", "footpath", "dirt path", "dirt trail", "forest path",
                     "lane"), "path"),
    **dict.fromkeys(("track", "dirt track"), "track"),  # a road, a path or a course: never swapped with them
    **dict.fromkeys(("road", "street", "city street", "highway", "dirt road", "alley", "driveway", "avenue"), "road"),
    **dict.fromkeys(("sidewalk", "city sidewalk", "pavement", "crosswalk", "boardwalk"), "sidewalk"),
    **dict.fromkeys(("railroad track", "train track", "railway"), "rail"),
    **dict.fromkeys(("stairway", "staircase", "stairs", "steps", "flight"), "stairs"),
}  # fmt: skip


def _same_way(a: str, b: str) -> bool:
    """Two ways a caption could name one by the other ("trail"/"path"; "track" reads as either),
    or a way and a thing of the way class that is no way at all: a road never becomes the tunnel,
    pipe, ladder or barrel of a dog's agility course ("people gathered in the barrel")."""
    ka, kb = _WAY_KINDS.get(a), _WAY_KINDS.get(b)
    if ka is None or kb is None:
        return (ka is None) != (kb is None)
    if "stairs" in (ka, kb):
        return True  # "racing on a stairway", "a residential stairway": stairs are no road
    return ka == kb or ("track" in (ka, kb) and bool({ka, kb} & {"road", "path"}))


#: Water that moves is not a body of water, and one kind may be part of another: "splashed by a
#: wave" never becomes "splashed by a swimming pool", "swims in the ocean" never "in the surf"
#: (the ocean's surf), "belaying down a waterfall" never "down an ocean wave".
_MOVING_WATER = frozenset({"wave", "ocean wave", "surf", "waterfall", "rapid", "spray", "splash", "wake"})


def _other_water(a: str, b: str) -> bool:
    """Either is moving water: it is neither replaced nor brought in."""
    return a in _MOVING_WATER or b in _MOVING_WATER


def _medium(noun: str, resources: Any) -> str:
    """"water", "air", "snow" or "land" for a vehicle noun, from its WordNet hypernyms (cached)."""
    key = ("replace_obj.medium", noun)
    if key in resources._cache:
        return resources._cache[key]
    found = _MEDIUM_OF.get(noun, "land")
    wordnet = getattr(resources, "wordnet", None)
    if wordnet is not None and noun not in _MEDIUM_OF:
        synsets = wordnet.synsets(noun.replace(" ", "_"), pos="n") or wordnet.synsets(
            noun.rsplit(" ", 1)[-1], pos="n"
        )
        roots = {h.name() for s in synsets[:1] for path in s.hypernym_paths() for h in path}
        found = next((m for root, m in _MEDIA if root in roots), "land")
    resources._cache[key] = found
    return found


@dataclass(frozen=True)
class PoolNoun:
    """A candidate replacement with what the filters ask of it, computed once per noun."""

    word: str
    weight: float  # caption count (1 for curated words the corpus never saw)
    words: frozenset[str]  # its words: none may already be in the caption
    mass: bool  # "water", "ocean water": takes no article, has no plural
    plural_only: bool  # "jeans", "shorts"


def noun_candidates(noun: str, resources: Any) -> list[PoolNoun]:
    """Curated siblings and counted nouns of ``noun``'s class, sorted by word; cached per noun.

    Lexical relations (synonym, hypernym, ...) and slot fit are checked later, only for the
    candidates a draw reaches: classes hold hundreds of nouns.
    """
    key = ("replace_obj.pool", noun)
    cached = resources._cache.get(key)
    if cached is not None:
        return cached
    lex = resources.lexicon
    pool: dict[str, float] = {}
    cls = lex.class_of(noun)
    if cls is not None:
        pool.update((w, float(n)) for w, n in lex.nouns_of_class(cls))
    for group in resources.groups_of_noun(noun):
        for w in resources.vocab["noun_groups"][group]:
            if lex.class_of(w) == cls:  # a COCO group may mix kinds: "field" and "lake" are both places there
                pool.setdefault(w, float(max(lex.count(w), 1)))
    breeds = resources.dog_breeds()  # never drawn: "a cat" -> "a lab"
    head = noun.rsplit(" ", 1)[-1]
    head = "dog" if head in breeds else head  # "a German shepherd" -> "a German race dog"
    mass = set(resources.vocab["mass_nouns"])
    plural_only = set(resources.vocab["plural_only"])
    medium = _medium(noun, resources) if cls == "vehicle" else None
    is_dog = head == "dog" or resources.lexical_relation("dog", head, "n") == "hyponym"
    out = [
        PoolNoun(w, pool[w], frozenset(w.split()), _is_mass(w, mass), w in plural_only)
        for w in sorted(pool)
        if w != noun
        and w.rsplit(" ", 1)[-1] != head
        and w not in GENERIC_NOUNS
        and w not in breeds
        and w not in _STATES
        and w not in _NOT_ALONE
        and not mostly_verb(w, resources.lexicon)
        and w not in _NO_PLACE
        and w not in _SEXES  # "two dogs run" -> "two females run": the dogs may be
        and not (w in _YOUNG_DOGS and is_dog)  # "a black poodle" -> "a black puppy": it may be one
        and (medium is None or _medium(w, resources) == medium)
        and not (cls == "way" and _same_way(w, noun))
        and not (cls == "water" and _other_water(w, noun))
        and not one_thing(w, noun, resources)
    ]
    resources._cache[key] = out
    return out


_DETERMINED = re.compile(r"(?:^|\s)([a-z]+)\s+(?:(?:a|an|the|some|his|her|their|its|two|three|four|several|many)\s+)?$", re.I)


def _preposition_before(caption: str, obj: Any) -> str | None:
    """The preposition right before the object's phrase, a determiner allowed between ("in a
    church"), or None."""
    m = _DETERMINED.search(caption[: phrase_start(obj)])
    return place_preposition(m.group(1).lower() if m else None)


#: Words after an animal that point back at it or its kind ("its tail", "one dog sniffs another").
_POINTS_BACK = re.compile(r"\b(its|itself|another|the other|each other|one another)\b", re.I)


def _finite_verb_next(caption: str, pos: int) -> bool:
    """The next word is a finite verb ("snow *falls*"): the noun is its subject."""
    nxt = word_after(caption, pos)
    if nxt is None:
        return False
    tagged = verb_lemma_and_tag(nxt[0].lower())
    return tagged is not None and tagged[1] in ("VBZ", "VBP", "VBD") and tagged[0] != nxt[0].lower()


_CAPTION_SUBJECT = re.compile(r"^\s*((a|an|the|one|two|three|four|five|six|several|some|many|this|that)\s+)?$", re.I)


def _verbs_after(caption: str, pos: int, window: int = 8) -> list[str]:
    """Lemmas of the verb forms in the next few words ("leaps", "holding"), auxiliaries left out."""
    out = []
    for word in caption[pos:].split()[:window]:
        tagged = verb_lemma_and_tag(word.lower())
        if tagged is not None and tagged[0] not in ("be", "have", "do"):
            out.append(tagged[0])
    return out


def _in_a_clause(caption: str, obj: Any) -> bool:
    """The object comes after more than a determiner: the subject of a later clause ("while
    snow falls"), not the caption's own subject ("The snowboarder is sitting down")."""
    return _CAPTION_SUBJECT.match(caption[: phrase_start(obj)]) is None


#: Relatives of one kind (whose relative they are stays the same): parents, grandparents,
#: spouses, children, siblings.
_KIN = (
    frozenset({"mother", "mom", "mommy", "father", "dad", "daddy", "parent"}),
    frozenset({"grandmother", "grandma", "grandfather", "grandpa", "grandparent"}),
    frozenset({"wife", "husband"}),
    frozenset({"son", "daughter", "kid", "child", "baby", "boy", "girl"}),
    frozenset({"brother", "sister"}),
)


#: Words that name a relative and nothing else ("kid", "boy" are anyone's).
_KIN_WORDS = frozenset().union(*_KIN) - {"kid", "child", "baby", "boy", "girl"}


def with_it_count(lex: Any, sibling: str, new: str) -> bool:
    """``new`` is named with ``sibling`` in captions often enough to be listed with it."""
    return lex.cooccurring(sibling).get(new, 0) >= max(MIN_LISTED, LISTED_SHARE * lex.count(new))


#: Adjective groups whose words stay true of another noun ("an old man" -> "an old woman", "a
#: plastic bag" -> "a plastic bowl").
_FREE_GROUPS = frozenset({"color", "size", "age", "material"})


def _adjective_compound(caption: str, obj: Any, resources: Any) -> bool:
    """The adjective right before the noun makes one WordNet noun with it ("hard hat", "hot
    dog", "wet suit", "high jump"): replacing the noun leaves half a name behind."""
    head = obj.text.rsplit(" ", 1)[-1].lower()
    for att in obj.attributes:
        if att.end > obj.start or caption[att.end : obj.start].strip(" -"):
            continue
        if set(resources.adjective_group.get(att.lemma.lower(), ())) & _FREE_GROUPS:
            continue
        if resources.synsets(f"{att.text.lower()}_{singularize(head)}", "n"):
            return True
    return False


def _may_be_the_other(new: str, other: str, resources: Any) -> bool:
    """Person noun ``new`` may name the person (or one of the people) ``other`` names: the same
    word, or an age and a gender (vocab person_nouns) that fit both ("boy" and "child", "man"
    and "adults"; never "man" and "girl")."""
    if new == other:
        return True
    table = resources.vocab["person_nouns"]
    a, b = table.get(new), table.get(other)
    if a is None or b is None:
        return False  # a role beside an identity ("a child and a guard") is someone else
    return may_be_one_person(a, b)


def _kin_group(lemma: str) -> frozenset[str] | None:
    """The relatives ``lemma`` is one of, when a possessive makes it a relative ("his kid")."""
    return next((group for group in _KIN if lemma in group), None)


def _people_pool(resources: Any) -> list[tuple[str, float]]:
    """People by identity ("man", "girl"), weighted by their counts: who may do what an animal
    did. Never "person"/"people" (true of anyone) nor roles ("a skier catches a Frisbee")."""
    key = ("replace_obj.people",)
    if key not in resources._cache:
        table = resources.vocab["person_nouns"]
        resources._cache[key] = [
            (w, float(n))
            for w, n in resources.lexicon.nouns_of_class("person")
            if w in table and table[w]["age"] != "any" and " " not in w
        ]
    return resources._cache[key]


def _person_may_stand_in(caption: str, graph: SceneGraph, i: int, resources: Any) -> bool:
    """An animal that is a doer only (never what is walked, petted or held: "a man walks a
    girl"), with nothing of an animal's about it: no "its", no mouth or paws, no owner ("his
    dog")."""
    obj = graph.objects[i]
    if resources.lexicon.class_of(object_lemma(obj)) != "animal":
        return False
    if any(r.object == i for r in graph.relations) or not any(r.subject == i for r in graph.relations):
        return False
    after = caption[obj.end :]
    if ANIMAL_PARTS.search(after) or _POINTS_BACK.search(after) or last_gendered_pronoun(after) is not None:
        return False  # "a boy with a stick in its mouth", "a boy shakes her head"
    return (word_before(caption, phrase_start(obj)) or "").lower() not in POSSESSIVES


_OF_AFTER = re.compile(r"\s+of\s+(?!the\b|a\b|an\b|his\b|her\b|their\b|its\b)[a-z]", re.I)
#: A partner whose role is the animal's: "horse and rider", "a dog and its handler".
_PARTNER_ROLES = frozenset({"rider", "jockey", "handler", "trainer", "owner", "master"})
_ROLE = "(" + "|".join(sorted(_PARTNER_ROLES)) + ")s?"
_PARTNER = re.compile(r"\s+and\s+(its\s+|his\s+|her\s+|their\s+)?" + _ROLE + r"\b", re.I)
_PARTNER_BEFORE = re.compile(r"\b" + _ROLE + r"\s+and\s+(his\s+|her\s+|their\s+|the\s+|a\s+)?$", re.I)
#: Captions that must name a listed thing with the thing it is listed with ("a ball and a net"):
#: at least this many, and this share of the captions that name it at all.
MIN_LISTED, LISTED_SHARE = 2, 0.02
_LISTED = re.compile(r"\s*(,\s*(and\s+)?|and\s+|&\s+)((a|an|the|some|two|three)\s+)?$", re.I)


def _conjuncts(caption: str, graph: SceneGraph, i: int) -> list[str]:
    """Lemmas of the things object ``i`` is listed with ("a ball and a net", "a dog and a cat")."""
    obj = graph.objects[i]
    out = []
    before = [o for o in graph.objects if o.end <= phrase_start(obj)]
    if before:
        prev = max(before, key=lambda o: o.end)
        if _LISTED.fullmatch(caption[prev.end : phrase_start(obj)]):
            out.append(object_lemma(prev))
    after = [o for o in graph.objects if o.start >= obj.end]
    if after:
        nxt = min(after, key=lambda o: o.start)
        if _LISTED.fullmatch(caption[obj.end : phrase_start(nxt)]):
            out.append(object_lemma(nxt))
    return out


def _measured_by(graph: SceneGraph, i: int, resources: Any) -> str | None:
    """The thing object ``i`` is "of" when that thing is no person or animal ("a cup of
    coffee", "a field of flowers"): the lemma of "cup", "field"; None otherwise."""
    for r in graph.relations:
        if r.object == i and r.predicate.lower() == "of":
            head = object_lemma(graph.objects[r.subject])
            if head not in GENERIC_NOUNS and resources.lexicon.class_of(head) not in ("person", "animal", "bird"):
                return head  # ("a picture of a dog", "the edge of the water": the dog and the water are the scene)
    return None


#: General nouns of people: no other person is surely not one ("people" -> "children" may be
#: true), so only an animal may take their place.
_ANYONE = frozenset({"people", "person"})
#: Collections an animal may come in ("a group of dogs"); "a crowd of dogs" reads as made up.
_HERD_WORDS = frozenset({"group", "couple", "pair", "few", "lot"})


def _animal_pool(resources: Any) -> list[tuple[str, float]]:
    """Animals weighted by their counts: who may do what "people" did."""
    key = ("replace_obj.animals",)
    if key not in resources._cache:
        breeds = resources.dog_breeds()
        resources._cache[key] = [
            (w, float(n))
            for w, n in resources.lexicon.nouns_of_class("animal")
            if " " not in w and w not in GENERIC_NOUNS and w not in breeds and w not in _SEXES
        ]
    return resources._cache[key]


def _animal_may_stand_in(caption: str, graph: SceneGraph, i: int, resources: Any) -> bool:
    """General people ("people", "a person") who only do things, each a thing an animal was
    seen doing (checked per animal by :func:`fit.noun_fits`): "people walking down a trail"
    -> "dogs walking down a trail". Never what people are done to, wear or hold as people
    alone do, never an unnamed crowd ("a crowd of people"), never people with no doing."""
    obj = graph.objects[i]
    if object_lemma(obj) not in _ANYONE or obj.count == 0 or not obj.text.isalpha():
        return False
    lex = resources.lexicon
    subject_of = [r for r in graph.relations if r.subject == i]
    if not subject_of or any(r.object == i for r in graph.relations):
        return False
    if any(lex.class_of(object_lemma(graph.objects[r.object])) == "clothing" for r in subject_of):
        return False  # "people in costumes": clothes are a person's
    start = phrase_start(obj)
    if (word_before(caption, start) or "").lower() == "of":
        head = word_before(caption, start - len(" of") - 1) or ""
        if head.lower() not in _HERD_WORDS:
            return False
    return (word_before(caption, start) or "").lower() not in POSSESSIVES


def _draw(
    caption: str,
    graph: SceneGraph,
    i: int,
    options: list[tuple[str, float]],
    rng: random.Random,
    resources: Any,
    is_person: bool,
) -> list[Candidate]:
    """Up to ``PER_OBJECT`` edits of object ``i`` to options drawn by weight, each not the same
    thing under another name (a person and an animal never are: ``Resources.lexical_relation``);
    pronouns follow a change of gender."""
    obj = graph.objects[i]
    lemma = object_lemma(obj)
    people = resources.lexicon
    out: list[Candidate] = []
    for new in weighted_order(rng, options)[:TRIES_PER_OBJECT]:
        if resources.lexical_relation(lemma, new, "n") is not None or resources.part_whole(lemma, new):
            continue  # "dog" -> "puppy" or "animal", "building" -> "wall": still describes the photo
        if is_person and not person_swap_ok(lemma, new, resources):
            continue
        after = inflect_like(new, obj)
        if after.lower() == obj.text.lower():
            continue
        end = obj.end
        to = gender_change(lemma, new, resources) if is_person else None
        if to is not None:  # "A man ... his hand" -> "A woman ... her hand"
            last = last_gendered_pronoun(caption[obj.end :])
            if last is not None:
                if sum(people.class_of(object_lemma(o)) == "person" for o in graph.objects) > 1:
                    continue  # whose "his"? not ours to guess
                end = obj.end + last
                after += regender_pronouns(caption[obj.end :], to, upto=end - obj.end)
        out.append(Candidate(*apply_edit(caption, obj.start, end, after)))
        if len(out) >= PER_OBJECT:
            break
    return out


@register(NAME, type="replace_obj", version=VERSION)
def replace_obj(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Replace one object's name with another noun of its class that fits all its slots."""
    present = caption_words(caption)
    mass = set(resources.vocab["mass_nouns"])
    people = resources.lexicon
    order = list(range(len(graph.objects)))
    rng.shuffle(order)
    cands: list[Candidate] = []
    for i in order:
        obj = graph.objects[i]
        lemma = object_lemma(obj)
        if not editable_object(caption, obj, resources):
            if _animal_may_stand_in(caption, graph, i, resources):
                options = [
                    (w, x)
                    for w, x in _animal_pool(resources)
                    if not (set(w.split()) & present) and noun_fits(resources, graph, i, w)
                ]
                cands.extend(_draw(caption, graph, i, options, rng, resources, is_person=False))
            continue
        before = (word_before(caption, phrase_start(obj)) or "").lower()
        if before in ("another", "other"):
            continue  # "looks at another dog": points back at a dog already named
        if _OF_AFTER.match(caption, obj.end) and people.class_of(lemma) not in ("person", "animal", "bird"):
            continue  # "a field of flowers", "a wall of graffiti": the head is a measure of what follows
        if _adjective_compound(caption, obj, resources):
            continue  # "hard hats" -> "hard hoods", "a hot dog" -> "a hot cat": the adjective is half the name
        if before.endswith("ly") and " " in obj.text:
            continue  # "a mostly dirt road": the adverb holds the first word ("a mostly path")
        if (
            _PARTNER.match(caption, obj.end)
            or _PARTNER_BEFORE.search(caption[: phrase_start(obj)])
            or (lemma in _PARTNER_ROLES and re.match(r"\s+and\b", caption[obj.end :]))
        ):
            continue  # "the horse and rider": the rider is the horse's ("the man and rider")
        if not object_contexts(graph, i) and _finite_verb_next(caption, obj.end) and _in_a_clause(caption, obj):
            continue  # "while snow falls": a subject the parse gave no slot; "pavement falls"
        # "Boy plays baseball", "Young boy wearing ...": a headline, not a mass noun
        bare = bare_singular(caption, obj) and phrase_start(obj) > 0
        is_person = people.class_of(lemma) == "person"
        plural = is_plural(obj)
        # "an ocean", "a sea": a mass noun used as a count noun takes count nouns ("a lake"),
        # never "a surf"
        indefinite = (word_before(caption, phrase_start(obj)) or "").lower() in ("a", "an")
        own_mass = _is_mass(lemma, mass) and not indefinite
        options = [
            (c.word, c.weight)
            for c in noun_candidates(lemma, resources)
            if not (c.words & present)
            and (not c.plural_only or plural)
            and not (plural and c.mass)  # "equipments"
            # a bare singular takes a mass noun ("while ocean water is ..." never "while sidewalk
            # is"); otherwise mass stays mass ("a house" never becomes "a water")
            and (c.mass if bare else c.mass == own_mass)
        ]
        if people.class_of(lemma) == "clothing":
            kinds = resources.vocab["clothing_kinds"]
            kind = kinds.get(lemma.rsplit(" ", 1)[-1]) or kinds.get(lemma)
            # a helmet becomes a cap, never "shirts": the person may well wear a shirt too
            options = [
                (w, x)
                for w, x in options
                if kind is not None and (kinds.get(w) or kinds.get(w.rsplit(" ", 1)[-1])) == kind
            ]
        if is_person:
            options = [
                (w, x) for w, x in options if person_kind(w, resources) == person_kind(lemma, resources)
            ]
            if not options or person_kind(lemma, resources) == "other":
                continue  # "friend", "tourist", "owner": any person may be one
            kin = _kin_group(lemma)
            if before in POSSESSIVES and kin is not None:
                # "his mom throws him" -> "his dad", never "his kid": after a possessive a
                # relative stays the same relative of the possessor
                options = [(w, x) for w, x in options if w in kin]
        # the slot fit is a few table lookups: checked for every option before the draw, so a
        # slot that only a few nouns fit still finds them; WordNet is asked only of drawn ones
        options = [(w, x) for w, x in options if noun_fits(resources, graph, i, w)]
        prep = _preposition_before(caption, obj)
        if not object_contexts(graph, i) and prep is not None:
            # a place the parse tied to no verb ("getting married in a church"): the new noun
            # must follow the preposition in captions about as often as the old one does (never
            # "married in a bench", "in a fence")
            options = [(w, x) for w, x in options if after_preposition(people, prep, w, lemma)]
        if not object_contexts(graph, i) and people.class_of(lemma) in ("animal", "bird"):
            # a doer the parse tied to no verb ("Dog leaps out", "a dog runs while holding an
            # object"): another animal must have been seen doing each verb that follows it
            doings = _verbs_after(caption, obj.end)
            options = [(w, x) for w, x in options if all(people.seen(f"S|{v}", w) for v in doings)]
        for sibling in _conjuncts(caption, graph, i):
            # "a yellow ball and a net" never "a yellow ball and a building", "a dog and a cat
            # play" never "a bull and a cat": the new thing is one captions name with the thing
            # it is listed with; a person beside a person is any other person ("mother and
            # daughter" -> "father and daughter")
            table = resources.vocab["person_nouns"]
            if lemma in table and sibling in table:
                # two people by who they are ("a man and a woman"): another man, woman or child
                # captions never listed is as plausible ("mother and daughter" -> "father and
                # daughter"), unless the new one may be the other ("a woman and child" -> "a boy
                # and child", "girls and boys" -> "girls and girls", "adults and children" ->
                # "adults and men"); a relative only for a relative, a baby only where seen
                kin = sibling in _KIN_WORDS and lemma in _KIN_WORDS
                options = [
                    (w, x)
                    for w, x in options
                    if w in table
                    and not _may_be_the_other(w, sibling, resources)
                    and (w in _KIN_WORDS) == kin
                    and (not is_baby(w, resources) or with_it_count(people, sibling, w))
                ]
                continue
            options = [(w, x) for w, x in options if with_it_count(people, sibling, w)]
        measure = _measured_by(graph, i, resources)
        if measure is not None:
            # "a cup of coffee" -> "a cup of tea", never "a cup of cake": what comes after the
            # measure was seen after it
            options = [(w, x) for w, x in options if resources.lexicon.seen(f"O|of@{measure}", w)]
        if not options and _person_may_stand_in(caption, graph, i, resources):
            # "a dog holding a white stuffed animal": no other animal was seen holding one, a
            # girl was; a person in the animal's place is as false and as plausible
            options = [
                (w, x) for w, x in _people_pool(resources) if not (set(w.split()) & present) and noun_fits(resources, graph, i, w)
            ]
        cands.extend(_draw(caption, graph, i, options, rng, resources, is_person=is_person))
    return finish(caption, cands, "replace_obj", GENERATOR, resources, limit=limit)
