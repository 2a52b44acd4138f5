"""add_obj / add_att: insert something the image does not show.

add_obj puts a new thing where the caption would have named it, next to what the caption is
about:

- a co-subject before the main subject ("A man in a red shirt is running" → "A woman and a man
  in a red shirt are running"), with the verb made plural; the new noun must be able to do what
  the subject does (``fit.noun_fits`` over the subject's relation slots: no "a cat and a man
  riding a horse");
- or a second object of the main verb ("a dog carrying a stick" → "a dog carrying a stick and
  a ball"), one that captions use with that verb.

Companions are salient, checkable things of the subject's kind (people and animals with people
and animals; a thing with things of its class), never accessories that may be in the photo
anyway (a bag, a helmet, a lamp), and are drawn as often as captions use them in that slot.
Captions with "both", "each other" or a clause that would lose its subject are left alone.

add_att inserts an adjective that is salient and checkable for the noun (``add_att`` groups:
colors, materials, patterns, clear states; for people a few visible traits: "bald",
"bearded"), counted on that noun in real captions (a color on any made thing), never one that
is the noun's default ("green grass", "white snow"), at the slot the usual adjective order gives
(size before color before material). Sizes, ages and moods are never added: "a young man" may be
true.

Both make the negative longer than the positive by construction (DESIGN §5): the quality
benchmark reports the length difference.
"""

from __future__ import annotations

import random
import re
from typing import Any

from negforge.schemas import Negative, SceneGraph, SceneObject

from ..grammar import NUMBER_WORDS, apply_edit, article_for, match_case, singularize, verb_lemma_and_tag
from ..lexicon import predicate_key
from ..registry import register
from ..scene_graph import QUANTIFIER_WORDS
from .agreement import agreeing_verb, plural_verb, shared_possessions, subject_verbs_after
from .common import (
    ANIMAL_PARTS,
    BARE_PLACES,
    MAX_NEGATIVES,
    POSSESSIVES,
    PREPOSITIONS,
    Candidate,
    after_shade,
    bare_singular,
    compatible_words,
    finish,
    is_plural,
    object_lemma,
    one_per_look,
    phrase_start,
    word_after,
    word_before,
    words_with_spans,
)
from .fit import (
    COLORED_CLASSES,
    DOMINANT_SHARE,
    GENERIC_NOUNS,
    caption_words,
    editable_object,
    is_baby,
    is_verb_context,
    may_be_one_person,
    noun_fits,
    object_contexts,
    person_kind,
    relation_end,
    seen_doing,
    weighted_order,
)

