"""Lexical resources the rules share: WordNet, curated vocabularies, word frequencies.

Loaded once per process (``load_resources`` is cached): the build pipeline calls
it in ``DoFn.setup`` and passes the object to every generator, so the ~5 s WordNet
load is paid once per worker, not per record. The object is read-only after
construction; its lazy caches are per process and deterministic.

Why frequencies: replacements drawn from WordNet's long tail ("monochromatic",
"Pyramid Scheme") are a tell a blind text model learns (DESIGN §5), so rules
prefer candidates whose tagged-sense count (WordNet's cntlist) is close to the
original's and drop zero-count and capitalised (proper) lemmas.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources as importlib_resources
from typing import Any

logger = logging.getLogger(__name__)

#: Relation kinds ``lexical_relation`` reports; none of them is a valid replacement.
RELATED_KINDS = ("same", "synonym", "hypernym", "hyponym")


@dataclass
class Resources:
    """Everything a rule needs besides the caption and its graph."""

    wordnet: Any  # nltk WordNetCorpusReader, or None when WordNet is unavailable
    vocab: dict[str, Any]  # generators/data/vocab.json
    noun_group: dict[str, tuple[str, ...]] = field(default_factory=dict)  # noun lemma -> its groups
    adjective_group: dict[str, tuple[str, ...]] = field(default_factory=dict)  # adjective -> its groups
    verb_group: dict[str, tuple[str, ...]] = field(default_factory=dict)  # verb lemma -> its groups
    relation_group: dict[str, str] = field(default_factory=dict)  # preposition -> its group

    def __post_init__(self) -> None:
        self._cache: dict[tuple, Any] = {}
        for kind, table, key in (
            ("noun", self.noun_group, "noun_groups"),
            ("adj", self.adjective_group, "adjective_groups"),
            ("verb", self.verb_group, "verb_groups"),
        ):
            for group, members in self.vocab[key].items():
                for word in members:
                    table[word] = table.get(word, ()) + (group,)
            logger.debug("%d %s entries", len(table), kind)
        for group, members in self.vocab["relations"]["groups"].items():
            for prep in members:
                self.relation_group.setdefault(prep, group)

    @property
    def lexicon(self) -> Any:
        """Counted selectional preferences (``lexicon.Lexicon``), loaded on first use."""
        lex = self._cache.get(("lexicon",))
        if lex is None:
            from .lexicon import load_lexicon

            lex = self._cache[("lexicon",)] = load_lexicon(self.wordnet, self.vocab)
        return lex

    # ----------------------------------------------------------------- WordNet
    def synsets(self, word: str, pos: str) -> tuple[Any, ...]:
        """WordNet synsets of ``word`` (spaces allowed) for pos in n/v/a; () without WordNet."""
        if self.wordnet is None or not word.strip():
            return ()
        key = ("syn", word.lower(), pos)
        if key not in self._cache:
            try:
                found = self.wordnet.synsets(word.lower().replace(" ", "_"), pos=pos)
                if pos == "a":
                    found = found + self.wordnet.synsets(word.lower().replace(" ", "_"), pos="s")
            except Exception:  # noqa: BLE001  (odd unicode in the morphy path)
                found = []
            self._cache[key] = tuple(found)
        return self._cache[key]

    def frequency(self, word: str, pos: str) -> int:
        """Tagged-sense count of ``word`` summed over its synsets (SemCor via cntlist)."""
        key = ("freq", word.lower(), pos)
        if key not in self._cache:
            name = word.lower().replace(" ", "_")
            total = 0
            for syn in self.synsets(word, pos):
                for lemma in syn.lemmas():
                    if lemma.name().lower() == name:
                        total += lemma.count()
            self._cache[key] = total
        return self._cache[key]

    def _closure(self, word: str, pos: str, direction: str) -> frozenset:
        key = ("closure", word.lower(), pos, direction)
        if key not in self._cache:
            out: set = set()
            for syn in self.synsets(word, pos):
                rel = (
                    (lambda s: s.hypernyms() + s.instance_hypernyms())
                    if direction == "up"
                    else (lambda s: s.hyponyms() + s.instance_hyponyms())
                )
                out.update(syn.closure(rel, depth=12 if direction == "up" else 4))
            self._cache[key] = frozenset(out)
        return self._cache[key]

    def lexical_relation(self, original: str, candidate: str, pos: str = "n") -> str | None:
        """How ``candidate`` relates to ``original``: same, synonym, hypernym, hyponym, or None.

        A replacement related in any of these ways is not a negative ("dog" →
        "animal" or "puppy" still describes the image), so rules and checks
        reject it. Only the senses WordNet lists as the first three are used
        for hypernym/hyponym tests, so rare senses do not block common words.
        """
        a, b = original.lower().strip(), candidate.lower().strip()
        if pos == "n":
            # "lab", "shepherd": a dog in captions, whatever WordNet's first sense says
            breeds = self.dog_breeds()
            a, b = ("dog" if a in breeds else a), ("dog" if b in breeds else b)
        key = ("rel", a, b, pos)
        if key not in self._cache:
            self._cache[key] = self._lexical_relation(a, b, pos)
        return self._cache[key]

    def _person_and_animal(self, a: str, b: str) -> bool:
        """One word names people and the other an animal (the caption classes, not WordNet's
        rarer senses): they are never the same thing."""
        kinds = {self.lexicon.class_of(a), self.lexicon.class_of(b)}
        return "person" in kinds and bool(kinds & {"animal", "bird"})

    def dog_breeds(self) -> frozenset[str]:
        """Dog names whose WordNet first sense is something else ("lab", "shepherd"): dogs."""
        key = ("dog_breeds",)
        if key not in self._cache:
            self._cache[key] = frozenset(self.vocab.get("dog_breeds", {}).get("words", ()))
        return self._cache[key]

    def _lexical_relation(self, a: str, b: str, pos: str) -> str | None:
        if a == b:
            return "same"
        from .grammar import singularize

        if singularize(a) == singularize(b):
            return "same"
        a_syn = set(self.synsets(singularize(a) if pos == "n" else a, pos))
        b_all = self.synsets(singularize(b) if pos == "n" else b, pos)
        if a_syn & set(b_all):
            return "synonym"
        if pos == "a":
            if b in self.vocab.get("adjective_distinct", {}).get(a, ()):
                return None  # "young" boy vs "teenage" boy: one WordNet cluster, two photos
            similar = {s2 for s in a_syn for s2 in s.similar_tos()}
            if similar & set(b_all):
                return "synonym"
            return None
        a_word, b_word = (singularize(a), singularize(b)) if pos == "n" else (a, b)
        if pos == "n" and self._person_and_animal(a_word, b_word):
            return None  # "dog" is also "an informal term for a man": never so in a photo caption
        if set(b_all[:3]) & self._main_closure(a_word, pos):
            return "hypernym"
        if set(self.synsets(a_word, pos)[:3]) & self._main_closure(b_word, pos):
            return "hyponym"
        return None

    def _main_closure(self, word: str, pos: str) -> frozenset:
        """Every hypernym (12 levels) of the first three senses of ``word``; cached per word, so
        checking many candidates against one noun walks WordNet once, not once per pair."""
        key = ("main_up", word, pos)
        if key not in self._cache:
            up: set = set()
            for syn in self.synsets(word, pos)[:3]:
                up.update(syn.closure(lambda x: x.hypernyms() + x.instance_hypernyms(), depth=12))
            self._cache[key] = frozenset(up)
        return self._cache[key]

    def part_whole(self, a: str, b: str) -> bool:
        """One noun names a part of the other ("wall" of a "building", "wheel" of a "bike"), by
        WordNet's part meronyms of their first two senses, two levels deep: replacing one by the
        other may still describe the photo."""
        from .grammar import singularize

        key = ("part", *sorted((a.lower(), b.lower())))
        if key not in self._cache:
            sa = self.synsets(singularize(a.lower()), "n")[:2]
            sb = self.synsets(singularize(b.lower()), "n")[:2]

            def parts(syns) -> set:
                out = set()
                # a house has the parts of a building: its door, its wall (one level up)
                for syn in list(syns) + [h for own in syns for h in own.hypernyms()]:
                    for p in syn.part_meronyms():
                        out.add(p)
                        out.update(p.part_meronyms())
                return out

            self._cache[key] = bool(parts(sa) & set(sb) or parts(sb) & set(sa))
        return self._cache[key]

    def is_antonym(self, a: str, b: str) -> bool:
        """WordNet or curated antonymy (for adjectives)."""
        if self.vocab["antonyms"].get(a.lower()) == b.lower():
            return True
        for syn in self.synsets(a, "a"):
            for lemma in syn.lemmas():
                if any(ant.name().lower() == b.lower() for ant in lemma.antonyms()):
                    return True
        return False

    # ------------------------------------------------------- candidate lists
    def noun_cohyponyms(self, noun: str, limit: int = 30) -> tuple[str, ...]:
        """Common co-hyponyms of ``noun``'s first sense, sorted by frequency closeness.

        Siblings are taken under the first hypernym (and its parent when the
        first level is too small) of sense 1, at depth ≥ 4 so "entity"-level
        siblings never appear. Returns lower-case, non-proper, count > 0 lemmas
        that are neither synonyms, hypernyms nor hyponyms of ``noun``.
        """
        key = ("cohyp", noun.lower(), limit)
        if key in self._cache:
            return self._cache[key]
        from .grammar import singularize

        base = singularize(noun.lower())
        syns = self.synsets(base, "n")
        out: list[tuple[float, str]] = []
        if syns:
            first = syns[0]
            base_freq = max(self.frequency(base, "n"), 1)
            hypers = sorted(first.hypernyms(), key=lambda s: s.name())
            seen: set[str] = set()
            for _level in range(2):
                for hyper in hypers:
                    if hyper.min_depth() < 4:
                        continue
                    pool = sorted(hyper.hyponyms(), key=lambda s: s.name())
                    for sib in pool:
                        if sib == first:
                            continue
                        for lemma in sib.lemmas()[:2]:
                            name = lemma.name()
                            if not name.islower() or not name.replace("_", "").isalpha():
                                continue
                            word = name.replace("_", " ")
                            if word in seen or word.count(" ") > 1:
                                continue
                            seen.add(word)
                            senses = self.synsets(word, "n")
                            if not senses or senses[0] != sib:
                                continue  # the sibling must be the word's main sense ("head" is not a dog)
                            freq = self.frequency(word, "n")
                            if freq <= 0:
                                continue
                            if self.lexical_relation(base, word, "n") is not None:
                                continue
                            out.append((abs(math.log(freq) - math.log(base_freq)), word))
                if len(out) >= 4:
                    break
                hypers = sorted({h for s in hypers for h in s.hypernyms()}, key=lambda s: s.name())
        out.sort()
        result = tuple(w for _, w in out[:limit])
        self._cache[key] = result
        return result

    def adjective_antonyms(self, adj: str) -> tuple[str, ...]:
        """WordNet antonyms of ``adj`` (all senses, sorted), plus the curated one first."""
        key = ("ant", adj.lower())
        if key not in self._cache:
            found: set[str] = set()
            for syn in self.synsets(adj, "a"):
                for lemma in syn.lemmas():
                    for ant in lemma.antonyms():
                        if ant.name().islower() and "_" not in ant.name():
                            found.add(ant.name())
            curated = self.vocab["antonyms"].get(adj.lower())
            ordered = ([curated] if curated else []) + sorted(found - {curated})
            self._cache[key] = tuple(ordered)
        return self._cache[key]

    def groups_of_noun(self, noun: str) -> tuple[str, ...]:
        """Curated groups of a noun (singular or plural, compound or its last word)."""
        from .grammar import singularize

        low = noun.lower()
        for cand in (low, singularize(low), low.rsplit(" ", 1)[-1], singularize(low.rsplit(" ", 1)[-1])):
            if cand in self.noun_group:
                return self.noun_group[cand]
        return ()


@lru_cache(maxsize=1)
def load_resources() -> Resources:
    """The process-wide resources (WordNet + vocab), loaded once."""
    vocab_text = (importlib_resources.files("negforge.generators") / "data" / "vocab.json").read_text("utf-8")
    vocab = json.loads(vocab_text)
    try:
        from nltk.corpus import wordnet

        wordnet.ensure_loaded()
    except LookupError:
        logger.warning("WordNet is not installed; rules fall back to curated vocabularies only")
        wordnet = None
    return Resources(wordnet=wordnet, vocab=vocab)
