"""Returns of policies in an environment over seeded episodes, and a DiLQR layer as an MPC policy.

Any policy with Stable-Baselines3's ``predict(obs, state=None, episode_start=None, deterministic=True) ->
(action, state)`` works: SB3 models, the experts, :class:`~dilqr_rl.policies.baselines.MLPPolicy` and
:class:`MPCPolicy`.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

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
                max_steps: int | None = None, progress: bool = False) -> tuple[float, int, list[np.ndarray]]:
    """One episode from ``env.reset(seed=seed)``: (return, length, rgb frames if ``record``); ``progress``
    shows a bar over the steps."""
    if record and env.render_mode != "rgb_array":
        raise ValueError(f"recording needs frames: create the env with render_mode='rgb_array' (it has "
                         f"render_mode={env.render_mode!r})")
    obs, _ = env.reset(seed=seed)
    frames = [env.render()] if record else []
    state, start, total, steps, done = None, True, 0.0, 0, False
    limit = max_steps or getattr(env.spec, "max_episode_steps", None)
    with tqdm(total=limit, desc=f"episode (seed {seed})", unit="step", disable=not progress, leave=False) as bar:
        while not done and (max_steps is None or steps < max_steps):
            action, state = policy.predict(obs, state=state, episode_start=np.array([start]),
                                           deterministic=deterministic)
            obs, reward, terminated, truncated, _ = env.step(action)
            total, steps, start, done = total + float(reward), steps + 1, False, terminated or truncated
            if record:
                frames.append(env.render())
            bar.update(1)
    return total, steps, frames


def evaluate_episodes(policy, env: gym.Env | Callable[[], gym.Env], n_episodes: int = 5, seed: int = 0,
                      deterministic: bool = True, record_first: bool = False, max_steps: int | None = None,
                      progress: bool = False, label: str = "evaluate") -> EvalResult:
    """Returns over ``n_episodes`` episodes, episode i reset with seed ``seed + i`` (the same starts for every
    policy and either way of running them).

    ``env`` an environment: the episodes run one after another (``record_first`` keeps the first one's
    frames). ``env`` a function making one: the episodes run in lockstep, one batched ``predict`` per step
    (SB3's ``evaluate_policy`` on a ``DummyVecEnv`` of ``n_episodes`` copies), which is much faster for
    the controllers. ``progress`` shows a bar labelled ``label`` (episodes, or steps in lockstep).
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    if callable(env) and not isinstance(env, gym.Env):
        if record_first:
            raise ValueError("record_first needs one env, not an env factory: the lockstep episodes keep no frames")
        return _lockstep(policy, env, n_episodes, seed, deterministic, max_steps, progress, label)
    returns, lengths, frames = [], [], []
    for i in tqdm(range(n_episodes), desc=label, unit="ep", disable=not progress, leave=False):
        ret, length, f = run_episode(policy, env, seed + i, deterministic, record_first and i == 0, max_steps)
        returns.append(ret)
        lengths.append(length)
        frames = frames or f
    return EvalResult(np.asarray(returns), np.asarray(lengths), frames)


def _lockstep(policy, make: Callable[[], gym.Env], n_episodes: int, seed: int, deterministic: bool,
              max_steps: int | None, progress: bool, label: str) -> EvalResult:
    """The episodes in a DummyVecEnv of ``n_episodes`` envs seeded seed, seed + 1, ...; one episode each."""
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    def make_one() -> gym.Env:
        env = make()
        return Monitor(env if max_steps is None else gym.wrappers.TimeLimit(env, max_steps))

    venv = DummyVecEnv([make_one] * n_episodes)
    try:
        venv.seed(seed)
        limit = max_steps or getattr(venv.envs[0].spec, "max_episode_steps", None)
        with tqdm(total=limit, desc=label, unit="step", disable=not progress, leave=False) as bar:
            returns, lengths = evaluate_policy(policy, venv, n_eval_episodes=n_episodes,
                                               deterministic=deterministic, return_episode_rewards=True,
                                               callback=lambda local, _: bar.update(local["i"] == 0))
    finally:
        venv.close()
    return EvalResult(np.asarray(returns, dtype=np.float64), np.asarray(lengths))


def default_state_map(observation_shape: tuple[int, ...], state_dim: int) -> nn.Module | None:
    """Identity when the env observes the state (n,); the exact angle map for pendulum (cos, sin, speed)."""
    if tuple(observation_shape) == (state_dim,):
        return None
    if tuple(observation_shape) == (3,) and state_dim == 2:
        return PendulumAngleMap()
    raise ValueError(f"the policy plans in states of size n = {state_dim}, and observations of shape "
                     f"{tuple(observation_shape)} have no known map to them: use an environment that observes "
                     "the state (e.g. observation='state'), or wrap the planner in MPCPolicy with a state_map")


def load_policy(source: str | Path, env: gym.Env):
    """A policy with ``predict`` for ``env``: ``"expert"``, a BC checkpoint (``.pt``; sequence policies run
    as MPC; the single-step clones of ``bc-step`` and ``dagger``, a DiLQR actor, an MLP or an LSTM, act as
    they were trained) or a Stable-Baselines3 PPO, A2C, SAC or TD3 model (``.zip``, e.g. ``dilqr-rl rl``'s
    ``model.zip`` and checkpoints).

    ``"expert"`` is :func:`dilqr_rl.policies.expert_for` ``(env)``, the receding-horizon iLQR expert the
    README measures (it recognises the system from ``env``; raises ``ValueError`` listing the supported
    environments otherwise). A policy whose observations or actions do not fit ``env`` raises
    ``ValueError`` saying which.
    """
    from dilqr_rl.agents.bc import load_checkpoint
    from dilqr_rl.agents.bc_sequence import load_sequence_policy
    from dilqr_rl.agents.bc_step import load_step_policy
    from dilqr_rl.agents.clone_policies import is_clone_checkpoint, load_clone_policy, spec_from_checkpoint

    if str(source) == "expert":
        return expert_for(env)
    if Path(source).suffix == ".zip":
        return load_sb3_model(source, env)
    spec = load_checkpoint(source)["spec"]
    if is_clone_checkpoint(spec):  # bc-step / dagger / sysid on episodes: a DiLQR actor or an LSTM
        clone = spec_from_checkpoint(spec)
        _check_sizes(source, clone.obs_shape, (clone.action_dim,), env)
        return load_clone_policy(source)
    if "kind" in spec:
        planner = load_sequence_policy(source)
    else:
        policy = load_step_policy(source)
        _check_sizes(source, (policy.obs_dim,), (policy.action_dim,), env)
        return policy
    n = int(planner.dynamics.state_dim) if isinstance(planner, DiLQR) else planner.state_dim
    return MPCPolicy(planner, default_state_map(env.observation_space.shape, n))


VECNORMALIZE_SUFFIX = ".vecnormalize.pkl"
"""A model ``X.zip`` trained on ``VecNormalize``'d envs has the normaliser's statistics in ``X.vecnormalize.pkl``
(``VecNormalize.save``), written beside it by ``dilqr-rl rl``."""


def vecnormalize_path(model_path: str | Path) -> Path:
    """Where the ``VecNormalize`` statistics of the model at ``model_path`` are (see :data:`VECNORMALIZE_SUFFIX`)."""
    return Path(model_path).with_suffix(VECNORMALIZE_SUFFIX)


class ObservationNormalized:
    """A model trained on normalised observations, acting on the env's own: ``predict`` normalises ``obs`` with
    ``normalizer`` (a ``VecNormalize``, live or loaded without its env) first."""

    def __init__(self, model, normalizer) -> None:
        self.model, self.normalizer = model, normalizer

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True):
        obs = self.normalizer.normalize_obs(np.asarray(obs, dtype=np.float32))
        return self.model.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)


