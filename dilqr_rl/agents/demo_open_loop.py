"""The README's main job: imitation on the pendulum, DiLQR.dx from a wrong model vs the papers' LSTM.

:func:`run_demo` collects expert plans (iLQR with the true model), trains a DiLQR learner whose dynamics
start from a wrong model (mode ``dx``, cost known) and the LSTM baseline on the same data, evaluates both
(imitation test loss, model loss, one-step dynamics error, return in ``dilqr_rl/Pendulum-v0`` as
receding-horizon policies, next to the demonstrator's), writes TensorBoard logs, checkpoints and a GIF
of the learned controller, and returns the rows of the comparison table.

The demonstrator's row is measured like the others: its controller is the one that produced the plans
(:meth:`PlanDataset.expert_controller`: true model, the system's goal cost, the dataset's horizon,
``max_iter`` and ``tol``), and its test imitation loss is computed on the test split. Its model loss and
dynamics error are 0 by definition (it plans with the true model). It is the reference for the learners:
same cost, same horizon, only the model differs. The table also has the return of the iLQR expert that
``dilqr-rl evaluate`` runs (:func:`~dilqr_rl.policies.expert_for`: a longer horizon and a cost shaped on
the env's reward, with several cold starts), on the same seeded episodes.

The table is printed and saved in the run folder as ``results.md`` and ``results.csv``; each learner's
TensorBoard run gets its ``eval/mean_return``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import torch
from stable_baselines3.common.utils import set_random_seed

import dilqr_rl.envs  # noqa: F401  (registers the environments)
from dilqr_rl.agents.bc import BCConfig
from dilqr_rl.agents.bc_sequence import (
    SequenceBCTrainer,
    SequencePolicySpec,
    build_sequence_policy,
    dynamics_error,
    imitation_loss,
    load_or_collect_plans,
    model_loss,
)
from dilqr_rl.agents.evaluation import MPCPolicy, evaluate_episodes
from dilqr_rl.agents.logging import make_run_dir, make_writer
from dilqr_rl.agents.video import record_video
from dilqr_rl.models import get_system
from dilqr_rl.policies.expert_envs import expert_for
from dilqr_rl.policies.state_maps import PendulumAngleMap

ENV_ID = "dilqr_rl/Pendulum-v0"


@dataclass(frozen=True)
class DemoConfig:
    """Sizes and optimiser settings of the demo (defaults: ~2 minutes on 2 CPU cores)."""

    n_train: int = 50
    """Expert trajectories to train on (the papers' "train=50")."""
    n_val: int = 20
    """Validation trajectories (best-validation selection)."""
    n_test: int = 50
    """Test trajectories (the reported imitation loss)."""
    seed: int = 0
    """Seeds the data, the wrong initial model, the LSTM's weights, batches and evaluation episodes."""
    dilqr_epochs: int = 150
    """Epochs of DiLQR.dx."""
    dilqr_optimizer: str = "adam"
    """DiLQR.dx optimiser: ``adam`` (fast, the demo's default) or ``rmsprop`` (the papers')."""
    dilqr_lr: float = 3e-2
    """DiLQR.dx learning rate (cosine-annealed to 1e-3 of it)."""
    lstm_epochs: int = 600
    """Epochs of the LSTM baseline (Adam)."""
    lstm_lr: float = 1e-3
    """LSTM learning rate (the papers use 1e-4; 1e-3 gets further in the demo's budget)."""
    batch_size: int = 25
    """Trajectories per gradient step."""
    perturbation: float = 0.3
    """Relative distance of the wrong initial physics from the truth (each parameter 15-30% off)."""
    grad_method: str = "implicit"
    """Gradient of the DiLQR layer: ``implicit``, ``diffmpc`` or ``unroll``."""
    eval_episodes: int = 20
    """Environment episodes per policy (the same seeded starts for all, run in lockstep)."""
    eval_max_steps: int | None = None
    """Cut evaluation episodes and the GIF after this many steps (``None``: the env's 200)."""
    output_dir: str = "runs"
    """Root of the run directory."""
    progress: bool = True
    """Show progress bars."""


@dataclass
class DemoRow:
    """One line of the comparison table (``nan`` where a number does not apply)."""

    name: str
    test_loss: float = float("nan")
    model_loss: float = float("nan")
    dynamics_error: float = float("nan")
    mean_return: float = float("nan")
    train_seconds: float = float("nan")


@dataclass
class DemoReport:
    rows: list[DemoRow]
    run_dir: Path
    gif: Path
    learned_params: dict[str, float] = field(default_factory=dict)
    true_params: dict[str, float] = field(default_factory=dict)
    eval_episodes: int = 0


def _train(spec: SequencePolicySpec, config: BCConfig, data, writer):
    policy = build_sequence_policy(spec, torch.float64)  # float64 for the LSTM too: reproducible across CPUs
    return policy, SequenceBCTrainer(policy, spec, config, writer=writer).fit(*data)


LABELS = {"expert": "iLQR expert", "demonstrator": "demonstrator", "dilqr_dx": "DiLQR.dx", "lstm": "LSTM"}
"""Progress-bar labels of the policies."""


def _returns(policies: dict[str, object], config: DemoConfig) -> dict[str, float]:
    """Mean env return of each policy over the same seeded episodes (run in lockstep)."""
    return {name: evaluate_episodes(policy, lambda: gym.make(ENV_ID, observation="trig"), config.eval_episodes,
                                    seed=config.seed, max_steps=config.eval_max_steps, progress=config.progress,
                                    label=f"return: {LABELS[name]}").mean_return
            for name, policy in policies.items()}


def _gif(planner: torch.nn.Module, config: DemoConfig, path: Path) -> Path:
    env = gym.make(ENV_ID, observation="trig", render_mode="rgb_array")
    try:
        gif, _ = record_video(MPCPolicy(planner, PendulumAngleMap()), env, path, seed=config.seed,
                              max_steps=config.eval_max_steps, progress=config.progress)
    finally:
        env.close()
    return gif


def _learners(config: DemoConfig, horizon: int, run_dir: Path) -> dict[str, tuple[SequencePolicySpec, BCConfig]]:
    """The two learners' specs and optimiser settings: DiLQR.dx from a wrong model, and the LSTM."""
    common = {"batch_size": config.batch_size, "seed": config.seed, "progress": config.progress}
    dx_spec = SequencePolicySpec(kind="dilqr", mode="dx", grad_method=config.grad_method,
                                 perturbation=config.perturbation, init_seed=config.seed, horizon=horizon)
    dx_config = BCConfig(epochs=config.dilqr_epochs, optimizer=config.dilqr_optimizer, lr=config.dilqr_lr,
                         lr_schedule="cosine", relative_lr=True, progress_label="train DiLQR.dx",
                         checkpoint_dir=str(run_dir / "dilqr_dx" / "checkpoints"), **common)
    lstm_spec = SequencePolicySpec(kind="lstm", init_seed=config.seed, horizon=horizon)
    lstm_config = BCConfig(epochs=config.lstm_epochs, optimizer="adam", lr=config.lstm_lr, progress_label="train LSTM",
                           checkpoint_dir=str(run_dir / "lstm" / "checkpoints"), **common)
    return {"dilqr_dx": (dx_spec, dx_config), "lstm": (lstm_spec, lstm_config)}


def run_demo(config: DemoConfig = DemoConfig()) -> DemoReport:
    """Run the whole demo; see the module docstring. Outputs go to a new run directory."""
    run_dir = make_run_dir(config.output_dir, "pendulum-upright", "demo", config.seed)
    set_random_seed(config.seed)
    ds = load_or_collect_plans("pendulum-upright", None, config.n_train, config.n_val, config.n_test, config.seed,
                               progress=config.progress)
    data = tuple((s.x_init, s.u) for s in (ds.split("train"), ds.split("val"), ds.split("test")))
    learners = _learners(config, ds.horizon, run_dir)
    writers = {name: make_writer(run_dir / name, {**spec.__dict__, **cfg.__dict__})
               for name, (spec, cfg) in learners.items()}
    try:
        trained = {name: _train(spec, cfg, data, writers[name]) for name, (spec, cfg) in learners.items()}
        with gym.make(ENV_ID, observation="trig") as env:
            expert = expert_for(env)
        angle = PendulumAngleMap()
        returns = _returns({"expert": expert, "demonstrator": MPCPolicy(ds.expert_controller(), angle),
                            **{name: MPCPolicy(policy, angle) for name, (policy, _) in trained.items()}}, config)
        for name, (_, cfg) in learners.items():
            writers[name].add_scalar("eval/mean_return", returns[name], cfg.epochs)
    finally:
        for writer in writers.values():
            writer.close()
    gif = _gif(trained["dilqr_dx"][0], config, run_dir / "dilqr_dx.gif")
    report = _report(config, ds, learners["dilqr_dx"][0], trained, returns, run_dir, gif)
    save_results(report)
    return report


def _report(config: DemoConfig, ds, dx_spec: SequencePolicySpec, trained: dict, returns: dict[str, float],
            run_dir: Path, gif: Path) -> DemoReport:
    """The table's rows (the demonstrator's test loss measured on the test split) and the learned physics."""
    system = get_system("pendulum-upright")
    test = ds.split("test")
    (dilqr, dx_result), (_, lstm_result) = trained["dilqr_dx"], trained["lstm"]
    with torch.no_grad():
        demo_loss = float(imitation_loss(ds.expert_controller(), test.x_init, test.u)[0].mean()) if len(test) else None
    rows_x, rows_u = test.x.reshape(-1, test.x.shape[-1]), test.u.reshape(-1, test.u.shape[-1])
    rows = [
        DemoRow("iLQR expert (evaluate)", mean_return=returns["expert"]),
        DemoRow("demonstrator (true model)", test_loss=_nan_if_none(demo_loss), model_loss=0.0,
                dynamics_error=0.0, mean_return=returns["demonstrator"]),
        DemoRow(f"DiLQR.dx ({config.grad_method})", test_loss=_nan_if_none(dx_result.test_loss),
                model_loss=model_loss(dx_spec, dilqr), dynamics_error=dynamics_error(dx_spec, dilqr, rows_x, rows_u),
                mean_return=returns["dilqr_dx"], train_seconds=dx_result.wall_time),
        DemoRow("LSTM (NN baseline)", test_loss=_nan_if_none(lstm_result.test_loss), mean_return=returns["lstm"],
                train_seconds=lstm_result.wall_time),
    ]
    learned = {k: float(v.detach()) for k, v in dilqr.dynamics.named_parameters() if k in system.learnable}
    return DemoReport(rows, run_dir, gif, learned, {k: system.true_params[k] for k in system.learnable},
                      config.eval_episodes)


def save_results(report: DemoReport) -> tuple[Path, Path]:
    """Write the table to ``results.md`` (as printed) and ``results.csv`` (full precision) in the run folder."""
    md, table = report.run_dir / "results.md", report.run_dir / "results.csv"
    md.write_text("```\n" + format_table(report) + "\n```\n")
    with open(table, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["policy", "test_imitation_loss", "model_loss", "dynamics_error", "env_return",
                         "train_seconds"])
        for r in report.rows:
            writer.writerow([r.name, r.test_loss, r.model_loss, r.dynamics_error, r.mean_return, r.train_seconds])
    return md, table


def format_table(report: DemoReport) -> str:
    """The comparison table and the learned physics, as printed by ``dilqr-rl demo``."""
    head = (f"{'policy':<26}{'test imitation loss':>20}{'model loss':>12}{'dyn. error':>12}"
            f"{'env return':>12}{'train s':>9}")
    lines = [head, "-" * len(head)]
    for r in report.rows:
        lines.append(f"{r.name:<26}{_fmt(r.test_loss):>20}{_fmt(r.model_loss):>12}{_fmt(r.dynamics_error):>12}"
                     f"{r.mean_return:>12.1f}{_fmt(r.train_seconds, '.0f'):>9}")
    dx, nn_row = report.rows[2], report.rows[3]
    if dx.test_loss > 0:
        lines.append(f"LSTM / DiLQR.dx test loss: {nn_row.test_loss / dx.test_loss:.1e}x")
    params = ", ".join(f"{k} {report.true_params[k]:g} -> {v:.4f}" for k, v in report.learned_params.items())
    lines.append(f"learned parameters (true -> learned): {params}")
    lines.append("(length is known: the pendulum identifies only 3g/(2l) and 3/(m l^2); 'dyn. error' is the "
                 "relative one-step error of the learned dynamics on the test states)")
    lines.append("(the demonstrator is the controller that made the plans, the learners' reference: same goal "
                 "cost and horizon, true model; its model loss and dyn. error are 0 by definition)")
    lines.append("(the iLQR expert is the one 'dilqr-rl evaluate' runs: longer horizon, cost shaped on the env's "
                 "reward, cold starts)")
    lines.append(f"(env return: mean over {report.eval_episodes} episodes of {ENV_ID}, episode i seeded "
                 "seed + i, each policy run as a receding-horizon controller)")
    return "\n".join(lines)


def _nan_if_none(value: float | None) -> float:
    return float("nan") if value is None else value


def _fmt(value: float, spec: str = ".2e") -> str:
    return "-" if value != value else format(value, spec)
