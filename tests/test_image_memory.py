"""Memory bounds for hostile images (issue 12, item 4), measured in a fresh process.

Each check runs in its own Python process and reads that process's peak RSS
(``ru_maxrss``) before and after the step, so the difference is the step's own cost.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

SCRIPT = """
import json, resource, sys
from pathlib import Path
from sslcore.errors import DataError
from sslcore.loaders import load_images

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

before = peak_mb()
try:
    load_images(Path(sys.argv[1]))
    message = None
except DataError as error:
    message = str(error)
print(json.dumps({"message": message, "grew_mb": peak_mb() - before}))
"""

FEATURIZE = """
import io, json, resource, sys
import numpy as np
from PIL import Image
from sslcore.images import ImagePixels

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

side, count, fmt = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ramp = np.linspace(0, 255, side, dtype=np.float32)
pixels = np.stack([ramp[None, :].repeat(side, 0), ramp[:, None].repeat(side, 1),
                   np.full((side, side), 90, np.float32)], axis=-1).astype(np.uint8)
buffer = io.BytesIO()
Image.fromarray(pixels).save(buffer, format=fmt)
del pixels
blob = buffer.getvalue()
one = ImagePixels().fit_transform([blob])  # the first decode sets the allocator's high mark
before = peak_mb()
X = ImagePixels().fit_transform([blob] * count)
assert np.allclose(X, one[0])
print(json.dumps({"grew_mb": peak_mb() - before, "decoded_mb": side * side * 3 / 1024**2}))
"""


def run(script: str, *args) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1],
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> Path:
    """About 8 MB on disk: one all-zeros 2,000,000,000-byte member named like an image."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    chunk = bytes(64 * 1024**2)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("cats/zeros.png", "w", force_zip64=True) as member:
            left = 2_000_000_000
            while left > 0:
                member.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return path


@pytest.mark.slow
def test_zip_bomb_is_refused_before_it_is_unpacked(zip_bomb):
    result = run(SCRIPT, zip_bomb)
    assert result["message"] == (
        "bomb.zip/cats/zeros.png: is 1,907 MB, more than the limit of 256 MB for one image "
        "(a zip bomb?); nothing was imported. Shrink or remove it."
    )
    assert result["grew_mb"] < 50  # was 4.5 GB in the trial: the member was read in full


def test_folder_image_over_the_size_limit_is_refused_unread(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    with open(folder / "huge.png", "wb") as sparse:  # 1 GB on paper, no disk used
        sparse.truncate(1024**3)
    result = run(SCRIPT, folder)
    assert result["message"].startswith("imgs/huge.png: is 1,024 MB, more than the limit")
    assert result["grew_mb"] < 50


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_featurizing_many_large_images_holds_one_at_a_time(fmt):
    # Eight 12-megapixel images: holding every decoded one (as before) grows by 8 x 36 MB.
    result = run(FEATURIZE, 3464, 8, fmt)
    assert result["grew_mb"] < 2.5 * result["decoded_mb"], result