# add_obj 2: co-subject or second object of the main verb, slot-fitting companions;
# 3: a companion does the subject's verb, not necessarily at the subject's counted places;
# 4: a subject with no verb is joined by its own kind only; no person beside "... in his mouth"
ADD_OBJ_VERSION = 11  # 5: "tries to" agrees with a co-subject ("try to"); 6: a third in a list, verbs after "and" agree, a pet beside people; 7: a relative clause on another noun keeps its verb ("at a dog who is running"); 8: a person joins an animal that only is somewhere ("a man and a white dog are in the water"), an auxiliary gives way to its verb ("is running", "is being chased"), a dog breed keeps a dog's company ("a man and a black poodle"), a group noun's singular verb becomes plural ("a dog and a crowd of people are"), an animal carries a second thing only if animals were seen carrying it, no co-subject where the main verb holds or wears one thing ("the man and the lady are wearing a brown jacket"), a passive's newcomer was seen undergoing it ("a woman and a dog are walked by a man" gone), never beside a reflexive ("a girl and a scuba diver ... pull himself"), nor where the main verb rides a vehicle or animal or plays an instrument ("a woman and a man are riding a bicycle"); 9: no co-subject beside "lone"/"solitary" ("a woman and a lone snowboarder"), no verb of another noun's clause made plural ("while another boy watches and makes a face"); 10: no co-subject where the main verb throws, kicks, catches, hits or swings one thing ("a man and a dog catch a Frisbee") or sits on a seat for one ("a dog and a man sitting in a blue metal chair"), no animal beside people's vehicles ("a dog and a line of people are sitting on their motorcycles"); 11: dribbling and pitching are one doer's ("a woman and a man dribble a ball"); a person of another gender joins a plural of people ("a woman and two men", never "a boy and two kids"), a compound plural is its head ("four shirtless men"), a third in a list takes the caption's comma spacing ("A dog , two women and a man")
ADD_ATT_VERSION = 10  # 3: never on a game ("playing basketball"); 4: no insert after an adverb or a color the parse lost, rare patterns, baby traits; 5: "in bed", "flag football", no white water, no half of an adjective ("wheelchair bound"); 6: never a color counted as the noun's default ("a black wetsuit"), nor inside a compound ("a hot blue air balloon"); 7: never on an act ("does a loop"), no bare-skin traits where people swim ("the shirtless athlete completes the swimming portion"), a noun modifier stays next to its noun ("an ice blond hockey goal keeper" gone), an opinion adjective leads ("an elegant brick building", not "a brick elegant building"), nothing after "without"/"no" ("a child without a yellow shirt" is still true), a compound person noun's head decides its traits ("a bearded chubby baby" gone), no color on water ("a green wave"); 8: nothing on a covered thing or its covering ("orange leaf-covered hills", "a snow covered wet field"), nor on the viewer's camera, no adjective of the same look as one there ("a rocky stone path", "an older elderly woman"), no color after a shade ("dark gray sunglasses"), no color or hair color where the caption says them after the noun ("a tan dog with black and brown fur") or a "-haired" attribute ("a black haired blonde girl"); 9: no color on "colored" things or beside a color the groups do not draw ("colored pink pencils", "a black turquoise surfboard"), no trait a word of the caption settles ("a bald man with dark hair", "a bearded man with a white beard", "a shirtless man in a red shirt"), hair takes hair colors only, an adjective of a noun compound stays next to it ("two little blond league players"); 10: no mud where there is snow or a pool ("a muddy snowboarder"), hair colors only for people and dogs ("its blonde prey"), an Afro or a mohawk is hair ("a bald man with an Afro"), one adjective per look ("blond" or "blonde", not both)
ADD_OBJ = f"rule:add_obj@{ADD_OBJ_VERSION}"
ADD_ATT = f"rule:add_att@{ADD_ATT_VERSION}"
PER_OBJECT = 2
TRIES = 12
MIN_COOCCUR = 5  # captions that name a companion with the subject (no "an elephant and a woman")
#: Companion classes by the class of what they join: people and animals go together.
_AGENTS = frozenset({"person", "animal", "bird"})
#: Classes whose things are accessories or scenery: adding one may describe the photo anyway.
_NOT_ADDED = frozenset({"clothing", "body_part", "substance", "place", "ground", "way", "water", "landform"})
#: Verbs whose object can be two things at once.
_TAKES_SEVERAL = frozenset(
    "hold carry watch eat pet feed hug photograph follow walk look at push pull pass".split()
) | {"look at"}
#: Animals that keep people company in captions; others beside a person are a tell ("a horse and a bike rider").
_COMPANION_ANIMALS = frozenset({"dog", "cat", "puppy"})
#: Classes whose things are open or closed, full or empty: containers, devices, buildings.
_OPEN_OR_FULL = frozenset({"container", "device", "structure", "vehicle", "artifact", "furniture"})
#: Traits of people that hold only for some of them.
_MALE_TRAITS = frozenset({"bearded", "bald", "mustached", "shirtless"})
_ADULT_TRAITS = frozenset({"bearded", "bald", "mustached", "elderly", "tattooed"})
#: Traits no one would write of a baby ("a uniformed baby", "a masked baby": read as implausible).
_NOT_BABY_TRAITS = frozenset({"uniformed", "masked", "muddy"})
#: A pattern must be this common on the noun: "a striped dog" (3 of 7,000 dog adjectives) is
#: counted, yet reads as implausible; "a striped shirt" is counted hundreds of times.
_MIN_PATTERN_COUNT = 10
_BARE_PLACE_PREPS = frozenset({"in", "at", "to", "from", "into"})  # the one word before the noun
#: Degree adverbs that hold the next word: "a well kept path" takes no "well muddy kept".
_DEGREE_ADVERBS = frozenset({"well", "very", "too", "so", "quite", "rather", "fairly", "less", "more", "most"})
#: "with black and brown fur", "with blond hair", "with white spots": the noun's own look follows it.
_OWN_LOOK = re.compile(r"\s+with\s+(?:[a-z-]+\s+(?:and\s+)?){1,4}(fur|hair|coat|spots|markings|stripes|patches)\b", re.I)
#: "leaf-covered", "snow covered": what covers a thing is its color.
_COVERED_BY = re.compile(r"\b\w+[ -]covered\s+$", re.I)
#: Attributes that already say the thing has many colors.
_MANY_COLORS = frozenset(
    {"colorful", "colourful", "multicolored", "multi-colored", "rainbow", "bright", "colored", "coloured"}
)  # "colored pencils" take no "pink"
#: Colors captions name too rarely to be drawn (``adjective_groups`` leaves them out), yet a
#: color all the same: "a turquoise surfboard" takes no "black".
_RARE_COLORS = frozenset(
    "turquoise aqua khaki golden lime peach lavender burgundy violet olive crimson coral ivory bronze copper camo".split()
)
#: Words that fix how many are in the scene or pair them off: "two dogs are nose to nose".
_SUBJECT_BLOCKERS = re.compile(
    r"\b(both|each other|one another|the other|alone|lone|lonely|solitary|solo|(him|her|it)self|(nose|face|head|back) to \w+|side by side)\b"
    r"|, (one|two|three|four|five) \w+ing\b",  # "three people , one sitting , two standing"
    re.I,
)
#: "A group of", "a couple of": the subject is the noun after it ("A dog and a group of people").
_QUANTIFIED = re.compile(r"(a|an|the)\s+(group|crowd|couple|pair|bunch|team|herd|flock|line|row) of", re.I)
#: What the parse leaves between the determiner and the noun's first attribute: the first half of
#: a hyphenated one ("A red-headed girl": the attribute is "headed") or an adverb ("a very large
#: bird", "a group of colorfully clothed people").
_HEAD_MODIFIER = re.compile(r"[a-z]+-|very|really|extremely|[a-z]+ly", re.I)
_DETERMINER = re.compile(r"^(a|an|the|one|two|three|four|five|six|seven|eight|nine|ten|several|some|many|\d+)\b", re.I)


def _companions(lemma: str, resources: Any) -> list[tuple[str, float]]:
    """(noun, weight) that may join ``lemma``: agents with agents, things with their class."""
    key = ("add_obj.companions", lemma)
    if key in resources._cache:
        return resources._cache[key]
    lex = resources.lexicon
    cls = lex.class_of(lemma)
    if cls is None or cls in _NOT_ADDED:
        return []
    classes = _AGENTS if cls in _AGENTS else {cls}
    out = []
    for c in sorted(classes):
        for noun, n in lex.nouns_of_class(c):
            if noun in GENERIC_NOUNS:
                continue  # "an animal and a group of people"
            if cls == "person" and c in ("animal", "bird") and noun not in _COMPANION_ANIMALS:
                continue  # "a horse and a bike rider jumping", "a camel and a group of people"
            if (
                cls in ("animal", "bird")
                and c in ("animal", "bird")
                and noun not in _COMPANION_ANIMALS | {lemma}
            ):
                continue  # "the sheep and the dog are running out of the tunnel"
            if c == "person" and person_kind(noun, resources) != "identity":
                continue  # "a friend", "a tourist": not checkable
            if (
                noun in resources.vocab["person_nouns"]
                and resources.vocab["person_nouns"][noun]["age"] == "any"
            ):
                continue  # "person", "people": too general to be false
            out.append((noun, float(n)))
    resources._cache[key] = out
    return out


