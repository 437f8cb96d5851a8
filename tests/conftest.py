"""Test-wide settings: one torch thread (the problems are tiny; extra threads only add contention)."""

import os

import torch

os.environ.setdefault("MUJOCO_GL", "egl")
torch.set_num_threads(1)
