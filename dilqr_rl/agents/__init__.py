"""Trainers and evaluation: behaviour cloning, SysId, actor-critic RL with the DiLQR actor, returns, videos.

The names below are imported on first use (``from dilqr_rl.agents import train_rl`` loads only what RL
needs), so a light module such as :mod:`dilqr_rl.agents.rl_config` imports without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BCConfig": "bc", "BCResult": "bc", "BCTrainer": "bc",
    "SequenceBCTrainer": "bc_sequence", "SequencePolicySpec": "bc_sequence",
    "build_sequence_policy": "bc_sequence", "load_sequence_policy": "bc_sequence",
    "StepBCTrainer": "bc_step", "StepPolicySpec": "bc_step", "load_step_policy": "bc_step",
    "MPCPolicy": "evaluation", "evaluate_episodes": "evaluation", "load_policy": "evaluation",
    "PPOConfig": "ppo_config", "train_ppo": "ppo",
    "RLConfig": "rl_config", "RLResult": "rl", "train_rl": "rl", "load_history": "rl_monitor",
    "SysIdConfig": "sysid", "fit_sysid": "sysid",
    "record_video": "video", "write_video": "video",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
