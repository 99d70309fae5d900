"""Peak memory of turning large images into pixel features, and of refusing a zip bomb.

    python scripts/image_memory.py featurize --count 20 --side 6300 --format PNG
    python scripts/image_memory.py zipbomb --gigabytes 2

Each prints one JSON line: the process's peak RSS (``ru_maxrss``) before and after the step,
so the difference is what the step cost. docs/reliability.md quotes the results.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import resource
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def peak_mb() -> float:
    """Peak RSS since the last :func:`reset_peak` (Linux: VmHWM), else since the start."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Start the peak over from the current RSS (Linux 4.0+: clear_refs 5), so making the
    test images does not hide what decoding them costs."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass


def large_image(side: int, fmt: str) -> bytes:
    """A ``side`` x ``side`` colour image with smooth gradients (small when encoded)."""
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    pixels = np.empty((side, side, 3), np.uint8)
    pixels[..., 0] = ramp[None, :]
    pixels[..., 1] = ramp[:, None]
    pixels[..., 2] = 90
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def featurize_images(count: int, side: int, fmt: str) -> dict:
    import pandas as pd

    from sslcore.dataset import Dataset
    from sslcore.features import featurize

    blob = large_image(side, fmt)
    items = pd.DataFrame(
        {"item_id": [f"{i}.{fmt.lower()}" for i in range(count)], "image": [blob] * count}
    )
    items["label"] = None
    dataset = Dataset("big", "image", items)
    gc.collect()
    reset_peak()
    before = peak_mb()
    started = time.perf_counter()
    X = featurize(dataset)
    return {
        "step": "featurize",
        "images": count,
        "pixels_each": side * side,
        "format": fmt,
        "encoded_mb_each": round(len(blob) / 1024**2, 2),
        "shape": list(X.shape),
        "seconds": round(time.perf_counter() - started, 1),
        "peak_before_mb": round(before, 1),
        "peak_after_mb": round(peak_mb(), 1),
    }


def write_zip_bomb(path: Path, size: int) -> None:
    """One all-zeros member named like an image, ``size`` bytes unpacked."""
    chunk = bytes(64 * 1024**2)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("cats/zeros.png", "w", force_zip64=True) as member:
            left = size
            while left > 0:
                member.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)


def refuse_zip_bomb(gigabytes: float, path: Path | None = None) -> dict:
    from sslcore.errors import DataError
    from sslcore.loaders import load_images

    if path is None:
        path = Path(tempfile.mkdtemp()) / "bomb.zip"
        write_zip_bomb(path, int(gigabytes * 1e9))
    reset_peak()
    before = peak_mb()
    try:
        load_images(path)
        message = None
    except DataError as error:
        message = str(error)
    return {
        "step": "zipbomb",
        "zip_mb": round(path.stat().st_size / 1024**2, 2),
        "refused": message,
        "peak_before_mb": round(before, 1),
        "peak_after_mb": round(peak_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    steps = parser.add_subparsers(dest="step", required=True)
    images = steps.add_parser("featurize")
    images.add_argument("--count", type=int, default=20)
    images.add_argument("--side", type=int, default=6300)
    images.add_argument("--format", default="PNG")
    bomb = steps.add_parser("zipbomb")
    bomb.add_argument("--gigabytes", type=float, default=2.0)
    bomb.add_argument("--zip", type=Path, help="an existing bomb to refuse")
    args = parser.parse_args()
    if args.step == "featurize":
        result = featurize_images(args.count, args.side, args.format)
    else:
        result = refuse_zip_bomb(args.gigabytes, args.zip)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
