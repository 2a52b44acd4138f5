"""Session fixtures for the parser and rule tests: spaCy and WordNet load once per run."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def nlp():
    from negforge.generators.scene_graph import load_nlp

    return load_nlp()


@pytest.fixture(scope="session")
def resources():
    from negforge.generators.resources import load_resources

    return load_resources()


@pytest.fixture(scope="session")
def parse(nlp):
    """caption -> SceneGraph as the pipeline parses it (misread verbs repaired), cached across
    the session."""
    from negforge.generators.scene_graph import parse_captions

    cache: dict = {}

    def _parse(caption: str):
        if caption not in cache:
            cache[caption] = parse_captions(nlp, [caption])[0]
        return cache[caption]

    return _parse
