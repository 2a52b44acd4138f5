"""Slot-filling LLM negatives: the rule layer picks the slot, the model fills it.

Why: a 135M-parameter model asked to rewrite a caption mostly copies it or writes
junk (issue 15; measured in README "LLM negatives"). Asked for *one word of a
named class* in a slot the parse picked ("replace 'dog' with a different
animal"), with decoding constrained to a word (regex) or to a closed list
(choice), the same model is useful: the hard parts — where to edit, which class
the replacement must belong to, agreement and articles — are done by code, and
what the model adds is the contextual choice ("a red banana" vs "a green banana").

Per type (DESIGN §3 names):

- ``replace_obj``: slot = an object noun with a curated group (animal, vehicle,
  clothing …); the model writes one or two lower-case words (regex); the word must
  be a WordNet noun whose main sense shares the original's lexical class
  (noun.animal …), not the original, not a word already in the caption. People and
  places are closed classes (the prompt file lists them): the model chooses among
  demographic nouns that cannot be the same person, or places of the same kind.
- ``replace_att``: slot = an attribute of a curated group (color, size,
  material …); the model chooses among the group's values that suit the noun (choice).
- ``replace_rel``: slot = a relation's verb the rule may replace (``rules.replace_rel.verb_slot``);
  the model chooses among the verbs both ends fit by class (``verb_options(relaxed=True)``,
  already inflected like the slot), or ``none``: the wider list the rule alone would not dare
  draw from, with the model judging what a real photo could show.
- ``swap_att``: candidates = the caption with two attributes of different
  objects exchanged (each must suit its new noun); the model picks the candidate
  that could still describe a real photo, or ``none`` (choice).

Every assembled text then passes :func:`negforge.generators.checks.check_negative`
(the rule negatives' checks) in :func:`process_fill`; rejections are reason keys.
Pure Python: no vLLM, no Beam.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from typing import Any

from negforge.schemas import Edit, Negative, SceneGraph, SceneObject

from .grammar import (
    apply_edit,
    fix_articles,
    inflect_verb,
    is_plural_noun,
    match_case,
    pluralize,
    singularize,
)
from .llm import prompt_for_type
from .rules.common import shade_bound
from .rules.replace_rel import verb_options, verb_slot

#: Types the fill prompts support (others need a rewrite prompt, e.g. ``v1``).
FILL_TYPES: tuple[str, ...] = ("replace_obj", "replace_att", "replace_rel", "swap_att")
#: Constraint kinds: one or two lower-case words (regex), or one of a closed list (choice).
CONSTRAINTS = ("word", "choice")
#: The choice a ``swap_att`` request may answer when no candidate is plausible.
NONE_CHOICE = "none"
#: Open fills: one or two lower-case words, bounded so a degenerate model cannot loop.
WORD_REGEX = r"[a-z]{2,15}( [a-z]{2,15})?"
#: Most choices offered (closed attribute groups, swap candidates).
MAX_CHOICES = 12
#: WordNet lexical classes an object replacement may share with the original ("noun.Tops"
#: and the like are too general to say two nouns are of one kind).
_GENERIC_LEXNAMES = frozenset({"noun.Tops", "noun.group", "noun.quantity", "noun.attribute", "noun.act"})
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]*")
_PRONOUNS = {
    "female": frozenset({"she", "her", "hers", "herself"}),
    "male": frozenset({"he", "his", "him", "himself"}),
}

#: Rejection reasons this module produces (``check.<reason>`` come from the shared checks).
FILL_REJECT_REASONS: tuple[str, ...] = (
    "truncated",  # the engine stopped at max_tokens
    "empty",  # no words
    "fill.copy",  # the model wrote the slot's own word (or a form of it), or a word already in the caption
    "fill.not_a_word",  # not a WordNet word of the slot's part of speech: junk
    "fill.off_class",  # a real word of another class ("dog" -> "happiness")
    "fill.not_a_choice",  # a choice request answered outside its list (cannot happen under constrained decoding)
    "fill.declined",  # the model answered "none": no candidate is plausible
    "identical",
    "duplicate",
)


# ---------------------------------------------------------------------------
# Prompt template
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FillExample:
    caption: str
    slot: str  # the slot's words as the caption has them
    label: str  # the candidate class, in words
    options: tuple[str, ...]  # choice requests: the list shown; empty for word fills
    answer: str


@dataclass(frozen=True)
class FillTypePrompt:
    constraint: str  # "word" or "choice"
    instruction: str  # format string with {caption} {slot} {label} {options}
    examples: tuple[FillExample, ...]


@dataclass(frozen=True)
class FillTemplate:
    version: str  # goes into Negative.generator
    system: str
    answer_prefix: str  # plain (base-model) rendering: the cue before each answer
    class_names: Mapping[str, str]  # curated noun/adjective group -> class in words
    closed_classes: Mapping[
        str, Mapping[str, tuple]
    ]  # noun group -> word -> profile ([age, gender] or [kind])
    options_hint: (
        str  # appended to word-fill instructions that got a closed list: " Choose one of: {options}."
    )
    types: Mapping[str, FillTypePrompt]

    def for_type(self, type_: str) -> FillTypePrompt:
        return prompt_for_type(self.types, type_, self.version)


def load_fill_prompts(version: str) -> FillTemplate:
    """A shipped fill template (``generators/prompts/<version with _>.json``)."""
    name = version.replace("-", "_") + ".json"
    path = importlib_resources.files("negforge.generators") / "prompts" / name
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("style") != "fill" or data.get("version") != version:
        raise ValueError(f"{name} is not the fill prompt {version!r}")
    types = {}
    for type_, spec in data["types"].items():
        if type_ not in FILL_TYPES:
            raise ValueError(f"prompt {version}: type {type_!r} is not a fill type {FILL_TYPES}")
        if spec["constraint"] not in CONSTRAINTS:
            raise ValueError(
                f"prompt {version}: constraint must be one of {CONSTRAINTS}, got {spec['constraint']!r}"
            )
        types[type_] = FillTypePrompt(
            constraint=spec["constraint"],
            instruction=spec["instruction"],
            examples=tuple(
                FillExample(
                    ex["caption"], ex["slot"], ex["label"], tuple(ex.get("options", ())), ex["answer"]
                )
                for ex in spec["examples"]
            ),
        )
    return FillTemplate(
        version=data["version"],
        system=data["system"],
        answer_prefix=data["answer_prefix"],
        class_names=data["class_names"],
        closed_classes={
            k: {w: tuple(t) for w, t in v.items() if not w.startswith("_")}
            for k, v in data["closed_classes"].items()
        },
        options_hint=data["options_hint"],
        types=types,
    )


# ---------------------------------------------------------------------------
# Slots
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FillSlot:
    """One fill request's plan: what the model sees, how its answer is constrained and used."""

    type: str
    slot: str  # the words shown as the slot ("dog", "red")
    label: str  # candidate class in words ("animal", "color")
    start: int = -1  # replace_*: span of the caption the filler replaces
    end: int = -1
    plural: bool = False  # replace_obj: the slot is a plural noun
    lexnames: frozenset[str] = frozenset()  # replace_obj: WordNet classes a filler must share
    choices: tuple[str, ...] = ()  # choice requests: the allowed answers (swap_att: full captions)
    forbidden: tuple[str, ...] = ()  # words decoding must not produce (the slot's own forms)
    edits: Mapping[str, Edit] = field(default_factory=dict)  # swap_att: candidate text -> its edit

    @property
    def constraint(self) -> str:
        return "choice" if self.choices else "word"


