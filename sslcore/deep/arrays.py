"""Images as one uint8 array ``(n, channels, height, width)``, the deep trainers' input.

NumPy only (no torch), so the light path can build and cache it. Encoded images are decoded
through :mod:`sslcore.images`, the one owner of image decoding.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import DataError
from ..images import open_image, pixel_mode, pixel_size

MIN_SIDE = 8
MAX_SIDE = 64


def image_array(images, *, side: int = MAX_SIDE) -> np.ndarray:
    """Encoded images (bytes) or a pixel array as uint8 ``(n, channels, height, width)``.

    Parameters
    ----------
    images : sequence of bytes, or ndarray
        Encoded images (any format Pillow reads), or pixels shaped ``(n, h, w)`` (grey),
        ``(n, h, w, c)`` or ``(n, c, h, w)`` with c in {1, 3}, as uint8 or floats in [0, 1].
    side : int, default=64
        Encoded images whose longest side exceeds this are scaled down to it; images
        smaller than 8 pixels are scaled up to 8. All images share one size and mode.

    Returns
    -------
    ndarray of uint8, shape (n, 1 or 3, height, width)

    Examples
    --------
    >>> from sslcore.demos import load_demo
    >>> image_array(load_demo("digits").items["image"][:5].tolist()).shape
    (5, 1, 8, 8)
    """
    if isinstance(images, np.ndarray) and images.dtype != object:
        return _from_pixels(images)
    blobs = list(images)
    if not blobs:
        raise DataError("no images to train on")
    opened = [open_image(blob, name=f"image at row {row}") for row, blob in enumerate(blobs)]
    mode = pixel_mode(opened)
    width, height = pixel_size(opened, side)
    if max(width, height) < MIN_SIDE:
        scale = MIN_SIDE / max(width, height)
        width, height = round(width * scale), round(height * scale)
    rows = []
    for image in opened:
        image = image.convert(mode)
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        rows.append(np.asarray(image, dtype=np.uint8))
    stacked = np.stack(rows)
    return stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2).copy()


def _from_pixels(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 3:
        pixels = pixels[:, None]
    if pixels.ndim != 4:
        raise DataError(
            f"an image array needs shape (n, h, w), (n, h, w, c) or (n, c, h, w); "
            f"got {pixels.shape}"
        )
    if pixels.shape[1] not in (1, 3) and pixels.shape[3] in (1, 3):
        pixels = pixels.transpose(0, 3, 1, 2)
    if pixels.shape[1] not in (1, 3):
        raise DataError(f"images need 1 (grey) or 3 (colour) channels; got shape {pixels.shape}")
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.round(np.asarray(pixels, dtype=np.float64) * 255), 0, 255)
    return np.ascontiguousarray(pixels, dtype=np.uint8)
