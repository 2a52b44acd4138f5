"""Rendering scenes to PNG bytes with PIL.

Scenes are drawn at ``supersample`` times the target size and downsampled with
a box filter, which anti-aliases edges cheaply. The PNG encoder runs with a
fixed compression level and no optional chunks, so the same scene always
encodes to the same bytes with a given Pillow/zlib build.
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw

from .scene import PlacedObject, Scene

#: Unit polygons (radius 1, pointing up, y down) for every non-circle shape.
_STAR = [
    (
        math.cos(math.radians(-90 + 36 * k)) * (1.0 if k % 2 == 0 else 0.45),
        math.sin(math.radians(-90 + 36 * k)) * (1.0 if k % 2 == 0 else 0.45),
    )
    for k in range(10)
]
_CROSS_W = 0.36


def _heart(n: int = 28) -> list[tuple[float, float]]:
    """The classic parametric heart, scaled to radius 1 and centred on its bounding box."""
    pts = []
    for k in range(n):
        t = 2 * math.pi * k / n
        pts.append(
            (
                16 * math.sin(t) ** 3,
                -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)),
            )
        )
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    half = max(max(xs) - min(xs), max(ys) - min(ys)) / 2
    return [((x - cx) / half, (y - cy) / half) for x, y in pts]


_HEART = _heart()
_POLYGONS: dict[str, list[tuple[float, float]]] = {
    "square": [(-0.82, -0.82), (0.82, -0.82), (0.82, 0.82), (-0.82, 0.82)],
    "triangle": [(0.0, -1.0), (0.94, 0.72), (-0.94, 0.72)],
    "star": _STAR,
    "diamond": [(0.0, -1.0), (0.74, 0.0), (0.0, 1.0), (-0.74, 0.0)],
    "cross": [
        (-_CROSS_W, -1.0),
        (_CROSS_W, -1.0),
        (_CROSS_W, -_CROSS_W),
        (1.0, -_CROSS_W),
        (1.0, _CROSS_W),
        (_CROSS_W, _CROSS_W),
        (_CROSS_W, 1.0),
        (-_CROSS_W, 1.0),
        (-_CROSS_W, _CROSS_W),
        (-1.0, _CROSS_W),
        (-1.0, -_CROSS_W),
        (-_CROSS_W, -_CROSS_W),
    ],
    "heart": _HEART,
}


def _draw_object(draw: ImageDraw.ImageDraw, obj: PlacedObject, shape: str, side: int) -> None:
    cx, cy, r = obj.x * side, obj.y * side, obj.radius * side
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=obj.rgb)
        return
    theta = math.radians(obj.rotation)
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    points = [
        (cx + r * (px * cos_t - py * sin_t), cy + r * (px * sin_t + py * cos_t))
        for px, py in _POLYGONS[shape]
    ]
    draw.polygon(points, fill=obj.rgb)


def render_image(scene: Scene, image_size: int, supersample: int = 4) -> Image.Image:
    """The scene as an RGB image of ``image_size`` pixels square."""
    side = image_size * supersample
    image = Image.new("RGB", (side, side), scene.background)
    draw = ImageDraw.Draw(image)
    for obj in scene.objects:
        _draw_object(draw, obj, scene.groups[obj.group].shape, side)
    if supersample > 1:
        image = image.resize((image_size, image_size), Image.Resampling.BOX)
    return image


def encode_png(image: Image.Image, compress_level: int = 6) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level, optimize=False)
    return buf.getvalue()


def render_png(scene: Scene, image_size: int, supersample: int = 4, compress_level: int = 6) -> bytes:
    return encode_png(render_image(scene, image_size, supersample), compress_level)
