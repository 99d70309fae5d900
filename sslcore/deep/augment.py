"""Batch augmentations in torch (no torchvision): weak (shift, optional flip), strong
(RandAugment-style operations at random magnitudes, then cutout) and SimCLR's two views.

Every operation draws its parameters per image, so one call augments a batch in a few
tensor operations. Images are floats in [0, 1], shaped ``(n, c, h, w)``.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def _affine(
    x: torch.Tensor,
    *,
    angle: torch.Tensor,
    shear: torch.Tensor,
    scale: torch.Tensor,
    shift: torch.Tensor,
    flip: torch.Tensor,
) -> torch.Tensor:
    """One resampling for all geometric changes (rotation, shear, scale, shift, flip)."""
    n = x.shape[0]
    cos, sin = torch.cos(angle), torch.sin(angle)
    sign = torch.where(flip, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0] = (cos + shear[:, 0] * sin) * sign / scale
    theta[:, 0, 1] = (-sin + shear[:, 0] * cos) / scale
    theta[:, 1, 0] = (sin + shear[:, 1] * cos) * sign / scale
    theta[:, 1, 1] = cos / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # "border" repeats the edge colour: a black background stays black, a white one white.
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def _none(n: int, device) -> dict[str, torch.Tensor]:
    return {
        "angle": torch.zeros(n, device=device),
        "shear": torch.zeros(n, 2, device=device),
        "scale": torch.ones(n, device=device),
        "shift": torch.zeros(n, 2, device=device),
        "flip": torch.zeros(n, dtype=torch.bool, device=device),
    }


def weak(x: torch.Tensor, *, shift: float = 0.125, flip: bool = False) -> torch.Tensor:
    """Shift by up to ``shift`` of the side (FixMatch's pad-and-crop), mirror half the
    images when ``flip`` (off by default: a mirrored digit or letter is another glyph)."""
    n = x.shape[0]
    params = _none(n, x.device)
    params["shift"] = (torch.rand(n, 2, device=x.device) * 2 - 1) * 2 * shift
    if flip:
        params["flip"] = torch.rand(n, device=x.device) < 0.5
    return _affine(x, **params)


def cutout(x: torch.Tensor, *, fraction: float = 0.5) -> torch.Tensor:
    """Grey out one square per image, its side a random share (up to ``fraction``) of the
    image's, at a random place."""
    n, _, h, w = x.shape
    size = (torch.rand(n, device=x.device) * fraction * min(h, w)).clamp(min=1)
    # Centred on a pixel, so the square always covers at least that one (a centre between
    # pixels near the border could grey nothing).
    cy = torch.randint(0, h, (n,), device=x.device)
    cx = torch.randint(0, w, (n,), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    half = (size / 2).view(n, 1, 1)
    inside = ((rows - cy.view(n, 1, 1)).abs() <= half) & ((cols - cx.view(n, 1, 1)).abs() <= half)
    return torch.where(inside.unsqueeze(1), torch.full_like(x, 0.5), x)


def _blend(a: torch.Tensor, b: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (b + factor.view(-1, 1, 1, 1) * (a - b)).clamp(0, 1)


def _colour_ops(x: torch.Tensor, chosen: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """RandAugment's colour operations, each applied where ``chosen[:, op]``."""
    n = x.shape[0]
    m = magnitude

    def where(op: int, y: torch.Tensor) -> torch.Tensor:
        return torch.where(chosen[:, op].view(n, 1, 1, 1), y, x)

    grey = x.mean(dim=1, keepdim=True).expand_as(x)
    low = x.amin(dim=(1, 2, 3), keepdim=True)
    high = x.amax(dim=(1, 2, 3), keepdim=True)
    sign = torch.where(torch.rand(n, device=x.device) < 0.5, -1.0, 1.0)
    x = where(0, (x - low) / (high - low).clamp(min=1e-3))  # autocontrast
    x = where(1, _blend(x, torch.zeros_like(x), 1 + sign * 0.9 * m))  # brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True).expand_as(x)
    x = where(2, _blend(x, mean, 1 + sign * 0.9 * m))  # contrast
    x = where(3, _blend(x, grey, 1 + sign * 0.9 * m))  # colour (saturation)
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    x = where(4, _blend(x, blurred, 1 + sign * 0.9 * m))  # sharpness
    levels = torch.pow(2.0, (8 - (m * 4).round()).view(n, 1, 1, 1))
    x = where(5, torch.floor(x * levels) / levels)  # posterize
    threshold = (1 - m).view(n, 1, 1, 1)
    x = where(6, torch.where(x >= threshold, 1 - x, x))  # solarize
    ranks = x.flatten(1).argsort(dim=1).argsort(dim=1).float() / max(1, x[0].numel() - 1)
    x = where(7, ranks.view_as(x))  # equalize (histogram flattened by rank)
    return x


N_COLOUR_OPS = 8
N_GEOMETRIC_OPS = 5  # rotate, shear x, shear y, translate x, translate y
N_OPS = N_COLOUR_OPS + N_GEOMETRIC_OPS + 1  # + identity


def strong(
    x: torch.Tensor, *, n_ops: int = 2, flip: bool = False, cutout_fraction: float = 0.5
) -> torch.Tensor:
    """RandAugment-style: ``n_ops`` of 14 operations per image at random magnitudes, then
    a weak shift and cutout (FixMatch's strong augmentation).

    Examples
    --------
    >>> import torch
    >>> strong(torch.rand(4, 1, 8, 8)).shape
    torch.Size([4, 1, 8, 8])
    """
    n = x.shape[0]
    # n_ops distinct operations per image: the first n_ops of a random permutation.
    picks = torch.rand(n, N_OPS, device=x.device).argsort(dim=1)[:, :n_ops]
    chosen = torch.zeros(n, N_OPS, dtype=torch.bool, device=x.device)
    chosen.scatter_(1, picks, True)
    magnitude = torch.rand(n, device=x.device) * 0.95 + 0.05
    x = _colour_ops(x, chosen, magnitude)
    geo = chosen[:, N_COLOUR_OPS : N_COLOUR_OPS + N_GEOMETRIC_OPS].float()
    sign = torch.where(torch.rand(n, N_GEOMETRIC_OPS, device=x.device) < 0.5, -1.0, 1.0)
    amount = geo * sign * magnitude.view(n, 1)
    params = _none(n, x.device)
    params["angle"] = amount[:, 0] * math.radians(30)
    params["shear"] = amount[:, 1:3] * 0.3
    params["shift"] = amount[:, 3:5] * 0.6  # 0.3 of the side in affine_grid's [-1, 1] units
    params["flip"] = (torch.rand(n, device=x.device) < 0.5) if flip else params["flip"]
    x = _affine(x, **params)
    return cutout(weak(x), fraction=cutout_fraction)


def views(x: torch.Tensor, *, flip: bool = False) -> torch.Tensor:
    """One SimCLR view: a random crop of 50-100% of the area rescaled to full size, a
    small rotation, colour jitter, and a little noise."""
    n = x.shape[0]
    params = _none(n, x.device)
    params["scale"] = torch.sqrt(torch.rand(n, device=x.device) * 0.5 + 0.5).reciprocal()
    params["shift"] = (torch.rand(n, 2, device=x.device) * 2 - 1) * 0.25
    params["angle"] = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(15)
    if flip:
        params["flip"] = torch.rand(n, device=x.device) < 0.5
    x = _affine(x, **params)
    chosen = torch.zeros(n, N_OPS, dtype=torch.bool, device=x.device)
    chosen[:, 1:4] = torch.rand(n, 3, device=x.device) < 0.8  # brightness, contrast, colour
    x = _colour_ops(x, chosen, torch.rand(n, device=x.device) * 0.5)
    return (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
