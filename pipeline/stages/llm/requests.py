"""Records → completion requests, and completions → validated negatives + counts.

Both backends (in-process engine, server) go through :class:`RequestBuilder`, so
they send byte-identical prompts with identical constraints and seeds, and
validate with the same checks. Every request ends in exactly one counter:
``llm.generated.<type>``, ``llm.rejected.<reason>`` (also counted as
``llm.rejected_by_type.<type>.<reason>``) or ``llm.request_errors``; records a type
has no slot for count ``llm.no_slot.<type>`` (fill prompts), records that already have a
negative of the type count ``llm.covered.<type>`` (``fill_gaps``), and neither sends a request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from negforge.generators import llm as gen_llm
from negforge.generators import llm_fill
from negforge.generators.seeding import rng_for
from negforge.schemas import CaptionRecord, Negative

from .config import LLMConfig


class Constraint(NamedTuple):
    """How decoding is constrained (vLLM structured outputs, xgrammar backend)."""

    kind: str  # "json" | "regex" | "choice"
    value: Any  # JSON schema dict | regex string | tuple of choices
    forbidden: tuple[str, ...] = ()  # words decoding must not produce (vLLM bad_words)

    def structured_outputs(self) -> dict[str, Any]:
        """The ``structured_outputs`` argument, as both vLLM APIs take it."""
        return {self.kind: list(self.value) if self.kind == "choice" else self.value}


class LLMRequest(NamedTuple):
    """One completion request: the caption of record ``record_id`` rewritten as ``type``."""

    record_id: str
    type: str
    prompt: str
    seed: int
    constraint: Constraint
    slot: llm_fill.FillSlot | None = None  # fill prompts: what the answer fills


class Completion(NamedTuple):
    text: str
    finish_reason: str | None


ChatFn = Callable[[list[dict[str, str]]], str]


def chat_renderer(tokenizer: Any, enabled: bool) -> ChatFn | None:
    """The tokenizer's chat template as ``messages -> prompt``, or None (plain transcript)."""
    if not enabled or getattr(tokenizer, "chat_template", None) is None:
        return None

    def chat(messages: list[dict[str, str]]) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    return chat


class RequestBuilder:
    """Prompts and validation for one config; built once per worker (loads templates, checks)."""

    def __init__(self, config: LLMConfig, seed: int, chat: ChatFn | None, resources: Any = None):
        self.config = config
        self.seed = seed
        self.chat = chat
        self.resources = resources
        if config.style == "fill":
            if resources is None:
                raise ValueError("fill prompts need the lexical resources (generators.resources.load_resources())")
            self.fill_template = llm_fill.load_fill_prompts(config.resolved_prompt_version)
        else:
            self.template = gen_llm.load_prompts(config.resolved_prompt_version)
        self.check: gen_llm.CheckFn | None = None
        if config.use_checks:
            from negforge.generators.checks import check_negative

            res = resources
            self.check = lambda caption, text: check_negative(caption, text, res)

    def requests(self, record: CaptionRecord) -> tuple[list[LLMRequest], list[str]]:
        """The record's requests, and the types it has no slot for (fill prompts only)."""
        out: list[LLMRequest] = []
        no_slot: list[str] = []
        covered = self.covered(record)
        for type_ in self.config.types:
            if type_ in covered:
                continue  # fill_gaps: the rules already gave this record a negative of the type
            seed = gen_llm.request_seed(self.seed, record.id, type_)
            if self.config.style == "rewrite":
                prompt = gen_llm.render_prompt(self.template, type_, record.caption, self.chat)
                out.append(LLMRequest(record.id, type_, prompt, seed, Constraint("json", self.config.json_schema)))
                continue
            rng = rng_for(self.seed, record.id, f"llm-fill:{type_}")
            slot = llm_fill.find_slot(record.caption, record.scene_graph, type_, self.resources, self.fill_template, rng)
            if slot is None:
                no_slot.append(type_)
                continue
            prompt = llm_fill.render_fill_prompt(self.fill_template, record.caption, slot, self.chat)
            constraint = (
                Constraint("choice", slot.choices, slot.forbidden)
                if slot.choices
                else Constraint("regex", llm_fill.WORD_REGEX, slot.forbidden)
            )
            out.append(LLMRequest(record.id, type_, prompt, seed, constraint, slot))
        return out, no_slot

    def covered(self, record: CaptionRecord) -> frozenset[str]:
        """The types not requested for ``record`` because it has a negative of them (``fill_gaps``)."""
        if not self.config.fill_gaps:
            return frozenset()
        return frozenset(n.type for n in record.negatives) & frozenset(self.config.types)

    def attach(
        self,
        record: CaptionRecord,
        completions: Sequence[tuple[LLMRequest, Completion | None]],
        no_slot: Sequence[str] = (),
    ) -> tuple[CaptionRecord, list[tuple[str, float]]]:
        """Validate ``(request, completion)`` pairs (``None`` = request failed) into the record.

        Taken in ``config.types`` order whatever order they arrived in, so the output
        does not depend on batching or worker scheduling.
        """
        order = {t: i for i, t in enumerate(self.config.types)}
        stats: list[tuple[str, float]] = [(f"llm.no_slot.{t}", 1) for t in no_slot]
        stats += [(f"llm.covered.{t}", 1) for t in sorted(self.covered(record))]
        existing = [record.caption] + [n.text for n in record.negatives]
        added: list[Negative] = []
        for req, completion in sorted(completions, key=lambda rc: order.get(rc[0].type, len(order))):
            stats.append((f"llm.requests.{req.type}", 1))
            if completion is None:
                stats.append(("llm.request_errors", 1))
                continue
            result = self._validate(record, req, completion, existing)
            if isinstance(result, str):
                stats.append((f"llm.rejected.{result}", 1))
                stats.append((f"llm.rejected_by_type.{req.type}.{result}", 1))
                continue
            stats.append((f"llm.generated.{req.type}", 1))
            added.append(result)
            existing.append(result.text)
        if added:
            record = dataclasses.replace(record, negatives=tuple(record.negatives) + tuple(added))
        return record, stats

    def _validate(
        self, record: CaptionRecord, req: LLMRequest, completion: Completion, existing: Sequence[str]
    ) -> Negative | str:
        """One completion as a negative, or its rejection reason."""
        generator = self.config.generator
        if req.slot is not None:
            return llm_fill.process_fill(
                record.caption, req.slot, completion.text, completion.finish_reason, generator,
                self.resources, self.check, existing,
            )  # fmt: skip
        return gen_llm.process_completion(
            record.caption, completion.text, completion.finish_reason, req.type, generator,
            self.config.bounds, self.check, existing,
        )  # fmt: skip
