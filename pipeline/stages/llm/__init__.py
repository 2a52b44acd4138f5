"""LLM negatives stage: a local vLLM writes negatives of requested types (DESIGN §4).

Modules, one job each:

- ``config``: :class:`LLMConfig`, the user's intent (picklable, no launcher paths);
- ``runtime``: what is resolved on the worker (model folder, vLLM interpreter, CPU flags);
- ``requests``: records → prompts with constraints, completions → validated negatives + counts;
- ``engine`` / ``server``: the two completers (in-process ``vllm.LLM``; a vLLM server process);
- ``dofn``: the DoFn whose setup/teardown own the completer; ``transform``: :class:`LLMNegatives`.

``negforge build`` flags: pipeline/commands/stage_args.py.

Both backends render the same prompts (generators/llm.py, generators/llm_fill.py),
constrain decoding the same way (xgrammar: JSON schema, regex or choice), use the
same per-request seeds and validate with the rule negatives' checks; rejections
are counted per reason in the stats that the build sums into the manifest.
"""

from .config import BACKENDS, LLMConfig
from .requests import Completion, Constraint, LLMRequest, RequestBuilder
from .transform import LLMNegatives

__all__ = [
    "BACKENDS",
    "Completion",
    "Constraint",
    "LLMConfig",
    "LLMNegatives",
    "LLMRequest",
    "RequestBuilder",
]
