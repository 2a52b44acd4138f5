"""Rule generators; importing this package registers every family."""
from . import swap  # noqa: F401
