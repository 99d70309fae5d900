"""What the studio's charts put in front of plotly, which renders some HTML in hover boxes,
legends and tick labels (<a href>, <b>, ...)."""

import numpy as np
from helpers import text_dataset

from studio.charts import hover_texts, map_figure

LINK = '<a href="http://127.0.0.1:9/x">x</a>'


def test_map_hover_shows_ids_classes_and_texts_as_text_and_keeps_raw_ids_for_selection():
    dataset = text_dataset([f"{LINK} text", "plain"], ids=[f"{LINK}-id", "b"])
    figure = map_figure(
        np.array([[0.0, 0.0], [1.0, 1.0]]),
        dataset.ids,
        np.array([f"{LINK}-class", None], dtype=object),
        np.array([f"{LINK}-class", f"{LINK}-class"], dtype=object),
        np.array([1.0, 0.9]),
        [f"{LINK}-class"],
        {f"{LINK}-class": "#4C78A8"},
        hover=hover_texts(dataset),
    )
    for trace in figure.data:
        assert "%{customdata}" not in trace.hovertemplate  # the raw id is not shown as is
        shown = " ".join([trace.name or "", trace.hovertemplate, *map(str, trace.text)])
        assert "<a href" not in shown
        assert "&lt;a href=" in shown
    ids = [item for trace in figure.data for item in trace.customdata]
    assert sorted(ids) == sorted(dataset.ids)  # selections still read the raw ids


def test_image_hover_shows_a_thumbnail_in_shade_characters():
    from sslcore.demos import load_demo
    from studio.charts import SHADES

    digits = load_demo("digits")
    texts = hover_texts(digits)
    rows = texts[0].split("<br>")
    assert len(rows) == 8 and {len(row) for row in rows} == {16}  # 8x8 pixels, 2 chars each
    assert set("".join(rows)) <= set(SHADES)
    assert len(set("".join(rows))) > 2  # a picture, not a blank
    figure = map_figure(
        np.zeros((2, 2)), digits.ids[:2], np.array([None, None]), np.array(["0", "1"]),
        np.array([0.9, 0.8]), ["0", "1"], {"0": "#000000", "1": "#111111"}, hover=texts[:2],
        pictures=True,
    )  # fmt: skip
    assert figure.layout.hoverlabel.font.family == "monospace"
    assert any(rows[0] in text for trace in figure.data for text in trace.text)


def test_the_unsure_band_is_blank_and_no_class_colour_is_grey():
    """Issue 15: class 9's grey was the unsure band's grey."""
    import base64
    import io

    from PIL import Image

    from sslcore.projection import DecisionField
    from sslcore.store import PALETTE
    from studio.charts import field_image, hex_to_rgb

    field = DecisionField(
        x=np.array([0.0, 1.0]), y=np.array([0.0]), winner=np.array([[0, 1]]),
        confidence=np.array([[0.95, 0.5]]),
    )  # fmt: skip
    uri = field_image(field, ["#4C78A8", "#F58518"], uncertain_below=0.6)
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGBA")
    sure, unsure = image.getpixel((0, 0)), image.getpixel((1, 0))
    assert sure[:3] == hex_to_rgb("#4C78A8") and sure[3] > 0
    assert unsure[3] == 0  # nothing drawn where the model is unsure
    for color in PALETTE:  # so no class can be taken for the grey of unlabeled points
        assert np.ptp(hex_to_rgb(color)) > 40, color
