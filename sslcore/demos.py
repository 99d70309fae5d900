"""Built-in demo datasets that need no download.

``moons``: two interleaved half-circles in 2-D, the classic picture of why
unlabeled data helps. ``digits``: scikit-learn's bundled 8x8 handwritten digits
as images (1,797 items, classes "0" to "9"). ``tickets``: short customer-support
messages in four intents, written for this project.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
import pandas as pd
from PIL import Image

from .dataset import ID, IMAGE, LABEL, TEXT, Dataset
from .errors import StoreError

DEMOS = ("digits", "moons", "tickets")
EXTRA_DEMOS = ("glyphs",)
"""Demos :func:`load_demo` builds on request but the studio does not create by itself:
``glyphs`` (5,000 generated 28x28 shapes, see :mod:`sslcore.glyphs`) is for benchmarks."""

DEMO_DESCRIPTIONS = {
    "digits": "Handwritten digits: 1,797 small images, classes 0-9",
    "moons": "Two moons: 1,000 points in 2-D, two interleaved classes",
    "tickets": "Support tickets: 480 short messages, four intents",
}


def load_demo(name: str) -> Dataset:
    """A built-in demo with its true labels in the ``label`` column.

    Examples
    --------
    >>> load_demo("digits").n_items
    1797
    """
    if name == "glyphs":
        from .glyphs import load_glyphs

        return load_glyphs()
    if name not in DEMOS:
        raise ValueError(f"unknown demo {name!r}; choose one of {', '.join(DEMOS + EXTRA_DEMOS)}")
    return {"digits": _digits, "moons": _moons, "tickets": _tickets}[name]()


DEMO_PREFIX = "Demo: "
"""Demo projects are named ``Demo: <demo>``."""


def create_demo_project(store, demo: str, name: str):
    """A project in ``store`` holding a built-in demo with its classes and zero labels."""
    dataset = load_demo(demo)
    return store.create_project(
        name, dataset, import_labels=False, class_names=dataset.classes, settings={"demo": demo}
    )


def ensure_demo_projects(store, names: Iterable[str] | None = None) -> list[str]:
    """Create the built-in demo projects missing from ``store``, with zero labels.

    Returns the names of the projects created.

    Examples
    --------
    >>> import tempfile
    >>> from sslcore.store import Store
    >>> ensure_demo_projects(Store(tempfile.mkdtemp()), ["moons"])
    ['Demo: moons']
    """
    created = []
    existing = set(store.project_names())
    for demo in names or DEMOS:
        name = DEMO_PREFIX + demo
        if name in existing:
            continue
        try:
            create_demo_project(store, demo, name)
        except StoreError:  # another process created it meanwhile
            continue
        created.append(name)
    return created


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # 0..16 ink levels to 0..255 grey; 16 * 255 // 16 keeps full black at 255.
    images = (bunch.images * 255 / 16).round().astype(np.uint8)
    items = pd.DataFrame(
        {
            ID: [f"digit-{i:04d}" for i in range(len(images))],
            IMAGE: [_png(img) for img in images],
            LABEL: [str(t) for t in bunch.target],
        }
    )
    return Dataset("digits", "image", items)


def _moons() -> Dataset:
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=1000, noise=0.1, random_state=0)
    items = pd.DataFrame(
        {
            ID: [f"point-{i:04d}" for i in range(len(X))],
            "x": X[:, 0],
            "y": X[:, 1],
            LABEL: np.where(y == 0, "upper", "lower").astype(object),
        }
    )
    return Dataset("moons", "tabular", items, feature_columns=("x", "y"))


_TICKETS = {
    "billing": [
        "I was charged twice for my subscription this month",
        "Why is there an extra fee on my invoice",
        "Please refund the payment I made by mistake",
        "My credit card was billed after I cancelled",
        "Can I get a receipt for my last payment",
        "The price on my bill is higher than the plan I chose",
        "How do I change the card you charge every month",
        "I need a VAT invoice for my company",
        "The discount code was not applied to my order total",
        "You took money from my account without asking",
        "When will my refund show up on my statement",
        "I want to switch from monthly to yearly billing",
    ],
    "delivery": [
        "My parcel has not arrived yet",
        "The tracking number says delivered but I got nothing",
        "Can I change the shipping address for my order",
        "The package arrived damaged and the box was open",
        "How long does delivery to Canada take",
        "The courier left my order at the wrong house",
        "I received the wrong item in my package",
        "My order has been stuck in transit for two weeks",
        "Can you ship express so it arrives before Friday",
        "Half of my order is missing from the box",
        "Where is my package, it was due yesterday",
        "Do you deliver on weekends",
    ],
    "technical": [
        "The app crashes every time I open the settings",
        "I get an error 500 when I upload a file",
        "The website does not load on my phone",
        "Sync stopped working after the last update",
        "The export button does nothing when I click it",
        "My screen goes blank after the login page",
        "Notifications are not showing up on Android",
        "The page is very slow and times out",
        "I cannot connect the app to my printer",
        "The search returns no results even for exact names",
        "Videos freeze halfway through playback",
        "The update failed to install on Windows",
    ],
    "account": [
        "I forgot my password and the reset email never came",
        "How do I delete my account",
        "I want to change the email address on my profile",
        "Someone else logged into my account",
        "My account is locked after too many attempts",
        "Can I merge my two accounts into one",
        "How do I turn on two factor authentication",
        "I cannot change my username",
        "Please close my account and remove my data",
        "I did not sign up but I get emails for an account",
        "How do I add a second user to my profile",
        "The verification code does not work",
    ],
}
_OPENERS = ["", "Hi, ", "Hello, ", "Hey there. ", "Good morning, ", "Urgent: "]
_CLOSERS = ["", ".", ". Thanks", ". Please help", "!", ". Can you look into it?"]


def _tickets() -> Dataset:
    rng = np.random.default_rng(0)
    rows = []
    for intent, messages in _TICKETS.items():
        for message in messages:
            for _ in range(10):
                opener = _OPENERS[rng.integers(len(_OPENERS))]
                closer = _CLOSERS[rng.integers(len(_CLOSERS))]
                keep_case = not opener or message.startswith("I ")
                body = message if keep_case else message[0].lower() + message[1:]
                rows.append((opener + body + closer, intent))
    order = rng.permutation(len(rows))
    texts, labels = zip(*(rows[i] for i in order), strict=True)
    items = pd.DataFrame(
        {
            ID: [f"ticket-{i:03d}" for i in range(len(texts))],
            TEXT: list(texts),
            LABEL: list(labels),
        }
    )
    return Dataset("tickets", "text", items)
