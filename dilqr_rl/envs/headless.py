"""Headless rendering for MuJoCo: choose EGL when no renderer is set and no display exists."""

from __future__ import annotations

import os
import sys


def use_egl_when_headless() -> None:
    """Set ``MUJOCO_GL=egl`` if it is unset and there is no X display (Linux only).

    MuJoCo reads ``MUJOCO_GL`` when it is first imported, so this must run before; importing
    :mod:`dilqr_rl.envs` does it. A user's own ``MUJOCO_GL`` (e.g. ``osmesa``) is never overridden.
    """
    if sys.platform.startswith("linux") and "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["MUJOCO_GL"] = "egl"