def _class_label(groups: Sequence[str], names: Mapping[str, str]) -> str | None:
    for g in groups:
        if g in names:
            return names[g]
    return None


def _noun_lexnames(word: str, resources: Any, senses: int = 2) -> frozenset[str]:
    syns = resources.synsets(singularize(word.lower()), "n")[:senses]
    return frozenset(s.lexname() for s in syns) - _GENERIC_LEXNAMES


def _caption_words(caption: str) -> set[str]:
    return {w.lower() for w in _WORD_RE.findall(caption)}


def _compatible(a: Sequence[str | None], b: Sequence[str | None]) -> bool:
    """Two (age, gender) profiles that could be the same person: no known value differs."""
    return all(x is None or y is None or x == y for x, y in zip(a[:2], b[:2], strict=True))


_DETERMINER_BEFORE = re.compile(
    r"\b(a|an|the|this|that|these|those|his|her|their|its|my|our|your|some|one|two|three|four|five|six|"
    r"several|many|other|another)\s+$",
    re.I,
)


def _determiner(caption: str, obj: SceneObject) -> str | None:
    """The determiner of ``obj``'s noun phrase (before its attributes), or None for a bare noun."""
    start = min([obj.start] + [a.start for a in obj.attributes if a.end <= obj.start])
    m = _DETERMINER_BEFORE.search(caption[:start])
    return m.group(1).lower() if m else None


