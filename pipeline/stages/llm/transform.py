"""``LLMNegatives``: the public PTransform of the LLM stage (composition only)."""

from __future__ import annotations

import apache_beam as beam

from .. import DoFnStage, StageOutput
from .config import LLMConfig
from .dofn import LLMDoFn


class LLMNegatives(beam.PTransform):
    """Add validated LLM negatives of ``config.types`` to every record (DESIGN §4)."""

    def __init__(self, config: LLMConfig, seed: int = 0):
        super().__init__()
        self._config = config
        self._seed = seed

    def expand(self, records: beam.PCollection) -> StageOutput:
        # Full batches: BatchElements' adaptive sizing starts at 1 and a small model on CPU
        # then runs mostly one-record batches (5x fewer completions/s measured on 50
        # captions); a bounded input's remainder is flushed at the end of the bundle.
        size = self._config.batch_size
        return records | "Generate" >> DoFnStage(LLMDoFn(self._config, self._seed), batch_size=size, min_batch_size=size)
