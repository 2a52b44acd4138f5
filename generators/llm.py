"""LLM hard negatives, rewrite style: prompts, structured-output schema, parsing and validation.

This module is the pure half of the rewriting LLM generator (DESIGN §4): it turns a
caption and a requested negative type into a prompt, and an LLM completion back
into a validated :class:`Negative` or a rejection reason. It suits instruction
models of a few billion parameters; small models get slot-filling prompts instead
(generators/llm_fill.py; which prompt a model gets: generators/llm_families.py).
It never imports vLLM or Beam; ``negforge.pipeline.stages.llm`` runs the engine
(in-process ``vllm.LLM`` or a vLLM server process) and calls in here, so both
paths build byte-identical prompts and apply identical checks.

Why structured output: vLLM constrains decoding to :data:`NEGATIVE_JSON_SCHEMA`
(xgrammar backend), so a completion either parses as exactly that object or was
cut off by ``max_tokens``; parsing never has to guess where the caption is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources as importlib_resources
from typing import Any

from negforge.schemas import NEGATIVE_TYPES, Edit, Negative

#: Types an LLM can be asked for. ``shuffle`` is a mechanical rule type, not an edit.
LLM_TYPES: tuple[str, ...] = tuple(t for t in NEGATIVE_TYPES if t != "shuffle")

#: Prompt versions shipped under ``generators/prompts/negatives_<version>.json``.
#: Bump the version (new file) whenever the prompt text changes: it is part of
#: ``Negative.generator``, so outputs of different prompts never mix silently.
PROMPT_VERSIONS: tuple[str, ...] = ("v1",)
DEFAULT_PROMPT_VERSION = "v1"

#: Upper bound on the negative's length in the schema itself, so a degenerate
#: model cannot loop inside the string until ``max_tokens``.
MAX_NEGATIVE_CHARS = 300


def negative_json_schema(max_chars: int = MAX_NEGATIVE_CHARS) -> dict[str, Any]:
    """JSON schema the engine constrains decoding to (``negative`` + ``edited_words``)."""
    # xgrammar's JSON grammar lets raw control characters into strings (invalid
    # JSON): the pattern keeps decoding to printable text. Lengths cannot be in the
    # schema: vLLM rejects pattern+maxLength for xgrammar, and bounded repeats
    # ({1,200}) crash xgrammar 0.2.8's compiler. max_tokens bounds the output and
    # validation rejects what is too long ("too_long"), so ``max_chars`` is
    # documented here but enforced there.
    printable = "^[^\\x00-\\x1f\\x7f]+$"
    return {
        "type": "object",
        "properties": {
            "negative": {"type": "string", "pattern": printable},
            "edited_words": {
                "type": "array",
                "items": {"type": "string", "pattern": printable},
                "maxItems": 8,
            },
        },
        "required": ["negative", "edited_words"],
        "additionalProperties": False,
    }


NEGATIVE_JSON_SCHEMA: dict[str, Any] = negative_json_schema()


# ---------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FewShot:
    caption: str
    negative: str
    edited_words: tuple[str, ...]

    def answer_json(self) -> str:
        """The exact JSON the model should answer, compact like the constrained output."""
        return json.dumps(
            {"negative": self.negative, "edited_words": list(self.edited_words)},
            ensure_ascii=False,
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class TypePrompt:
    instruction: str  # what kind of minimal edit to make
    examples: tuple[FewShot, ...]  # few-shot demonstrations, shown as prior chat turns


@dataclass(frozen=True)
class PromptTemplate:
    version: str  # e.g. "v1"; goes into Negative.generator
    system: str  # the task description shared by all types
    types: Mapping[str, TypePrompt]  # one entry per LLM type

    def for_type(self, type_: str) -> TypePrompt:
        return prompt_for_type(self.types, type_, self.version)


def prompt_for_type(types: Mapping[str, Any], type_: str, version: str) -> Any:
    """``types[type_]``, or an error naming the prompt version and the types it has."""
    try:
        return types[type_]
    except KeyError:
        raise ValueError(f"type must be one of {sorted(types)} for prompt {version}, got {type_!r}") from None


def load_prompts(version: str = DEFAULT_PROMPT_VERSION) -> PromptTemplate:
    """Load a shipped prompt template (package data, so it works from a wheel too)."""
    if version not in PROMPT_VERSIONS:
        raise ValueError(f"version must be one of {PROMPT_VERSIONS}, got {version!r}")
    path = importlib_resources.files("negforge.generators") / "prompts" / f"negatives_{version}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    types = {
        name: TypePrompt(
            instruction=spec["instruction"],
            examples=tuple(
                FewShot(ex["caption"], ex["negative"], tuple(ex["edited_words"])) for ex in spec["examples"]
            ),
        )
        for name, spec in data["types"].items()
    }
    missing = set(LLM_TYPES) - set(types)
    if missing:
        raise ValueError(f"prompt {version} lacks types {sorted(missing)}")
    return PromptTemplate(version=data["version"], system=data["system"], types=types)


def _user_turn(instruction: str, caption: str) -> str:
    return f"Edit: {instruction}\nCaption: {caption}"


def build_messages(template: PromptTemplate, type_: str, caption: str) -> list[dict[str, str]]:
    """Chat messages: system, then each few-shot as a user/assistant pair, then the caption."""
    spec = template.for_type(type_)
    messages = [{"role": "system", "content": template.system}]
    for ex in spec.examples:
        messages.append({"role": "user", "content": _user_turn(spec.instruction, ex.caption)})
        messages.append({"role": "assistant", "content": ex.answer_json()})
    messages.append({"role": "user", "content": _user_turn(spec.instruction, caption)})
    return messages


#: ``(messages) -> prompt text``: a tokenizer's ``apply_chat_template`` bound with
#: ``tokenize=False, add_generation_prompt=True``.
ChatRenderer = Callable[[list[dict[str, str]]], str]


def render_plain(messages: Sequence[Mapping[str, str]]) -> str:
    """Prompt text for models without a chat template (base LMs): a labelled transcript."""
    parts = []
    for m in messages:
        if m["role"] == "system":
            parts.append(m["content"])
        elif m["role"] == "user":
            parts.append(m["content"])
        else:
            parts.append(f"Answer: {m['content']}")
    return "\n\n".join(parts) + "\nAnswer: "


def render_prompt(
    template: PromptTemplate, type_: str, caption: str, chat: ChatRenderer | None = None
) -> str:
    """The exact prompt string sent to the engine; ``chat`` applies the tokenizer's template."""
    messages = build_messages(template, type_, caption)
    return chat(messages) if chat is not None else render_plain(messages)