def _closed_options(
    obj: SceneObject, group: str, caption: str, resources: Any, template: FillTemplate
) -> list[str] | None:
    """A closed class's fillers for ``obj`` (in its number), or None when ``obj`` is no slot.

    Each class lists its words with a profile. People, ``[age, gender]``: a demographic
    noun is replaced by one that cannot be the same person ("man" -> "woman" or "boy",
    never "guy"; DESIGN §5.1), of the same age when an attribute states it ("a young
    boy" -> "a young girl", not "a young man"), and not of the other gender while a
    pronoun ("his") still refers to the original; roles ("skier") could be anyone, so
    they are neither slots nor fillers. Places, ``[kind]``: only a place of the same
    kind, so the preposition still fits ("on the sidewalk" -> "on the beach").
    """
    members: Mapping[str, Sequence[Any]] = template.closed_classes[group]
    lemma = obj.lemma.lower()
    if lemma not in members:
        return None
    profile = members[lemma]
    present = _caption_words(caption)
    person = len(profile) >= 2
    gender = profile[1] if person else None
    pronouns = bool(gender and _PRONOUNS[gender] & present)
    aged = person and any("age" in _attribute_groups(a.lemma, resources) for a in obj.attributes)
    determiner = _determiner(caption, obj)
    mass = set(resources.vocab.get("mass_nouns", ()))
    plural = obj.count != 1 and is_plural_noun(obj.text)
    options = []
    for m, other in members.items():
        form = pluralize(m) if plural else m
        if m == lemma or form in present or m in present or "slot_only" in other:
            continue
        if person:
            if _compatible(profile, other):
                continue  # could be the same person
            if aged and other[0] != profile[0]:
                continue  # "a young boy" -> "a young man"
            if pronouns and other[1] not in (None, gender):
                continue
        elif other[0] != profile[0]:
            continue  # another kind of place
        elif (determiner is None) != (m in mass) and not plural:
            continue  # "through snow" -> "through street", "a street" -> "a sand": the article must still fit
        if resources.lexical_relation(lemma, m, "n") is not None:
            continue  # same, synonym, hypernym or hyponym: not a different thing
        options.append(form)
    return options


_MODIFIER_AFTER = re.compile(r"\s*-?\s*(covered|filled|topped|colored|coloured|themed|shaped)\b", re.I)


def _not_an_object_slot(caption: str, obj: SceneObject, resources: Any) -> bool:
    """A color used as a noun ("dressed in orange"), or a noun modifying a participle ("snow covered")."""
    if "color" in _attribute_groups(obj.lemma, resources):
        return True
    return bool(_MODIFIER_AFTER.match(caption, obj.end))


def _replace_obj_slots(
    caption: str, graph: SceneGraph, resources: Any, template: FillTemplate
) -> list[FillSlot]:
    slots = []
    for obj in graph.objects:
        if caption[obj.start : obj.end] != obj.text or _not_an_object_slot(caption, obj, resources):
            continue
        groups = resources.groups_of_noun(obj.lemma)
        label = _class_label(groups, template.class_names)
        lexnames = _noun_lexnames(obj.lemma, resources)
        if label is None or not lexnames:
            continue
        plural = obj.count != 1 and is_plural_noun(obj.text)
        forms = {
            obj.text.lower(),
            obj.lemma.lower(),
            pluralize(obj.lemma.lower()),
            singularize(obj.text.lower()),
        }
        closed = next((g for g in groups if g in template.closed_classes), None)
        choices: tuple[str, ...] = ()
        if closed is not None:
            options = _closed_options(obj, closed, caption, resources, template)
            if not options:  # one option is kept: decided by the rules alone, still a valid negative
                continue
            choices = tuple(options)
        slots.append(
            FillSlot("replace_obj", obj.text, label, obj.start, obj.end, plural, lexnames, choices=choices,
                     forbidden=tuple(sorted(forms)))
        )  # fmt: skip
    return slots


