"""Image decoding shared by features, the exported model and the UI."""

import numpy as np
import pytest
from helpers import image_bytes

from sslcore.errors import DataError
from sslcore.images import ImagePixels, display_image, open_image


def test_pixels_take_the_largest_size_and_colour_if_any_image_has_it():
    grey = image_bytes(size=(4, 2), mode="L", color=255)
    red = image_bytes(size=(2, 2), color="red")
    pixels = ImagePixels(side=32).fit([grey, red])
    assert pixels.mode_ == "RGB" and pixels.size_ == (4, 2)
    rows = pixels.transform([grey, red])
    assert rows.shape == (2, 4 * 2 * 3) and rows.dtype == np.float32
    np.testing.assert_allclose(rows[0], 1.0)  # white stays white in RGB
    np.testing.assert_allclose(rows[1].reshape(2, 4, 3)[..., 0], 1.0)  # red channel full


def test_large_images_are_scaled_to_the_side():
    big = image_bytes(size=(200, 100), mode="L", color=128)
    assert ImagePixels(side=32).fit([big]).size_ == (32, 16)


def test_undecodable_bytes_name_the_row():
    with pytest.raises(DataError, match="image at row 1 cannot be decoded"):
        ImagePixels().fit([image_bytes(), b"not an image"])
    with pytest.raises(DataError, match="photo.png cannot be decoded"):
        open_image(b"\x00\x01", name="photo.png")


def test_display_scales_small_images_up_with_hard_edges():
    shown = display_image(image_bytes(size=(8, 8), mode="L", color=0), 256)
    assert shown.size == (256, 256) and shown.mode == "RGB"
