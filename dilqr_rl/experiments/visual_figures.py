"""Figures of the ``visual`` study: the per-step prediction error with standard-error bands, and strips (PNG and
GIF) of real against predicted frames."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from dilqr_rl.experiments import report

STRIP_STEPS = (0, 5, 10, 15, 20, 25, 30, 35, 40)


def plot_errors(errors: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """One line per label: the mean over trajectories of the error (N, K + 1) at k = 1..K, with a band of one
    standard error over the trajectories."""
    plt = report.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, e in errors.items():
        k = np.arange(1, e.shape[1])
        mean = e[:, 1:].mean(0)
        se = e[:, 1:].std(0, ddof=1) / math.sqrt(len(e)) if len(e) > 1 else np.zeros_like(mean)
        ax.plot(k, mean, label=label)
        ax.fill_between(k, mean - se, mean + se, alpha=0.25)
    ax.set_xlabel("prediction step k")
    ax.set_ylabel("per-pixel MSE")
    ax.set_title(title, fontsize=10)
    if errors:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _grid(real: np.ndarray, predicted: dict[str, np.ndarray], k: int) -> np.ndarray:
    """One GIF frame: a row per trajectory of [real | each prediction] at step k, white separators; uint8 (H, W)."""
    rows = []
    for i in range(len(real)):
        tiles = [real[i, k], *(p[i, k] for p in predicted.values())]
        rows.append(np.concatenate([np.pad(t, 1, constant_values=255) for t in tiles], axis=1))
    return np.concatenate(rows, axis=0)


def write_strips(real_frames: np.ndarray, predicted: dict[str, np.ndarray], png: Path, gif: Path) -> None:
    """Strips of the first trajectories: real frames (E, L + 1, H, W) against each label's predictions
    (n, K + 1, H, W) uint8. The PNG shows steps :data:`STRIP_STEPS` (k <= K), a block of rows per trajectory;
    the GIF animates k = 0..K with a row per trajectory and a column per source."""
    import imageio.v2 as imageio

    n, k_max = min(len(p) for p in predicted.values()), min(p.shape[1] for p in predicted.values()) - 1
    real = real_frames[:n, : k_max + 1]
    frames = [np.kron(_grid(real, predicted, k), np.ones((2, 2), dtype=np.uint8)) for k in range(k_max + 1)]
    imageio.mimsave(gif, frames, duration=200.0, loop=0)
    steps = [k for k in STRIP_STEPS if k <= k_max] or [k_max]
    plt = report.pyplot()
    sources = {"real": real, **predicted}
    fig, axes = plt.subplots(n * len(sources), len(steps), figsize=(1.1 * len(steps), 1.15 * n * len(sources)),
                             squeeze=False)
    for i in range(n):
        for j, (label, images) in enumerate(sources.items()):
            row = i * len(sources) + j
            for col, k in enumerate(steps):
                ax = axes[row, col]
                ax.imshow(images[i, k], cmap="gray", vmin=0, vmax=255)
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title(f"k = {k}", fontsize=7)
                if col == 0:
                    name = label.replace(", ", ",\n")  # two short lines fit the margin
                    ax.set_ylabel(f"#{i + 1} {name}", fontsize=6, rotation=0, ha="right", va="center")
    fig.tight_layout(pad=0.3)
    fig.savefig(png, dpi=110)
    plt.close(fig)
