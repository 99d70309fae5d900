"""A harder image set, generated offline: twelve shapes drawn with Pillow under random
rotation, scale, position, stroke, fill and noise.

Each image is drawn at four times its size and scaled down (anti-aliased): a random affine
change of the class's outline (rotation up to +-30 degrees, scale 45-95% of the side, shear,
each corner moved by up to 6% of the size), drawn as an outline 1 to 3.5 pixels wide in a
random light grey on a random dark grey; then Gaussian noise (sigma 0 to 0.12 of the range)
is added. Same seed, same images.

An earlier version also filled half of the shapes and crossed each image with one or two
random strokes; on that set no method here beat pixels + graph at 30 labels (all near 28%,
see docs/benchmarks.md), so a fill is not a "stroke" the benchmark can measure.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from .dataset import ID, IMAGE, LABEL, Dataset


def _regular(n: int, *, phase: float = 0.0) -> list[tuple[float, float]]:
    angles = phase + 2 * np.pi * np.arange(n) / n - np.pi / 2
    return list(zip(np.cos(angles), np.sin(angles), strict=True))


def _star() -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        radius = 1.0 if k % 2 == 0 else 0.42
        angle = np.pi * k / 5 - np.pi / 2
        points.append((radius * np.cos(angle), radius * np.sin(angle)))
    return points


def _crescent() -> list[tuple[float, float]]:
    outer = [(np.cos(a), np.sin(a)) for a in np.linspace(0.5 * np.pi, 1.5 * np.pi, 14)]
    inner = [
        (0.55 * np.cos(a) - 0.1, 0.8 * np.sin(a)) for a in np.linspace(1.5 * np.pi, 0.5 * np.pi, 14)
    ]
    return outer + inner


SHAPES: dict[str, list[tuple[float, float]]] = {
    "circle": _regular(32),
    "triangle": _regular(3),
    "square": _regular(4, phase=np.pi / 4),
    "pentagon": _regular(5),
    "hexagon": _regular(6),
    "star": _star(),
    "plus": [(-0.3, -1), (0.3, -1), (0.3, -0.3), (1, -0.3), (1, 0.3), (0.3, 0.3), (0.3, 1),
             (-0.3, 1), (-0.3, 0.3), (-1, 0.3), (-1, -0.3), (-0.3, -0.3)],
    "arrow": [(-1, -0.25), (0.2, -0.25), (0.2, -0.7), (1, 0), (0.2, 0.7), (0.2, 0.25),
              (-1, 0.25)],
    "crescent": _crescent(),
    "L": [(-0.7, -1), (-0.2, -1), (-0.2, 0.5), (0.7, 0.5), (0.7, 1), (-0.7, 1)],
    "T": [(-1, -1), (1, -1), (1, -0.5), (0.25, -0.5), (0.25, 1), (-0.25, 1), (-0.25, -0.5),
          (-1, -0.5)],
    "bowtie": [(-1, -0.8), (0, -0.1), (1, -0.8), (1, 0.8), (0, 0.1), (-1, 0.8)],
}  # fmt: skip
"""Outlines in [-1, 1]^2, one class each."""

SUPERSAMPLE = 4


def render_glyph(shape: str, rng: np.random.Generator, *, side: int = 28) -> np.ndarray:
    """One randomly transformed, drawn and noised glyph of ``shape``, uint8 ``(side, side)``.

    Examples
    --------
    >>> render_glyph("star", np.random.default_rng(0)).shape
    (28, 28)
    """
    big = side * SUPERSAMPLE
    points = np.asarray(SHAPES[shape], dtype=np.float64)
    angle = np.radians(rng.uniform(-30, 30))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1, rng.uniform(-0.2, 0.2)], [0, 1]])
    scale = rng.uniform(0.45, 0.95) * big / 2 * rng.uniform(0.85, 1.15, size=2)
    points = points @ (rotation @ shear).T * scale
    points += rng.normal(0, 0.06 * big / 2, size=points.shape)
    room = np.maximum(big / 2 - np.abs(points).max(axis=0) - 2, 0)
    points += big / 2 + rng.uniform(-room, room)
    background = int(rng.integers(0, 90))
    ink = int(rng.integers(170, 256))
    image = Image.new("L", (big, big), background)
    draw = ImageDraw.Draw(image)
    outline = [tuple(p) for p in points]
    width = round(rng.uniform(1, 3.5) * SUPERSAMPLE)
    draw.line([*outline, outline[0]], fill=ink, width=width, joint="curve")
    small = image.resize((side, side), Image.Resampling.LANCZOS)
    pixels = np.asarray(small, dtype=np.float64)
    pixels += rng.normal(0, rng.uniform(0, 0.12) * 255, size=pixels.shape)
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def make_glyphs(n: int = 5000, *, side: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` glyph images, uint8 ``(n, side, side)``, and their class names (balanced).

    Examples
    --------
    >>> images, labels = make_glyphs(24, side=16)
    >>> images.shape, len(set(labels))
    ((24, 16, 16), 12)
    """
    rng = np.random.default_rng(seed)
    names = list(SHAPES)
    labels = np.array([names[i % len(names)] for i in range(n)], dtype=object)
    labels = labels[rng.permutation(n)]
    images = np.stack([render_glyph(name, rng, side=side) for name in labels])
    return images, labels


def load_glyphs(n: int = 5000, *, side: int = 28, seed: int = 0) -> Dataset:
    """The glyph set as an image :class:`~sslcore.dataset.Dataset` (PNG bytes, true labels).

    Examples
    --------
    >>> load_glyphs(24, side=16).n_items
    24
    """
    images, labels = make_glyphs(n, side=side, seed=seed)
    items = pd.DataFrame(
        {
            ID: [f"glyph-{i:05d}" for i in range(n)],
            IMAGE: [_png(pixels) for pixels in images],
            LABEL: list(labels),
        }
    )
    return Dataset("glyphs", "image", items)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
