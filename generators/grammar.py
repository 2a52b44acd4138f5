"""Small English grammar helpers shared by the rules and the checks.

Blind text models spot rule negatives mostly by their disfluencies (DESIGN §5):
"a apple", "two dog", "A dogs is". Every rule builds its text through these
helpers so that articles, number agreement and casing are right by construction,
and ``checks.py`` tests the same properties on any negative (rules and LLM).

Inflection uses lemminflect (a lexicon plus rules), not hand-written suffix rules.
"""

from __future__ import annotations

import re
from functools import lru_cache

from negforge.schemas import Edit

#: Words whose spelling starts with a vowel letter but a consonant sound ("a unicorn").
_CONSONANT_SOUND_PREFIXES = (
    "uni",
    "use",
    "usu",
    "uten",
    "ukul",
    "ura",
    "uri",
    "uro",
    "eu",
    "ewe",
    "one",
    "once",
    "ufo",
    "u-",
)
#: Words whose spelling starts with a consonant letter but a vowel sound ("an hour").
_VOWEL_SOUND_PREFIXES = ("hour", "honest", "honor", "honour", "heir", "herb")
#: Initialisms read letter by letter whose first letter sounds like a vowel ("an SUV", "an ATV"
#: is read "ay-tee-vee": vowel anyway; "an MP3 player", "an RV").
_SPELLED_OUT = frozenset({"suv", "rv", "mp3", "nfl", "nba", "fbi", "sos", "lcd", "led", "mri", "x-ray", "xbox"})

WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]*")

NUMBER_WORDS: dict[str, int] = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a couple of": 2,
    "a pair of": 2,
    "pair of": 2,
    "couple of": 2,
    "a dozen": 12,
    "dozen": 12,
    "both": 2,
    "a single": 1,
    "single": 1,
}
NUMBER_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")

#: Singular/plural verb forms that agree with a subject; the few irregular ones.
_AUX_PLURAL = {
    "is": "are",
    "was": "were",
    "has": "have",
    "does": "do",
    "isn't": "aren't",
    "wasn't": "weren't",
    "doesn't": "don't",
    "hasn't": "haven't",
}
_AUX_SINGULAR = {v: k for k, v in _AUX_PLURAL.items()}
#: Where lemminflect's first choice is not the everyday form ("persons", "glass" for "glasses").
_IRREGULAR_PLURAL = {
    "person": "people",
    "glasses": "glasses",
    "sunglasses": "sunglasses",
    "jeans": "jeans",
    "shorts": "shorts",
    "scissors": "scissors",
    "pants": "pants",
    "skis": "skis",
}
_IRREGULAR_SINGULAR = {
    "people": "person",
    "glasses": "glasses",
    "sunglasses": "sunglasses",
    "jeans": "jeans",
    "shorts": "shorts",
    "scissors": "scissors",
    "pants": "pants",
    "bus": "bus",
    "news": "news",
}


def needs_an(word: str) -> bool:
    """Whether ``word`` takes "an": by its first sound, approximated from spelling."""
    w = word.lower().lstrip("\"'(")
    if not w:
        return False
    if w[0].isdigit():
        return w.startswith(("8", "11", "18"))
    if w.startswith(_VOWEL_SOUND_PREFIXES) or w.split(" ", 1)[0] in _SPELLED_OUT:
        return True
    if w.startswith(_CONSONANT_SOUND_PREFIXES):
        return False
    if len(w) == 1:  # letters: "an x", "a b"
        return w in "aefhilmnorsx"
    return w[0] in "aeiou"


def article_for(word: str, like: str = "a") -> str:
    """ "a" or "an" for ``word``, with the casing of ``like`` ("A", "a", "AN")."""
    art = "an" if needs_an(word) else "a"
    return match_case(art, like)


def match_case(word: str, like: str) -> str:
    """``word`` cased like ``like``: all caps, capitalised, or as is."""
    if len(like) > 1 and like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


@lru_cache(maxsize=65536)
def pluralize(noun: str) -> str:
    """Plural of a (possibly multi-word) noun: the last word is inflected ("tennis rackets")."""
    from lemminflect import getInflection

    head, sep, last = noun.rpartition(" ")
    if last.lower() in _IRREGULAR_PLURAL:
        plural = _IRREGULAR_PLURAL[last.lower()]
        return f"{head}{sep}{match_case(plural, last)}"
    forms = getInflection(last, tag="NNS") if last else ()
    plural = forms[0] if forms else last + "s"
    return f"{head}{sep}{match_case(plural, last)}" if sep else match_case(plural, last)


@lru_cache(maxsize=65536)
def singularize(noun: str) -> str:
    """Singular of a (possibly multi-word) noun: the last word is lemmatised."""
    from lemminflect import getLemma

    head, sep, last = noun.rpartition(" ")
    if last.lower() in _IRREGULAR_SINGULAR:
        return f"{head}{sep}{match_case(_IRREGULAR_SINGULAR[last.lower()], last)}"
    lemmas = getLemma(last, upos="NOUN") if last else ()
    single = lemmas[0] if lemmas else last
    return f"{head}{sep}{match_case(single, last)}" if sep else match_case(single, last)


@lru_cache(maxsize=65536)
def is_plural_noun(word: str) -> bool:
    """Whether the last word of ``word`` is a plural noun form ("dogs", "people", "mice")."""
    last = word.rsplit(" ", 1)[-1].lower()
    if not last:
        return False
    if last in ("people", "children", "men", "women", "police", "cattle", "geese", "mice", "teeth", "feet"):
        return True
    single = singularize(last)
    return single != last and pluralize(single).lower() == last