def _subject_index(caption: str, graph: SceneGraph) -> int | None:
    """The object the caption is about: the first one, if nothing but a determiner and
    attributes come before it."""
    if not graph.objects:
        return None
    first = min(range(len(graph.objects)), key=lambda k: graph.objects[k].start)
    obj = graph.objects[first]
    start = min([obj.start] + [a.start for a in obj.attributes if a.end <= obj.start])
    head = caption[:start].strip()
    lead = _QUANTIFIED.match(head) or _DETERMINER.match(head)
    rest = head[lead.end() :].split() if lead else head.split()
    if head and not (lead and all(_HEAD_MODIFIER.fullmatch(w) for w in rest)):
        return None  # "In a park, a dog ..." / "There is a dog": not a plain subject
    return first


def _may_be_among(graph: SceneGraph, noun: str, resources: Any) -> bool:
    """A person ``noun`` that a group the caption names may already hold: "a boy and some kids",
    "a child and a man ... amid a crowd", "a woman and many brides" are not clearly false."""
    if resources.lexicon.class_of(noun) != "person":
        return False
    table = resources.vocab["person_nouns"]
    entry = table.get(noun, {})
    for o in graph.objects:
        lemma = object_lemma(o)
        cls = resources.lexicon.class_of(lemma)
        if cls == "group" and lemma not in _NO_PEOPLE_GROUPS:
            return True
        if cls == "person" and is_plural(o):
            kind = table.get(lemma) or table.get(lemma.rsplit(" ", 1)[-1])  # "shirtless men" are men
            if kind is None or may_be_one_person(kind, entry):
                return True  # "skiers" may be anyone, "kids" boys, "teenagers" girls; "two men" hold no woman
    return False


#: Group nouns that hold no people themselves ("traffic lines up"; "a line of people" names them).
_NO_PEOPLE_GROUPS = frozenset({"traffic", "swing set", "line", "row"})


#: What people and dogs both do, so either may join the other in it wherever it happens ("a man
#: and two dogs playing outside", "a dog and a person sitting in a shallow lagoon"); not
#: "backpacking", "hugging", "pulling".
_SHARED_ACTIONS = frozenset(
    {"run", "walk", "play", "swim", "jump", "sit", "lie", "lay", "stand", "wait", "wade", "splash", "roll", "rest"}
)


#: Words after a copula that say where the subject is ("is in the water", "is outside").
_PLACE_WORDS = (frozenset(PREPOSITIONS) | {"outside", "inside", "outdoors", "indoors", "out", "together"}) - {
    "of", "with", "for", "as", "like", "by"
}


def _verb_follows(caption: str, pos: int) -> str | None:
    """The lemma of the first verb form after ``pos``: the subject does something the parse may
    not have tied to it ("a woman is outside *playing* the guitar"); None when there is none.
    An auxiliary gives way to the verb right after it ("is *running*"); a copula with no verb
    after it is "be" ("a dog is in the water": it only is somewhere)."""
    aux = False
    for word, _, _ in words_with_spans(caption, pos):
        tagged = verb_lemma_and_tag(word.lower())
        if aux:
            if tagged is not None and tagged[1] in ("VBG", "VBN"):
                if tagged[0] != "be":
                    return tagged[0]  # "is running", "is being *chased*"
                continue
            # "is in the water": being somewhere; "is rock climbing", "is waterskiing": a doing
            # the tagger does not know, which no one may be assumed to share
            return "be" if word.lower() in _PLACE_WORDS else "?"
        if tagged is not None and tagged[1] in ("VBG", "VBZ", "VBD", "VBP"):
            if tagged[0] != "be":
                return tagged[0]
            aux = True  # "is", "are being": the verb comes next
    return "?" if aux else None


def _shared(ctx: str) -> bool:
    """A doer's slot whose verb people and dogs both do ("S|run in@yard")."""
    return ctx[2:].partition("@")[0].split(" ", 1)[0] in _SHARED_ACTIONS


def _does_it(caption: str, graph: SceneGraph, index: int, noun: str, resources: Any) -> bool:
    """A co-subject must have been seen doing one of the subject's verbs ("a sheep and two dogs
    fight": sheep were never counted fighting); beside anything but a person it must also have
    been seen doing it to the same thing (people do most of what dogs do, not the converse, and a
    cat does little of what a dog does); a baby must have been seen doing it itself; a subject
    with no verb takes its own kind, or a dog beside people."""
    lex = resources.lexicon
    verbs = [c for c in object_contexts(graph, index) if c.startswith("S|") and is_verb_context(c)]
    own = lex.class_of(object_lemma(graph.objects[index]))
    same = lex.class_of(noun) == own == "person"  # a person beside a person: what one does, most people do
    old = object_lemma(graph.objects[index])
    if not verbs:
        # nothing the parse tied to the subject says what it does: a person joins a person, and
        # people and dogs join each other where no verb follows or one both do ("a dog and three
        # people on a beach"); any other kind only where no verb follows at all ("a cat and a
        # dog leap over the water" cannot be checked), a baby only beside people doing nothing
        follows = _verb_follows(caption, graph.objects[index].end)
        shared = follows is None or follows in _SHARED_ACTIONS
        if lex.class_of(noun) == "person" and not is_baby(noun, resources):
            # "a man and two dogs playing outside", "a man and a dog are in the water" (where a
            # dog is, a person may be; not the converse: "a dog and a man are on a sailboard")
            return own == "person" or (own == "animal" and (shared or follows == "be"))
        if noun == "dog" and own == "person":
            return shared  # "a dog and three people on a beach", not "... are hugging"
        return lex.class_of(noun) == own and follows is None
    person = lex.class_of(noun) == "person"
    if not same and any(
        "@" in c
        and lex.context_total(c) >= 1
        and not lex.seen(c, noun)
        # a person goes where a dog runs (not pulls), a dog where people walk or sit
        and not ((person or (noun == "dog" and _shared(c))) and " " in c.partition("@")[0])
        for c in verbs
    ):
        # beside anyone but a person, the newcomer must have done it to that very thing: "a dog
        # ... casting a fishing pole", "a cat and a dog leap over the water"; a person beside an
        # animal must have been seen handling the thing ("a boy and two horses pull a carriage"),
        # not at the place ("a man and a dog are running in a yard")
        return False
    if is_baby(noun, resources):
        return any(lex.seen(c, noun) for c in verbs)  # "a baby and two men jumping"
    dog_and_people = "dog" in (noun, old) and {lex.class_of(noun), own} == {"animal", "person"}
    return any(
        lex.seen(c, noun)
        or (same and lex.class_share(c, own) >= DOMINANT_SHARE)
        or seen_doing(resources, c, noun, old)  # "a cat and a dog running": cats run
        or (dog_and_people and _shared(c))  # "a dog and people wearing costumes wait in a room"
        for c in verbs
    )


