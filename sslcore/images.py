"""Image decoding, in one place: the engine's pixel features, the exported model and the UI
all read encoded image bytes through these functions."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from sklearn.base import BaseEstimator, TransformerMixin

from .errors import DataError

GREY_MODES = ("L", "1", "I", "I;16", "LA")
IMAGE_SIDE = 32


def open_image(blob: bytes, *, name: str = "image") -> Image.Image:
    """The image in ``blob``, opened lazily (only the header is read until pixels are used).

    Raises :class:`~sslcore.errors.DataError` naming ``name`` if it cannot be decoded.
    """
    try:
        return Image.open(io.BytesIO(blob))
    except Exception as error:
        raise DataError(f"{name} cannot be decoded as an image: {error}") from error


def pixel_mode(images: list[Image.Image]) -> str:
    """``"RGB"`` if any image has colour, else ``"L"`` (grey)."""
    return "RGB" if any(image.mode not in GREY_MODES for image in images) else "L"


def pixel_size(images: list[Image.Image], side: int) -> tuple[int, int]:
    """The largest width and height among ``images``, scaled down to fit in ``side``."""
    width = max(image.width for image in images)
    height = max(image.height for image in images)
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def pixel_row(image: Image.Image, mode: str, size: tuple[int, int]) -> np.ndarray:
    """One image as a flat float32 row in [0, 1], converted to ``mode`` and resized to ``size``."""
    image = image.convert(mode)
    if image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32).ravel() / 255.0


class ImagePixels(TransformerMixin, BaseEstimator):
    """Encoded images to pixel rows at the size and colour mode seen in ``fit``.

    Parameters
    ----------
    side : int, default=32
        The longest side, in pixels, images are scaled down to.

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> ImagePixels().fit_transform(load_demo("digits").items["image"][:2].tolist()).shape
    (2, 64)
    """

    def __init__(self, *, side: int = IMAGE_SIDE):
        self.side = side

    def fit(self, X, y=None):
        opened = _open_all(X)
        self.mode_ = pixel_mode(opened)
        self.size_ = pixel_size(opened, self.side)
        return self

    def transform(self, X):
        return np.stack([pixel_row(image, self.mode_, self.size_) for image in _open_all(X)])


def _open_all(blobs) -> list[Image.Image]:
    return [open_image(blob, name=f"image at row {row}") for row, blob in enumerate(blobs)]


def display_image(blob: bytes, size: int) -> Image.Image:
    """An RGB image at most ``size`` pixels wide, small images scaled up with hard pixel
    edges (an 8x8 digit becomes readable)."""
    image = open_image(blob)
    image.seek(0)
    image = image.convert("RGB")
    scale = max(1, size // max(image.size))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    image.thumbnail((size, size))
    return image
