"""What an actor-critic run measures while it trains: seeded evaluations of the deterministic policy, normalised
to the random (0) and expert (1) references, with the solver's diagnostics and the learned parameters, written
to TensorBoard (through SB3's logger) and to ``history.csv`` in the run folder.

One row of the history per evaluation (before training, every ``eval_freq`` env steps, at the end):
``timesteps``, ``train_seconds`` (wall time of training so far, evaluations excluded), ``eval/mean_return``,
``eval/std_return``, ``eval/normalized_return``, for a DiLQR actor ``ilqr/converged_fraction``,
``ilqr/iterations`` and ``ilqr/warm_fraction`` (means over the training solves since the previous row) and
``param/<name>`` for every learned scalar (physical parameters, cost weights ``cost_weight_<i>``). The same
names are TensorBoard's scalar tags.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback

from dilqr_rl.agents.evaluation import ObservationNormalized, evaluate_episodes, normalized_return
from dilqr_rl.agents.rl_config import RLConfig
from dilqr_rl.agents.rl_envs import env_factory

HISTORY_FILE = "history.csv"
Row = dict[str, float]


def learned_parameters(policy: Any) -> dict[str, float]:
    """The learned scalars of a DiLQR policy's controller: every scalar parameter of the dynamics (names without
    a ``ScaledControl`` wrapper's ``model.``) and the weights of a learnable cost (``cost_weight_<i>``); ``{}``
    for another policy."""
    controller = getattr(policy, "controller", None)
    if controller is None:
        return {}
    dynamics = getattr(controller.dynamics, "model", controller.dynamics)
    out = {name: p.item() for name, p in dynamics.named_parameters() if p.numel() == 1}
    cost = getattr(controller.cost, "model", controller.cost)
    if "log_w" in dict(cost.named_parameters()):
        out.update({f"cost_weight_{i}": w for i, w in enumerate(cost.w.tolist())})
    return out


def normalized(value: float, references: dict[str, Any]) -> float:
    """``value`` normalised to the references (random 0, expert 1); NaN where the expert's return is not above the
    random policy's (episodes too short for the expert to pay off, e.g. a swing-up cut after a few steps)."""
    random, expert = references["random"], references["expert"]
    return float(normalized_return(value, random, expert)) if expert > random else float("nan")


@contextmanager
def fresh_plan_memory(policy: Any) -> Iterator[None]:
    """Inside the block a DiLQR actor plans with an empty plan memory, as a loaded model does (``dilqr-rl
    evaluate`` then replays the evaluation exactly); the training memory is put back after, without the
    evaluation's observations. A no-op for other policies."""
    first_controls = getattr(policy, "first_controls", None)
    first = first_controls()[0] if first_controls is not None else None
    memory = getattr(first, "memory", None)
    if memory is None:
        yield
        return
    first.forget_plans()
    try:
        yield
    finally:
        first.memory = memory


def evaluation_policy(model: BaseAlgorithm):
    """``model``, or ``model`` acting on the env's own observations when it trains on normalised ones."""
    normalizer = model.get_vec_normalize_env()
    if normalizer is not None and normalizer.norm_obs:
        return ObservationNormalized(model, normalizer)
    return model


def load_history(run_dir: str | Path) -> list[Row]:
    """The rows of a run's ``history.csv`` (floats; empty cells dropped), oldest first."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def write_history(run_dir: Path, rows: list[Row]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(run_dir / HISTORY_FILE, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


class EvalHistory(BaseCallback):
    """Evaluates every ``config.eval_freq`` env steps (and when :meth:`evaluate` is called), logs and keeps the
    rows (see the module docstring); ``report`` receives each new row (e.g. a Ray Tune trial's ``tune.report``).

    An evaluation runs at the start of the first rollout past each multiple of ``eval_freq``, when the policy has
    been updated on every step so far: PPO and A2C evaluate at whole rollouts (``n_steps * n_envs`` steps), SAC
    and TD3 at every ``train_freq`` steps.

    ``rows`` are the run's rows so far (a resumed run's are read back). Evaluation solves are not counted in the
    ``ilqr/`` diagnostics.
    """

    def __init__(self, config: RLConfig, references: dict[str, Any], run_dir: Path, rows: list[Row],
                 report: Callable[[Row], None] | None = None) -> None:
        super().__init__()
        self.config, self.references, self.run_dir = config, references, run_dir
        self.rows = list(rows)
        self.report = report
        self.train_seconds = rows[-1]["train_seconds"] if rows else 0.0
        self.next_at = 0
        self._since: float | None = None

    def _on_training_start(self) -> None:
        freq = self.config.eval_freq
        done = int(self.rows[-1]["timesteps"]) if self.rows else self.num_timesteps  # a resume catches up
        self.next_at = (done // freq + 1) * freq if freq else float("inf")
        self._since = time.perf_counter()

    def _on_rollout_start(self) -> None:
        # At the start of a rollout the policy has learned from every step so far (SB3 updates after a rollout).
        if self.num_timesteps >= self.next_at:
            self.evaluate()
            self.next_at = (self.num_timesteps // self.config.eval_freq + 1) * self.config.eval_freq

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        self._stop_clock()

    def _stop_clock(self) -> None:
        if self._since is not None:
            self.train_seconds += time.perf_counter() - self._since
            self._since = None

    def evaluate(self, model: BaseAlgorithm | None = None) -> Row:
        """Evaluate ``model`` (default: the training one) now, log, append and write the row, report it."""
        model = model or self.model
        training = self._since is not None
        self._stop_clock()
        stats = getattr(model.policy, "solver_stats", None)
        row: Row = {"timesteps": float(model.num_timesteps), "train_seconds": self.train_seconds}
        if stats is not None:
            row.update({f"ilqr/{k}": v for k, v in stats.pop().items()})
        with fresh_plan_memory(model.policy):
            result = evaluate_episodes(evaluation_policy(model), env_factory(self.config),
                                       self.config.eval_episodes, self.config.eval_seed, label="evaluate")
        if stats is not None:
            stats.pop()  # the evaluation's solves
        row["eval/mean_return"], row["eval/std_return"] = result.mean_return, result.std_return
        row["eval/normalized_return"] = normalized(result.mean_return, self.references)
        row.update({f"param/{k}": v for k, v in learned_parameters(model.policy).items()})
        for key, value in row.items():
            if key != "timesteps":
                model.logger.record(key, value)
        model.logger.dump(model.num_timesteps)
        self.rows.append(row)
        write_history(self.run_dir, self.rows)
        if self.report is not None:
            self.report(dict(row))
        if training:
            self._since = time.perf_counter()
        return row


def steps_per_second(rows: list[Row], since: int = 0) -> float:
    """Env steps per second of training between the first row at or after ``since`` steps and the last row."""
    rows = [r for r in rows if r["timesteps"] >= since]
    if len(rows) < 2 or rows[-1]["train_seconds"] <= rows[0]["train_seconds"]:
        return float("nan")
    return (rows[-1]["timesteps"] - rows[0]["timesteps"]) / (rows[-1]["train_seconds"] - rows[0]["train_seconds"])