_PASSIVE = re.compile(r"\s+(is|are|was|were|gets|get)\s+(being\s+)?([a-z]+)\s+by\b", re.I)


def _passive_verb(caption: str, pos: int) -> str | None:
    """The lemma of a passive right after the subject ("a dog *is walked by* a man"): what is
    done to the subject, which a newcomer must have been seen undergoing."""
    m = _PASSIVE.match(caption, pos)
    if m is None:
        return None
    tagged = verb_lemma_and_tag(m.group(3).lower())
    return tagged[0] if tagged is not None and tagged[1] in ("VBN", "VBD") else None


def _singular_verb(word: str) -> bool:
    """A third-person singular verb form ("is", "has", "stands")."""
    if word.lower() in ("is", "was", "has"):
        return True
    tagged = verb_lemma_and_tag(word.lower())
    return tagged is not None and tagged[1] == "VBZ"


def _subject_candidates(caption, graph, rng, resources) -> list[Candidate]:
    """A co-subject before the main subject: "A man is running" -> "A woman and a man are running"."""
    i = _subject_index(caption, graph)
    if i is None or _SUBJECT_BLOCKERS.search(caption):
        return []
    obj = graph.objects[i]
    if not relation_end(caption, obj, resources):
        return []  # "people" may be joined ("a dog and a group of people"), a part noun may not
    lemma = object_lemma(obj)
    present = caption_words(caption)
    det = _DETERMINER.match(caption)  # the subject starts the caption (``_subject_index``)
    subject = caption[: obj.end]
    first = subject.split(" ", 1)[0]
    if first[:1].isupper() and first[1:] == first[1:].lower():
        subject = subject[:1].lower() + subject[1:]  # "A man" -> "a woman and a man"
    nxt = word_after(caption, obj.end)
    listed = nxt is not None and nxt[0].lower() == "and"  # the verb agrees with a list already
    if (nxt is not None and nxt[0].lower() == "or") or (listed and (det is None or _QUANTIFIED.match(caption))):
        return []  # "a dog or a cat"; "man and woman": no article for a third; "a group of men and women"
    singular = not is_plural(obj) and not listed
    finite = agreeing_verb(caption, graph, i, resources)
    verb = finite if singular else None
    if not singular and not listed and _QUANTIFIED.match(caption):
        # "a crowd of people is standing": the verb agrees with the group noun; a newcomer makes it
        # plural ("a dog and a crowd of people are"), nothing else of the subject changes
        if (
            finite is not None
            and _singular_verb(finite[2])
            and len(caption[obj.end : finite[0]].split()) <= 1  # "people is", not "... flower pins"
        ):
            verb = finite
    more = subject_verbs_after(caption, obj.end, verb, resources, graph) if singular else []
    if more is None:
        return []  # "as she swims", "dressed as a clown is": agreement we cannot fix
    held = [  # one thing the subject holds, wears, rides or plays
        (predicate_key(r.predicate), r)
        for r in graph.relations
        if r.subject == i
        and _one_holder(predicate_key(r.predicate), graph.objects[r.object], resources)
        and not is_plural(graph.objects[r.object])
        # "a few boys throwing a football" share it already: a mother may join them
        and (singular or not _one_doer(predicate_key(r.predicate), graph.objects[r.object]))
    ]
    if finite is None and any(key in ("ride", "play") or _one_doer(key, graph.objects[r.object]) for key, r in held):
        # "a man and two girls riding an ATV", "... sitting in a chair": no finite verb, the
        # participle rides or sits for all
        return []
    if finite is not None and any(
        r.start >= finite[0]
        # "his bike" becomes "their bikes" (``shared_possessions``): one each
        and (word_before(caption, phrase_start(graph.objects[r.object])) or "").lower() not in POSSESSIVES
        for _, r in held
    ):
        # what the main verb says of both: "the man and the lady are wearing a brown jacket",
        # "... clutch the ball" (one thing, two holders); not a phrase on the subject alone ("a
        # woman and a man wearing a red shirt are running")
        return []
    owned = shared_possessions(caption, graph, i, resources) if singular else []
    if owned is None:
        return []  # "... his bike" with another person or animal named: whose is it, once two ride?
    passive = _passive_verb(caption, obj.end)
    cooccur = resources.lexicon.cooccurring(lemma)
    companions = [(w, n) for w, n in _companions(lemma, resources) if w not in present and w != lemma]
    options = [(w, float(cooccur.get(w, 0))) for w, _ in companions if cooccur.get(w, 0) >= MIN_COOCCUR]
    if not options and resources.lexical_relation("dog", lemma, "n") == "hyponym":
        # a breed captions rarely name ("a black poodle"): the company dogs keep
        dogs = resources.lexicon.cooccurring("dog")
        options = [(w, float(dogs.get(w, 0))) for w, _ in companions if dogs.get(w, 0) >= MIN_COOCCUR]
    if not options and resources.lexicon.class_of(lemma) == "person":
        # a role captions rarely pair with anyone ("a snowboarder"): another person, by frequency
        options = [(w, n) for w, n in companions if person_kind(w, resources) == "identity"]
    out: list[Candidate] = []
    animal_only = ANIMAL_PARTS.search(caption[obj.end :]) is not None
    # a possession that is clothing or a vehicle goes to a person only ("a dog and a line of
    # people are sitting on their motorcycles")
    theirs = re.findall(r"\btheir\s+((?:[a-z-]+\s+){0,2}[a-z-]+)", caption[obj.end :], re.I)  # a plural's own
    worn = any(
        resources.lexicon.class_of(singularize(word.lower())) in ("clothing", "vehicle")
        for word in [w for _, _, w in owned] + [t.split()[-1] for t in theirs]
    )
    for new in weighted_order(rng, options)[:TRIES]:
        if any(
            resources.lexicon.class_of(object_lemma(o)) == resources.lexicon.class_of(new)
            and resources.lexical_relation(object_lemma(o), new, "n") is not None
            for o in graph.objects
        ):
            continue  # "a man and three people": a man may be one of them (WordNet's dog is a man too)
        if _may_be_among(graph, new, resources):
            continue
        if animal_only and resources.lexicon.class_of(new) == "person":
            continue  # "a woman and a dog carry a towel in his mouth"
        if worn and resources.lexicon.class_of(new) != "person":
            continue  # "a dog and a boy are splashing water in their bathing suits"
        # a companion does what the subject does, not necessarily where captions saw the subject
        # do it: "a man and a dog running in a yard" (yards are counted with dogs)
        if not noun_fits(resources, graph, i, new, attributes=False, joint=False) or not _does_it(
            caption, graph, i, new, resources
        ):
            continue  # the new noun must do what the subject does: no "a cat and a man riding a horse"
        if passive is not None and not resources.lexicon.seen(f"O|{passive}", new):
            continue  # "a dog is walked by a man": a woman is not walked
        if det is None:
            lead = f"{new} and "  # "Man riding a bike" -> "Woman and man riding a bike"
        elif listed:  # "A man and a woman sit" -> "A boy, a man and a woman sit": a third in the list
            # the comma spaced as the caption spaces its own ("A dog , two women and a man" in
            # tokenised captions)
            comma = " , " if re.search(r"\w [.,!?;:]", caption) else ", "
            lead = f"{'the' if det.group(0).lower() == 'the' else article_for(new)} {new}{comma}"
        else:
            lead = f"{'the' if det.group(0).lower() == 'the' else article_for(new)} {new} and "
        after, end = lead + subject, obj.end
        verbs = [(start, stop, plural_verb(word, resources)) for start, stop, word in ([verb, *more] if verb else [])]
        if any(word is None for _, _, word in verbs):
            break  # a verb we cannot inflect: "a man windsurfs"
        for start, stop, word in sorted(verbs + owned):
            after += caption[end:start] + word  # "stand ... and are covered", "ride their bikes"
            end = stop
        out.append(Candidate(*apply_edit(caption, 0, end, after)))
        if len(out) >= PER_OBJECT:
            break
    return out