def generator_id(model_name: str, version: str) -> str:
    """``Negative.generator`` for LLM negatives: ``llm:<model>@<prompt-version>``."""
    return f"llm:{model_name}@{version}"


def request_seed(seed: int, record_id: str, type_: str) -> int:
    """Per-request sampling seed (31-bit, as vLLM/OpenAI accept), independent of batching."""
    from negforge.generators.seeding import stable_seed

    return stable_seed(seed, record_id, f"llm:{type_}") & 0x7FFFFFFF


# ---------------------------------------------------------------------------
# Parsing and validation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedOutput:
    negative: str
    edited_words: tuple[str, ...]


#: Rejection reasons this module produces (``check.<reason>`` come from the shared checks).
REJECT_REASONS: tuple[str, ...] = (
    "truncated",  # the engine stopped at max_tokens: the JSON is incomplete
    "not_json",  # output is not a JSON object
    "bad_schema",  # JSON without the required fields/types
    "empty",  # negative is blank
    "identical",  # same text as the positive (ignoring surrounding whitespace)
    "too_short",
    "too_long",
    "length_ratio",  # far longer/shorter than the positive: not a minimal edit
    "duplicate",  # the record already has this negative text
    "shape.not_a_replacement",  # replace_*/count: not one short span of words exchanged for another
    "shape.not_a_swap",  # swap_*: the words are not the caption's own words, moved
    "shape.not_an_addition",  # add_*: not the caption with a few words inserted
    "shape.not_a_negation",  # negation: no negation word added
)

