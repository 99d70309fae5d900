"""A convolutional variational autoencoder whose latent means are an image embedding
(Kingma et al. 2014's M1: learn the data's distribution from every image, labeled or not,
then build the graph and the map on the latent space)."""

from __future__ import annotations

import threading

import numpy as np
import torch
from torch.nn import functional as F

from .base import DeepModel
from .nets import VAENet
from .runtime import ProgressFn, StepClock


class VAEEmbedder(DeepModel):
    """Fit a VAE on all images; ``embedding_`` holds each image's latent mean.

    Parameters
    ----------
    latent : int, default=16
        Dimensions of the latent space (the embedding).
    steps : int, default=1500
    batch_size : int, default=128
    lr : float, default=2e-3
        Adam's learning rate.
    beta : float, default=1.0
        Weight of the KL term (1 is the plain VAE).
    width : int, default=32
    bf16 : bool, optional
        Train with bfloat16 matrix products; default: where the processor has them natively.
    device : str, optional
    seed : int, default=0

    Attributes
    ----------
    embedding_ : ndarray of shape (n_images, latent)
    history_ : list of dict

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).random((64, 8, 8))
    >>> VAEEmbedder(latent=4, steps=5, width=8).fit(images).embedding_.shape
    (64, 4)
    """

    def __init__(
        self,
        *,
        latent: int = 16,
        steps: int = 1500,
        batch_size: int = 128,
        lr: float = 2e-3,
        beta: float = 1.0,
        width: int = 32,
        bf16: bool | None = None,
        device: str | None = None,
        seed: int = 0,
    ):
        self.latent = latent
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.beta = beta
        self.width = width
        self.bf16 = bf16
        self.device = device
        self.seed = seed

    def _build(self) -> VAENet:
        channels, height, width_px = self.shape_
        return VAENet(channels, height, width_px, self.latent, self.width)

    def fit(
        self,
        images,
        labels=None,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> VAEEmbedder:
        """Train on all ``images`` (``labels`` are ignored: the VAE learns without them)."""
        pixels = self._setup(images)
        net = self._to_device(self._build())
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr)
        data = torch.from_numpy(pixels)
        generator = np.random.default_rng(self.seed)
        clock = StepClock(self.steps, progress=progress, cancel=cancel, label="vae")
        history = []
        net.train()
        n_pixels = float(np.prod(self.shape_))
        for step in range(self.steps):
            for group in optimizer.param_groups:  # linear decay to a tenth
                group["lr"] = self.lr * (1 - 0.9 * step / self.steps)
            x = self._batch(
                data, torch.from_numpy(generator.integers(0, len(data), self.batch_size))
            )
            with self._autocast():
                logits, mean, log_var = net(self._normalise(x))
            logits, mean, log_var = logits.float(), mean.float(), log_var.float()
            # Per-pixel Bernoulli likelihood: pixels are intensities in [0, 1].
            reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
            kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
            loss = (reconstruction + self.beta * kl) / len(x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step % 20 == 0 or step == self.steps - 1:
                history.append(
                    {"step": step, "reconstruction": reconstruction.item() / len(x) / n_pixels,
                     "kl": kl.item() / len(x)}
                )  # fmt: skip
            clock.tick(f"loss {loss.item():.1f}")
        net.eval()
        self.network_ = net
        self.history_ = history
        self.embedding_ = self.transform(pixels)
        return self

    def transform(self, images) -> np.ndarray:
        """Latent means, ``(n, latent)``."""
        return self._map_batches(self.network_, images, lambda x: self.network_.encode(x)[0])

    def reconstruct(self, images) -> np.ndarray:
        """Decoded latent means as pixels in [0, 1], for checking what the VAE learned."""
        return self._map_batches(
            self.network_,
            images,
            lambda x: torch.sigmoid(self.network_.decode(self.network_.encode(x)[0])),
        )
