"""SimCLR-style contrastive pretraining (Chen et al. 2020): the CNN learns to tell, among a
batch, which two augmented views come from the same image. Its pooled features are an
embedding for the graph and the map, and its encoder can start a
:class:`~sslcore.deep.consistency.ConsistencyTrainer` (fine-tuning, then self-training with
FixMatch, as SimCLRv2 does)."""

from __future__ import annotations

import threading

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import augment
from .base import DeepModel
from .nets import Encoder
from .runtime import ProgressFn, StepClock


class _ContrastiveNet(nn.Module):
    def __init__(self, in_channels: int, side: int, width: int, projection: int):
        super().__init__()
        self.encoder = Encoder(in_channels, side, width)
        d = self.encoder.out_features
        self.projector = nn.Sequential(
            nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, projection)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(x))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss: each view must pick its partner among the other 2n - 1 views."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    similarity = z @ z.T / temperature
    n = len(z1)
    similarity.fill_diagonal_(float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(similarity, partner)


class ContrastiveEmbedder(DeepModel):
    """Contrastive pretraining on all images; ``embedding_`` holds the encoder's features.

    Parameters
    ----------
    steps : int, default=1500
    batch_size : int, default=256
        Images per step (each gives two views; the rest of the batch are the negatives).
    temperature : float, default=0.2
    lr : float, default=1e-3
        Adam's learning rate, cosine-decayed.
    width : int, default=32
    projection : int, default=64
        Output size of the projection head the loss sees (dropped for the embedding).
    flip : bool, default=False
    bf16 : bool, optional
        Train with bfloat16 matrix products; default: where the processor has them natively.
    device : str, optional
    seed : int, default=0

    Attributes
    ----------
    embedding_ : ndarray of shape (n_images, 4 * width), rows of unit length

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).random((64, 8, 8))
    >>> ContrastiveEmbedder(steps=3, batch_size=32, width=8).fit(images).embedding_.shape
    (64, 32)
    """

    def __init__(
        self,
        *,
        steps: int = 1500,
        batch_size: int = 256,
        temperature: float = 0.2,
        lr: float = 1e-3,
        width: int = 32,
        projection: int = 64,
        flip: bool = False,
        bf16: bool | None = None,
        device: str | None = None,
        seed: int = 0,
    ):
        self.steps = steps
        self.batch_size = batch_size
        self.temperature = temperature
        self.lr = lr
        self.width = width
        self.projection = projection
        self.flip = flip
        self.bf16 = bf16
        self.device = device
        self.seed = seed

    def _build(self) -> _ContrastiveNet:
        return _ContrastiveNet(self.shape_[0], min(self.shape_[1:]), self.width, self.projection)

    def fit(
        self,
        images,
        labels=None,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> ContrastiveEmbedder:
        """Pretrain on all ``images`` (``labels`` are ignored)."""
        pixels = self._setup(images)
        net = self._to_device(self._build())
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=1e-6)
        data = torch.from_numpy(pixels)
        generator = np.random.default_rng(self.seed)
        clock = StepClock(self.steps, progress=progress, cancel=cancel, label="simclr")
        history = []
        batch = min(self.batch_size, len(data))
        net.train()
        for step in range(self.steps):
            for group in optimizer.param_groups:
                group["lr"] = self.lr * 0.5 * (1 + float(np.cos(np.pi * step / self.steps)))
            index = torch.from_numpy(generator.choice(len(data), batch, replace=False))
            x = self._batch(data, index)
            views = torch.cat([augment.views(x, flip=self.flip), augment.views(x, flip=self.flip)])
            with self._autocast():
                z1, z2 = net(self._normalise(views)).float().chunk(2)
            loss = nt_xent(z1, z2, self.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step % 20 == 0 or step == self.steps - 1:
                history.append({"step": step, "loss": loss.item()})
            clock.tick(f"loss {loss.item():.3f}")
        net.eval()
        self.network_ = net
        self.history_ = history
        self.embedding_ = self.transform(pixels)
        return self

    def transform(self, images) -> np.ndarray:
        """Encoder features with unit length, ``(n, 4 * width)``."""
        return self._map_batches(
            self.network_, images, lambda x: F.normalize(self.network_.encoder(x), dim=1)
        )