def _attribute_groups(lemma: str, resources: Any) -> tuple[str, ...]:
    return resources.adjective_group.get(lemma.lower(), ())


def _suits(word: str, obj: SceneObject, resources: Any) -> bool:
    """Whether attribute ``word`` can describe ``obj``: it is listed for the noun's curated group.

    vocab ``noun_attributes`` lists what suits each group ("brown" for a dog, "tall"
    for a person, never "green dog" or "antique girl"; DESIGN §5.1). A noun of no
    group has no list, so nothing is known to suit it: no slot is made for it.
    """
    table = resources.vocab.get("noun_attributes", {})
    return any(word.lower() in table.get(g, ()) for g in resources.groups_of_noun(obj.lemma))


def _states_age(obj: SceneObject, template: FillTemplate) -> bool:
    profile = template.closed_classes.get("person", {}).get(obj.lemma.lower())
    return bool(profile) and profile[0] in ("child", "infant")


def _replace_att_slots(
    caption: str, graph: SceneGraph, resources: Any, template: FillTemplate
) -> list[FillSlot]:
    rare = set(resources.vocab.get("rare_adjectives", ()))
    present = _caption_words(caption)
    slots = []
    for obj in graph.objects:
        for att in obj.attributes:
            if caption[att.start : att.end] != att.text or " " in att.text:
                continue
            groups = _attribute_groups(att.lemma, resources)
            label = _class_label(groups, template.class_names)
            if label is None:
                continue
            group = next(g for g in groups if g in template.class_names)
            if "age" in groups and _states_age(obj, template):
                continue  # "a young boy" -> "an elderly boy", "a little girl" -> "a tall girl": the noun fixes the age
            adult = template.closed_classes.get("person", {}).get(obj.lemma.lower(), ("",))[0] == "adult"
            options = [
                w
                for w in resources.vocab["adjective_groups"][group]
                if " " not in w
                and w not in rare
                and w not in present
                and w != att.lemma.lower()
                and _suits(w, obj, resources)
                and not (adult and w == "little")  # "an old man" -> "a little man"
                and resources.lexical_relation(att.lemma, w, "a") not in ("same", "synonym")
            ]
            if not options:
                continue
            slots.append(
                FillSlot("replace_att", att.text, label, att.start, att.end, choices=tuple(options),
                         forbidden=(att.text.lower(),))
            )  # fmt: skip
    return slots


def _uncap(word: str) -> str:
    """A sentence-initial word as it reads mid-sentence ("Black" -> "black"; "TV" stays)."""
    return word[:1].lower() + word[1:] if word[:1].isupper() and word[1:] == word[1:].lower() else word


def _two_span_edit(caption: str, a: tuple[int, int, str], b: tuple[int, int, str]) -> tuple[str, Edit]:
    """Replace two non-overlapping spans (``a`` before ``b``) as one edit; articles in between follow."""
    (a0, a1, a_new), (b0, b1, b_new) = a, b
    middle = fix_articles(caption[a1:b0] + b_new)
    return apply_edit(caption, a0, b1, a_new + middle)


def _movable_attributes(caption: str, graph: SceneGraph, resources: Any) -> list[tuple[int, Any]]:
    """Pre-noun attributes of a curated group, not part of a coordination ("red and white")."""
    out = []
    for i, obj in enumerate(graph.objects):
        for att in obj.attributes:
            if (
                caption[att.start : att.end] == att.text
                and att.end <= obj.start
                and _attribute_groups(att.lemma, resources)
                and not re.search(r"(\band|,)\s*$", caption[max(0, att.start - 5) : att.start])
                and not re.match(r"\s*(and\b|,)", caption[att.end : att.end + 5])
                and not shade_bound(caption, att, resources)  # "light blue" moves whole or not at all
            ):
                out.append((i, att))
    return out


