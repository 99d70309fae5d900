"""Image decoding, in one place: the engine's pixel features, the exported model and the UI
all read encoded image bytes through these functions."""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image, UnidentifiedImageError
from sklearn.base import BaseEstimator, TransformerMixin

from .errors import DataError

GREY_MODES = ("L", "1", "I", "I;16", "LA")
IMAGE_SIDE = 32
MAX_IMAGE_PIXELS = 40_000_000
"""Larger images are refused at import (a decompression bomb, or a photo to shrink first)."""
_REDUCIBLE_MODES = ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "I", "F")


def open_image(blob: bytes, *, name: str = "image") -> Image.Image:
    """The image in ``blob``, opened lazily (only the header is read until pixels are used).

    Raises :class:`~sslcore.errors.DataError` naming ``name`` if it cannot be decoded.
    """
    try:
        return Image.open(io.BytesIO(blob))
    except Exception as error:
        raise DataError(f"{name} cannot be decoded as an image: {error_text(error)}") from error


def error_text(error: Exception) -> str:
    """Pillow's message about a bad image, without the in-memory stream it was read from
    (``cannot identify image file <_io.BytesIO object at 0x7f…>`` names no file)."""
    if isinstance(error, UnidentifiedImageError):
        return "not a format Pillow can read (unknown type or damaged header)"
    text = re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-fA-F]+>", "", str(error)).strip()
    return text or type(error).__name__


def check_image(blob: bytes, *, name: str) -> None:
    """Refuse, naming ``name``, an image that is too large or does not decode to the end.

    The pixel count is read from the header before any pixel is decoded; JPEGs are then
    decoded at 1/8 scale (every byte is still read, so truncation is caught).

    Examples
    --------
    >>> check_image(b"GIF89a", name="cats/a.gif")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sslcore.errors.DataError: cats/a.gif: cannot be read as an image (...); the file may be ...
    """
    try:
        with Image.open(io.BytesIO(blob)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise Image.DecompressionBombError(f"{image.width} x {image.height}")
            image.draft(None, (1, 1))
            image.load()
    except Image.DecompressionBombError:
        raise DataError(
            f"{name}: the image is larger than {MAX_IMAGE_PIXELS:,} pixels (a decompression "
            f"bomb?); shrink it and import again."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise DataError(
            f"{name}: cannot be read as an image ({error_text(error)}); the file may be "
            f"truncated or corrupt. Remove or replace it and import again."
        ) from None


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
    """One image as a flat float32 row in [0, 1], converted to ``mode`` and resized to ``size``.

    A large image is decoded and shrunk in whole steps before the conversion, so a
    40-megapixel photo costs one decoded copy, not three: JPEGs decode straight at
    1/2 to 1/8 scale (Pillow's ``draft``), others are box-reduced (``reduce``).
    """
    image.draft(mode, (size[0], size[1]))
    factor = min(image.width // size[0], image.height // size[1])
    if factor >= 2:
        if image.mode not in _REDUCIBLE_MODES:
            image = image.convert(mode)
        image = image.reduce(factor)
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
        opened = _open_all(X)  # headers only: no pixel is decoded here
        self.mode_ = pixel_mode(opened)
        self.size_ = pixel_size(opened, self.side)
        return self

    def transform(self, X, *, progress=None):
        """Pixel rows; ``progress(fraction)`` is called as images are done, if given."""
        X = list(X)
        rows = np.empty((len(X), _row_length(self.mode_, self.size_)), np.float32)
        every = max(1, len(X) // 100)
        # One image decoded at a time, and let go before the next: holding every opened
        # image kept every decoded one alive (20 images of 40 Mpx took 3.5 GB).
        for row, blob in enumerate(X):
            with open_image(blob, name=f"image at row {row}") as image:
                rows[row] = pixel_row(image, self.mode_, self.size_)
            if progress is not None and (row + 1) % every == 0:
                progress((row + 1) / len(X))
        return rows


def _row_length(mode: str, size: tuple[int, int]) -> int:
    return size[0] * size[1] * len(mode)


def _open_all(blobs) -> list[Image.Image]:
    return [open_image(blob, name=f"image at row {row}") for row, blob in enumerate(blobs)]


def display_image(blob: bytes, size: int) -> Image.Image:
    """An RGB image at most ``size`` pixels wide, small images scaled up with hard pixel
    edges (an 8x8 digit becomes readable)."""
    image = open_image(blob)
    image.seek(0)
    image.draft("RGB", (size, size))  # a large JPEG decodes at a fraction of its size
    image = image.convert("RGB")
    scale = max(1, size // max(image.size))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    image.thumbnail((size, size))
    return image
