"""Pretrained embeddings: tiny models built on the fly run the real loading and batching code;
one slower test runs the bundled all-MiniLM-L6-v2.

Skipped when the ``embeddings`` extra is absent, unless SSLABEL_REQUIRE_EXTRAS is set (CI), where
a missing extra fails the run instead.
"""

from __future__ import annotations

import io
import os

import joblib
import numpy as np
import pandas as pd
import pytest
import tiny_models
from PIL import Image

from sslcore import embeddings
from sslcore.cache import ArtifactCache
from sslcore.cli import main
from sslcore.dataset import Dataset
from sslcore.demos import load_demo
from sslcore.errors import DataError
from sslcore.export import model_bytes, model_inputs, train_model
from sslcore.features import featurize, project_method
from sslcore.store import Store

if not embeddings.embeddings_available():
    if os.environ.get("SSLABEL_REQUIRE_EXTRAS"):
        raise RuntimeError(
            "SSLABEL_REQUIRE_EXTRAS is set but the embeddings extra is not installed: "
            "pip install torch==2.13.0 && pip install -e '.[embeddings]'"
        )
    pytest.skip(
        "the embeddings extra is not installed (pip install 'sslabel[embeddings]')",
        allow_module_level=True,
    )

INTENT_WORDS = (
    "refund card charged twice billing invoice payment money".split(),
    "app crash screen login password error slow bug".split(),
)
TEXTS = [
    "refund my card please",
    "I was charged twice",
    "the app crashes on login",
    "screen stays black after the update",
    "refund my card please",
    "where is my invoice",
    "password reset does not work",
]


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    texts = TEXTS + load_demo("tickets").items["text"].tolist()
    words = tiny_models.words_of(texts) + INTENT_WORDS[0] + INTENT_WORDS[1]
    return tiny_models.text_model(tmp_path_factory.mktemp("models") / "tiny-bert", words)


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    return tiny_models.image_model(tmp_path_factory.mktemp("models") / "tiny-vit")


def text_data(texts=TEXTS) -> Dataset:
    items = pd.DataFrame({"item_id": [f"t{i}" for i in range(len(texts))], "text": texts,
                          "label": [None] * len(texts)})  # fmt: skip
    return Dataset("toy", "text", items)


def coloured(red: bool, seed: int) -> bytes:
    """A noisy reddish or bluish PNG of varying size."""
    rng = np.random.default_rng(seed)
    size = (int(rng.integers(20, 60)), int(rng.integers(20, 60)))
    pixels = rng.integers(0, 90, (size[1], size[0], 3)).astype(np.uint8)
    pixels[..., 0 if red else 2] += 160
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def image_data(n: int = 24) -> Dataset:
    red = [i % 2 == 0 for i in range(n)]
    items = pd.DataFrame({
        "item_id": [f"img-{i}.png" for i in range(n)],
        "image": [coloured(r, i) for i, r in enumerate(red)],
        "label": ["red" if r else "blue" for r in red],
    })  # fmt: skip
    return Dataset("colours", "image", items)


def test_a_sentence_transformers_folder_embeds_texts_in_batches(text_model):
    method = f"model:{text_model}"
    seen = []
    X = embeddings.embed(TEXTS, kind="text", method=method, batch_size=2,
                         progress=lambda f, m: seen.append((f, m)))  # fmt: skip
    assert X.shape == (len(TEXTS), tiny_models.WIDTH) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(X[0], X[4], atol=1e-6)  # the same text twice
    assert not np.allclose(X[0], X[2], atol=1e-3)
    # Batching and the longest-first order change nothing: one text at a time gives the same rows.
    alone = np.vstack([embeddings.embed([t], kind="text", method=method) for t in TEXTS])
    np.testing.assert_allclose(X, alone, atol=1e-5)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert len(seen) == 1 + 4  # a start message, then one per batch of 2
    assert any(m.endswith("left") and "Embedded 2 of 7 texts" in m for _, m in seen)


def test_missing_texts_embed_as_empty_text(text_model):
    X = embeddings.embed(["", None, float("nan")], kind="text", method=f"model:{text_model}")
    np.testing.assert_allclose(X[1], X[0], atol=1e-6)
    np.testing.assert_allclose(X[2], X[0], atol=1e-6)


