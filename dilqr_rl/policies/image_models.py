"""Image encoder and decoder after the DiLQR paper's visual-control networks (Wang et al., ICML 2025, Sec. 5).

The paper gives the layer types, not the widths: the encoder is 5 x (convolution, BatchNorm, ReLU,
max-pool) and 3 fully connected layers; the decoder 3 fully connected layers, 5 transposed convolutions
with BatchNorm and ReLU, and a sigmoid. Our widths (the defaults below) are our choice, sized for 64 x 64
frames on a CPU; the number of blocks is ``len(channels)``.

Shapes:
    ImageEncoder: images (B, C, H, W) with values in [0, 1] -> (B, d).
    ImageDecoder: (B, d) -> images (B, C, H, W) with values in (0, 1).

Both work for any H, W divisible by ``2 ** len(channels)`` (32 with the defaults: 32, 64, 96, ..., 224).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

ENCODER_CHANNELS = (16, 32, 32, 64, 64)
"""Output channels of the encoder's five convolution blocks (the decoder mirrors them)."""
HIDDEN = (128, 64)
"""Widths of the two hidden fully connected layers (encoder: 128 then 64; decoder: 64 then 128)."""


def _check_image_shape(name: str, shape: Sequence[int], blocks: int) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(f"{name} needs channels-first images (C, H, W); got shape {tuple(shape)}")
    c, h, w = (int(s) for s in shape)
    factor = 2**blocks
    if c < 1 or h % factor or w % factor or h < factor or w < factor:
        raise ValueError(f"{name} with {blocks} blocks halves each side {blocks} times, so H and W must be positive "
                         f"multiples of {factor}; got (C, H, W) = {(c, h, w)}. Resize the frames (e.g. "
                         f"size={max(factor, round(h / factor) * factor)}) or pass fewer channels.")
    return c, h, w


class ImageEncoder(nn.Module):
    """Images to a vector: ``len(channels)`` blocks of (3x3 convolution, BatchNorm, ReLU, 2x2 max-pool), then
    three fully connected layers (``hidden`` widths, ReLU) to ``out_dim``.

    Expects values in [0, 1] (divide uint8 frames by 255; Stable-Baselines3 does it for image spaces).
    BatchNorm uses batch statistics in ``train()`` mode and running averages in ``eval()`` mode.

    Shapes:
        images (B, C, H, W) -> (B, out_dim); after block i the maps are (B, channels[i], H / 2^(i+1), W / 2^(i+1)).
    """

    def __init__(self, image_shape: Sequence[int], out_dim: int, channels: Sequence[int] = ENCODER_CHANNELS,
                 hidden: Sequence[int] = HIDDEN) -> None:
        super().__init__()
        if not channels or len(hidden) != 2 or out_dim < 1:
            raise ValueError(f"ImageEncoder needs at least one block, two hidden widths and out_dim >= 1; got "
                             f"channels={list(channels)}, hidden={list(hidden)}, out_dim={out_dim}")
        c_in, h, w = _check_image_shape("ImageEncoder", image_shape, len(channels))
        c = c_in
        layers: list[nn.Module] = []
        for width in channels:
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
            c = width
        factor = 2 ** len(channels)
        flat = c * (h // factor) * (w // factor)
        self.conv = nn.Sequential(*layers, nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(flat, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], hidden[1]), nn.ReLU(),
                                nn.Linear(hidden[1], out_dim))
        self.image_shape, self.out_dim = (c_in, h, w), int(out_dim)

    def forward(self, images: Tensor) -> Tensor:
        if images.shape[1:] != self.image_shape:
            raise ValueError(f"ImageEncoder was built for images {self.image_shape}; got a batch of shape "
                             f"{tuple(images.shape)}")
        return self.fc(self.conv(images))


class ImageDecoder(nn.Module):
    """A vector to images: three fully connected layers (``hidden`` widths, ReLU) to a (channels[0], H / 2^k,
    W / 2^k) map, then k = ``len(channels)`` transposed convolutions (kernel 4, stride 2, padding 1: each
    doubles a side) through ``channels[1:]`` to the image's C channels, BatchNorm and ReLU after all but the
    last, and a sigmoid.

    Shapes:
        z (B, in_dim) -> images (B, C, H, W) in (0, 1).
    """

    def __init__(self, in_dim: int, image_shape: Sequence[int], channels: Sequence[int] = ENCODER_CHANNELS[::-1],
                 hidden: Sequence[int] = HIDDEN[::-1]) -> None:
        super().__init__()
        if not channels or len(hidden) != 2 or in_dim < 1:
            raise ValueError(f"ImageDecoder needs at least one block, two hidden widths and in_dim >= 1; got "
                             f"channels={list(channels)}, hidden={list(hidden)}, in_dim={in_dim}")
        c_out, h, w = _check_image_shape("ImageDecoder", image_shape, len(channels))
        factor = 2 ** len(channels)
        base = (int(channels[0]), h // factor, w // factor)
        self.fc = nn.Sequential(nn.Linear(in_dim, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], hidden[1]), nn.ReLU(),
                                nn.Linear(hidden[1], base[0] * base[1] * base[2]), nn.ReLU(), nn.Unflatten(1, base))
        layers: list[nn.Module] = []
        widths = [*channels[1:], c_out]
        c = base[0]
        for i, width in enumerate(widths):
            layers.append(nn.ConvTranspose2d(c, width, 4, stride=2, padding=1))
            if i < len(widths) - 1:
                layers += [nn.BatchNorm2d(width), nn.ReLU()]
            c = width
        self.deconv = nn.Sequential(*layers, nn.Sigmoid())
        self.in_dim, self.image_shape = int(in_dim), (c_out, h, w)

    def forward(self, z: Tensor) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.in_dim:
            raise ValueError(f"ImageDecoder maps vectors (B, {self.in_dim}); got shape {tuple(z.shape)}")
        return self.deconv(self.fc(z))


def pixel_mse(predicted: Tensor, target: Tensor) -> Tensor:
    """Mean squared error per pixel over every dimension after the first: (B, ...) -> (B,)."""
    return (predicted - target).square().flatten(1).mean(1)


def to_unit(frames: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """uint8 frames to ``dtype`` in [0, 1] (a new tensor; float input is cast only)."""
    return frames.to(dtype) / 255.0 if frames.dtype == torch.uint8 else frames.to(dtype)