def _swap_att_slots(
    caption: str, graph: SceneGraph, resources: Any, template: FillTemplate
) -> list[FillSlot]:
    """One slot holding every plausible exchange of two attributes of different objects.

    "a white dog chases a black cat" → "a black dog chases a white cat"; each attribute
    must suit the noun it lands on. No moves ("a black dog on the grass" → "a dog on
    the black grass"): the caption says nothing of the grass's color, so the moved
    version is not clearly false for the photo (read on Flickr8k: 1 of 7 valid).
    """
    movable = _movable_attributes(caption, graph, resources)
    edits: dict[str, Edit] = {}

    def add(text: str, edit: Edit) -> None:
        if text != caption and text not in edits:
            edits[text] = edit

    for a in range(len(movable)):
        for b in range(a + 1, len(movable)):
            (i, x), (j, y) = movable[a], movable[b]
            ox, oy = graph.objects[i], graph.objects[j]
            if i == j or ox.lemma.lower() == oy.lemma.lower() or x.lemma.lower() == y.lemma.lower():
                continue
            if not (_suits(y.lemma, ox, resources) and _suits(x.lemma, oy, resources)):
                continue
            first, second = (x, y) if x.start < y.start else (y, x)
            new_first = match_case(_uncap(second.text), first.text)
            new_second = _uncap(first.text) if first.start == 0 else first.text
            add(
                *_two_span_edit(
                    caption, (first.start, first.end, new_first), (second.start, second.end, new_second)
                )
            )
    if not edits:
        return []
    choices = tuple(sorted(edits))
    return [
        FillSlot("swap_att", "", "attributes", choices=choices + (NONE_CHOICE,),
                 edits={t: edits[t] for t in choices})
    ]  # fmt: skip


def _replace_rel_slots(
    caption: str, graph: SceneGraph, resources: Any, template: FillTemplate
) -> list[FillSlot]:
    """One slot per replaceable verb: its relaxed options, most attested first, inflected like it."""
    slots = []
    for rel in graph.relations:
        vs = verb_slot(caption, graph, rel, resources)
        if vs is None or vs.by_agent or vs.directed or resources.lexicon.class_of(vs.obj) == "clothing":
            # a passive ("is filmed by a man") reads wrong with most other verbs, as does a directed
            # complement ("carrying a ball through the grass") with most; what one wears is rarely
            # held instead ("a boy holding a black shirt is climbing"): the rule's short list does it
            continue
        options = verb_options(
            vs.key, vs.subj, vs.obj, resources, by_agent=vs.by_agent, plural_doer=vs.plural_doer, relaxed=True
        )
        ranked = sorted(options, key=lambda o: (-o[1], o[0]))[: 2 * MAX_CHOICES]
        forms = list(dict.fromkeys(match_case(inflect_verb(v, vs.tag), vs.verb) for v, _ in ranked))
        forms = [f for f in forms if f.lower() != vs.verb.lower()]
        if forms:
            slots.append(
                FillSlot("replace_rel", vs.verb, "action", vs.start, vs.end,
                         choices=tuple(forms) + (NONE_CHOICE,), forbidden=(vs.verb.lower(),))
            )  # fmt: skip
    return slots


_SLOT_FINDERS: dict[str, Callable[..., list[FillSlot]]] = {
    "replace_obj": _replace_obj_slots,
    "replace_att": _replace_att_slots,
    "replace_rel": _replace_rel_slots,
    "swap_att": _swap_att_slots,
}


def find_slot(
    caption: str,
    graph: SceneGraph | None,
    type_: str,
    resources: Any,
    template: FillTemplate,
    rng: random.Random,
) -> FillSlot | None:
    """The slot one request fills for ``type_`` (chosen with ``rng``), or None when none applies."""
    if graph is None or type_ not in _SLOT_FINDERS:
        return None
    slots = _SLOT_FINDERS[type_](caption, graph, resources, template)
    if not slots:
        return None
    slot = rng.choice(slots)
    if slot.choices:  # small models favour the first option they are shown: no fixed order
        fixed = (NONE_CHOICE,) if slot.choices[-1] == NONE_CHOICE else ()
        candidates = list(slot.choices[: len(slot.choices) - len(fixed)])
        rng.shuffle(candidates)
        slot = dataclasses.replace(slot, choices=tuple(candidates[:MAX_CHOICES]) + fixed)
    return slot


# ---------------------------------------------------------------------------
# Prompt rendering
# ---------------------------------------------------------------------------


def _options_text(type_: str, options: Sequence[str]) -> str:
    if type_ == "swap_att":
        return "\n".join(f"- {o}" for o in options)
    return ", ".join(options)


