"""Neural baselines: an MLP policy (state -> action) and the papers' sequence predictors.

The papers' NN baseline (Amos et al., 2018; Wang et al., 2025) is an LSTM that maps the initial state x to
the whole nominal action sequence u_{1:T}; :class:`MLPSequencePolicy` does the same with a feed-forward
network. All outputs respect the box ``[action_low, action_high]`` by a scaled ``tanh``.

Shapes:
    MLPPolicy: obs (B, d) -> action (B, m).
    LSTMSequencePolicy / MLPSequencePolicy: x_init (B, n) -> u (B, T, m).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from dilqr_rl.policies.mlp import mlp


class BoxSquash(nn.Module):
    """``low + (tanh(z) + 1) / 2 * (high - low)``: any real z to the box [low, high], elementwise."""

    def __init__(self, low: float | Sequence[float] | Tensor, high: float | Sequence[float] | Tensor) -> None:
        super().__init__()
        low_t = torch.as_tensor(low, dtype=torch.get_default_dtype())
        high_t = torch.as_tensor(high, dtype=torch.get_default_dtype())
        if not bool(torch.isfinite(low_t).all() and torch.isfinite(high_t).all()):
            raise ValueError(f"action bounds must be finite for a tanh head; got low={low_t.tolist()}, "
                             f"high={high_t.tolist()}")
        if not bool((low_t < high_t).all()):
            raise ValueError(f"action_low must be < action_high everywhere; got low={low_t.tolist()}, "
                             f"high={high_t.tolist()}")
        self.register_buffer("low", low_t)
        self.register_buffer("high", high_t)

    def forward(self, z: Tensor) -> Tensor:
        return self.low + (torch.tanh(z) + 1.0) * 0.5 * (self.high - self.low)


class MLPPolicy(nn.Module):
    """Observation -> action MLP with a bounded output, for single-step behaviour cloning.

    ``encoder`` (optional) maps observations of ``observation_shape`` (e.g. images) to the MLP's ``obs_dim``
    inputs first; it trains with the MLP (e.g. :class:`~dilqr_rl.policies.pixel_state.StateFeatures`, the DiLQR
    actor's keypoint encoder). ``predict`` follows Stable-Baselines3 (``predict(obs, deterministic=True) ->
    (action, None)``) so the evaluation code treats it like an expert or an SB3 model.

    Shapes: obs (B, *observation_shape) (default (B, obs_dim)) -> (B, action_dim).
    """

    def __init__(self, obs_dim: int, action_dim: int, action_low, action_high,
                 hidden_sizes: Sequence[int] = (64, 64), encoder: nn.Module | None = None,
                 observation_shape: Sequence[int] | None = None) -> None:
        super().__init__()
        if (encoder is None) != (observation_shape is None):
            raise ValueError("MLPPolicy takes an encoder and the observation_shape it reads together, or neither")
        self.encoder = encoder
        self.net = mlp([obs_dim, *hidden_sizes, action_dim])
        self.squash = BoxSquash(action_low, action_high)
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.observation_shape = (obs_dim,) if observation_shape is None else tuple(int(s) for s in observation_shape)

    def from_features(self, features: Tensor) -> Tensor:
        """The action for the encoder's output (B, obs_dim) (without an encoder: the observation)."""
        return self.squash(self.net(features))

    def forward(self, obs: Tensor) -> Tensor:
        return self.from_features(obs if self.encoder is None else self.encoder(obs))

    @torch.no_grad()
    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True):
        p = next(self.parameters())
        obs_t = torch.as_tensor(np.asarray(obs), dtype=p.dtype, device=p.device)
        single = obs_t.ndim == len(self.observation_shape)
        action = self(obs_t.unsqueeze(0) if single else obs_t)
        action = action[0] if single else action
        return action.cpu().numpy(), None


class MLPSequencePolicy(nn.Module):
    """Initial state -> nominal action sequence by one MLP whose output is reshaped to (T, m)."""

    def __init__(self, state_dim: int, control_dim: int, horizon: int, action_low, action_high,
                 hidden_sizes: Sequence[int] = (128, 128)) -> None:
        super().__init__()
        self.net = mlp([state_dim, *hidden_sizes, horizon * control_dim])
        self.squash = BoxSquash(action_low, action_high)
        self.state_dim, self.horizon, self.control_dim = state_dim, horizon, control_dim

    def forward(self, x_init: Tensor) -> Tensor:
        z = self.net(x_init).view(x_init.shape[0], self.horizon, self.control_dim)  # (B, T, m)
        return self.squash(z)


class LSTMSequencePolicy(nn.Module):
    """The papers' NN baseline: an LSTM unrolled for T steps from an embedding of the initial state.

    The state is embedded once; the embedding initialises the LSTM's hidden state and is its input at
    every step; a linear head and a scaled tanh give u_t for t = 1..T.
    """

    def __init__(self, state_dim: int, control_dim: int, horizon: int, action_low, action_high,
                 hidden_size: int = 64, num_layers: int = 2) -> None:
        super().__init__()
        if horizon < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(f"horizon, hidden_size and num_layers must be >= 1; got {horizon}, "
                             f"{hidden_size}, {num_layers}")
        self.embed = nn.Sequential(nn.Linear(state_dim, hidden_size), nn.Tanh())
        self.init_state = nn.Linear(hidden_size, 2 * num_layers * hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, control_dim)
        self.squash = BoxSquash(action_low, action_high)
        self.state_dim, self.horizon, self.num_layers, self.hidden_size = state_dim, horizon, num_layers, hidden_size

    def forward(self, x_init: Tensor) -> Tensor:
        B = x_init.shape[0]
        e = self.embed(x_init)  # (B, H)
        h0, c0 = self.init_state(e).view(B, 2, self.num_layers, self.hidden_size).permute(1, 2, 0, 3)
        inputs = e.unsqueeze(1).expand(B, self.horizon, self.hidden_size)  # (B, T, H)
        out, _ = self.lstm(inputs, (h0.contiguous(), c0.contiguous()))
        return self.squash(self.head(out))  # (B, T, m)


class AutoregressiveLSTMPolicy(nn.Module):
    """The NN baseline as the DiffMPC code builds it: an LSTM cell fed back its own controls.

    The initial state is embedded by a 3-layer ReLU MLP; at each step the LSTM cell updates, a 3-layer MLP
    decodes the cell state into u_t, and a 3-layer MLP embeds u_t as the next input. The output is not
    squashed into the control bounds (the papers' is not either).
    """

    def __init__(self, state_dim: int, control_dim: int, horizon: int, hidden_size: int = 256) -> None:
        super().__init__()
        if horizon < 1 or hidden_size < 1:
            raise ValueError(f"horizon and hidden_size must be >= 1; got {horizon}, {hidden_size}")
        h = hidden_size
        self.state_embed = mlp([state_dim, h, h, h], nn.ReLU)
        self.control_embed = mlp([control_dim, h, h, h], nn.ReLU)
        self.decode = mlp([h, h, h, control_dim], nn.ReLU)
        self.cell = nn.LSTMCell(h, h)
        self.horizon = horizon

    def forward(self, x_init: Tensor) -> Tensor:
        y, state, us = self.state_embed(x_init), None, []
        for _ in range(self.horizon):
            state = self.cell(y, state)
            us.append(self.decode(state[1]))  # from the cell state, as the papers' code
            y = self.control_embed(us[-1])
        return torch.stack(us, 1)  # (B, T, m)
