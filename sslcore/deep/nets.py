"""A small CNN for 8x8 to 64x64 images, and the decoder the VAE pairs with it."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

STAGES = 3


def pick_device(device: str | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


STEM_STRIDE_FROM = 24
"""Images at least this big start with a stride-2 convolution: on 2 CPU cores a 28x28 step
costs a third as much, and shapes at that size survive the halving."""


def pooled_sides(side: int) -> tuple[int, list[bool]]:
    """The stem's stride, and whether each stage halves the map: only while it is at least
    6 pixels, so an 8x8 image keeps a 4x4 map and 28x28 ends at 3x3."""
    stride = 2 if side >= STEM_STRIDE_FROM else 1
    side = (side + stride - 1) // stride
    pools = []
    for _ in range(STAGES):
        pools.append(side >= 6)
        side = side // 2 if side >= 6 else side
    return stride, pools


class Encoder(nn.Module):
    """A stem convolution, three conv stages (widths w, 2w, 4w; 2x2 max pooling after each
    while the map is large) and global average pooling: ``(n, 4w)`` features.

    One convolution per stage keeps a FixMatch step on 28x28 images near half a second on
    two CPU cores (two per stage measured 3-4x slower; see docs/benchmarks.md).

    Parameters
    ----------
    in_channels : int
    side : int
        The images' smaller side, which decides the stem's stride and where stages pool.
    width : int, default=32
    """

    def __init__(self, in_channels: int, side: int, width: int = 32):
        super().__init__()
        widths = [width, 2 * width, 4 * width]
        self.stem_stride, self.pools = pooled_sides(side)
        self.stem = _conv(in_channels, width, self.stem_stride)
        self.stages = nn.ModuleList(
            _conv(c_in, c_out) for c_in, c_out in zip([width, *widths], widths, strict=False)
        )
        self.out_features = widths[-1]

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage, pool in zip(self.stages, self.pools, strict=True):
            x = stage(x)
            if pool:
                x = F.max_pool2d(x, 2)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_maps(x).mean(dim=(2, 3))


class Classifier(nn.Module):
    """:class:`Encoder` plus a linear layer to class scores."""

    def __init__(self, in_channels: int, side: int, n_classes: int, width: int = 32):
        super().__init__()
        self.encoder = Encoder(in_channels, side, width)
        self.head = nn.Linear(self.encoder.out_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class VAENet(nn.Module):
    """Convolutional VAE: the :class:`Encoder` to a Gaussian posterior, a mirrored decoder."""

    def __init__(self, in_channels: int, height: int, width_px: int, latent: int, width: int):
        super().__init__()
        self.encoder = Encoder(in_channels, min(height, width_px), width)
        self.mean = nn.Linear(self.encoder.out_features, latent)
        self.log_var = nn.Linear(self.encoder.out_features, latent)
        self.shape = (in_channels, height, width_px)
        n_pools = sum(self.encoder.pools) + (self.encoder.stem_stride == 2)
        self.seed_side = (max(1, height // 2**n_pools), max(1, width_px // 2**n_pools))
        channels = 4 * width
        self.expand = nn.Linear(latent, channels * self.seed_side[0] * self.seed_side[1])
        layers: list[nn.Module] = []
        for _ in range(n_pools):
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(channels, channels // 2, 3, padding=1),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(inplace=True),
            ]
            channels //= 2
        layers.append(nn.Conv2d(channels, in_channels, 3, padding=1))
        self.decoder = nn.Sequential(*layers)
        self.channels = 4 * width

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.mean(h), self.log_var(h).clamp(-10, 10)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.expand(z).view(-1, self.channels, *self.seed_side)
        logits = self.decoder(h)
        if logits.shape[-2:] != self.shape[1:]:
            logits = F.interpolate(logits, size=self.shape[1:], mode="bilinear")
        return logits

    def forward(self, x: torch.Tensor):
        mean, log_var = self.encode(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        return self.decode(z), mean, log_var
