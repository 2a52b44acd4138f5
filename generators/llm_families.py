"""Which prompt a model gets: prompt versions, their style, and model families.

Why families: one prompt does not fit every model. A capable instruction model
rewrites a caption into a requested negative (``v1``, JSON schema). A 135M chat
model cannot; it can fill one slot the rules picked (``fill-v1``, regex/choice).
A base model (no instruction tuning) gets the same fill prompt as a plain
transcript instead of a chat template it never saw in training. The family is
read from the model's *name* (shipped name, GGUF file name, or folder name), so
it is known when the config is built and goes into ``Negative.generator``
through the prompt version — nothing here looks at files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Every prompt version shipped, with its style: "rewrite" (the model writes the whole
#: negative; generators/llm.py) or "fill" (the model fills a slot; generators/llm_fill.py).
PROMPT_STYLES: dict[str, str] = {"v1": "rewrite", "fill-v1": "fill"}
PROMPT_VERSIONS: tuple[str, ...] = tuple(PROMPT_STYLES)


@dataclass(frozen=True)
class PromptFamily:
    name: str
    prompt_version: str  # default prompt for models of this family
    chat: bool  # render with the tokenizer's chat template (False: plain transcript)
    pattern: str  # regex on the lower-cased model name


#: First match wins; the last entry catches every other (instruction) model.
FAMILIES: tuple[PromptFamily, ...] = (
    PromptFamily("smollm2", "fill-v1", chat=True, pattern=r"smollm"),
    # Gemma 3 270M *base* ("-it" is the instruction-tuned one, which takes a chat template).
    PromptFamily("gemma3-base", "fill-v1", chat=False, pattern=r"gemma-?3-270m(?!.*-it)"),
    PromptFamily("instruct", "v1", chat=True, pattern=r""),
)


def family_for(model_name: str, family: str | None = None) -> PromptFamily:
    """The family named ``family``, else the first whose pattern matches ``model_name``."""
    if family is not None:
        for f in FAMILIES:
            if f.name == family:
                return f
        raise ValueError(f"family must be one of {[f.name for f in FAMILIES]}, got {family!r}")
    low = model_name.lower()
    return next(f for f in FAMILIES if re.search(f.pattern, low))


def prompt_style(version: str) -> str:
    try:
        return PROMPT_STYLES[version]
    except KeyError:
        raise ValueError(f"prompt version must be one of {PROMPT_VERSIONS}, got {version!r}") from None
