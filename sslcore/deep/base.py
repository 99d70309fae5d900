"""What the deep estimators share: tensors from images, the class mapping, batched
inference, weight averaging, and saving/loading a fitted model as one file."""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import DataError
from .arrays import image_array
from .nets import pick_device
from .runtime import write_atomically

INFERENCE_BATCH = 512
FORMAT_VERSION = 1


class DeepModel:
    """Base of the deep estimators: hyperparameters in ``__init__``, learned state in
    attributes ending in ``_``, ``fit`` returns ``self`` (scikit-learn's contract)."""

    _save_skip: tuple[str, ...] = ()

    def get_params(self) -> dict:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    # Inputs ----------------------------------------------------------------------

    def _setup(self, images) -> np.ndarray:
        """Fix the seed, the device and the input normalisation from the training images."""
        pixels = image_array(images)
        torch.manual_seed(self.seed)
        self.device_ = pick_device(self.device)
        self.bf16_ = _bf16_for(self.device_) if self.bf16 is None else bool(self.bf16)
        scaled = pixels.astype(np.float32) / 255.0
        self.shape_ = tuple(int(v) for v in pixels.shape[1:])
        self.mean_ = scaled.mean(axis=(0, 2, 3)).tolist()
        self.std_ = np.maximum(scaled.std(axis=(0, 2, 3)), 1e-3).tolist()
        return pixels

    def _pixels(self, images) -> np.ndarray:
        pixels = image_array(images)
        if tuple(pixels.shape[1:]) != self.shape_:
            pixels = _resize(pixels, self.shape_)
        return pixels

    def _batch(self, pixels: np.ndarray | torch.Tensor, index=None) -> torch.Tensor:
        """uint8 rows (all, or ``index``) to floats in [0, 1] on the device."""
        if isinstance(pixels, np.ndarray):
            pixels = torch.from_numpy(pixels)
        rows = pixels if index is None else pixels[index]
        return rows.to(self.device_, non_blocking=True).float().div_(255.0)

    def _autocast(self):
        """bfloat16 matrix products while training where the processor has them natively
        (measured 2x less CPU time per FixMatch step, docs/benchmarks.md)."""
        return torch.autocast(self.device_.type, dtype=torch.bfloat16, enabled=self.bf16_)

    def _to_device(self, net: nn.Module) -> nn.Module:
        # channels-last lets oneDNN pick its fast convolutions on the CPU.
        return net.to(self.device_, memory_format=torch.channels_last)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean_, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std_, device=x.device).view(1, -1, 1, 1)
        return ((x - mean) / std).contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def _map_batches(self, net: nn.Module, images, fn) -> np.ndarray:
        pixels = torch.from_numpy(self._pixels(images))
        was_training = net.training
        net.eval()
        try:
            out = [
                fn(self._normalise(self._batch(pixels[i : i + INFERENCE_BATCH]))).cpu().numpy()
                for i in range(0, len(pixels), INFERENCE_BATCH)
            ]
        finally:
            net.train(was_training)
        return np.concatenate(out).astype(np.float32)

    # Persistence -----------------------------------------------------------------

    def _build(self) -> nn.Module:  # pragma: no cover - each subclass builds its network
        raise NotImplementedError

    def _fitted_state(self) -> dict:
        return {"shape_": list(self.shape_), "mean_": self.mean_, "std_": self.std_}

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to ``path`` in one atomic step (see :func:`load_model`)."""
        params = {k: v for k, v in self.get_params().items() if k not in self._save_skip}
        payload = {
            "format": FORMAT_VERSION,
            "kind": type(self).__name__,
            "params": params,
            "fitted": self._fitted_state(),
            "state": {k: v.detach().cpu() for k, v in self.network_.state_dict().items()},
        }
        write_atomically(path, lambda tmp: torch.save(payload, tmp))

    @classmethod
    def _restore(cls, payload: dict, device: str | None):
        model = cls(**payload["params"])
        for name, value in payload["fitted"].items():
            setattr(model, name, tuple(value) if name == "shape_" else value)
        model.device_ = pick_device(device or model.device)
        model.bf16_ = False  # training precision only; predictions run in float32
        model.network_ = model._to_device(model._build())
        model.network_.load_state_dict(payload["state"])
        model.network_.eval()
        return model


def _bf16_for(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(
        torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )


def _resize(pixels: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Bring new images to the size and channels a model was trained on."""
    x = torch.from_numpy(pixels).float()
    if x.shape[1] != shape[0]:
        x = x.mean(dim=1, keepdim=True).expand(-1, shape[0], -1, -1)
    x = nn.functional.interpolate(x, size=shape[1:], mode="bilinear", antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8).numpy()


def label_codes(labels: Sequence, n_items: int) -> tuple[list[str], np.ndarray]:
    """Class names (sorted) and one code per item, -1 where unlabeled (``None`` or NaN)."""
    if len(labels) != n_items:
        raise DataError(f"{len(labels)} labels for {n_items} images; give one per image")
    names = [
        None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in labels
    ]
    classes = sorted({v for v in names if v is not None})
    if len(classes) < 2:
        raise DataError(
            f"training a classifier needs labels of at least two classes; got {len(classes)}"
        )
    lookup = {name: code for code, name in enumerate(classes)}
    return classes, np.array([-1 if v is None else lookup[v] for v in names], dtype=np.int64)


def update_average(average: nn.Module, model: nn.Module, decay: float) -> None:
    """Exponential moving average of the weights; batch-norm statistics are copied."""
    with torch.no_grad():
        for a, p in zip(average.parameters(), model.parameters(), strict=True):
            a.mul_(decay).add_(p.detach(), alpha=1 - decay)
        for a, b in zip(average.buffers(), model.buffers(), strict=True):
            a.copy_(b)


def averaged_copy(model: nn.Module) -> nn.Module:
    average = copy.deepcopy(model)
    for p in average.parameters():
        p.requires_grad_(False)
    return average


def cosine_lr(optimizer, base_lr: float, step: int, total: int) -> None:
    """FixMatch's schedule: lr * cos(7 pi step / (16 total))."""
    lr = base_lr * float(np.cos(7 * np.pi * step / (16 * max(1, total))))
    for group in optimizer.param_groups:
        group["lr"] = lr


def load_model(path: str | os.PathLike, *, device: str | None = None) -> DeepModel:
    """A model written by ``save``, ready to predict or embed.

    Examples
    --------
    >>> model = load_model("fixmatch.pt")  # doctest: +SKIP
    >>> model.predict_proba(images)  # doctest: +SKIP
    """
    from .consistency import ConsistencyTrainer
    from .contrastive import ContrastiveEmbedder
    from .vae import VAEEmbedder

    kinds = {cls.__name__: cls for cls in (ConsistencyTrainer, VAEEmbedder, ContrastiveEmbedder)}
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DataError(f"{path}: not a model saved by sslabel ({error})") from error
    if not isinstance(payload, dict) or payload.get("kind") not in kinds:
        raise DataError(f"{path}: not a model saved by sslabel")
    if payload.get("format", 0) > FORMAT_VERSION:
        raise DataError(f"{path}: written by a newer sslabel; upgrade sslabel to read it")
    return kinds[payload["kind"]]._restore(payload, device)
