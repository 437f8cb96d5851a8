"""``LSTMPolicy``: a recurrent policy over the observation history, for single-step behaviour cloning.

At step t the LSTM reads the observation o_t and its hidden state (h, c), which summarises o_1..o_{t-1} of
the current episode; a linear head and a scaled tanh give the action a_t in the box [low, high]. Training
runs whole episodes from a zero hidden state (:meth:`LSTMPolicy.forward`); acting carries the hidden state
from step to step (:meth:`LSTMPolicy.predict`, Stable-Baselines3's recurrent contract: the returned ``state``
is passed back, rows whose ``episode_start`` is True start from zero again), so SB3's ``evaluate_policy`` and
:func:`~dilqr_rl.agents.evaluation.evaluate_episodes` run it as they run ``RecurrentPPO``.

An optional ``encoder`` maps each observation (e.g. a frame stack) to the LSTM's d inputs first and trains with
it (e.g. :class:`~dilqr_rl.policies.pixel_state.StateFeatures`, the DiLQR actor's keypoint encoder).

Shapes (d: obs_dim, or the observation shape with an encoder):
    forward: obs (B, L, d), hidden ((layers, B, H), (layers, B, H)) or None -> actions (B, L, m), hidden.
    predict: obs (d,) or (B, d), state (2, layers, B, H) or None, episode_start (B,) -> action (m,) or (B, m),
    state (2, layers, B, H).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from dilqr_rl.policies.baselines import BoxSquash

Hidden = tuple[Tensor, Tensor]
"""(h, c), each (layers, B, H)."""


class LSTMPolicy(nn.Module):
    """Observation history -> action (see the module docstring)."""

    def __init__(self, obs_dim: int, action_dim: int, action_low: float | Sequence[float],
                 action_high: float | Sequence[float], hidden_size: int = 64, num_layers: int = 1,
                 encoder: nn.Module | None = None, observation_shape: Sequence[int] | None = None) -> None:
        super().__init__()
        if min(obs_dim, action_dim, hidden_size, num_layers) < 1:
            raise ValueError(f"obs_dim, action_dim, hidden_size and num_layers must be >= 1; got {obs_dim}, "
                             f"{action_dim}, {hidden_size}, {num_layers}")
        if (encoder is None) != (observation_shape is None):
            raise ValueError("LSTMPolicy takes an encoder and the observation_shape it reads together, or neither")
        self.encoder = encoder
        self.observation_shape = (obs_dim,) if observation_shape is None else tuple(int(s) for s in observation_shape)
        self.lstm = nn.LSTM(obs_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, action_dim)
        self.squash = BoxSquash(action_low, action_high)
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.hidden_size, self.num_layers = hidden_size, num_layers

    def encode(self, obs: Tensor) -> Tensor:
        """Observation sequences (B, L, *observation_shape) -> the LSTM's inputs (B, L, obs_dim)."""
        if self.encoder is None:
            return obs
        B, L = obs.shape[:2]
        return self.encoder(obs.reshape(B * L, *obs.shape[2:])).reshape(B, L, -1)

    def from_features(self, features: Tensor, hidden: Hidden | None = None) -> tuple[Tensor, Hidden]:
        """Actions (B, L, m) for encoded sequences (B, L, obs_dim), from ``hidden`` (zeros if None)."""
        out, hidden = self.lstm(features, hidden)  # (B, L, H)
        return self.squash(self.head(out)), hidden

    def forward(self, obs: Tensor, hidden: Hidden | None = None) -> tuple[Tensor, Hidden]:
        """Actions (B, L, m) for the observation sequences (B, L, *observation_shape), from ``hidden`` (zeros if
        None)."""
        return self.from_features(self.encode(obs), hidden)

    def initial_state(self, batch_size: int) -> np.ndarray:
        """The hidden state of an episode's start for ``batch_size`` rows: zeros (2, layers, B, H)."""
        return np.zeros((2, self.num_layers, batch_size, self.hidden_size), dtype=np.float32)

    @torch.no_grad()
    def predict(self, obs, state: np.ndarray | None = None, episode_start=None,
                deterministic: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """One step: the action for ``obs`` given the hidden ``state`` of the previous call (None: an episode
        start); the rows flagged in ``episode_start`` restart from zero. Returns (action, next state)."""
        p = next(self.parameters())
        obs_t = torch.as_tensor(np.asarray(obs), dtype=p.dtype, device=p.device)
        single = obs_t.ndim == len(self.observation_shape)
        obs_t = obs_t.unsqueeze(0) if single else obs_t
        B = obs_t.shape[0]
        state = self.initial_state(B) if state is None else np.array(state, dtype=np.float32)
        expected = (2, self.num_layers, B, self.hidden_size)
        if state.shape != expected:
            raise ValueError(f"state must be the hidden state (2, layers, B, H) = {expected} returned by the "
                             f"previous predict call, or None; got shape {state.shape}")
        if episode_start is not None:
            starts = np.asarray(episode_start, dtype=bool).reshape(-1)
            if starts.shape != (B,):
                raise ValueError(f"episode_start must hold one flag per observation (B = {B}); got {starts.shape[0]}")
            state[:, :, starts] = 0.0
        h, c = (torch.as_tensor(s, dtype=p.dtype, device=p.device) for s in state)
        action, (h, c) = self(obs_t.unsqueeze(1), (h.contiguous(), c.contiguous()))
        action = action[:, 0].cpu().numpy()
        next_state = torch.stack([h, c]).cpu().numpy().astype(np.float32)
        return (action[0] if single else action), next_state