def test_features_are_cached_by_the_items_and_the_model_files(text_model, tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    method = f"model:{text_model}"
    messages = []
    first = featurize(text_data(), method=method, cache=cache)
    again = featurize(text_data(), method=method, cache=cache,
                      progress=lambda f, m: messages.append(m))  # fmt: skip
    np.testing.assert_array_equal(first, again)
    assert messages == []  # loaded, not embedded again
    assert len(list((tmp_path / "cache").iterdir())) == 1
    # New weights in the same folder are another model: its features are computed anew.
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in text_model.rglob("*"):
        if path.is_file():
            target = copy / path.relative_to(text_model)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    featurize(text_data(), method=f"model:{copy}", cache=cache)
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_a_blend_is_unit_rows_of_unit_blocks_each_cached(text_model, tmp_path):
    cache = ArtifactCache(tmp_path)
    dataset = load_demo("tickets")
    tfidf = featurize(dataset, method="tfidf", cache=cache)
    X = featurize(dataset, method=f"tfidf+model:{text_model}", cache=cache)
    assert X.shape == (480, tfidf.shape[1] + tiny_models.WIDTH)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(X[:, : tfidf.shape[1]], tfidf / np.sqrt(2), atol=1e-6)
    assert len(list(tmp_path.iterdir())) == 2  # the TF-IDF block was reused


def test_an_image_model_folder_embeds_images_through_its_own_processor(image_model):
    dataset = image_data()
    seen = []
    X = featurize(dataset, method=f"model:{image_model}", progress=lambda f, m: seen.append(m))
    assert X.shape == (24, tiny_models.WIDTH) and np.isfinite(X).all()
    assert any("Embedded" in m and "images" in m for m in seen)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)


def test_exported_image_model_predicts_on_raw_image_bytes(image_model):
    dataset = image_data()
    labels = dict(zip(dataset.ids[:12], dataset.labels[:12], strict=True))
    model = train_model(dataset, labels, features=f"model:{image_model}")
    loaded = joblib.load(io.BytesIO(model_bytes(model)))
    inputs = model_inputs(dataset)
    predicted = loaded.predict(inputs[12:])
    assert (predicted == dataset.labels[12:]).mean() >= 0.9


def two_intents(n: int = 80) -> Dataset:
    """Short texts of two intents drawn from two separate vocabularies."""
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(INTENT_WORDS[i % 2], rng.integers(3, 7))) for i in range(n)]
    items = pd.DataFrame({"item_id": [f"t{i}" for i in range(n)], "text": texts,
                          "label": [("billing", "bug")[i % 2] for i in range(n)]})  # fmt: skip
    return Dataset("intents", "text", items)


def test_exported_text_model_uses_the_projects_featurizer(text_model):
    dataset = two_intents()
    method = f"model:{text_model}"
    labels = dict(zip(dataset.ids[:20], dataset.labels[:20], strict=True))
    model = train_model(dataset, labels, features=method)
    loaded = joblib.load(io.BytesIO(model_bytes(model)))
    texts = model_inputs(dataset)
    # The pipeline's features are the project's features, row for row.
    np.testing.assert_allclose(
        loaded.named_steps["features"].transform(texts),
        featurize(dataset, method=method),
        atol=1e-5,
    )
    predicted = loaded.predict(texts)
    assert (predicted == model.predict(texts)).all()
    assert (predicted[20:] == dataset.labels[20:]).mean() >= 0.9


def test_exported_blend_unions_unit_blocks(text_model):
    dataset = load_demo("tickets")
    labels = dict(zip(dataset.ids[::4], dataset.labels[::4], strict=True))
    model = train_model(dataset, labels, features=f"tfidf+model:{text_model}")
    Z = model.named_steps["features"].transform(model_inputs(dataset)[:5])
    assert Z.shape[1] > tiny_models.WIDTH
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), np.sqrt(2), rtol=1e-5)


def test_a_text_model_refuses_images(text_model):
    with pytest.raises(DataError, match="does not embed images"):
        featurize(image_data(4), method=f"model:{text_model}")


def test_missing_and_wrong_folders_say_what_to_do(tmp_path):
    with pytest.raises(DataError, match="not on this machine.*never downloads"):
        embeddings.resolve_model(f"model:{tmp_path / 'absent'}")
    with pytest.raises(DataError, match="neither modules.json nor config.json"):
        embeddings.resolve_model(f"model:{tmp_path}")
    clip = tmp_path / "clip"
    clip.mkdir()
    (clip / "open_clip_config.json").write_text("{}")
    with pytest.raises(DataError, match="open_clip model; open_clip needs torchvision"):
        embeddings.resolve_model(f"model:{clip}")
    timm = tmp_path / "timm"
    timm.mkdir()
    (timm / "config.json").write_text('{"architecture": "resnet18", "num_classes": 10}')
    with pytest.raises(DataError, match="timm model; timm needs torchvision"):
        embeddings.resolve_model(f"model:{timm}")


