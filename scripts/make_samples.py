"""Write the small sample files in data/samples/ (run once; the outputs are tracked).

    python scripts/make_samples.py

* ``support_tickets.csv``: 40 of the tickets demo's messages (texts written for this
  project), the first 12 labeled, the rest blank (unlabeled).
* ``transactions.csv``: 60 made-up card transactions (amount, hour, country, merchant
  category), drawn from a fixed random seed; "fraud" rows are large, at night and abroad.
  Labels for the first 20 only.
* ``shapes.zip``: 18 small PNG images of circles, squares and triangles drawn with Pillow,
  one sub-folder per class, at random sizes and positions from a fixed seed.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from sslcore.demos import load_demo

OUT = Path(__file__).parents[1] / "data" / "samples"


def support_tickets() -> pd.DataFrame:
    items = load_demo("tickets").items.sample(40, random_state=0)
    labels = [label if i < 12 else "" for i, label in enumerate(items["label"])]
    return pd.DataFrame({"id": items["item_id"], "message": items["text"], "intent": labels})


def transactions() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 60
    fraud = rng.random(n) < 0.25
    frame = pd.DataFrame(
        {
            "amount": np.where(fraud, rng.gamma(4, 180, n), rng.gamma(2, 25, n)).round(2),
            "hour": np.where(fraud, rng.integers(0, 6, n), rng.integers(7, 23, n)),
            "country": np.where(
                fraud, rng.choice(["BR", "RU", "NG"], n), rng.choice(["FR", "DE", "NL"], n)
            ),  # fmt: skip
            "merchant": rng.choice(["grocery", "travel", "electronics", "fuel"], n),
        }
    )
    frame.insert(0, "transaction", [f"tx-{i:03d}" for i in range(n)])
    frame["status"] = [("fraud" if f else "ok") if i < 20 else "" for i, f in enumerate(fraud)]
    return frame


def shapes_zip() -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for shape in ("circle", "square", "triangle"):
            for i in range(6):
                image = Image.new("RGB", (32, 32), "white")
                draw = ImageDraw.Draw(image)
                size = int(rng.integers(12, 24))
                x, y = (int(v) for v in rng.integers(2, 30 - size, 2))
                box = (x, y, x + size, y + size)
                colour = tuple(int(v) for v in rng.integers(0, 160, 3))
                if shape == "circle":
                    draw.ellipse(box, fill=colour)
                elif shape == "square":
                    draw.rectangle(box, fill=colour)
                else:
                    draw.polygon([(x, y + size), (x + size, y + size), (x + size // 2, y)],
                                 fill=colour)  # fmt: skip
                png = io.BytesIO()
                image.save(png, format="PNG")
                archive.writestr(f"{shape}/{shape}-{i}.png", png.getvalue())
    return buffer.getvalue()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    support_tickets().to_csv(OUT / "support_tickets.csv", index=False)
    transactions().to_csv(OUT / "transactions.csv", index=False)
    (OUT / "shapes.zip").write_bytes(shapes_zip())


if __name__ == "__main__":
    main()
