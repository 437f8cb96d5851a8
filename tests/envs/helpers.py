"""Shared helpers for the environment tests."""

from __future__ import annotations

import numpy as np
import torch

from dilqr_rl.models.base import DynamicsModel


def float64_model(cls: type[DynamicsModel], **physics: float) -> DynamicsModel:
    """``cls(**physics)`` built in float64 (its constants exact, not rounded through float32)."""
    return cls(**physics, dtype=torch.float64)


def model_step(model: DynamicsModel, state: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One float64 step of ``model`` on a single state (n,) and control (1,)."""
    with torch.no_grad():
        x = torch.as_tensor(state, dtype=torch.float64).unsqueeze(0)
        return model(x, torch.as_tensor(u, dtype=torch.float64).unsqueeze(0))[0].numpy()


def step_from(env, state: np.ndarray, action: np.ndarray):
    """Reset ``env`` to ``state`` and take one step with ``action``; returns the step's 5-tuple."""
    env.reset(seed=0, options={"state": state})
    return env.step(action)