def test_a_name_resolves_from_the_local_hugging_face_cache_only(text_model, tmp_path,
                                                                monkeypatch):  # fmt: skip
    from huggingface_hub import constants

    snapshot = tmp_path / "models--acme--tiny-bert" / "snapshots" / ("0" * 40)
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(text_model, target_is_directory=True)
    (tmp_path / "models--acme--tiny-bert" / "refs").mkdir()
    (tmp_path / "models--acme--tiny-bert" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    ref = embeddings.resolve_model("model:acme/tiny-bert")
    assert ref.path == text_model.resolve()
    X = embeddings.embed(["refund my card"], kind="text", method="model:acme/tiny-bert")
    assert X.shape == (1, tiny_models.WIDTH)
    with pytest.raises(DataError, match="'acme/absent' is not on this machine"):
        embeddings.resolve_model("model:acme/absent")


def test_offline_mode_holds_during_a_load_and_is_restored(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with embeddings.offline():
        assert constants.is_offline_mode()
        assert os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert not constants.is_offline_mode() and "HF_HUB_OFFLINE" not in os.environ


def test_cli_import_stores_the_method_and_caches_the_features(text_model, tmp_path, capsys):
    path = tmp_path / "tickets.csv"
    load_demo("tickets").items.head(40).to_csv(path, index=False)
    data = tmp_path / "data"
    args = ["--data-dir", str(data), "import", str(path), "--text-column", "text",
            "--id-column", "item_id", "--features", str(text_model)]  # fmt: skip
    assert main(args) == 0
    assert "features (model:" in capsys.readouterr().out
    store = Store(data)
    try:
        project = store.open_project("tickets")
        assert project_method(project) == f"model:{text_model.resolve()}"
        assert [p.name.split("-")[0] for p in project.cache.root.iterdir()] == ["features"]
        messages = []
        featurize(project.dataset(), method=project_method(project), cache=project.cache,
                  progress=lambda f, m: messages.append(m))  # fmt: skip
        assert messages == []  # the studio finds the features ready
    finally:
        store.close()


def test_cli_import_refuses_a_method_the_items_cannot_take(text_model, tmp_path, capsys):
    folder = tmp_path / "pictures"
    folder.mkdir()
    (folder / "a.png").write_bytes(coloured(True, 0))
    (folder / "b.png").write_bytes(coloured(False, 1))
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "import", str(folder), "--features", "tfidf"]) == 2
    assert "'tfidf' is for text items" in capsys.readouterr().err
    assert main(["--data-dir", str(data), "import", str(folder), "--features",
                 f"model:{text_model}"]) == 2  # fmt: skip
    assert "does not embed images" in capsys.readouterr().err
    store = Store(data)
    try:
        assert store.project_names() == []  # nothing half imported
    finally:
        store.close()


def test_cli_simulate_with_a_model(text_model, tmp_path, capsys):
    args = ["simulate", "--dataset", "tickets", "--features", f"model:{text_model}",
            "--budgets", "8", "--seeds", "1", "--cache-dir", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"features model:{text_model}" in out and "8 labels: accuracy" in out
    assert len(list(tmp_path.iterdir())) == 1


@pytest.mark.slow
def test_the_bundled_minilm_embeds_meaning_offline():
    texts = [
        "I was charged twice for my subscription",
        "Why did you bill me two times this month?",
        "The app crashes as soon as I open it",
        "Refund the double payment please",
    ]
    X = featurize(text_data(texts), method="minilm")
    assert X.shape == (4, 384)
    similar = X @ X.T
    assert similar[0, 1] > similar[0, 2] and similar[3, 0] > similar[3, 2]
    assert similar[0, 1] > 0.5 > similar[0, 2]


@pytest.mark.slow
def test_a_text_project_offers_tfidf_minilm_to_the_selection_once_computed(tmp_path):
    from sslcore.export import model_file
    from sslcore.features import features_cached
    from sslcore.session import ProjectEngine

    dataset = two_intents(60)
    project = Store(tmp_path).create_project(
        "intents", dataset, import_labels=False, class_names=["billing", "bug"]
    )
    assert ProjectEngine.build(project).representations_job is None  # opt-in only
    live = ProjectEngine.build(project, offer_alternatives=True)
    job = live.representations_job
    assert job is not None and job.wait(300) and job.error is None
    for item_id, name in list(zip(dataset.ids, dataset.labels, strict=True))[:12]:
        project.label(item_id, name, annotator="ann")
    live.wait_for_tuning()
    assert live.engine.tuner.feature_names == ["tfidf", "tfidf+minilm"]
    names = live.tuning.table()["name"].tolist()
    assert any("spreading on tfidf+minilm" in n for n in names), names
    assert features_cached(dataset, "tfidf+minilm", project.cache)  # a restart only loads them
    # The exported model is built on the features the selection chose.
    chosen = live.engine.features_in_use
    model = joblib.load(io.BytesIO(model_file(project, chosen)))
    width = model.named_steps["features"].transform(["refund my card"]).shape[1]
    assert width == featurize(dataset, method=chosen, cache=project.cache).shape[1]