def _object_candidates(caption, graph, rng, resources) -> list[Candidate]:
    """A second direct object of a verb: "carrying a stick" -> "carrying a stick and a ball"."""
    lex = resources.lexicon
    present = caption_words(caption)
    out: list[Candidate] = []
    rels = [  # verbs that take two things at once: "carrying a stick and a ball", not "riding" or "catching"
        r for r in graph.relations if predicate_key(r.predicate) in _TAKES_SEVERAL
    ]
    rng.shuffle(rels)
    for rel in rels:
        obj = graph.objects[rel.object]
        if not editable_object(caption, obj, resources) or obj.count == 0:
            continue
        nxt = word_after(caption, obj.end)
        if nxt is not None and nxt[0].lower() in ("and", "or", "of", ","):
            continue  # a coordination already, "a cup of tea", or "two men , one in yellow pants"
        if nxt is not None and (tagged := verb_lemma_and_tag(nxt[0].lower())) and tagged[1] in ("VBN", "VBG"):
            continue  # "pull a carriage and a boat driven by a woman": the phrase would hang on both
        lemma = object_lemma(obj)
        ctx = f"O|{predicate_key(rel.predicate)}"
        cls = lex.class_of(lemma)
        if cls is None or cls in _NOT_ADDED or cls == "person":
            continue  # "holds a small infant and a boy in a baby carrier": people are not carried in pairs
        never = set(
            resources.vocab["add_obj_exclude"]["nouns"]
        )  # "holding a cup and a bag": may be there anyway
        doer = object_lemma(graph.objects[rel.subject])
        # an animal carries what animals were seen carrying: "a stick and a toy in its mouth",
        # never "a ball and a skateboard in its mouth"
        by_animal = lex.class_of(doer) in ("animal", "bird")
        mass = set(resources.vocab["mass_nouns"])
        options = [
            (w, float(n))
            for w, n in sorted(lex.fillers(ctx).items())
            if n >= 2 and w not in present and w != lemma and w.rsplit(" ", 1)[-1] not in never
            and lex.class_of(w) == cls and lex.count(w) >= 8
            and (not by_animal or lex.seen(f"{ctx}@{doer}", w))
        ]  # fmt: skip
        for new in weighted_order(rng, options)[:TRIES]:
            if resources.lexical_relation(lemma, new, "n") is not None or _may_be_among(graph, new, resources):
                continue  # "a crowd is watching two men and a guy": he may be in the crowd
            insert = f" and {new}" if new in mass else f" and {article_for(new)} {new}"  # "an apple and corn"
            out.append(Candidate(*apply_edit(caption, obj.end, obj.end, insert)))
            break
    return out


