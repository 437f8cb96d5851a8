"""Actor-critic training with a DiLQR actor (or an MLP) in every registered environment: ``train_rl(RLConfig(...))``.

One call trains one run and returns an :class:`RLResult` (``result.metrics()``: a flat dict of floats, what a Ray
Tune trial reports); ``report`` receives every evaluation as it happens. The run:

1. checks the config (:func:`~dilqr_rl.agents.rl_build.check_config`) and builds the env and the model
   (:mod:`~dilqr_rl.agents.rl_build`: SB3's PPO, A2C, SAC or TD3 with rl-zoo3's hyperparameters) before it makes
   the run folder ``<output_dir>/<env>__<algo>-<policy>__<seed>__<time>``;
2. reads or computes the random and expert references (:func:`~dilqr_rl.agents.rl_envs.reference_returns`);
3. evaluates the untrained deterministic policy, then every ``eval_freq`` env steps and at the end, on the same
   seeded episodes (:mod:`~dilqr_rl.agents.rl_monitor`: TensorBoard and ``history.csv``);
4. trains with checkpoints and Ctrl-C (:mod:`~dilqr_rl.agents.rl_checkpoints`).

The run folder holds ``config.json`` (what ``resume`` continues with), ``hyperparameters.json`` (the rl-zoo3 entry
and what was changed), ``references.json``, ``start.json`` (the untrained evaluation and parameters),
``history.csv``, ``result.json``, SB3's ``progress.csv`` (``progress-from-<steps>.csv`` after a resume) and one
TensorBoard events file per call, ``checkpoints/model_<steps>_steps.zip`` and ``model.zip`` (with their
``.vecnormalize.pkl`` where the run normalises). Every ``.zip`` loads in ``dilqr-rl evaluate`` and ``video``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import CSVOutputFormat, HParam, HumanOutputFormat, Logger, TensorBoardOutputFormat
from stable_baselines3.common.utils import set_random_seed
from stable_baselines3.common.vec_env import VecEnv

from dilqr_rl.agents.logging import flat_hparams, hparams_table, make_run_dir, read_run_config
from dilqr_rl.agents.rl_build import (
    ALGORITHMS,
    Hyperparameters,
    actor_warmup_steps,
    build_model,
    check_config,
    identified_actor,
    model_error_of,
    registered_parameters,
    resolve_hyperparameters,
)
from dilqr_rl.agents.rl_checkpoints import (
    CHECKPOINTS,
    TrainingInterrupted,
    checkpoints,
    learn_with_checkpoints,
    load_model,
    save_model,
    steps_of,
)
from dilqr_rl.agents.rl_config import RLConfig
from dilqr_rl.agents.rl_envs import env_factory, normalized_venv, reference_returns, training_venv
from dilqr_rl.agents.rl_monitor import EvalHistory, Row, learned_parameters, load_history, steps_per_second
from dilqr_rl.agents.rl_sysid import RolloutSysId
from dilqr_rl.policies.dilqr_actor import refuse_normalized_observations
from dilqr_rl.policies.env_registry import env_control

__all__ = ["RLConfig", "RLResult", "TrainingInterrupted", "check_config", "load_run_config", "train_rl"]

CONFIG_FILE = "config.json"
START_FILE = "start.json"


@dataclass
class RLResult:
    """Where a run wrote its outputs and what it measured."""

    run_dir: Path
    checkpoint: Path
    """``model.zip``."""
    references: dict[str, float]
    """``random`` and ``expert``: their mean returns on the evaluation episodes."""
    untrained: Row
    """The evaluation before training (a history row)."""
    final: Row
    """The evaluation at the end."""
    initial_params: dict[str, float]
    final_params: dict[str, float]
    registered_params: dict[str, float]
    """The physical parameters of the env's registered model (the truth, except the fitted InvertedPendulum-v5
    model); empty for the MLP."""
    hyperparameters: dict[str, Any]
    env_steps_per_s: float
    """Env steps per second of training in this call (evaluations excluded)."""
    history: list[Row] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """A flat dict of floats: the untrained and final returns (raw and normalised), the references, the env
        steps, the training speed, every final learned parameter (``param/<name>``)."""
        out = {"untrained_return": self.untrained["eval/mean_return"],
               "untrained_normalized": self.untrained["eval/normalized_return"],
               "final_return": self.final["eval/mean_return"],
               "final_normalized": self.final["eval/normalized_return"],
               "random_return": self.references["random"], "expert_return": self.references["expert"],
               "timesteps": self.final["timesteps"], "train_seconds": self.final["train_seconds"],
               "env_steps_per_s": self.env_steps_per_s}
        return {**out, **{f"param/{k}": v for k, v in self.final_params.items()}}


def load_run_config(run_dir: str | Path) -> RLConfig:
    """The ``RLConfig`` a run was started with (its ``config.json``)."""
    return read_run_config(run_dir, RLConfig, CONFIG_FILE, "a 'dilqr-rl rl' run")


def train_rl(config: RLConfig, resume: str | Path | None = None,
             report: Callable[[Row], None] | None = None) -> RLResult:
    """Train, evaluate, log and save one run (see the module docstring); ``torch`` uses ``config.threads``.

    ``resume``: a run folder to continue from its latest checkpoint up to ``config.total_timesteps`` (pass the
    run's config, :func:`load_run_config`, with a larger ``total_timesteps``). Ctrl-C saves a checkpoint and raises
    :class:`TrainingInterrupted`. The envs and the logger are closed when it returns or raises.
    """
    check_config(config)
    torch.set_num_threads(config.threads)
    set_random_seed(config.seed)
    hp = resolve_hyperparameters(config)
    resume = None if resume is None else Path(resume)
    with ExitStack() as resources:
        venv = training_venv(config, hp.n_envs)
        resources.callback(venv.close)
        model, run_dir = _start(config, hp, venv, resume)
        references = reference_returns(config)
        (run_dir / "references.json").write_text(json.dumps(references, indent=2))
        logger = _logger(run_dir, config, None if resume is None else model.num_timesteps)
        resources.callback(logger.close)
        model.set_logger(logger)
        history = EvalHistory(config, references, run_dir, load_history(run_dir), report)
        start = _untrained(model, history, config, hp, run_dir)
        since = model.num_timesteps
        warmup = actor_warmup_steps(config, hp)
        callbacks = [history] + ([ActorWarmup(warmup)] if warmup else [])
        if config.sysid_every:
            with env_factory(config)() as env:
                control = env_control(env)
            callbacks.append(RolloutSysId(control, config.sysid_every, then_plan_as=identified_actor(config, control)))
        learn_with_checkpoints(model, config.total_timesteps, run_dir, config.checkpoint_freq, callbacks,
                               config.progress)
        if history.rows[-1]["timesteps"] != model.num_timesteps:
            history.evaluate(model)
        save_model(model, run_dir / "model.zip")
    result = RLResult(run_dir, run_dir / "model.zip", {k: references[k] for k in ("random", "expert")},
                      start["untrained"], history.rows[-1], start["initial_params"],
                      learned_parameters(model.policy),
                      registered_parameters(config.env_id) if config.policy == "dilqr" else {},
                      hp.as_dict(config.policy), steps_per_second(history.rows, since), history.rows)
    summary = {k: v for k, v in dataclasses.asdict(result).items() if k != "history"}
    (run_dir / "result.json").write_text(json.dumps({**summary, "metrics": result.metrics()}, indent=2, default=str))
    return result


def _start(config: RLConfig, hp: Hyperparameters, venv: VecEnv, resume: Path | None) -> tuple[BaseAlgorithm, Path]:
    """A new model and run folder (the model is built first: a policy that cannot act fails before the folder
    exists), or the latest checkpoint of ``resume``."""
    if resume is None:
        if hp.normalize:
            venv = normalized_venv(venv, config, gamma=hp.algo_kwargs.get("gamma", 0.99))
        model = build_model(config, hp, venv)
        run_dir = make_run_dir(config.output_dir, config.env_id, config.run_name, config.seed)
        (run_dir / CHECKPOINTS).mkdir()
        (run_dir / CONFIG_FILE).write_text(json.dumps(dataclasses.asdict(config), indent=2))
        (run_dir / "hyperparameters.json").write_text(json.dumps(hp.as_dict(config.policy), indent=2))
        return model, run_dir
    saved = checkpoints(resume)
    if not saved:
        raise FileNotFoundError(f"{resume} has no {CHECKPOINTS}/*_steps.zip to resume from")
    model = load_model(ALGORITHMS[config.algo], saved[-1], venv)
    if config.policy == "dilqr":
        refuse_normalized_observations(model.get_env(), type(model.policy).__name__)
    if model.num_timesteps != steps_of(saved[-1]):
        raise ValueError(f"{saved[-1]} holds a model at {model.num_timesteps} steps, not {steps_of(saved[-1])}")
    return model, resume


def _untrained(model: BaseAlgorithm, history: EvalHistory, config: RLConfig, hp: Hyperparameters,
               run_dir: Path) -> dict[str, Any]:
    """The run's start record (``start.json``): made by evaluating the untrained policy, or read back on resume."""
    path = run_dir / START_FILE
    if path.is_file():
        return json.loads(path.read_text())
    _record_hparams(model.logger, config, hp)
    params = learned_parameters(model.policy)
    start = {"untrained": history.evaluate(model), "initial_params": params,
             "model_error": model_error_of(config) if config.policy == "dilqr" else {}}
    path.write_text(json.dumps(start, indent=2))
    return start


def _logger(run_dir: Path, config: RLConfig, resumed_at: int | None) -> Logger:
    """SB3's logger: CSV (``progress.csv``; a resumed call's own file, SB3's CSV writer starts afresh) and
    TensorBoard in the run folder, and SB3's table on stdout with ``verbose``."""
    name = "progress.csv" if resumed_at is None else f"progress-from-{resumed_at}.csv"
    formats = [CSVOutputFormat(str(run_dir / name)), TensorBoardOutputFormat(str(run_dir))]
    if config.verbose:
        formats.append(HumanOutputFormat(sys.stdout))
    return Logger(str(run_dir), formats)


def _record_hparams(logger: Logger, config: RLConfig, hp: Hyperparameters) -> None:
    """The run's settings as a table (TEXT tab) and in the HPARAMS tab, linked to the evaluation's returns."""
    values = {**flat_hparams(config), **{f"zoo/{k}": v for k, v in flat_hparams(hp.as_dict(config.policy)).items()}}
    logger.record("hyperparameters", hparams_table(values), exclude=("stdout", "log", "json", "csv"))
    logger.record("hparams", HParam(values, {"eval/mean_return": 0.0, "eval/normalized_return": 0.0}),
                  exclude=("stdout", "log", "json", "csv"))
    logger.dump(0)


class ActorWarmup(BaseCallback):
    """Keeps a DiLQR actor's learned parameters (the controller's and a cost map's) fixed in the updates made
    within the first ``steps`` env steps: a pre-hook of the actor's optimizer drops their gradients, so the
    optimizer skips them, while the critic (and a log-std) learn. A no-op for other policies."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = int(steps)
        self._hook: Any = None

    def _on_training_start(self) -> None:
        policy = self.model.policy
        controller = getattr(policy, "controller", None)
        if controller is None or self.num_timesteps >= self.steps:
            return
        actor = getattr(policy, "actor", None)
        optimizer = actor.optimizer if actor is not None else policy.optimizer
        cost_map = _cost_map(policy)
        frozen = [*controller.parameters(), *(cost_map.parameters() if cost_map is not None else ())]

        def drop_gradients(*_: Any) -> None:
            for p in frozen:
                p.grad = None

        self._hook = optimizer.register_step_pre_hook(drop_gradients)

    def _on_step(self) -> bool:
        if self._hook is not None and self.num_timesteps > self.steps:  # updates up to ``steps`` stay frozen
            self._hook.remove()
            self._hook = None
        return True

    def _on_training_end(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None


def _cost_map(policy: Any) -> torch.nn.Module | None:
    """The cost map of a DiLQR policy's acting actor, or None (no cost map, or no DiLQR policy)."""
    first_controls = getattr(policy, "first_controls", None)
    return None if first_controls is None else first_controls()[0].cost_map