def load_sb3_model(path: str | Path, env: gym.Env):
    """An SB3 model saved with ``model.save`` (``.zip``), checked against ``env``'s spaces: SAC or TD3 when its
    policy is a ``SACPolicy`` or ``TD3Policy`` (e.g. ``DiLQRSACPolicy``, ``DiLQRTD3Policy``), else PPO or A2C.
    A model with ``VecNormalize`` statistics beside it (:func:`vecnormalize_path`) that normalise observations comes
    wrapped in :class:`ObservationNormalized`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model at {path}; PPO runs write model.zip and checkpoints/*_steps.zip")
    if not zipfile.is_zipfile(path) or "data" not in _entries(path):
        raise ValueError(f"{path} is not a Stable-Baselines3 PPO, A2C, SAC or TD3 model (no 'data' entry in the "
                         "archive)")
    errors = []
    for algorithm in _sb3_algorithms(path):
        try:
            model = algorithm.load(path, device="cpu")
        except (ValueError, KeyError, TypeError, OSError) as error:  # not this algorithm, or not an SB3 file
            errors.append(f"{algorithm.__name__}: {error}")
            continue
        _check_sizes(path, model.observation_space.shape, model.action_space.shape, env)
        return _with_normalizer(model, vecnormalize_path(path))
    raise ValueError(f"{path} is not a Stable-Baselines3 PPO, A2C, SAC or TD3 model ({'; '.join(errors)})")


def _with_normalizer(model, stats: Path):
    """``model``, wrapped in :class:`ObservationNormalized` when ``stats`` holds a ``VecNormalize`` that normalises
    observations."""
    if not stats.is_file():
        return model
    import pickle

    with open(stats, "rb") as f:
        normalizer = pickle.load(f)  # VecNormalize without its env: its statistics and normalize_obs
    return ObservationNormalized(model, normalizer) if normalizer.norm_obs else model


def _sb3_algorithms(path: Path) -> tuple[type, ...]:
    """The SB3 algorithms that may load ``path``, from the policy class its ``data`` names."""
    from stable_baselines3 import A2C, PPO, SAC, TD3
    from stable_baselines3.common.save_util import json_to_data
    from stable_baselines3.sac.policies import SACPolicy
    from stable_baselines3.td3.policies import TD3Policy

    try:  # only the policy class is unpickled here
        with zipfile.ZipFile(path) as archive:
            entry = json.loads(archive.read("data")).get("policy_class")
        policy_class = json_to_data(json.dumps({"policy_class": entry})).get("policy_class")
    except (ValueError, AttributeError, ImportError):  # not SB3's JSON, or a class not importable: load says why
        policy_class = None
    if isinstance(policy_class, type) and issubclass(policy_class, SACPolicy):
        return (SAC,)
    if isinstance(policy_class, type) and issubclass(policy_class, TD3Policy):
        return (TD3,)
    return (PPO, A2C)


def _entries(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def _check_sizes(source: str | Path, obs_shape: tuple[int, ...], action_shape: tuple[int, ...],
                 env: gym.Env) -> None:
    env_obs, env_act = tuple(env.observation_space.shape or ()), tuple(env.action_space.shape or ())
    if tuple(obs_shape) != env_obs or tuple(action_shape) != env_act:
        name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
        raise ValueError(f"{source} was trained on observations {tuple(obs_shape)} and actions "
                         f"{tuple(action_shape)}, but {name} has observations {env_obs} and actions {env_act}: "
                         "evaluate it in the environment it was trained on")


class RandomPolicy:
    """Uniform random actions from ``action_space`` (seeded): the 0 of normalised returns."""

    def __init__(self, observation_space: gym.spaces.Space, action_space: gym.spaces.Box, seed: int = 0) -> None:
        self.observation_space, self.action_space = observation_space, action_space
        self.rng = np.random.default_rng(seed)

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True):
        """obs (*obs_shape) or (B, *obs_shape) -> actions (*action_shape) or (B, *action_shape), None."""
        obs = np.asarray(obs)
        single = obs.shape == self.observation_space.shape
        size = self.action_space.shape if single else (obs.shape[0], *self.action_space.shape)
        action = self.rng.uniform(self.action_space.low, self.action_space.high, size=size)
        return action.astype(self.action_space.dtype), None


def normalized_return(value: float | np.ndarray, random: float, expert: float) -> float | np.ndarray:
    """(value - random) / (expert - random): 0 is the random policy's return, 1 the expert's."""
    if not expert > random:
        raise ValueError(f"normalising needs the expert's return above the random policy's; got expert {expert}, "
                         f"random {random}")
    return (value - random) / (expert - random)
