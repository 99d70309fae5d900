"""The deep methods (sslcore.deep): each learns a tiny separable image set in seconds, a
cancelled job writes nothing, a saved model reloads and predicts the same, and the light
path works without torch."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from sslcore.dataset import Dataset
from sslcore.errors import DataError

if os.environ.get("SSLABEL_REQUIRE_EXTRAS"):
    import torch  # in CI the deep tests must run, not skip
else:
    torch = pytest.importorskip("torch", reason="the 'deep' extra (torch) is not installed")

from sslcore.deep import (  # noqa: E402
    CLASSIFIER_METHODS,
    EMBEDDING_METHODS,
    Cancelled,
    StepClock,
    augment,
    load_model,
    train,
)
from sslcore.deep.arrays import image_array  # noqa: E402
from sslcore.deep.base import label_codes  # noqa: E402
from sslcore.deep.jobs import TrainingJob, train_and_save  # noqa: E402

CLASSES = ("across", "down", "box")


def bars(
    n_per_class: int = 40, *, seed: int = 0, places: tuple[int, int] = (1, 6)
) -> tuple[np.ndarray, np.ndarray]:
    """8x8 grey images: a horizontal bar, a vertical bar or a small hollow box, each at a
    random row and column in ``range(*places)``, with a little noise."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for name in CLASSES:
        for _ in range(n_per_class):
            image = rng.uniform(0, 40, size=(8, 8))
            a, b = rng.integers(*places, size=2)
            if name == "across":
                image[a, 1:7] = 230
            elif name == "down":
                image[1:7, b] = 230
            else:
                image[a - 1 : a + 2, b - 1 : b + 2] = 230
                image[a, b] = 20
            images.append(image)
            labels.append(name)
    order = rng.permutation(len(images))
    return np.asarray(images, dtype=np.uint8)[order], np.asarray(labels, dtype=object)[order]


