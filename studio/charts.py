"""Figures: the embedding map with the decision field behind it."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from sslcore.dataset import IMAGE
from sslcore.images import open_image
from sslcore.projection import DecisionField

UNLABELED_COLOR = "#B0B0B0"
SHADES = "\u00a0░▒▓█"
"""Light to dark, for thumbnails in hover boxes (a no-break space: plotly collapses spaces)."""
HOVER_THUMBNAILS = 5_000
"""Image projects up to this size get a thumbnail in the map's hover box (each image is
decoded once per project); larger ones name the item only."""
UNCERTAIN_COLOR = (255, 255, 255)
"""Where the model is unsure the map shows no class colour at all: a grey band was
mistaken for a class drawn in grey."""
COLOR_BY = ("human label", "pseudo-label", "confidence")


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    return tuple(int(color[i : i + 2], 16) for i in (0, 2, 4))


def field_image(field: DecisionField, colors: list[str], *, uncertain_below: float = 0.6) -> str:
    """The decision regions as a PNG data URI: class colour, fading where confidence is low,
    and a grey band where no class wins clearly."""
    n_classes = len(colors)
    palette = np.array([hex_to_rgb(c) for c in colors], dtype=np.float64)
    rgb = palette[field.winner]
    floor = 1.0 / max(n_classes, 1)
    strength = np.clip((field.confidence - floor) / max(1 - floor, 1e-9), 0, 1)
    alpha = 40 + 90 * strength
    band = field.confidence < uncertain_below
    rgb[band] = UNCERTAIN_COLOR
    alpha[band] = 0
    rgba = np.dstack([rgb, alpha]).astype(np.uint8)
    image = Image.fromarray(np.flipud(rgba), mode="RGBA")  # row 0 is the top of the map
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def sample_positions(labeled: np.ndarray, max_points: int, seed: int = 0) -> np.ndarray:
    """Every labeled point and a random sample of the rest, up to ``max_points`` in all."""
    keep = np.flatnonzero(labeled)
    rest = np.flatnonzero(~labeled)
    room = max(max_points - keep.size, 0)
    if rest.size > room:
        rest = np.random.default_rng(seed).choice(rest, room, replace=False)
    return np.sort(np.concatenate([keep, rest]))


def map_figure(
    coords: np.ndarray,
    item_ids: np.ndarray,
    human: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    classes: list[str],
    colors: dict[str, str],
    *,
    hover: list[str],
    color_by: str = "pseudo-label",
    field: DecisionField | None = None,
    max_points: int = 20_000,
    pictures: bool = False,
) -> go.Figure:
    """WebGL scatter of the map. Human labels are large outlined circles, pseudo-labels small
    diamonds; every point carries its item id as custom data for selections. Classes come
    in the order of ``classes`` (the project's order), in the legend too. ``pictures``:
    the hover texts hold :func:`shade_thumbnail` pictures, shown black on white in a
    monospaced font."""
    labeled = np.array([h is not None for h in human])
    if classes:  # what the hover box says about each point
        pairs = zip(predicted, confidence, strict=True)
        guess = [f"model: {html.escape(str(p))} ({c:.0%})" for p, c in pairs]
        hover = [f"{h}<br>{g}" if h else g for h, g in zip(hover, guess, strict=True)]
    shown = sample_positions(labeled, max_points)
    figure = go.Figure()

    def add(positions, name, color, symbol, size, line=0, colorscale=None):
        if positions.size == 0:
            return
        name = html.escape(name)  # plotly renders some HTML in legends and hover boxes
        marker = dict(color=color, symbol=symbol, size=size, line=dict(width=line, color="#222"))
        if colorscale:
            marker.update(colorscale=colorscale, cmin=0, cmax=1, colorbar=dict(title="conf."))
        figure.add_trace(
            go.Scattergl(
                x=coords[positions, 0],
                y=coords[positions, 1],
                mode="markers",
                name=name,
                marker=marker,
                customdata=item_ids[positions],  # raw: selections read the ids back
                text=[f"{html.escape(str(item_ids[p]))}<br>{hover[p]}" for p in positions],
                hovertemplate="%{text}<extra>" + name + "</extra>",
            )
        )

    unlabeled = shown[~labeled[shown]]
    if color_by == "human label" or not classes:
        add(unlabeled, "unlabeled", UNLABELED_COLOR, "circle", 5)
    elif color_by == "confidence":
        add(unlabeled, "unlabeled (confidence)", confidence[unlabeled], "circle", 5,
            colorscale="Viridis")  # fmt: skip
    else:
        for name in classes:
            add(unlabeled[predicted[unlabeled] == name], f"{name} (model)", colors[name],
                "diamond", 5)  # fmt: skip
    human_shown = shown[labeled[shown]]
    for name in classes:
        add(human_shown[human[human_shown] == name], f"{name} (human)", colors[name], "circle",
            10, line=1.5)  # fmt: skip
    if field is not None and classes:
        x0, x1, y0, y1 = field.x[0], field.x[-1], field.y[0], field.y[-1]
        figure.add_layout_image(
            source=field_image(field, [colors[c] for c in classes]),
            xref="x", yref="y", x=x0, y=y1, sizex=x1 - x0, sizey=y1 - y0,
            sizing="stretch", layer="below", opacity=1.0,
        )  # fmt: skip
    figure.update_layout(
        height=650,
        margin=dict(l=10, r=10, t=30, b=10),
        dragmode="lasso",
        legend=dict(itemsizing="constant"),
        clickmode="event+select",  # a click selects one point, and the page shows it
        xaxis=dict(showgrid=False, zeroline=False, showticklabels=False),
        yaxis=dict(showgrid=False, zeroline=False, showticklabels=False),
        plot_bgcolor="white",
    )
    if pictures:
        figure.update_layout(
            hoverlabel=dict(bgcolor="white", font=dict(family="monospace", color="black"))
        )
    return figure


def hover_texts(dataset, limit: int = 80) -> list[str]:
    """A short, HTML-escaped description of every item for the map's hover box."""
    items = dataset.items
    if dataset.kind == "text":
        texts = [t if len(t) <= limit else t[:limit] + "…" for t in items["text"]]
    elif dataset.kind == "image":
        # Plotly's hover boxes hold text only, so the picture is drawn in shade characters.
        if len(items) <= HOVER_THUMBNAILS:
            return [shade_thumbnail(blob) for blob in items[IMAGE]]
        texts = ["" for _ in range(len(items))]  # the id names it; a click shows the image
    else:
        columns = list(dataset.feature_columns)[:4]
        texts = [", ".join(f"{c}={_short(v)}" for c, v in zip(columns, row, strict=True))
                 for row in items[columns].itertuples(index=False)]  # fmt: skip
    return [html.escape(t) for t in texts]


def shade_thumbnail(blob: bytes, side: int = 12) -> str:
    """An image as at most ``side`` x ``side`` shade characters, rows joined by ``<br>``:
    a thumbnail a plotly hover box can show (it holds no images). Each pixel is two
    characters wide, as a monospaced character is about twice as tall as wide. An image
    that cannot be decoded gives an empty string.

    Examples
    --------
    >>> from PIL import Image
    >>> image = Image.new("L", (2, 1), 255)
    >>> image.putpixel((1, 0), 0)
    >>> buffer = io.BytesIO()
    >>> image.save(buffer, format="PNG")
    >>> shade_thumbnail(buffer.getvalue()) == "\u00a0\u00a0██"
    True
    """
    try:
        image = open_image(blob)
        image.seek(0)
        image.draft("L", (side, side))
        image = image.convert("L")
    except Exception:  # a damaged image: the hover names the item only
        return ""
    image.thumbnail((side, side), Image.BOX)
    pixels = np.asarray(image, dtype=np.float64)
    levels = np.rint((255 - pixels) / 255 * (len(SHADES) - 1)).astype(int)
    return "<br>".join("".join(SHADES[v] * 2 for v in row) for row in levels)


def _short(value) -> str:
    """A table value for a hover box: numbers to 4 significant digits (not -0.4720954092015252)."""
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def mini_map(coords: np.ndarray, position: int, *, size: int = 200) -> bytes:
    """A small PNG of the whole map (every item as grey density) with one item ringed in
    red: where a table row sits, for items that are only numbers."""
    from PIL import ImageDraw

    coords = np.asarray(coords, dtype=np.float64)
    pad = 8
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    scale = (size - 2 * pad) / np.where(hi > lo, hi - lo, 1.0)
    pixels = ((coords - lo) * scale + pad).round().astype(int)
    pixels[:, 1] = size - 1 - pixels[:, 1]  # image rows grow downwards
    counts = np.zeros((size, size))
    np.add.at(counts, (pixels[:, 1], pixels[:, 0]), 1)
    shade = 235 - (145 * np.minimum(counts / max(np.percentile(counts[counts > 0], 90), 1), 1))
    grey = np.where(counts > 0, shade, 255).astype(np.uint8)
    image = Image.fromarray(np.dstack([grey] * 3), mode="RGB")
    x, y = pixels[position]
    draw = ImageDraw.Draw(image)
    draw.ellipse([x - 7, y - 7, x + 7, y + 7], outline=(214, 39, 40), width=3)
    draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(214, 39, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
