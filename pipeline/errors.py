"""Dead letters: every input unit that did not become a record, with its reason.

Nothing is lost: the build writes these to ``errors/`` and the manifest counts
them, so ``read == written + dead_lettered`` holds exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from negforge.schemas import CaptionRecord

#: Raw text is kept for repair but bounded, so one 100 MB line cannot blow up a shard.
MAX_RAW_CHARS = 4096


@dataclass(frozen=True)
class DeadLetter:
    input: str  # where it came from: "path:line", "path#member", "path", "record:<id>"
    stage: str  # read | dedup | image | parse | generate | llm | score | ...
    error: str  # human-readable reason naming the problem
    record_id: str | None = None
    raw: str | None = None

    @classmethod
    def from_exception(cls, record: CaptionRecord, stage: str, exc: BaseException) -> DeadLetter:
        """The dead letter of a record that ``stage`` failed on (the whole record, never a part)."""
        return cls(
            input=f"record:{record.id}",
            stage=stage,
            error=f"{type(exc).__name__}: {exc}",
            record_id=record.id,
            raw=record.caption,
        )

    def to_row(self) -> dict:
        raw = self.raw
        if raw is not None and len(raw) > MAX_RAW_CHARS:
            raw = raw[:MAX_RAW_CHARS] + f"... [{len(self.raw) - MAX_RAW_CHARS} more chars]"
        if raw is not None:
            raw = raw.encode("utf-8", "backslashreplace").decode("utf-8")
        return {
            "input": self.input,
            "record_id": self.record_id,
            "stage": self.stage,
            "error": self.error,
            "raw": raw,
        }

    def sort_key(self) -> tuple:
        return (self.input, self.stage, self.record_id or "", self.error)

    def shard_key(self) -> str:
        """What places the letter in an ``errors/`` shard: its content, so any runner agrees."""
        return "\x00".join(self.sort_key())
