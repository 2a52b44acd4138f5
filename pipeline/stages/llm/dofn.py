"""The stage's DoFn: the model's lifecycle follows the worker's, records never leave it.

``setup`` takes a reference on the process's completer (in-process engine or
server; created by the first DoFn instance that needs it, with everything
resolved on this worker), ``process`` turns a batch of records into requests,
completes them in one call and attaches the validated negatives, ``teardown``
drops the reference and the last one stops the engine or server. A record is
never split from its completions (no join across a shuffle), so nothing depends
on how the runner fuses stages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from negforge.schemas import CaptionRecord

from ...errors import DeadLetter
from .. import DEAD, METRICS_NAMESPACE, STATS, acquire_shared
from .config import LLMConfig
from .requests import Completion, LLMRequest, RequestBuilder, chat_renderer

logger = logging.getLogger(__name__)

STAGE = "llm"


def make_completer(config: LLMConfig, seed: int) -> Any:
    """The backend's completer (``complete(requests)``, ``tokenizer``, ``close()``)."""
    if config.backend == "engine":
        from .engine import EngineCompleter

        return EngineCompleter(config, seed)
    from .server import ServerCompleter

    return ServerCompleter(config, seed)


class CompleterLease:
    """One completer per (config, seed) per worker process, reference-counted.

    ``shared.Shared`` hands every DoFn instance of a process the same lease; the
    first :meth:`retain` creates the completer (loads the model, starts the
    server) and the last :meth:`release` closes it, deterministically — Shared
    alone keeps objects alive until something else is acquired, which would leave
    a server running after its stage is done. A lease released to zero starts a
    fresh completer if a later bundle's setup retains it again.
    """

    def __init__(self, factory: Callable[[], Any]):
        self._factory = factory
        self._lock = threading.Lock()
        self._refs = 0
        self._completer: Any = None

    def retain(self) -> Any:
        with self._lock:
            if self._completer is None:
                self._completer = self._factory()
            self._refs += 1
            return self._completer

    def release(self) -> None:
        with self._lock:
            self._refs = max(self._refs - 1, 0)
            if self._refs or self._completer is None:
                return
            completer, self._completer = self._completer, None
        completer.close()

    @property
    def refs(self) -> int:
        return self._refs


class LLMDoFn(beam.DoFn):
    """Batches of records → requests → one completion call → records with validated LLM negatives."""

    def __init__(self, config: LLMConfig, seed: int, make: Callable[[LLMConfig, int], Any] = make_completer):
        self._config = config
        self._seed = seed
        self._make = make
        self._shared = shared.Shared()
        self._lease: CompleterLease | None = None
        self._box: Any = None
        self._requests = Metrics.counter(METRICS_NAMESPACE, "llm_requests")
        self._generated = Metrics.counter(METRICS_NAMESPACE, "llm_negatives_generated")
        self._latency = Metrics.distribution(METRICS_NAMESPACE, "llm_batch_latency_ms")

    def setup(self) -> None:
        from negforge.generators.resources import load_resources

        config, seed, make = self._config, self._seed, self._make
        box = acquire_shared(self._shared, f"llm:{config!r}:{seed}", lambda: CompleterLease(lambda: make(config, seed)))
        lease = box.value
        completer = lease.retain()
        self._box, self._lease = box, lease
        self._completer = completer
        chat = chat_renderer(completer.tokenizer, config.use_chat_template)
        self._builder = RequestBuilder(config, seed, chat, load_resources())

    def process(self, batch: Sequence[CaptionRecord]) -> Iterator[Any]:
        requests: list[LLMRequest] = []
        owners: list[tuple[CaptionRecord, list[str]]] = []
        for record in batch:
            try:
                reqs, no_slot = self._builder.requests(record)
            except Exception as exc:  # noqa: BLE001 - a record that cannot be prompted fails alone
                yield beam.pvalue.TaggedOutput(DEAD, DeadLetter.from_exception(record, STAGE, exc))
                continue
            requests += reqs
            owners.append((record, no_slot))
        completions: list[Completion | None] = []
        if requests:
            started = time.monotonic()
            try:
                completions = self._completer.complete(requests)
            except Exception as exc:  # noqa: BLE001 - the model failed this batch: its records fail whole
                logger.exception("LLM completion failed for a batch of %d records", len(owners))
                for record, _ in owners:
                    yield beam.pvalue.TaggedOutput(DEAD, DeadLetter.from_exception(record, STAGE, exc))
                return
            elapsed = time.monotonic() - started
            self._latency.update(int(elapsed * 1000))
            self._requests.inc(len(requests))
            logger.info("LLM batch: %d records, %d completions in %.1f s", len(owners), len(requests), elapsed)
        by_record: dict[str, list[tuple[LLMRequest, Completion | None]]] = {}
        for req, comp in zip(requests, completions, strict=True):
            by_record.setdefault(req.record_id, []).append((req, comp))
        for record, no_slot in owners:
            new, stats = self._builder.attach(record, by_record.get(record.id, []), no_slot)
            self._generated.inc(len(new.negatives) - len(record.negatives))
            yield new
            for kv in stats:
                yield beam.pvalue.TaggedOutput(STATS, kv)

    def teardown(self) -> None:
        lease, self._lease = self._lease, None
        self._completer = self._box = None
        if lease is not None:
            lease.release()
