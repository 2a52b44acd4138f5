"""Deterministic per-(seed, record, generator) random streams.

Python's ``hash()`` is salted per process, so it would give different negatives
on different Beam workers; blake2b of the three parts does not.
"""

from __future__ import annotations

import hashlib
import random


def stable_seed(*parts: object) -> int:
    """A 64-bit integer from the parts' ``str()``, identical on every machine and process."""
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        h.update(str(part).encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return int.from_bytes(h.digest(), "little")


def rng_for(seed: int, record_id: str, generator: str) -> random.Random:
    """The random stream a generator uses for one record."""
    return random.Random(stable_seed(seed, record_id, generator))