@register("add_obj", type="add_obj", version=ADD_OBJ_VERSION)
def add_obj(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Add a co-subject before the main subject, or a second object of the main verb."""
    cands = _subject_candidates(caption, graph, rng, resources) + _object_candidates(
        caption, graph, rng, resources
    )
    return finish(caption, cands, "add_obj", ADD_OBJ, resources, limit=limit)


#: Words that end a noun phrase when reading it backwards from the noun.
_PHRASE_EDGE = frozenset({"a", "an", "the", "his", "her", "their", "its", "my", "this", "that", ","}) | (
    frozenset(PREPOSITIONS) - {"up", "down", "out", "off"}  # particles stay inside: "ripped up tights"
)


#: How far back ``_group_in_phrase`` reads.
_PHRASE_WINDOW = 4


def _group_in_phrase(before: list[str], group: str, resources: Any) -> bool:
    """A word of ``group`` among the last words before the insertion point, back to the phrase's
    start: the parser may have lost it ("wearing orange and black ripped up tights": no "gray")."""
    for word in reversed(before[-_PHRASE_WINDOW:]):
        low = word.lower()
        if low in _PHRASE_EDGE:
            return False
        if group in resources.adjective_group.get(low, ()):
            return True
    return False


#: Verbs of holding or wearing: one thing is held or worn by one ("two people wearing a jacket").
_ONE_HOLDER_VERBS = frozenset(
    {"wear", "hold", "clutch", "carry", "grab", "grip", "hug", "cradle", "wield", "have on", "sport"}
)
#: One ball, one thrower: "a woman and a baseball player strain to throw a ball".
_ONE_DOER_VERBS = frozenset({"throw", "toss", "kick", "catch", "hit", "swing", "shoot", "dribble", "pitch"})
#: Seats for one: "a dog and a man sitting in a blue metal chair" is two on one chair.
_ONE_SEATS = frozenset({"chair", "stool", "seat", "armchair", "wheelchair", "high chair", "highchair", "saddle"})
_SEATED = frozenset({"sit", "lie", "lay", "rest", "sleep", "perch", "stand"})


def _one_holder(key: str, thing: SceneObject, resources: Any) -> bool:
    """One thing that one person holds, wears, rides or plays ("are riding a bicycle", "play an
    accordion"); a game is played by many ("play soccer")."""
    cls = resources.lexicon.class_of(object_lemma(thing))
    return (
        key in _ONE_HOLDER_VERBS
        or _one_doer(key, thing)
        or (key == "ride" and cls in ("vehicle", "sports_gear", "animal"))
        or (key == "play" and cls == "instrument")
    )


def _one_doer(key: str, thing: SceneObject) -> bool:
    """One thrower of a ball, one sitter on a chair: a participle after two doers says it of
    both ("a dog and a man sitting in a blue metal chair")."""
    return key in _ONE_DOER_VERBS or (
        key.split(" ", 1)[0] in _SEATED and object_lemma(thing).rsplit(" ", 1)[-1] in _ONE_SEATS
    )


#: Verbs whose object is an act, not a thing ("does a loop", "performs a trick").
_PERFORM_VERBS = frozenset({"do", "perform", "make", "execute", "attempt", "complete", "land", "pull"})
#: Traits a word of the caption already settles: "a bald man with dark hair" is no scene, "a
#: bearded man with a white beard", "a masked man wearing a mask" are true.
_HAIR_WORDS = frozenset(
    "hair haired beard beards goatee mustache moustache ponytail braids dreadlocks dreads pigtails curls afro afros "
    "mohawk cornrows mullet bun".split()
)
_SAID_BY: dict[str, frozenset[str]] = {
    "bald": _HAIR_WORDS,
    "bearded": frozenset({"beard", "beards", "goatee"}),
    "mustached": frozenset({"mustache", "moustache", "mustaches"}),
    "tattooed": frozenset({"tattoo", "tattoos"}),
    "masked": frozenset({"mask", "masks"}),
    "uniformed": frozenset({"uniform", "uniforms"}),
    "shirtless": frozenset("shirt shirts t-shirt tee-shirt jersey sweatshirt sweater jacket top blouse".split()),
    "topless": frozenset("shirt shirts t-shirt tee-shirt jersey sweatshirt sweater jacket top blouse bikini".split()),
    "barefoot": frozenset("shoe shoes boot boots sneakers sandals socks cleats skates".split()),
}
#: Traits a scene of swimming or the beach makes likely ("shirtless", "topless").
_BARE_TRAITS = frozenset({"shirtless", "topless", "barefoot", "wet"})
_BARE_SCENE = re.compile(
    r"\b(swim\w*|surf\w*|beach\w*|pool|ocean|lake|river|sea|shore|wave\w*|water\w*|sprinkler\w*|"
    r"bikini|trunks|shirt off|wetsuit|sunbath\w*|sauna|shower\w*|bath\w*)\b",
    re.I,
)


#: States a scene rules out: mud where there is snow or a pool.
_SCENE_CLASHES = {
    adj: re.compile(r"\b(snow\w*|ski|skis|skier\w*|skiing|sled\w*|pool|swimming)\b", re.I)
    for adj in ("muddy", "dirty")
}


def _has_hair_color(lemma: str, resources: Any) -> bool:
    """People and dogs are said to be blond or redheaded; "a blonde prey" is no caption's."""
    head = lemma.rsplit(" ", 1)[-1]
    return (
        resources.lexicon.class_of(lemma) == "person"
        or head in ("dog", "puppy")
        or head in resources.dog_breeds()
    )


#: Adjectives that classify a noun though WordNet derives them from no noun ("a public bench").
_CLASSIFIERS = frozenset(
    "public private indoor outdoor main front back top bottom side local national professional pet toy "
    "baby adult junior senior".split()
)


def _classifies(adjective: str, resources: Any) -> bool:
    """The adjective says what kind of thing the noun is ("musical", "European": WordNet relates
    it to a noun), rather than what it is like ("elegant"): it stays next to the noun."""
    if adjective in _CLASSIFIERS or resources.wordnet is None:
        return True
    key = ("add_att.classifies", adjective)
    if key not in resources._cache:
        synsets = resources.synsets(adjective, "a") + resources.synsets(adjective, "s")
        resources._cache[key] = not synsets or any(
            lemma.pertainyms() for synset in synsets for lemma in synset.lemmas()
        )
    return resources._cache[key]


def _noun_before(caption: str, pos: int, resources: Any) -> bool:
    """The word before ``pos`` is a noun only (no adjective sense in WordNet, not a function
    word): the first half of a compound the parse left out of the object."""
    prev = word_before(caption, pos)
    if prev is None or not prev.isalpha() or not prev.islower():
        return False
    if prev in _PHRASE_EDGE or prev in NUMBER_WORDS or prev in QUANTIFIER_WORDS or prev in POSSESSIVES:
        return False
    if resources.lexicon.class_of(prev) is None or resources.synsets(prev, "a"):
        return False  # not a thing captions name, or an adjective too ("plastic", "wooden")
    tagged = verb_lemma_and_tag(prev)
    if tagged is not None and tagged[0] != prev:
        return False  # "walks", "holding": a verb form
    # "ice" (a noun more often than a verb), not "hold", "play" (verbs more often than nouns)
    return resources.frequency(prev, "n") >= resources.frequency(prev, "v")


def _attribute_options(obj: SceneObject, resources: Any) -> list[tuple[str, float]]:
    """(adjective, weight) that are checkable and counted on this noun, not its default."""
    lex = resources.lexicon
    lemma = object_lemma(obj)
    cls = lex.class_of(lemma)
    groups = set(resources.vocab["add_att"]["groups"])
    extra = set(resources.vocab["add_att"]["extra"])
    people = set(resources.vocab["add_att"]["people"])
    counted = lex.adjectives_of(lemma)
    colors = resources.vocab["adjective_groups"]["color"]
    color_total = sum(counted.get(c, 0) for c in colors)
    out: dict[str, float] = {}
    exclude = set(resources.vocab["add_att"]["exclude"])  # "a colorful blue dress"
    for adj, n in counted.items():
        if adj in exclude:
            continue
        adj_groups = set(resources.adjective_group.get(adj, ()))
        if cls == "person":
            ok = adj in people
        else:
            ok = bool(adj_groups & groups) or adj in extra
            if adj_groups & {"openness", "fullness"} and cls not in _OPEN_OR_FULL:
                ok = False  # "an open dog" (counted from "a dog with its mouth open")
        if not ok or n < 2 or ("pattern" in adj_groups and n < _MIN_PATTERN_COUNT):
            continue
        if "material" in adj_groups and cls in ("animal", "bird"):
            continue  # "a plastic horse" is counted (carousels, toys), "a man on a plastic horse" is not a scene
        if adj in colors and color_total and n / color_total > 0.35:
            continue  # "green grass", "white snow", "blue sky": likely true
        if cls == "water" and adj in colors:
            continue  # "a white wave", "a green wave", "blue water": water takes the colors of its light
        out[adj] = float(n)
    if cls in COLORED_CLASSES:
        for c in colors:
            if c in resources.vocab["rare_adjectives"] or (color_total and counted.get(c, 0) / color_total > 0.35):
                continue  # the counted default ("a black wetsuit") was left out above: not here either
            out.setdefault(c, 1.0)
    if cls == "person":  # a visible trait any person may lack: "a bald snowboarder"
        nouns = resources.vocab["person_nouns"]
        who = nouns.get(lemma) or nouns.get(lemma.rsplit(" ", 1)[-1])  # "chubby baby": a baby
        for adj in people - exclude:
            out.setdefault(adj, 1.0)
        for adj in list(out):
            if adj in _MALE_TRAITS and who is not None and who["gender"] == "f":
                del out[adj]  # "a bearded girl", "two bald ladies"
            elif adj in _ADULT_TRAITS and who is not None and who["age"] in ("baby", "child"):
                del out[adj]  # "an elderly boy"
            elif adj in _NOT_BABY_TRAITS and who is not None and who["age"] == "baby":
                del out[adj]  # "a uniformed baby"
    return sorted(out.items())


@register("add_att", type="add_att", version=ADD_ATT_VERSION)
def add_att(
    caption: str, graph: SceneGraph, rng: random.Random, resources: Any, limit: int = MAX_NEGATIVES
) -> list[Negative]:
    """Insert a checkable adjective before an object, in conventional adjective order."""
    present = caption_words(caption)
    caption_said = present | {w.rsplit("-", 1)[-1] for w in present}  # "dark-haired" says "haired"
    order_rank = {g: k for k, g in enumerate(resources.vocab["adjective_order"])}
    order = list(range(len(graph.objects)))
    rng.shuffle(order)
    cands: list[Candidate] = []
    for i in order:
        obj = graph.objects[i]
        if not editable_object(caption, obj, resources):
            continue
        lemma = object_lemma(obj)
        if bare_singular(caption, obj) and phrase_start(obj) > 0:
            if lemma.rsplit(" ", 1)[-1] in resources.vocab["sport_nouns"]["nouns"]:
                continue  # "playing basketball", "playing flag football": a game, not a ball to color
            if lemma in BARE_PLACES and (word_before(caption, phrase_start(obj)) or "").lower() in _BARE_PLACE_PREPS:
                continue  # "read in bed", "at school": an idiom, not a bed to color
        if (word_before(caption, phrase_start(obj)) or "").lower() in ("without", "no") or re.search(
            r"\bwithout\s+(a|an|the|any|his|her|their)?\s*$", caption[: phrase_start(obj)], re.I
        ):
            continue  # "a child without a shirt" -> "without a yellow shirt" is still true
        if any(r.object == i and predicate_key(r.predicate) in _PERFORM_VERBS for r in graph.relations):
            continue  # "a plane does a loop", "performs a trick": an act, not a thing to color
        pre_atts = [a for a in obj.attributes if a.end <= obj.start]
        have_groups = {g for a in obj.attributes for g in resources.adjective_group.get(a.lemma, ())}
        have_groups.discard("quality")
        said = [a.text.lower() for a in obj.attributes] + obj.text.lower().split()[:-1]  # "turquoise surfboard": one noun
        if any(w in _MANY_COLORS | _RARE_COLORS for w in said):
            have_groups.add("color")  # "bright and colorful costumes", "a turquoise surfboard" take no "white"
        if _OWN_LOOK.match(caption, obj.end):
            have_groups.add("color")  # "a dog with black and brown fur": its colors are said
            have_groups.add("hair")  # "a girl with blond hair"
        if any(a.text.lower().endswith("haired") for a in obj.attributes) or "haired" in caption[
            max(0, obj.start - 20) : obj.start
        ].lower():
            have_groups.add("hair")  # "a black haired girl" -> "a black haired blonde girl"
        if _COVERED_BY.search(caption[max(0, obj.start - 30) : obj.start]):
            continue  # "leaf-covered hills": the covering gives its look ("orange", "muddy")
        options = []
        for adj, weight in _attribute_options(obj, resources):
            groups = resources.adjective_group.get(adj, ("quality",))
            if adj in present or set(groups) & have_groups:
                continue  # no second color: "a red blue car"
            if any(a.text.lower() in compatible_words("adjective_compatible", adj, resources) for a in obj.attributes):
                continue  # "a rocky stone path": the new adjective says what one there says
            if adj in _BARE_TRAITS and _BARE_SCENE.search(caption):
                continue  # "the shirtless athlete completes the swimming portion": swimmers are
            if _SAID_BY.get(adj, frozenset()) & caption_said:
                continue  # "a bald man with dark hair", "a bearded man with a white beard"
            if adj in _SCENE_CLASHES and _SCENE_CLASHES[adj].search(caption):
                continue  # "a muddy snowboarder", "splashing each other with muddy water" in a pool
            if "hair" in groups and not _has_hair_color(lemma, resources):
                continue  # "closes in on its blonde prey": hair colors for people and dogs
            options.append(((adj, groups[0]), weight))
        for adj, g in one_per_look(weighted_order(rng, options), PER_OBJECT, resources, word=lambda option: option[0]):
            rank = order_rank.get(g, len(order_rank))
            pos = obj.start
            for att in pre_atts:  # before the first existing adjective that comes later in order
                if (
                    att.text.lower() in NUMBER_WORDS
                    or att.text.lower() in QUANTIFIER_WORDS
                    or att.text.isdigit()
                ):
                    continue  # numbers and quantifiers lead: "two small dogs" -> "two brown small dogs"
                att_groups = resources.adjective_group.get(att.lemma, ())
                # an adjective of no group classifies the noun ("musical drum", "European
                # courtyard") and stays next to it: "a pink musical drum"; or it is an opinion
                # ("elegant", "beautiful"), which leads: "an elegant brick building"
                att_rank = min(
                    (order_rank.get(x, len(order_rank)) for x in att_groups),
                    default=len(order_rank) if _classifies(att.lemma.lower(), resources) else -1,
                )
                if " " in obj.text and resources.synsets(f"{att.text.lower()}_{obj.text.split()[0].lower()}", "n"):
                    att_rank = len(order_rank) + 1  # "hot" of "hot air balloon", "little" of "little league": part of the noun, stays
                if resources.synsets(att.text.lower(), "n") and not resources.synsets(att.text.lower(), "a"):
                    att_rank = len(order_rank)  # a noun modifier ("ice hockey goal keeper") stays next to the noun
                if att_rank > rank:
                    pos = att.start
                    break
            if pos > 0 and not caption[pos - 1].isspace():
                continue  # "half-dressed": inside a hyphenated word
            if _noun_before(caption, pos, resources):
                continue  # "an ice hockey goal keeper" parsed without its "ice": never "an ice blond hockey ..."
            before = caption[:pos].rsplit(None, _PHRASE_WINDOW)[-_PHRASE_WINDOW:]  # the words the checks read
            if after_shade(caption, pos):
                continue  # "dark sunglasses" -> "dark gray sunglasses": the shade takes the color
            if before and (before[-1].lower() in _DEGREE_ADVERBS or before[-1].lower().endswith("ly")):
                continue  # "a well kept path", "a brightly lit room": the adverb holds the next word
            if _group_in_phrase(before, g, resources):
                continue  # "a red rope toy" parsed without its "red": no "a red yellow rope toy"
            if pos > 0:
                cands.append(Candidate(*apply_edit(caption, pos, pos, adj + " ")))
                continue
            first = re.match(r"[A-Za-z][\w'-]*", caption)  # "Man sitting" -> "Bald man sitting"
            if first is None or not (first.group(0)[1:] == first.group(0)[1:].lower()):
                continue  # "TV", "McDonald": a name keeps its capital, so the adjective cannot lead
            word = first.group(0)
            lowered = word[:1].lower() + word[1:]
            cands.append(Candidate(*apply_edit(caption, 0, len(word), match_case(adj, word) + " " + lowered)))
    return finish(caption, cands, "add_att", ADD_ATT, resources, limit=limit)