def _user_turn(
    template: FillTemplate,
    spec: FillTypePrompt,
    type_: str,
    caption: str,
    slot: str,
    label: str,
    options: Sequence[str],
) -> str:
    text = _options_text(type_, options)
    hint = template.options_hint.format(options=text) if options and spec.constraint == "word" else ""
    return spec.instruction.format(caption=caption, slot=slot, label=label, options=text, options_hint=hint)


def build_fill_messages(template: FillTemplate, caption: str, slot: FillSlot) -> list[dict[str, str]]:
    """System, the few-shot examples as user/assistant turns, then this slot."""
    spec = template.for_type(slot.type)
    messages = [{"role": "system", "content": template.system}]
    for ex in spec.examples:
        turn = _user_turn(template, spec, slot.type, ex.caption, ex.slot, ex.label, ex.options)
        messages.append({"role": "user", "content": turn})
        messages.append({"role": "assistant", "content": ex.answer})
    turn = _user_turn(template, spec, slot.type, caption, slot.slot, slot.label, slot.choices)
    messages.append({"role": "user", "content": turn})
    return messages


def render_fill_plain(template: FillTemplate, messages: Sequence[Mapping[str, str]]) -> str:
    """Base models: a transcript whose answers follow ``answer_prefix`` on the same line."""
    parts = []
    for m in messages:
        if m["role"] == "assistant":
            parts[-1] += f"{template.answer_prefix}{m['content']}"
        else:
            parts.append(m["content"])
    return "\n\n".join(parts) + template.answer_prefix


def render_fill_prompt(
    template: FillTemplate,
    caption: str,
    slot: FillSlot,
    chat: Callable[[list[dict[str, str]]], str] | None = None,
) -> str:
    messages = build_fill_messages(template, caption, slot)
    return chat(messages) if chat is not None else render_fill_plain(template, messages)


# ---------------------------------------------------------------------------
# Answer -> negative
# ---------------------------------------------------------------------------


def _assemble_replace(caption: str, slot: FillSlot, filler: str) -> tuple[str, Edit]:
    """Put the filler in the slot, inflected like the slot's noun; ``apply_edit`` fixes a/an."""
    word = filler
    if slot.type == "replace_obj":
        word = pluralize(singularize(filler)) if slot.plural else singularize(filler)
    return apply_edit(caption, slot.start, slot.end, word)


def _check_replace_obj(caption: str, slot: FillSlot, filler: str, resources: Any) -> str | None:
    """Copies (the slot's own word, or any word the caption already has), junk, wrong class."""
    forms = {filler, singularize(filler), pluralize(singularize(filler))}
    if forms & set(slot.forbidden) or any(w in _caption_words(caption) for w in filler.split()):
        return "fill.copy"
    if not resources.synsets(singularize(filler), "n"):
        return "fill.not_a_word"
    if not _noun_lexnames(filler, resources, senses=1) & slot.lexnames:  # its main sense, not "birch" as wood
        return "fill.off_class"
    return None


def process_fill(
    caption: str,
    slot: FillSlot,
    completion: str,
    finish_reason: str | None,
    generator: str,
    resources: Any,
    check: Callable[[str, str], str | None] | None = None,
    existing: Sequence[str] = (),
) -> Negative | str:
    """The validated negative for one fill answer, or the rejection reason."""
    if finish_reason == "length":
        return "truncated"
    answer = " ".join(completion.split()).strip()
    if not answer:
        return "empty"
    if slot.choices:
        if answer not in slot.choices:
            return "fill.not_a_choice"
        if answer == NONE_CHOICE:
            return "fill.declined"
        if slot.type == "swap_att":
            text, edit = answer, slot.edits[answer]
        else:
            text, edit = _assemble_replace(caption, slot, answer)
    else:
        filler = answer.lower()
        reason = _check_replace_obj(caption, slot, filler, resources) if slot.type == "replace_obj" else None
        if reason is not None:
            return reason
        text, edit = _assemble_replace(caption, slot, filler)
    if text == caption:
        return "identical"
    if text in existing:
        return "duplicate"
    if check is not None:
        reason = check(caption, text)
        if reason is not None:
            return f"check.{reason}"
    return Negative(text=text, type=slot.type, generator=generator, edit=edit)
