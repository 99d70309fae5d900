"""Consistency regularisation on images: FixMatch, the Pi-model and mean teacher.

All three train one CNN on the labeled images (cross-entropy) plus a weighted loss that
asks the network to answer the same on two perturbed copies of every image:

* ``fixmatch`` (Sohn et al. 2020): the prediction on a weakly augmented copy (shift,
  optional flip) becomes a hard pseudo-label where its confidence is at least
  ``threshold``; the network is trained to give that label to a strongly augmented copy
  (RandAugment-style operations and cutout).
* ``pi`` (Laine & Aila 2017): squared difference between the class probabilities of two
  weakly augmented copies, its weight ramped up over the first 40% of the run.
* ``mean_teacher`` (Tarvainen & Valpola 2017): as ``pi``, but the second copy goes through
  a moving average of the network's weights.

Predictions come from the moving average of the weights (as FixMatch evaluates).

A *teacher* (class probabilities from another model, e.g. label spreading on the graph) can
add its most confident labels as targets for the strongly augmented images, as a student is
trained in self-training with noise (Xie et al. 2020; SimCLRv2's last step): a CNN learns
from a few hundred steps what FixMatch alone needs thousands for.
"""

from __future__ import annotations

import threading

import numpy as np
import torch
from torch.nn import functional as F

from ..errors import DataError
from . import augment
from .base import DeepModel, averaged_copy, cosine_lr, label_codes, update_average
from .nets import Classifier
from .runtime import ProgressFn, StepClock

CONSISTENCY_METHODS = ("fixmatch", "pi", "mean_teacher")
DEFAULT_WEIGHT = {"fixmatch": 1.0, "pi": 10.0, "mean_teacher": 10.0}