#: Longest span of words a replace/count edit may exchange (either side).
MAX_REPLACED_WORDS = 3
#: Most words an add edit may insert.
MAX_ADDED_WORDS = 4
_NEGATION_WORDS = frozenset({"no", "not", "without", "none", "nobody", "nothing", "never", "empty", "n't"})
_ARTICLES = frozenset({"a", "an", "the"})


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:['-][a-z0-9]+)*|n't", text.lower())


def _changed_window(a: Sequence[str], b: Sequence[str]) -> tuple[Sequence[str], Sequence[str]]:
    """The words between the common prefix and the common suffix, on each side."""
    lo = 0
    while lo < len(a) and lo < len(b) and a[lo] == b[lo]:
        lo += 1
    ha, hb = len(a), len(b)
    while ha > lo and hb > lo and a[ha - 1] == b[hb - 1]:
        ha, hb = ha - 1, hb - 1
    return a[lo:ha], b[lo:hb]


def shape_reason(caption: str, negative: str, type_: str) -> str | None:
    """Whether the text is an edit of the stated kind at all; a rewrite model's junk fails here.

    Copies are "identical" before this runs; this catches the other failure of small
    rewriting models: a different sentence, or an edit of another kind than asked.
    """
    a, b = _words(caption), _words(negative)
    if type_.startswith("swap_"):
        same_bag = sorted(w for w in a if w not in _ARTICLES) == sorted(w for w in b if w not in _ARTICLES)
        return None if same_bag and a != b else "shape.not_a_swap"
    left, right = _changed_window(a, b)
    if type_.startswith("add_"):
        extra = len(b) - len(a)
        if left and not set(left) <= _ARTICLES or not 0 < extra <= MAX_ADDED_WORDS:
            return "shape.not_an_addition"
        return None
    if type_ == "negation":
        return None if (set(b) - set(a)) & _NEGATION_WORDS else "shape.not_a_negation"
    # replace_obj / replace_att / replace_rel / count
    if not left or not right or len(left) > MAX_REPLACED_WORDS or len(right) > MAX_REPLACED_WORDS:
        return "shape.not_a_replacement"
    return None


def parse_output(text: str, finish_reason: str | None = None) -> ParsedOutput | str:
    """A completion as :class:`ParsedOutput`, or the rejection reason string."""
    if finish_reason == "length":
        return "truncated"
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return "not_json"
    if not isinstance(obj, dict):
        return "not_json"
    neg = obj.get("negative")
    words = obj.get("edited_words", [])
    if not isinstance(neg, str) or not isinstance(words, list):
        return "bad_schema"
    if not all(isinstance(w, str) for w in words):
        return "bad_schema"
    return ParsedOutput(negative=neg, edited_words=tuple(words))


@dataclass(frozen=True)
class LengthBounds:
    min_chars: int = 3  # shortest negative accepted
    max_chars: int = MAX_NEGATIVE_CHARS  # longest negative accepted
    max_len_ratio: float = 2.0  # negative/positive length (chars), either way

    def __post_init__(self) -> None:
        if self.min_chars < 1:
            raise ValueError(f"min_chars must be >= 1, got {self.min_chars!r}")
        if self.max_chars < self.min_chars:
            raise ValueError(f"max_chars must be >= min_chars, got {self.max_chars!r}")
        if self.max_len_ratio < 1.0:
            raise ValueError(f"max_len_ratio must be >= 1.0, got {self.max_len_ratio!r}")


_WS = re.compile(r"\s+")


def normalize_whitespace(text: str) -> str:
    return _WS.sub(" ", text).strip()


def match_format(caption: str, negative: str) -> str:
    """Give the negative the positive's final punctuation and leading-letter case.

    DESIGN §5: a trailing-period or capitalisation difference alone is a tell a
    blind text model learns; the edit should be the only difference.
    """
    neg = normalize_whitespace(negative)
    if not neg or not caption:
        return neg
    cap = caption.strip()
    end_punct = cap[-1] if cap[-1] in ".!?" else ""
    neg = neg.rstrip(".!? ") if neg[-1] in ".!? " else neg
    neg += end_punct
    if cap[0].isalpha() and neg[0].isalpha():
        neg = (neg[0].upper() if cap[0].isupper() else neg[0].lower()) + neg[1:]
    return neg


def _mid_word(text: str, i: int) -> bool:
    """True when position ``i`` splits a word (alphanumerics on both sides)."""
    return 0 < i < len(text) and text[i - 1].isalnum() and text[i].isalnum()


def compute_edit(caption: str, negative: str) -> Edit | None:
    """The smallest word-aligned span of ``caption`` that became a span of ``negative``.

    Common prefix and suffix are stripped, then widened to word boundaries so the
    edit reads as words ("red" -> "blue", not "r" -> "blu"). ``None`` when equal.
    """
    if caption == negative:
        return None
    p = 0
    limit = min(len(caption), len(negative))
    while p < limit and caption[p] == negative[p]:
        p += 1
    s = 0
    while s < limit - p and caption[len(caption) - 1 - s] == negative[len(negative) - 1 - s]:
        s += 1
    while p > 0 and (_mid_word(caption, p) or _mid_word(negative, p)):
        p -= 1
    while s > 0 and (_mid_word(caption, len(caption) - s) or _mid_word(negative, len(negative) - s)):
        s -= 1
    start, end = p, len(caption) - s
    return Edit(start=start, end=end, before=caption[start:end], after=negative[p : len(negative) - s])


#: ``(caption, negative_text) -> reason | None`` — the rule generators' shared checks.
CheckFn = Callable[[str, str], "str | None"]


def validate_output(
    caption: str,
    parsed: ParsedOutput,
    type_: str,
    generator: str,
    bounds: LengthBounds,
    check: CheckFn | None = None,
    existing: Sequence[str] = (),
) -> Negative | str:
    """The validated :class:`Negative`, or the rejection reason.

    ``check`` is :func:`negforge.generators.checks.check_negative` bound to its
    resources, so LLM negatives pass exactly the grammar/identity checks rule
    negatives pass; its reason is returned as ``check.<reason>``.
    """
    text = match_format(caption, parsed.negative)
    if not text:
        return "empty"
    if normalize_whitespace(text).lower() == normalize_whitespace(caption).lower():
        return "identical"
    if len(text) < bounds.min_chars:
        return "too_short"
    if len(text) > bounds.max_chars:
        return "too_long"
    ratio = max(len(text), 1) / max(len(caption.strip()), 1)
    if ratio > bounds.max_len_ratio or ratio < 1.0 / bounds.max_len_ratio:
        return "length_ratio"
    if text in existing:
        return "duplicate"
    shape = shape_reason(caption, text, type_)
    if shape is not None:
        return shape
    if check is not None:
        reason = check(caption, text)
        if reason is not None:
            return f"check.{reason}"
    return Negative(text=text, type=type_, generator=generator, edit=compute_edit(caption, text))


def process_completion(
    caption: str,
    completion: str,
    finish_reason: str | None,
    type_: str,
    generator: str,
    bounds: LengthBounds,
    check: CheckFn | None = None,
    existing: Sequence[str] = (),
) -> Negative | str:
    """Parse then validate one completion: the single entry point both engine paths use."""
    parsed = parse_output(completion, finish_reason)
    if isinstance(parsed, str):
        return parsed
    return validate_output(caption, parsed, type_, generator, bounds, check, existing)
