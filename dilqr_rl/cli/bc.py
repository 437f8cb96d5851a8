"""``dilqr-rl bc``: behaviour cloning on expert plans: DiLQR (dx, cost, cost_dx) or the LSTM/MLP baselines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dilqr_rl.cli._errors import CLIError, check_threads, speak_flags, writable_folder
from dilqr_rl.models.systems import SystemName

RESUME_SPEC = {"kind": "--policy", "system": "--system", "mode": "--mode", "grad_method": "--grad-method",
               "perturbation": "--perturbation", "learnable": "--learnable", "horizon": "the data's horizon"}
"""What a resumed run must share with the run it continues (spec field -> the option that sets it)."""


@dataclass(frozen=True)
class Args:
    """Sequence behaviour cloning on expert plans (x_init -> u_{1:T}), the papers' imitation setting.

    The demo's DiLQR.dx settings: --optimizer adam --lr 3e-2 --lr-schedule cosine --relative-lr --epochs 150."""

    system: SystemName = "pendulum-upright"
    """The control problem (pendulum, cartpole: the papers' settings)."""
    policy: Literal["dilqr", "lstm", "mlp"] = "dilqr"
    """The learner."""
    mode: Literal["dx", "cost", "cost_dx"] = "dx"
    """What DiLQR learns: the dynamics, the cost, or both."""
    grad_method: Literal["implicit", "diffmpc", "unroll"] = "implicit"
    """DiLQR's gradient."""
    data: Path | None = None
    """A plans file (dilqr-rl collect --kind plans); None: collect n_train/n_val/n_test plans."""
    n_train: int = 50
    """Training trajectories when collecting."""
    n_val: int = 20
    """Validation trajectories when collecting."""
    n_test: int = 50
    """Test trajectories when collecting."""
    epochs: int = 100
    """Training epochs."""
    batch_size: int = 25
    """Trajectories per step."""
    optimizer: Literal["rmsprop", "adam"] | None = None
    """None: the papers' (RMSprop for DiLQR, Adam for the NN)."""
    lr: float | None = None
    """Learning rate; None: the papers' (1e-2 DiLQR, 1e-4 NN)."""
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """Learning-rate schedule (cosine: anneal to 1e-3 of lr)."""
    relative_lr: bool = False
    """Scale each parameter's lr by its initial magnitude, so that a mass of 1 and a gravity of 10 move at the same
    relative rate (the demo's setting)."""
    perturbation: float = 0.3
    """Relative error of the wrong initial model."""
    learnable: tuple[str, ...] | None = None
    """Dynamics parameters to learn (None: the system's; pendulum-upright: mass gravity)."""
    seed: int = 0
    """Random seed (data, initial model, batches)."""
    threads: int = 1
    """torch CPU threads (small problems run fastest on 1)."""
    output_dir: str = "runs"
    """Root of the run folders."""
    exp_name: str = "bc"
    """Experiment name in the run folder's name."""
    resume: Path | None = None
    """A run folder of an earlier 'dilqr-rl bc' to continue from its checkpoints/last.pt (same options)."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        check_threads(self.threads)
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"--lr must be > 0, or None for the papers' default; got {self.lr}")


def run(args: Args) -> int:
    import json
    from dataclasses import asdict

    import torch
    from stable_baselines3.common.utils import set_random_seed

    from dilqr_rl.agents.bc import BCConfig, check_splits
    from dilqr_rl.agents.bc_sequence import SequenceBCTrainer, SequencePolicySpec, build_sequence_policy
    from dilqr_rl.agents.logging import make_run_dir, make_writer
    from dilqr_rl.cli._data import plans

    torch.set_num_threads(args.threads)
    set_random_seed(args.seed)
    dilqr = args.policy == "dilqr"
    if args.resume is None:
        writable_folder(args.output_dir, "--output-dir")
    elif not (args.resume / "checkpoints" / "last.pt").is_file():
        raise CLIError(f"--resume {args.resume}: no checkpoints/last.pt there; pass the run folder of an earlier "
                       "'dilqr-rl bc'")
    ds = plans(args.system, args.data, args.n_train, args.n_val, args.n_test, args.seed, args.progress)
    data = [(split.x_init, split.u) for split in map(ds.split, ("train", "val", "test"))]
    try:
        check_splits(*data)
        spec = SequencePolicySpec(kind=args.policy, system=args.system, mode=args.mode, grad_method=args.grad_method,
                                  perturbation=args.perturbation, init_seed=args.seed, learnable=args.learnable,
                                  horizon=ds.horizon)
    except ValueError as error:  # empty splits, unknown --learnable names
        raise CLIError(speak_flags(str(error), Args).replace("learnable [", "--learnable [")) from None
    if args.resume is not None:
        check_resumable(args.resume, asdict(spec))
    config = BCConfig(epochs=args.epochs, batch_size=args.batch_size,
                      optimizer=args.optimizer or ("rmsprop" if dilqr else "adam"),
                      lr=args.lr or (1e-2 if dilqr else 1e-4), lr_schedule=args.lr_schedule,
                      relative_lr=args.relative_lr, seed=args.seed, progress=args.progress,
                      progress_label=f"bc {args.policy}" + (f".{args.mode}" if dilqr else ""))
    policy = build_sequence_policy(spec, torch.float64 if dilqr else torch.float32)
    run_dir = args.resume or make_run_dir(args.output_dir, args.system, f"{args.exp_name}-{args.policy}", args.seed)
    config = BCConfig(**{**asdict(config), "checkpoint_dir": str(run_dir / "checkpoints")})
    writer = make_writer(run_dir, {**asdict(spec), **asdict(config), "data": str(args.data or "collected")})
    try:
        result = SequenceBCTrainer(policy, spec, config, writer=writer).fit(*data, resume=args.resume is not None)
    finally:
        writer.close()
    metrics = {k: v for k, v in result.final_metrics.items() if k != "eval/test_loss"}  # test_loss is below
    summary = {"run_dir": str(run_dir), "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
               "test_loss": result.test_loss, **metrics}
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    for key, value in summary.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    return 0


def check_resumable(run_dir: Path, spec: dict) -> None:
    """Refuse to resume a run whose learner differs from what the options describe."""
    from dilqr_rl.agents.bc import load_checkpoint

    stored = load_checkpoint(run_dir / "checkpoints" / "last.pt")["spec"]
    differ = [f"{RESUME_SPEC[k]} {_show(spec[k])} (the run has {_show(stored.get(k))})"
              for k in RESUME_SPEC if _show(spec.get(k)) != _show(stored.get(k))]
    if differ:
        raise CLIError(f"--resume {run_dir} continues a run with another learner: {'; '.join(differ)}. Pass the "
                       "options of the original run, or start a new run without --resume")


def _show(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
