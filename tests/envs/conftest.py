"""Headless rendering for the environment tests: MuJoCo reads MUJOCO_GL when first imported."""

import os

if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"