class ConsistencyTrainer(DeepModel):
    """A CNN classifier trained on few labels and many unlabeled images.

    Parameters
    ----------
    method : {"fixmatch", "pi", "mean_teacher"}, default="fixmatch"
    steps : int, default=1000
        Optimiser steps; each sees ``batch_size`` labeled and ``mu * batch_size``
        unlabeled images.
    batch_size : int, default=32
    mu : int, default=4
        Unlabeled images per labeled one in a step.
    threshold : float, default=0.95
        FixMatch's confidence threshold tau for a pseudo-label.
    weight : float, optional
        Lambda, the weight of the unlabeled loss (default 1 for FixMatch, 10 for the others).
    lr : float, default=0.03
        SGD (Nesterov momentum 0.9) learning rate, decayed on FixMatch's cosine schedule.
    weight_decay : float, default=5e-4
    ema : float, default=0.99
        Decay of the moving average of the weights used for predictions.
    width : int, default=32
        Channels of the first conv stage (the next two have 2x and 4x).
    flip : bool, default=False
        Mirror images in the augmentations (right for photos, wrong for glyphs).
    teacher_share : float, default=0.8
        With a ``teacher`` in ``fit``: the share of unlabeled images, most confident first,
        whose teacher label is a target.
    pretrained : ContrastiveEmbedder, optional
        A fitted contrastive model whose encoder starts the network (fine-tuning).
    bf16 : bool, optional
        Train with bfloat16 matrix products; default: where the processor has them natively.
    device : str, optional
        ``"cpu"``, ``"cuda"``...; default CUDA when available, else the CPU.
    seed : int, default=0

    Attributes
    ----------
    classes_ : list of str
    network_ : torch.nn.Module
        The weight-averaged network that predicts.
    history_ : list of dict
        Per reported step: losses and the share of unlabeled images above the threshold.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).random((40, 8, 8))
    >>> labels = ["a", "b"] + [None] * 38
    >>> model = ConsistencyTrainer(steps=2, width=8).fit(images, labels)
    >>> model.predict_proba(images).shape
    (40, 2)
    """

    _save_skip = ("pretrained",)

    def __init__(
        self,
        *,
        method: str = "fixmatch",
        steps: int = 1000,
        batch_size: int = 32,
        mu: int = 4,
        threshold: float = 0.95,
        weight: float | None = None,
        lr: float = 0.03,
        weight_decay: float = 5e-4,
        ema: float = 0.99,
        width: int = 32,
        flip: bool = False,
        teacher_share: float = 0.8,
        pretrained=None,
        bf16: bool | None = None,
        device: str | None = None,
        seed: int = 0,
    ):
        self.method = method
        self.steps = steps
        self.batch_size = batch_size
        self.mu = mu
        self.threshold = threshold
        self.weight = weight
        self.lr = lr
        self.weight_decay = weight_decay
        self.ema = ema
        self.width = width
        self.flip = flip
        self.teacher_share = teacher_share
        self.pretrained = pretrained
        self.bf16 = bf16
        self.device = device
        self.seed = seed

    def _build(self) -> Classifier:
        return Classifier(self.shape_[0], min(self.shape_[1:]), len(self.classes_), self.width)

    def fit(
        self,
        images,
        labels,
        *,
        teacher: np.ndarray | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> ConsistencyTrainer:
        """Train on every image; ``labels`` holds a class name per image, ``None`` if unknown.

        ``teacher``, optional, ``(n_images, n_classes)``: another model's class
        probabilities, columns in the sorted order of the class names (``classes_``).

        ``progress(fraction, message)`` is called about twice a second with the time left;
        setting ``cancel`` stops the run at the next step with
        :class:`~sslcore.deep.runtime.Cancelled` and leaves the estimator unfitted.
        """
        if self.method not in CONSISTENCY_METHODS:
            raise ValueError(
                f"method must be one of {', '.join(CONSISTENCY_METHODS)}, got {self.method!r}"
            )
        pixels = self._setup(images)
        classes, codes = label_codes(labels, len(pixels))
        labeled = np.flatnonzero(codes >= 0)
        self.classes_ = classes
        teacher_labels, teacher_used = self._teacher_targets(teacher, codes)
        student = self._to_device(self._build())
        if self.pretrained is not None:
            self._load_pretrained(student)
        average = averaged_copy(student)
        optimizer = torch.optim.SGD(
            student.parameters(),
            lr=self.lr,
            momentum=0.9,
            nesterov=True,
            weight_decay=self.weight_decay,
        )
        weight = DEFAULT_WEIGHT[self.method] if self.weight is None else self.weight
        data = torch.from_numpy(pixels)
        targets = torch.from_numpy(codes)
        generator = np.random.default_rng(self.seed)
        clock = StepClock(self.steps, progress=progress, cancel=cancel, label=self.method)
        history = []
        student.train()
        for step in range(self.steps):
            cosine_lr(optimizer, self.lr, step, self.steps)
            li = generator.choice(labeled, self.batch_size)
            ui = generator.integers(0, len(pixels), self.mu * self.batch_size)
            x_l = self._batch(data, torch.from_numpy(li))
            y_l = targets[li].to(self.device_)
            x_u = self._batch(data, torch.from_numpy(ui))
            ramp = float(np.exp(-5 * (1 - min(1.0, step / (0.4 * self.steps))) ** 2))
            with self._autocast():
                loss_l, loss_u, share, logits_u = self._losses(student, average, x_l, y_l, x_u)
            loss = loss_l + weight * (ramp if self.method != "fixmatch" else 1.0) * loss_u
            if teacher_labels is not None:
                used = teacher_used[ui].to(self.device_)
                targets_u = teacher_labels[ui].to(self.device_)
                loss_t = F.cross_entropy(logits_u, targets_u, reduction="none") * used
                loss = loss + weight * loss_t.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            # Warm-up of the average: early weights are poor, so they weigh less.
            update_average(average, student, min(self.ema, (1 + step) / (10 + step)))
            if step % 20 == 0 or step == self.steps - 1:
                history.append(
                    {"step": step, "loss_l": loss_l.item(), "loss_u": loss_u.item(),
                     "confident": share.item()}
                )  # fmt: skip
            clock.tick(f"loss {loss.item():.3f}")
        average.eval()
        self.network_ = average
        self.history_ = history
        self.n_steps_ = self.steps
        return self

    def _losses(self, student, average, x_l, y_l, x_u):
        n_l = len(x_l)
        if self.method == "fixmatch":
            inputs = torch.cat(
                [
                    augment.weak(x_l, flip=self.flip),
                    augment.weak(x_u, flip=self.flip),
                    augment.strong(x_u, flip=self.flip),
                ]
            )
            logits = student(self._normalise(inputs)).float()
            logits_l = logits[:n_l]
            logits_w, logits_s = logits[n_l:].chunk(2)
            probs = torch.softmax(logits_w.detach(), dim=1)
            confidence, pseudo = probs.max(dim=1)
            mask = (confidence >= self.threshold).float()
            loss_u = (F.cross_entropy(logits_s, pseudo, reduction="none") * mask).mean()
            return F.cross_entropy(logits_l, y_l), loss_u, mask.mean(), logits_s
        inputs = torch.cat([augment.weak(x_l, flip=self.flip), augment.weak(x_u, flip=self.flip)])
        logits = student(self._normalise(inputs)).float()
        logits_l, logits_u = logits[:n_l], logits[n_l:]
        second = self._normalise(augment.weak(x_u, flip=self.flip))
        # The second copy is the target, held fixed (as most Pi-model implementations do).
        with torch.no_grad():
            target_net = average if self.method == "mean_teacher" else student
            target = torch.softmax(target_net(second).float(), dim=1)
        loss_u = ((torch.softmax(logits_u, dim=1) - target) ** 2).sum(dim=1).mean()
        return F.cross_entropy(logits_l, y_l), loss_u, target.max(dim=1).values.mean(), logits_u

    def _teacher_targets(self, teacher, codes: np.ndarray):
        """The teacher's label per image, and whether it is used (unlabeled, and among the
        ``teacher_share`` most confident of the unlabeled)."""
        if teacher is None:
            return None, None
        teacher = np.asarray(teacher, dtype=np.float64)
        if teacher.shape != (len(codes), len(self.classes_)):
            raise DataError(
                f"the teacher's probabilities have shape {teacher.shape}; expected "
                f"{(len(codes), len(self.classes_))} (one column per class, sorted by name)"
            )
        confidence = teacher.max(axis=1)
        unlabeled = codes < 0
        cut = np.quantile(confidence[unlabeled], 1 - self.teacher_share) if unlabeled.any() else 1
        used = unlabeled & (confidence >= cut)
        return torch.from_numpy(teacher.argmax(axis=1)), torch.from_numpy(used.astype(np.float32))

    def _load_pretrained(self, student: Classifier) -> None:
        encoder = getattr(self.pretrained, "network_", None)
        if encoder is None:
            raise DataError("pretrained must be a fitted ContrastiveEmbedder")
        if tuple(self.pretrained.shape_) != tuple(self.shape_):
            raise DataError(
                f"the pretrained model saw images of shape {tuple(self.pretrained.shape_)}, "
                f"these are {tuple(self.shape_)}"
            )
        # The pretrained model normalised its inputs its own way; keep that.
        self.mean_, self.std_ = list(self.pretrained.mean_), list(self.pretrained.std_)
        student.encoder.load_state_dict(encoder.encoder.state_dict())

    def _fitted_state(self) -> dict:
        return {**super()._fitted_state(), "classes_": list(self.classes_)}

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return self._map_batches(
            self.network_, images, lambda x: torch.softmax(self.network_(x), dim=1)
        )

    def predict(self, images) -> np.ndarray:
        """The most probable class name per image."""
        return np.asarray(self.classes_, dtype=object)[self.predict_proba(images).argmax(axis=1)]

    def transform(self, images) -> np.ndarray:
        """The network's penultimate features, ``(n, 4 * width)``: an embedding."""
        return self._map_batches(self.network_, images, self.network_.encoder)
