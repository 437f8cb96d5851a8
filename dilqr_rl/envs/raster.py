"""Drawing with numpy: coverage masks of segments, boxes and discs on a pixel grid, and colour blending.

Coordinates are in pixels, x to the right and y down, measured to pixel centres (pixel (i, j) has
its centre at x = j + 0.5, y = i + 0.5). A coverage mask is a float array (H, W) in [0, 1]; with
``antialias=True`` its edges fall off linearly over one pixel, otherwise it is 0 or 1.

Shapes:
    grid: px (H, W), py (H, W); points (2,) as (x, y); masks (H, W); images (H, W, 3) float in [0, 1].
"""

from __future__ import annotations

import numpy as np


def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``px, py`` (H, W) each."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    return xs + 0.5, ys + 0.5


def _edge(distance: np.ndarray, antialias: bool) -> np.ndarray:
    """Coverage from a signed distance to a shape's boundary (negative inside)."""
    if antialias:
        return np.clip(0.5 - distance, 0.0, 1.0)
    return (distance <= 0.0).astype(np.float64)


def segment_coverage(
    px: np.ndarray,
    py: np.ndarray,
    start: tuple[float, float],
    end: tuple[float, float],
    half_width: float,
    antialias: bool = True,
) -> np.ndarray:
    """Mask of a thick segment from ``start`` to ``end`` with round caps of radius ``half_width``."""
    sx, sy = start
    dx, dy = end[0] - sx, end[1] - sy
    rx, ry = px - sx, py - sy
    t = np.clip((rx * dx + ry * dy) / max(dx * dx + dy * dy, 1e-12), 0.0, 1.0)  # (H, W)
    distance = np.hypot(rx - t * dx, ry - t * dy)
    return _edge(distance - half_width, antialias)


def box_coverage(
    px: np.ndarray,
    py: np.ndarray,
    centre: tuple[float, float],
    half_size: tuple[float, float],
    antialias: bool = True,
) -> np.ndarray:
    """Mask of an axis-aligned box with the given centre and half sizes (x, y)."""
    outside = np.maximum(np.abs(px - centre[0]) - half_size[0], np.abs(py - centre[1]) - half_size[1])
    return _edge(outside, antialias)


def disc_coverage(
    px: np.ndarray, py: np.ndarray, centre: tuple[float, float], radius: float, antialias: bool = True
) -> np.ndarray:
    """Mask of a filled disc."""
    return _edge(np.hypot(px - centre[0], py - centre[1]) - radius, antialias)


def paint(image: np.ndarray, coverage: np.ndarray, color: tuple[float, float, float]) -> None:
    """Blend ``color`` (RGB in [0, 1]) into ``image`` (H, W, 3) in place, weighted by ``coverage`` (H, W)."""
    weight = coverage[..., None]  # (H, W, 1)
    image *= 1.0 - weight
    image += weight * np.asarray(color, dtype=np.float64)


def blank(height: int, width: int, color: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """An (H, W, 3) float image filled with ``color``."""
    return np.broadcast_to(np.asarray(color, dtype=np.float64), (height, width, 3)).copy()


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] as uint8 in [0, 255] (rounded)."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