@lru_cache(maxsize=65536)
def inflect_verb(lemma: str, tag: str) -> str:
    """``lemma`` in the Penn tag ``tag`` (VBG, VBZ, VBN, VBD, VBP, VB); multi-word verbs inflect the first."""
    from lemminflect import getInflection

    first, sep, rest = lemma.partition(" ")
    if tag in ("VB", "VBP"):
        form = first
    else:
        forms = getInflection(first, tag=tag)
        form = forms[0] if forms else first
    return f"{form}{sep}{rest}"


@lru_cache(maxsize=65536)
def verb_lemma_and_tag(word: str) -> tuple[str, str] | None:
    """(lemma, Penn tag) of a verb form, or None when ``word`` is not a known verb form."""
    from lemminflect import getAllInflections, getLemma

    w = word.lower()
    lemmas = getLemma(w, upos="VERB")
    for lemma in lemmas:
        if lemma != w and lemmas[:1] == (w,):
            return None  # "feed" is a verb's base form, not a participle of "fee"
        inflections = getAllInflections(lemma, upos="VERB")
        # VBN before VBD: captions use participles ("is chased", "parked"), rarely the past tense
        for tag in ("VBG", "VBZ", "VBN", "VBD"):
            if w in inflections.get(tag, ()):
                # lemminflect lists no VBN when it equals the past tense ("chased")
                return lemma, "VBN" if tag == "VBD" and "VBN" not in inflections else tag
    return None


def agree_verb(word: str, plural: bool) -> str:
    """A present-tense verb/auxiliary agreeing with a singular or plural subject."""
    from lemminflect import getLemma

    low = word.lower()
    if plural:
        if low in _AUX_PLURAL:
            return match_case(_AUX_PLURAL[low], word)
        tagged = verb_lemma_and_tag(low)
        if tagged and tagged[1] == "VBZ":
            return match_case(tagged[0], word)
        return word
    if low in _AUX_SINGULAR:
        return match_case(_AUX_SINGULAR[low], word)
    if low in ("am", "be", "been", "being"):
        return word
    lemmas = getLemma(low, upos="VERB")
    if lemmas and lemmas[0] == low and low not in ("are", "were"):
        return match_case(inflect_verb(low, "VBZ"), word)
    return word


def number_word(n: int) -> str:
    """The spelled-out number COCO captions use for small counts."""
    return NUMBER_NAMES[n] if 0 <= n < len(NUMBER_NAMES) else str(n)


def fix_articles(text: str) -> str:
    """Rewrite every "a"/"an" to agree with the following word (case kept)."""

    def repl(m: re.Match[str]) -> str:
        return article_for(m.group(3), like=m.group(1)) + m.group(2) + m.group(3)

    return re.sub(r"\b([Aa][Nn]?)(\s+)([A-Za-z0-9][\w'-]*)", repl, text)


def apply_edit(caption: str, start: int, end: int, after: str) -> tuple[str, Edit]:
    """Replace ``caption[start:end]`` by ``after`` and fix an article right before the span.

    If the word before the span is "a"/"an" and the new first word needs the
    other article, the edit widens to cover the article, so the recorded span
    still reproduces the negative exactly. Leading capitalisation moves with
    the sentence start (a span at offset 0 is cased like the original).
    """
    if start == 0 and after and caption[:1].isupper() and not after[:1].isupper():
        after = after[:1].upper() + after[1:]
    m = re.search(r"(?:^|(?<=\s))([Aa][Nn]?)(\s+)$", caption[:start])
    first = WORD_RE.match(after.lstrip())
    if m and first:
        art = m.group(1)
        new_art = article_for(first.group(0), like=art)
        if new_art != art:
            new_start = m.start(1)
            if new_start == 0 and after[:1].isupper() and not caption[start : start + 1].isupper():
                after = after[:1].lower() + after[1:]
            after = new_art + m.group(2) + after
            start = new_start
    text = caption[:start] + after + caption[end:]
    return text, Edit(start, end, caption[start:end], after)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, apostrophes, hyphens)."""
    return [w.lower() for w in re.findall(r"[A-Za-z0-9][\w'-]*", text)]


_TO_FEMALE = {"he": "she", "him": "her", "his": "her", "himself": "herself"}
_TO_MALE = {"she": "he", "hers": "his", "herself": "himself"}
_GENDERED = re.compile(r"\b(he|him|his|himself|she|her|hers|herself)\b", re.IGNORECASE)
_NOT_A_NOUN_NEXT = frozenset(
    "and or but as while to in on at with from by for of up down off out into onto over under "
    "near behind is was are were".split()
)


def last_gendered_pronoun(text: str) -> int | None:
    """End offset of the last he/him/his/she/her... in ``text``, or None."""
    ends = [m.end() for m in _GENDERED.finditer(text)]
    return ends[-1] if ends else None


def regender_pronouns(text: str, to: str, upto: int | None = None) -> str:
    """``text[:upto]`` with third-person pronouns turned to gender ``to`` ("f" or "m").

    "her" becomes "his" before a word it can own ("her long hair") and "him" otherwise
    ("hugging her ."); the words after ``upto`` are read for that, not returned.
    """
    end = len(text) if upto is None else upto
    out, pos = [], 0
    for m in _GENDERED.finditer(text, 0, end):
        word, low = m.group(0), m.group(0).lower()
        if to == "f":
            new = _TO_FEMALE.get(low, low)
        elif low == "her":
            nxt = re.match(r"\s+([A-Za-z][\w'-]*)", text[m.end() :])
            new = "his" if nxt is not None and nxt.group(1).lower() not in _NOT_A_NOUN_NEXT else "him"
        else:
            new = _TO_MALE.get(low, low)
        out += [text[pos : m.start()], match_case(new, word)]
        pos = m.end()
    return "".join(out) + text[pos:end]
