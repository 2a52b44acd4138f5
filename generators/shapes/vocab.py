"""The shapes world's vocabulary: shapes, colors, sizes, numbers and spatial relations.

Everything a caption can say is listed here once, with the surface forms the
caption writer uses, so captions, scene graphs, held-out splits and true
negatives all draw from the same closed vocabulary.
"""

from __future__ import annotations

#: Shape names (singular) -> plural. Chosen to stay distinguishable at 64 px even when small.
SHAPES: dict[str, str] = {
    "circle": "circles",
    "square": "squares",
    "triangle": "triangles",
    "star": "stars",
    "diamond": "diamonds",
    "cross": "crosses",
    "heart": "hearts",
}

#: Color names -> base RGB. Well separated in hue/lightness; none is a background tone.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 35),
    "orange": (250, 135, 20),
    "yellow": (240, 210, 20),
    "green": (40, 160, 50),
    "blue": (35, 75, 215),
    "purple": (130, 45, 170),
    "pink": (245, 120, 185),
    "brown": (125, 75, 35),
}

#: Size names -> radius as a fraction of the image side.
SIZES: dict[str, float] = {
    "small": 0.085,
    "large": 0.13,
}

#: Neutral background tones (no object color is close to any of them).
BACKGROUNDS: tuple[tuple[int, int, int], ...] = (
    (246, 246, 246),
    (222, 222, 222),
    (240, 233, 216),
    (205, 214, 224),
    (58, 58, 64),
)

#: Counts 1..4 as caption words; 1 is written with an article ("a"/"an").
NUMBER_WORDS: dict[int, str] = {2: "two", 3: "three", 4: "four"}
MAX_COUNT = 4

#: Canonical relations and their inverses: "A left B" is the same fact as "B right A".
RELATIONS: tuple[str, ...] = ("left", "right", "above", "below")
INVERSE: dict[str, str] = {"left": "right", "right": "left", "above": "below", "below": "above"}

#: Surface forms of each canonical relation, as written between two noun phrases.
RELATION_PHRASES: dict[str, tuple[str, ...]] = {
    "left": ("to the left of", "left of", "on the left of"),
    "right": ("to the right of", "right of", "on the right of"),
    "above": ("above", "over"),
    "below": ("below", "under", "beneath"),
}


def article(word: str) -> str:
    """The indefinite article for ``word`` ("an orange circle", "a large star")."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def relation_of_phrase(phrase: str) -> str | None:
    """Canonical relation for a surface form, None when the phrase is not one of ours.

    Accepts any phrase whose words include a relation's key word, so parser
    output such as "left" or "to the left" maps back too.
    """
    words = phrase.lower().split()
    if "left" in words:
        return "left"
    if "right" in words:
        return "right"
    if any(w in words for w in ("above", "over")):
        return "above"
    if any(w in words for w in ("below", "under", "beneath")):
        return "below"
    return None
