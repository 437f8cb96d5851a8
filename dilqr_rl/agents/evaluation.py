"""Returns of policies in an environment over seeded episodes, and a DiLQR layer as an MPC policy.

Any policy with Stable-Baselines3's ``predict(obs, state=None, episode_start=None, deterministic=True) ->
(action, state)`` works: SB3 models, the experts, :class:`~dilqr_rl.policies.baselines.MLPPolicy` and
:class:`MPCPolicy`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from dilqr_rl.control import DiLQR, UnconvergedWarning
from dilqr_rl.policies.expert_envs import expert_for
from dilqr_rl.policies.receding_horizon import shift_plan
from dilqr_rl.policies.state_maps import PendulumAngleMap


class MPCPolicy:
    """Receding-horizon control with a sequence policy: plan from the current state, apply u_1.

    ``planner`` maps states (B, n) to a plan: a DiLQR layer (returns a ``Solution``) or a sequence
    baseline such as the LSTM (returns u (B, T, m)). ``state_map`` takes the batched observation (B, d) to
    the state (identity if ``None``). For DiLQR the shifted plan is returned as the recurrent ``state`` of
    ``predict`` and used as the next warm start (explicit, as SB3 passes it back); a row whose
    ``episode_start`` is True is solved cold (from zero controls), the other rows keep their warm starts.
    """

    def __init__(self, planner: nn.Module, state_map: nn.Module | None = None) -> None:
        self.planner = planner
        self.state_map = state_map

    @torch.no_grad()
    def predict(self, obs, state: np.ndarray | None = None, episode_start=None, deterministic: bool = True):
        """obs (d,) or (B, d) -> action (m,) or (B, m), next warm start (B, T, m) or None."""
        dtype = next(self.planner.parameters()).dtype
        obs_t = torch.as_tensor(np.asarray(obs), dtype=dtype)
        single = obs_t.ndim == 1
        obs_t = obs_t.unsqueeze(0) if single else obs_t
        x = obs_t if self.state_map is None else self.state_map(obs_t)
        if isinstance(self.planner, DiLQR):
            u_init = None if state is None else self._warm_start(state, episode_start, x)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnconvergedWarning)  # MPC applies the best plan found
                u = self.planner(x, u_init=u_init).u  # (B, T, m)
            next_state = shift_plan(u).cpu().numpy()
        else:
            u, next_state = self.planner(x), None
        action = u[:, 0].cpu().numpy().astype(np.float32)
        return (action[0] if single else action), next_state

    @staticmethod
    def _warm_start(state: np.ndarray, episode_start, x: torch.Tensor) -> torch.Tensor:
        """The previous shifted plans (B, T, m), zeroed in the rows that start an episode."""
        u_init = torch.as_tensor(np.asarray(state), dtype=x.dtype, device=x.device).clone()
        if episode_start is not None:
            starts = np.asarray(episode_start, dtype=bool).reshape(-1)
            if starts.shape != (x.shape[0],):
                raise ValueError(f"episode_start must hold one flag per observation (B = {x.shape[0]}); got "
                                 f"{starts.shape[0]} flags")
            u_init[torch.as_tensor(starts, device=x.device)] = 0.0
        return u_init


@dataclass
class EvalResult:
    """Per-episode returns and lengths; frames of the first episode when recorded."""

    returns: np.ndarray
    lengths: np.ndarray
    frames: list[np.ndarray] = field(default_factory=list)

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std_return(self) -> float:
        return float(np.std(self.returns))


def run_episode(policy, env: gym.Env, seed: int, deterministic: bool = True, record: bool = False,
                max_steps: int | None = None) -> tuple[float, int, list[np.ndarray]]:
    """One episode from ``env.reset(seed=seed)``: (return, length, rgb frames if ``record``)."""
    if record and env.render_mode != "rgb_array":
        raise ValueError(f"recording needs frames: create the env with render_mode='rgb_array' (it has "
                         f"render_mode={env.render_mode!r})")
    obs, _ = env.reset(seed=seed)
    frames = [env.render()] if record else []
    state, start, total, steps, done = None, True, 0.0, 0, False
    while not done and (max_steps is None or steps < max_steps):
        action, state = policy.predict(obs, state=state, episode_start=np.array([start]),
                                       deterministic=deterministic)
        obs, reward, terminated, truncated, _ = env.step(action)
        total, steps, start, done = total + float(reward), steps + 1, False, terminated or truncated
        if record:
            frames.append(env.render())
    return total, steps, frames


def evaluate_policy(policy, env: gym.Env, n_episodes: int = 5, seed: int = 0, deterministic: bool = True,
                    record_first: bool = False, max_steps: int | None = None) -> EvalResult:
    """Returns over ``n_episodes`` episodes seeded ``seed, seed + 1, ...`` (the same starts for every policy)."""
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    returns, lengths, frames = [], [], []
    for i in range(n_episodes):
        ret, length, f = run_episode(policy, env, seed + i, deterministic, record_first and i == 0, max_steps)
        returns.append(ret)
        lengths.append(length)
        frames = frames or f
    return EvalResult(np.asarray(returns), np.asarray(lengths), frames)


def default_state_map(observation_shape: tuple[int, ...], state_dim: int) -> nn.Module | None:
    """Identity when the env observes the state (n,); the exact angle map for pendulum (cos, sin, speed)."""
    if tuple(observation_shape) == (state_dim,):
        return None
    if tuple(observation_shape) == (3,) and state_dim == 2:
        return PendulumAngleMap()
    raise ValueError(f"no default map from observations of shape {tuple(observation_shape)} to the "
                     f"controller's state (n = {state_dim}): use an env that observes the state (e.g. "
                     "observation='state') or wrap the planner in MPCPolicy with a state_map")


def load_policy(source: str, env: gym.Env):
    """A policy with ``predict`` for ``env``: ``"expert"`` or a BC checkpoint (sequence policies run as MPC).

    ``"expert"`` is :func:`dilqr_rl.policies.expert_for` ``(env)``, the receding-horizon iLQR expert the
    README measures (it recognises the system from ``env``; raises ``ValueError`` listing the supported
    environments otherwise).
    """
    from dilqr_rl.agents.bc import load_checkpoint
    from dilqr_rl.agents.bc_sequence import load_sequence_policy
    from dilqr_rl.agents.bc_step import load_step_policy

    if source == "expert":
        return expert_for(env)
    if "kind" in load_checkpoint(source)["spec"]:
        planner = load_sequence_policy(source)
    else:
        return load_step_policy(source)
    n = int(planner.dynamics.state_dim) if isinstance(planner, DiLQR) else planner.state_dim
    return MPCPolicy(planner, default_state_map(env.observation_space.shape, n))
