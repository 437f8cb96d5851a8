"""PPO with a DiLQR actor that starts from a misspecified pendulum mass (or an MLP policy, for comparison): the
balancing experiment of ``scripts/ppo_misspecified.py``. ``dilqr-rl rl`` trains in every registered env with
:func:`dilqr_rl.agents.rl.train_rl`, which this module shares its checkpoints and start box with.

``train_ppo(PPOConfig(...))`` builds the environment, the policy (a :class:`DiLQRPolicy` whose
``PendulumDynamics`` has ``mass = true_mass * (1 + mass_error)``; only the mass is learnable, with its own
learning rate ``learning_rate * controller_lr_scale``), evaluates the deterministic policy, trains with
Stable-Baselines3's PPO and evaluates again on the same start states. Everything it logs goes through
SB3's logger into one TensorBoard events file (and ``progress.csv``) in the run folder: the
hyperparameters (TEXT and HPARAMS tabs), ``rollout/`` and ``train/`` (SB3), ``ilqr/`` solver
diagnostics and ``param/<name>`` physical parameters (:class:`ILQRLoggingCallback`), ``eval/mean_return``.

The run folder holds ``config.json``, ``checkpoints/model_<steps>_steps.zip`` (every
``checkpoint_freq`` steps, on Ctrl-C and at the end), ``model.zip`` at the end and ``result.json``; every ``.zip``
loads with ``PPO.load`` and in ``dilqr-rl evaluate`` / ``video``. ``train_ppo(config, resume=run_dir)``
continues a run from its latest checkpoint. :func:`return_vs_mass` measures the return of the fixed
(untrained) controller as a function of its model mass.

The default task is balancing: starts within ``start_angle`` of upright (Pendulum-v1's reset options), the
papers' quadratic goal cost with a control weight large enough that the planned torques stay inside +-2,
so the plan depends on the mass (a saturated plan has d(plan)/d(mass) = 0 and PPO cannot move the mass).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, CheckpointCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import HParam, Logger, configure
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecEnv

from dilqr_rl.agents.logging import flat_hparams, hparams_table, make_run_dir, read_run_config
from dilqr_rl.agents.ppo_config import COSTS, POLICIES, PPOConfig
from dilqr_rl.agents.rl_checkpoints import CHECKPOINTS, TrainingInterrupted, checkpoints
from dilqr_rl.agents.rl_envs import UniformStart
from dilqr_rl.models import GoalCost, PendulumDynamics, PendulumSwingUpCost
from dilqr_rl.policies.dilqr_policy import DiLQRPolicy

__all__ = ["COSTS", "POLICIES", "PPOConfig", "PPOResult", "TrainingInterrupted", "UniformStart", "checkpoints",
           "train_ppo"]

CONFIG_FILE = "config.json"
START_FILE = "start.json"


@dataclass
class PPOResult:
    """Where a run wrote its outputs and what it measured."""

    run_dir: Path
    checkpoint: Path
    initial_return: float | None
    final_return: float | None
    initial_params: dict[str, float]
    final_params: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    """After each rollout of this call: ``timesteps``, ``rollout_return`` (mean stochastic episode return
    of SB3's buffer, NaN before the first episode ends) and every physical parameter."""


class ILQRLoggingCallback(BaseCallback):
    """Logs, after each rollout, ``ilqr/converged_fraction`` and ``ilqr/iterations`` (means over the solves
    since the last rollout, training minibatches included) and ``param/{name}`` for every scalar parameter
    of the controller's dynamics; keeps the parameters in ``history`` (see :class:`PPOResult`)."""

    def __init__(self, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.history: list[dict[str, float]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        policy = self.model.policy
        if not isinstance(policy, DiLQRPolicy):
            return
        for key, value in policy.solver_stats.pop().items():
            self.logger.record(f"ilqr/{key}", value)
        params = physical_parameters(policy)
        for key, value in params.items():
            self.logger.record(f"param/{key}", value)
        returns = [info["r"] for info in self.model.ep_info_buffer]
        self.history.append({"timesteps": float(self.num_timesteps),
                             "rollout_return": float(np.mean(returns)) if returns else float("nan"), **params})


def physical_parameters(policy: DiLQRPolicy) -> dict[str, float]:
    """The scalar parameters of the policy's dynamics model, as floats."""
    return {name: p.item() for name, p in policy.controller.dynamics.named_parameters() if p.numel() == 1}


def make_env(config: PPOConfig) -> VecEnv:
    """A seeded DummyVecEnv of ``config.n_envs`` copies (our ``dilqr_rl/`` ids are registered first)."""
    if config.env_id.startswith("dilqr_rl/"):
        import dilqr_rl.envs  # noqa: F401  (registers our ids)
    wrapper, wrapper_kwargs = None, None
    if config.start_angle is not None:  # Pendulum-v1 (checked by PPOConfig)
        wrapper, wrapper_kwargs = UniformStart, {"angle": config.start_angle, "speed": config.start_speed}
    env_kwargs = dict(config.env_kwargs)
    if config.max_episode_steps is not None:
        env_kwargs.setdefault("max_episode_steps", config.max_episode_steps)
    return make_vec_env(config.env_id, n_envs=config.n_envs, seed=config.seed, env_kwargs=env_kwargs,
                        wrapper_class=wrapper, wrapper_kwargs=wrapper_kwargs)


def dilqr_policy_kwargs(config: PPOConfig, observation_shape: tuple[int, ...]) -> dict[str, Any]:
    """``policy_kwargs`` of the DiLQR actor: a pendulum with the wrong mass (the only learnable parameter)."""
    state_maps = {(3,): "pendulum_angle", (2,): "identity"}
    if tuple(observation_shape) not in state_maps:
        raise ValueError(f"the PPO agent plans with a pendulum model and needs observations (cos, sin, "
                         f"theta_dot) or (theta, theta_dot); {config.env_id} observes shape "
                         f"{tuple(observation_shape)}. Use env_id=Pendulum-v1 or dilqr_rl/Pendulum-v0 (for "
                         "other systems build PPO(DiLQRPolicy, env) yourself).")
    dynamics = PendulumDynamics(mass=config.true_mass * (1.0 + config.mass_error))
    dynamics.length.requires_grad_(False)
    dynamics.gravity.requires_grad_(False)
    if config.cost == "swingup":
        cost = PendulumSwingUpCost(control_weight=config.control_weight)
    else:  # "goal" (PPOConfig checks the choice)
        cost = GoalCost(torch.tensor(config.goal_weights), torch.zeros(len(config.goal_weights)))
        cost.requires_grad_(False)
    return dict(dynamics=dynamics, cost=cost, horizon=config.horizon, grad_method=config.grad_method,
                state_map=state_maps[tuple(observation_shape)], solver_options={"max_iter": config.max_iter},
                log_std_init=config.log_std_init, controller_lr_scale=config.controller_lr_scale)


def build_model(config: PPOConfig, env: VecEnv) -> PPO:
    """SB3 PPO with the configured policy (no logger attached)."""
    if config.policy == "dilqr":
        policy, kwargs = DiLQRPolicy, dilqr_policy_kwargs(config, env.observation_space.shape)
    else:  # "mlp" (PPOConfig checks the choice)
        policy, kwargs = "MlpPolicy", {"log_std_init": config.log_std_init}
    return PPO(policy, env, learning_rate=config.learning_rate, n_steps=config.n_steps,
               batch_size=config.batch_size, n_epochs=config.n_epochs, gamma=config.gamma,
               gae_lambda=config.gae_lambda, policy_kwargs=kwargs, seed=config.seed, verbose=config.verbose)


def evaluate(model: PPO, config: PPOConfig) -> float | None:
    """Mean deterministic return over ``config.eval_episodes`` episodes, one per parallel env, from starts
    seeded by ``config.seed + 10_000`` (the same starts on every call); ``None`` if ``eval_episodes`` is 0."""
    if config.eval_episodes <= 0:
        return None
    env = make_env(replace(config, n_envs=config.eval_episodes, seed=config.seed + 10_000))
    try:
        mean, _ = evaluate_policy(model, env, n_eval_episodes=config.eval_episodes, deterministic=True)
    finally:
        env.close()
    return float(mean)


def return_vs_mass(config: PPOConfig, masses: Sequence[float]) -> dict[float, float]:
    """The fixed controller's deterministic return (see :func:`evaluate`) for each model mass: no learning.

    Measures whether the return depends on the mass in this task at all (if it does not, PPO has no signal
    to correct the model)."""
    if config.eval_episodes <= 0:
        raise ValueError("return_vs_mass evaluates the controller: set eval_episodes > 0")
    out = {}
    for mass in masses:
        mass_config = replace(config, policy="dilqr", mass_error=mass / config.true_mass - 1.0, n_envs=1)
        env = make_env(mass_config)
        try:
            out[float(mass)] = evaluate(build_model(mass_config, env), mass_config)
        finally:
            env.close()
    return out


def load_run_config(run_dir: str | Path) -> PPOConfig:
    """The ``PPOConfig`` a run was started with (its ``config.json``)."""
    return read_run_config(run_dir, PPOConfig, CONFIG_FILE, "a PPO run")


def _logger(run_dir: Path, config: PPOConfig) -> Logger:
    """SB3's logger: CSV and TensorBoard in the run folder (one events file per training call)."""
    return configure(str(run_dir), ["csv", "tensorboard"] + (["stdout"] if config.verbose else []))


def _record_hparams(logger: Logger, config: PPOConfig) -> None:
    """The hyperparameters as a table (TEXT tab) and in the HPARAMS tab, linked to eval/mean_return."""
    logger.record("hyperparameters", hparams_table(config), exclude=("stdout", "log", "json", "csv"))
    logger.record("hparams", HParam(flat_hparams(config), {"eval/mean_return": 0.0}),
                  exclude=("stdout", "log", "json", "csv"))
    logger.dump(0)


def _log_return(logger: Logger, value: float | None, step: int) -> None:
    if value is not None:
        logger.record("eval/mean_return", value)
        logger.dump(step)


def _start(config: PPOConfig, env: VecEnv, resume: Path | None) -> tuple[PPO, Path, dict[str, Any]]:
    """A new model and run folder, or the latest checkpoint of ``resume``; and the run's start record."""
    if resume is None:
        model = build_model(config, env)  # a policy that cannot act in env fails before the folder is made
        run_dir = make_run_dir(config.output_dir, config.env_id, f"{config.exp_name}-{config.policy}", config.seed)
        (run_dir / CHECKPOINTS).mkdir()
        (run_dir / CONFIG_FILE).write_text(json.dumps(dataclasses.asdict(config), indent=2))
        return model, run_dir, {}
    saved = checkpoints(resume)
    if not saved:
        raise FileNotFoundError(f"{resume} has no {CHECKPOINTS}/*_steps.zip to resume from")
    model = PPO.load(saved[-1], env=env)
    start = json.loads((resume / START_FILE).read_text()) if (resume / START_FILE).is_file() else {}
    return model, resume, start


def train_ppo(config: PPOConfig, resume: str | Path | None = None) -> PPOResult:
    """Train, log and save one run; see the module docstring.

    ``resume``: a run folder to continue from its latest checkpoint up to ``config.total_timesteps``
    (pass the run's config, :func:`load_run_config`). Ctrl-C saves a checkpoint and raises
    :class:`TrainingInterrupted`. The environments and the logger are closed when it returns or raises.
    """
    set_random_seed(config.seed)
    resume = None if resume is None else Path(resume)
    with ExitStack() as resources:
        env = make_env(config)
        resources.callback(env.close)
        model, run_dir, start = _start(config, env, resume)
        logger = _logger(run_dir, config)
        resources.callback(logger.close)
        model.set_logger(logger)
        is_dilqr = isinstance(model.policy, DiLQRPolicy)
        if not start:
            _record_hparams(logger, config)
            start = {"initial_params": physical_parameters(model.policy) if is_dilqr else {},
                     "initial_return": evaluate(model, config)}
            (run_dir / START_FILE).write_text(json.dumps(start, indent=2))
            _log_return(logger, start["initial_return"], 0)
        if is_dilqr:
            model.policy.solver_stats.pop()  # evaluation solves are not training diagnostics
        history = ILQRLoggingCallback()
        _learn(model, config, run_dir, history)
        final_return = evaluate(model, config)
        _log_return(logger, final_return, model.num_timesteps)
        final_params = physical_parameters(model.policy) if is_dilqr else {}
        checkpoint = run_dir / "model.zip"
        model.save(checkpoint)
        last = run_dir / CHECKPOINTS / f"model_{model.num_timesteps}_steps.zip"
        if not last.exists():  # the end of training is where a later --resume starts
            model.save(last)
    result = PPOResult(run_dir, checkpoint, start["initial_return"], final_return, start["initial_params"],
                       final_params, history.history)
    summary = {k: v for k, v in dataclasses.asdict(result).items() if k != "history"}
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2, default=str))
    return result


def _learn(model: PPO, config: PPOConfig, run_dir: Path, history: ILQRLoggingCallback) -> None:
    """``model.learn`` up to ``config.total_timesteps`` with periodic checkpoints; a checkpoint on Ctrl-C."""
    callbacks: list[BaseCallback] = [history]
    if config.checkpoint_freq:
        callbacks.append(CheckpointCallback(max(config.checkpoint_freq // config.n_envs, 1),
                                            str(run_dir / CHECKPOINTS), name_prefix="model"))
    remaining = config.total_timesteps - model.num_timesteps
    try:
        if remaining > 0:
            model.learn(remaining, callback=CallbackList(callbacks), progress_bar=config.progress,
                        reset_num_timesteps=False)
    except KeyboardInterrupt:
        path = run_dir / CHECKPOINTS / f"model_{model.num_timesteps}_steps.zip"
        model.save(path)
        raise TrainingInterrupted(run_dir, path, model.num_timesteps) from None