def few_labels(y: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    known = np.full(len(y), None, dtype=object)
    for name in CLASSES:
        chosen = rng.choice(np.flatnonzero(y == name), per_class, replace=False)
        known[chosen] = y[chosen]
    return known


SMALL = {"width": 8, "seed": 0}


@pytest.fixture(autouse=True)
def one_thread():
    # Small nets gain nothing from threads; one thread also keeps results reproducible.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("method", CLASSIFIER_METHODS)
def test_each_classifier_learns_a_separable_set_from_two_labels_per_class(method):
    images, y = bars()
    known = few_labels(y, 2)
    model = train(method, images, known, steps=60, batch_size=16, mu=2, lr=0.05, **SMALL)
    rest = known == None  # noqa: E711 (element-wise)
    accuracy = (model.predict(images)[rest] == y[rest]).mean()
    assert accuracy >= 0.9, f"{method}: {accuracy:.2f}"
    proba = model.predict_proba(images)
    assert proba.shape == (len(images), 3)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert model.classes_ == sorted(CLASSES)


@pytest.mark.parametrize("method", EMBEDDING_METHODS)
def test_each_embedding_separates_the_classes_without_labels(method):
    from sklearn.neighbors import KNeighborsClassifier

    # Shapes near the centre: what differs most between images is then the class, which
    # an unsupervised embedding must pick up (shapes anywhere make position dominate it).
    images, y = bars(places=(3, 5))
    model = train(method, images, steps=150, batch_size=64, **SMALL)
    Z = model.embedding_
    assert Z.shape[0] == len(images) and np.isfinite(Z).all()
    # Three labeled items per class and 1-NN in the embedding: the classes must be apart.
    known = few_labels(y, 3)
    seen = known != None  # noqa: E711
    nearest = KNeighborsClassifier(1).fit(Z[seen], y[seen])
    accuracy = (nearest.predict(Z[~seen]) == y[~seen]).mean()
    assert accuracy >= 0.9, f"{method}: {accuracy:.2f}"
    losses = [row.get("loss", row.get("reconstruction")) for row in model.history_]
    assert losses[-1] < losses[0]


def test_fine_tuning_starts_from_the_contrastive_encoder():
    images, y = bars(20)
    pretrained = train("simclr", images, steps=5, batch_size=32, **SMALL)
    model = train("fixmatch", images, few_labels(y, 2), steps=0, pretrained=pretrained, **SMALL)
    # With no fine-tuning step the classifier's encoder is the pretrained one.
    for name, value in pretrained.network_.encoder.state_dict().items():
        assert_allclose(model.network_.encoder.state_dict()[name].numpy(), value.numpy())


@pytest.mark.parametrize("method", ["fixmatch", "mean_teacher", "vae", "simclr"])
def test_a_saved_model_reloads_and_predicts_the_same(tmp_path, method):
    images, y = bars(10)
    model = train(method, images, few_labels(y, 2), steps=4, batch_size=16, **SMALL)
    path = tmp_path / "models" / f"{method}.pt"
    model.save(path)
    again = load_model(path)
    new_images, _ = bars(5, seed=1)
    if method in CLASSIFIER_METHODS:
        assert again.classes_ == model.classes_
        assert_allclose(again.predict_proba(new_images), model.predict_proba(new_images), atol=1e-6)
    else:
        assert_allclose(again.transform(new_images), model.transform(new_images), atol=1e-6)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("not a model")
    with pytest.raises(DataError, match="notes.pt: not a model saved by sslabel"):
        load_model(path)


def cancel_at(fraction: float, event: threading.Event):
    def progress(done: float, message: str) -> None:
        if done >= fraction:
            event.set()

    return progress


@pytest.mark.parametrize("method", ["fixmatch", "vae"])
def test_a_cancelled_run_leaves_nothing_written(tmp_path, method):
    images, y = bars(10)
    ids = [f"i{k}" for k in range(len(images))]
    folder = tmp_path / "models"
    cancel = threading.Event()
    with pytest.raises(Cancelled, match="cancelled"):
        train_and_save(
            method, images, few_labels(y, 2), ids, folder,
            progress=cancel_at(0.3, cancel), cancel=cancel, steps=20, width=8, batch_size=8,
        )  # fmt: skip
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_cancelled_job_keeps_the_previous_model_whole(tmp_path):
    images, y = bars(10)
    ids = [f"i{k}" for k in range(len(images))]
    known = few_labels(y, 2)
    folder = tmp_path / "models"
    first = TrainingJob("fixmatch", images, known, ids, folder, {"steps": 3, **SMALL}).start()
    assert first.wait(60) == "done"
    saved = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(saved) == ["fixmatch-proba.npz", "fixmatch.pt"]
    job = TrainingJob("fixmatch", images, known, ids, folder, {"steps": 100_000, **SMALL})
    job.start()
    while job.fraction <= 0.0 and job.state == "running":
        job.wait(0.05)
    job.cancel()
    assert job.wait(60) == "cancelled"
    assert "nothing saved" in job.message
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == saved
    with np.load(folder / "fixmatch-proba.npz") as outputs:
        assert outputs["item_ids"].tolist() == ids
        assert outputs["proba"].shape == (len(ids), 3)


def test_a_failing_job_reports_the_error_and_writes_nothing(tmp_path):
    images, _ = bars(5)
    ids = [f"i{k}" for k in range(len(images))]
    job = TrainingJob("fixmatch", images, [None] * len(images), ids, tmp_path / "m").start()
    assert job.wait(60) == "failed"
    assert isinstance(job.error, DataError)
    assert "at least two classes" in job.message
    assert not (tmp_path / "m").exists()


def test_progress_reports_fraction_and_time_left_and_cancel_stops():
    reports = []
    cancel = threading.Event()
    clock = StepClock(4, progress=lambda f, m: reports.append((f, m)), cancel=cancel, every=0)
    clock.tick()
    clock.tick()
    assert reports[0] == (0.0, "training: starting")
    assert reports[-1][0] == pytest.approx(0.5)
    assert reports[-1][1].startswith("training: step 2/4") and reports[-1][1].endswith(" left")
    cancel.set()
    with pytest.raises(Cancelled):
        clock.tick()


def test_labels_of_one_class_only_are_refused():
    with pytest.raises(DataError, match="at least two classes; got 1"):
        label_codes(["a", None, "a"], 3)
    with pytest.raises(DataError, match="2 labels for 3 images"):
        label_codes(["a", "b"], 3)


def test_image_array_from_bytes_and_from_pixel_arrays():
    from sslcore.demos import load_demo

    digits = load_demo("digits").items["image"][:3].tolist()
    assert image_array(digits).shape == (3, 1, 8, 8)
    colour = np.random.default_rng(0).random((2, 5, 6, 3))  # (n, h, w, c) floats
    out = image_array(colour)
    assert out.shape == (2, 3, 5, 6) and out.dtype == np.uint8
    assert out[0, 1, 2, 3] == round(colour[0, 2, 3, 1] * 255)
    with pytest.raises(DataError, match="1 \\(grey\\) or 3 \\(colour\\) channels"):
        image_array(np.zeros((2, 4, 5, 5)))
    with pytest.raises(DataError, match="image at row 1 cannot be decoded"):
        image_array([digits[0], b"not an image"])


def test_a_model_predicts_images_of_another_size_after_resizing():
    images, y = bars(10)
    model = train("fixmatch", images, few_labels(y, 2), steps=2, **SMALL)
    bigger = np.kron(images[:4], np.ones((2, 2), dtype=np.uint8))  # 16x16 copies
    assert model.predict_proba(bigger).shape == (4, 3)


def test_weak_augmentation_without_shift_is_the_identity_and_strong_stays_in_range():
    x = torch.rand(6, 3, 12, 12)
    assert_allclose(augment.weak(x, shift=0.0).numpy(), x.numpy(), atol=1e-5)
    y = augment.strong(x)
    assert y.shape == x.shape
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert not torch.allclose(y, x)
    v = augment.views(x, flip=True)
    assert v.shape == x.shape and float(v.min()) >= 0.0 and float(v.max()) <= 1.0


def test_cutout_greys_one_square():
    x = torch.zeros(50, 1, 10, 10)
    out = augment.cutout(x, fraction=0.5)
    grey = torch.isclose(out, torch.tensor(0.5)).float().sum(dim=(1, 2, 3))
    assert (grey >= 1).all() and (grey <= 36).all()  # at most a 6x6 square on a 10x10 image


def image_dataset(images: np.ndarray, labels) -> Dataset:
    import io

    from PIL import Image

    blobs = []
    for pixels in images:
        buffer = io.BytesIO()
        Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
        blobs.append(buffer.getvalue())
    items = pd.DataFrame(
        {"item_id": [f"img-{i}" for i in range(len(blobs))], "image": blobs, "label": labels}
    )
    return Dataset("bars", "image", items)


def test_cli_train_writes_the_model_and_its_predictions(tmp_path, capsys):
    import json

    from sslcore.cli import main
    from sslcore.store import Store

    images, y = bars(10)
    store = Store(tmp_path / "data")
    store.create_project("bars", image_dataset(images, list(few_labels(y, 2))))
    store.close()
    code = main(["--data-dir", str(tmp_path / "data"), "train", "--project", "bars",
                 "--method", "fixmatch", "--steps", "3", "--threads", "1"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["labeled"] == 6
    assert load_model(summary["model"]).classes_ == sorted(CLASSES)
    with np.load(summary["predictions"]) as outputs:
        assert outputs["proba"].shape == (len(images), 3)


def test_cli_train_on_a_text_project_exits_2_naming_the_kind(tmp_path, capsys):
    from helpers import text_dataset

    from sslcore.cli import main
    from sslcore.store import Store

    store = Store(tmp_path / "data")
    store.create_project("notes", text_dataset(["a", "b"]))
    store.close()
    code = main(["--data-dir", str(tmp_path / "data"), "train", "--project", "notes",
                 "--method", "vae"])  # fmt: skip
    assert code == 2
    assert "project 'notes' holds text items" in capsys.readouterr().err


@pytest.mark.slow
def test_simulate_with_a_deep_method_and_a_deep_embedding():
    from sslcore.simulate import simulate

    fixmatch = simulate("digits", strategy="margin", budgets=[10], seeds=1, method="fixmatch",
                        deep_params={"steps": 20, "width": 8})  # fmt: skip
    assert fixmatch["method"] == "fixmatch"
    assert 0.0 <= fixmatch["curve"][0]["accuracy"] <= 1.0
    vae = simulate("digits", strategy="margin", budgets=[10], seeds=1, deep_features="vae",
                   deep_params={"steps": 20, "width": 8})  # fmt: skip
    assert vae["deep_features"] == "vae"
    assert vae["curve"][0]["accuracy"] > 0.3  # far above the 10% of chance, even untrained


def test_without_torch_the_light_path_imports_and_the_message_names_the_extra(tmp_path):
    # A finder that refuses torch, as on a machine without the extra (sys.modules['torch'] =
    # None would confuse scipy, which looks torch up there).
    script = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import sslcore, sslcore.deep, sslcore.simulate, sslcore.cli\n"
        "from sslcore.cli import main\n"
        f"sys.exit(main(['--data-dir', {str(tmp_path)!r}, 'simulate', '--dataset', 'digits',"
        " '--deep-features', 'vae', '--seeds', '1', '--budgets', '10']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "pip install torch==2.13.0 'sslabel[deep]'" in result.stderr


def test_a_teacher_s_confident_labels_become_targets():
    images, y = bars()
    known = few_labels(y, 2)
    rest = known == None  # noqa: E711
    classes = sorted(CLASSES)
    right = np.eye(3)[[classes.index(v) for v in y]]
    wrong = np.tile(np.eye(3)[classes.index("box")], (len(y), 1))  # "box" for every image
    params = {"steps": 40, "batch_size": 16, "mu": 2, "lr": 0.05, **SMALL}
    taught = train("fixmatch", images, known, teacher=right, **params)
    misled = train("fixmatch", images, known, teacher=wrong, **params)
    assert (taught.predict(images)[rest] == y[rest]).mean() >= 0.95
    # A teacher that is always wrong pulls unlabeled images to its class: far more than the
    # third of them a model that ignored it would call "box".
    assert (misled.predict(images)[rest] == "box").mean() >= 0.5


def test_a_teacher_of_the_wrong_shape_is_refused():
    images, y = bars(5)
    with pytest.raises(DataError, match=r"teacher's probabilities have shape \(15, 2\)"):
        train("fixmatch", images, few_labels(y, 2), teacher=np.ones((15, 2)), steps=1, **SMALL)
