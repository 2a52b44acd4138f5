"""Session fixtures: spaCy and WordNet load once per run (tests/parse_fixtures.py)."""

from tests.parse_fixtures import nlp, parse, resources  # noqa: F401
