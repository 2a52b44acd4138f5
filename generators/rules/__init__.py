"""Rule generators; importing this package registers every family (registration order = CLI order)."""

from . import (  # noqa: F401  (import registers)
    add,
    count,
    negation,
    replace_att,
    replace_obj,
    replace_rel,
    shuffle,
    swap,
)
