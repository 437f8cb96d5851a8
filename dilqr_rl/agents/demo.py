"""The README's main job: imitation on the pendulum, DiLQR.dx from a wrong model vs the papers' LSTM.

:func:`run_demo` collects expert plans (iLQR with the true model), trains a DiLQR learner whose dynamics
start from a wrong model (mode ``dx``, cost known) and the LSTM baseline on the same data, evaluates both
(imitation test loss, model loss, one-step dynamics error, return in ``dilqr_rl/Pendulum-v0`` as
receding-horizon policies, next to the demonstrator's), writes TensorBoard logs, checkpoints and a GIF
of the learned controller, and returns the rows of the comparison table.

The demonstrator's row is measured like the others: its controller is the one that produced the plans
(:meth:`PlanDataset.expert_controller`: true model, the dataset's horizon, ``max_iter`` and ``tol``), and
its test imitation loss is computed on the test split. Its model loss and dynamics error are 0 by
definition (it plans with the true model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import torch

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
from dilqr_rl.agents.evaluation import MPCPolicy, evaluate_policy
from dilqr_rl.agents.logging import make_run_dir, make_writer, seed_everything
from dilqr_rl.agents.video import record_video
from dilqr_rl.models import get_system
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
    eval_episodes: int = 3
    """Environment episodes per policy (the same seeded starts for all)."""
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


def _train(spec: SequencePolicySpec, config: BCConfig, data, run_dir: Path, name: str,
           dtype: torch.dtype = torch.float64):
    policy = build_sequence_policy(spec, dtype)
    writer = make_writer(run_dir / name, {**spec.__dict__, **config.__dict__})
    try:
        result = SequenceBCTrainer(policy, spec, config, writer=writer).fit(*data)
    finally:
        writer.close()
    return policy, result


def _returns(planners: dict[str, torch.nn.Module], config: DemoConfig, gif_path: Path) -> tuple[dict, Path]:
    """Mean env return of each planner as a receding-horizon policy, and a GIF of ``planners["dilqr"]``."""
    env = gym.make(ENV_ID, observation="trig", render_mode="rgb_array")
    try:
        state_map = PendulumAngleMap()
        returns = {name: evaluate_policy(MPCPolicy(planner, state_map), env, config.eval_episodes,
                                         seed=config.seed, max_steps=config.eval_max_steps).mean_return
                   for name, planner in planners.items()}
        gif, _ = record_video(MPCPolicy(planners["dilqr"], state_map), env, gif_path, seed=config.seed,
                              max_steps=config.eval_max_steps)
    finally:
        env.close()
    return returns, gif


def run_demo(config: DemoConfig = DemoConfig()) -> DemoReport:
    """Run the whole demo; see the module docstring. Outputs go to a new run directory."""
    system = get_system("pendulum-upright")
    run_dir = make_run_dir(config.output_dir, "pendulum-upright", "demo", config.seed)
    seed_everything(config.seed)
    ds = load_or_collect_plans("pendulum-upright", None, config.n_train, config.n_val, config.n_test, config.seed,
                               progress=config.progress)
    data = tuple((s.x_init, s.u) for s in (ds.split("train"), ds.split("val"), ds.split("test")))
    common = {"batch_size": config.batch_size, "seed": config.seed, "progress": config.progress}
    dx_spec = SequencePolicySpec(kind="dilqr", mode="dx", grad_method=config.grad_method,
                                 perturbation=config.perturbation, init_seed=config.seed, horizon=ds.horizon)
    dx_config = BCConfig(epochs=config.dilqr_epochs, optimizer=config.dilqr_optimizer, lr=config.dilqr_lr,
                         lr_schedule="cosine", relative_lr=True,
                         checkpoint_dir=str(run_dir / "dilqr_dx" / "checkpoints"),
                         **common)
    lstm_spec = SequencePolicySpec(kind="lstm", init_seed=config.seed, horizon=ds.horizon)
    lstm_config = BCConfig(epochs=config.lstm_epochs, optimizer="adam", lr=config.lstm_lr,
                           checkpoint_dir=str(run_dir / "lstm" / "checkpoints"), **common)
    dilqr, dx_result = _train(dx_spec, dx_config, data, run_dir, "dilqr_dx")
    lstm, lstm_result = _train(lstm_spec, lstm_config, data, run_dir, "lstm", torch.float32)

    test = ds.split("test")
    rows_x, rows_u = test.x.reshape(-1, test.x.shape[-1]), test.u.reshape(-1, test.u.shape[-1])
    expert = ds.expert_controller()
    with torch.no_grad():
        expert_test_loss = float(imitation_loss(expert, test.x_init, test.u)[0].mean()) if len(test) else None
    returns, gif = _returns({"expert": expert, "dilqr": dilqr, "lstm": lstm}, config, run_dir / "dilqr_dx.gif")

    rows = [
        DemoRow("expert (true model)", test_loss=_nan_if_none(expert_test_loss), model_loss=0.0,
                dynamics_error=0.0, mean_return=returns["expert"]),
        DemoRow(f"DiLQR.dx ({config.grad_method})", test_loss=_nan_if_none(dx_result.test_loss),
                model_loss=model_loss(dx_spec, dilqr),
                dynamics_error=dynamics_error(dx_spec, dilqr, rows_x, rows_u),
                mean_return=returns["dilqr"], train_seconds=dx_result.wall_time),
        DemoRow("LSTM (NN baseline)", test_loss=_nan_if_none(lstm_result.test_loss), mean_return=returns["lstm"],
                train_seconds=lstm_result.wall_time),
    ]
    learned = {k: float(v.detach()) for k, v in dilqr.dynamics.named_parameters() if k in system.learnable}
    return DemoReport(rows, run_dir, gif, learned, {k: system.true_params[k] for k in system.learnable})


def format_table(report: DemoReport) -> str:
    """The comparison table and the learned physics, as printed by ``dilqr-rl demo``."""
    head = (f"{'policy':<26}{'test imitation loss':>20}{'model loss':>12}{'dyn. error':>12}"
            f"{'env return':>12}{'train s':>9}")
    lines = [head, "-" * len(head)]
    for r in report.rows:
        lines.append(f"{r.name:<26}{_fmt(r.test_loss):>20}{_fmt(r.model_loss):>12}{_fmt(r.dynamics_error):>12}"
                     f"{r.mean_return:>12.1f}{_fmt(r.train_seconds, '.0f'):>9}")
    dx, nn_row = report.rows[1], report.rows[2]
    if dx.test_loss > 0:
        lines.append(f"LSTM / DiLQR.dx test loss: {nn_row.test_loss / dx.test_loss:.1e}x")
    params = ", ".join(f"{k} {report.true_params[k]:g} -> {v:.4f}" for k, v in report.learned_params.items())
    lines.append(f"learned parameters (true -> learned): {params}")
    lines.append("(length is known: the pendulum identifies only 3g/(2l) and 3/(m l^2); 'dyn. error' is the "
                 "relative one-step error of the learned dynamics on the test states)")
    lines.append("(the expert re-plans with the solver settings of the dataset; its test loss is measured, its "
                 "model loss and dyn. error are 0 by definition: it plans with the true model)")
    return "\n".join(lines)


def _nan_if_none(value: float | None) -> float:
    return float("nan") if value is None else value


def _fmt(value: float, spec: str = ".2e") -> str:
    return "-" if value != value else format(value, spec)
