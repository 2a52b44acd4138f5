"""The installed negforge's version, from the distribution's metadata (imports nothing heavy)."""

from __future__ import annotations

from importlib import metadata


def dist_version(dist: str) -> str:
    """Version of installed distribution ``dist``, or "unknown"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def negforge_version() -> str:
    return dist_version("negforge")
