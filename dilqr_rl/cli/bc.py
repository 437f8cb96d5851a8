"""``dilqr-rl bc``: behaviour cloning on expert plans: DiLQR (dx, cost, cost_dx) or the LSTM/MLP baselines."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dilqr_rl.cli._commands import installed_command
from dilqr_rl.cli._errors import CLIError, check_threads, flag, speak_flags, writable_folder
from dilqr_rl.models.systems import SystemName

CONFIG_FILE = "config.json"
"""The run's options, in its folder: what --resume continues with."""
DEFAULT_EPOCHS = 100
RESUME_MAY_CHANGE = ("epochs", "threads", "progress")
"""Options a resumed run may change; the others are the run's own (--epochs: to train longer)."""


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
    epochs: int | None = None
    """Training epochs (None: 100; with --resume, the run's own). A resumed run may get a larger value to train
    longer, unless it anneals its lr over its epochs (--lr-schedule cosine)."""
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
    """A run folder of an earlier 'dilqr-rl bc' to continue from its checkpoints/last.pt, with that run's options
    (its config.json: options you set must match them, except --epochs, --threads and --progress)."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        check_threads(self.threads)
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"--lr must be > 0, or None for the papers' default; got {self.lr}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"--epochs must be >= 1 (or None: {DEFAULT_EPOCHS}, or a resumed run's own); got "
                             f"{self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1; got {self.batch_size}")


def run(args: Args) -> int:
    import json
    from dataclasses import asdict

    import torch
    from stable_baselines3.common.utils import set_random_seed

    from dilqr_rl.agents.bc import BCConfig, BCInterrupted, check_splits
    from dilqr_rl.agents.bc_sequence import SequenceBCTrainer, SequencePolicySpec, build_sequence_policy
    from dilqr_rl.agents.logging import make_run_dir, make_writer
    from dilqr_rl.cli._data import plans

    if args.resume is not None:
        args = resumed_args(args)
    else:
        writable_folder(args.output_dir, "--output-dir")
        args = dataclasses.replace(args, epochs=args.epochs or DEFAULT_EPOCHS)
    torch.set_num_threads(args.threads)
    set_random_seed(args.seed)
    dilqr = args.policy == "dilqr"
    ds = plans(args.system, args.data, args.n_train, args.n_val, args.n_test, args.seed, args.progress)
    data = [(split.x_init, split.u) for split in map(ds.split, ("train", "val", "test"))]
    try:
        check_splits(*data)
        spec = SequencePolicySpec(kind=args.policy, system=args.system, mode=args.mode, grad_method=args.grad_method,
                                  perturbation=args.perturbation, init_seed=args.seed, learnable=args.learnable,
                                  horizon=ds.horizon)
    except ValueError as error:  # empty splits, unknown --learnable names
        raise CLIError(speak_flags(str(error), Args)) from None
    config = BCConfig(epochs=args.epochs, batch_size=args.batch_size,
                      optimizer=args.optimizer or ("rmsprop" if dilqr else "adam"),
                      lr=args.lr or (1e-2 if dilqr else 1e-4), lr_schedule=args.lr_schedule,
                      relative_lr=args.relative_lr, seed=args.seed, progress=args.progress,
                      progress_label=f"bc {args.policy}" + (f".{args.mode}" if dilqr else ""))
    policy = build_sequence_policy(spec, torch.float64 if dilqr else torch.float32)
    if not any(p.requires_grad for p in policy.parameters()):
        raise CLIError(f"--mode {args.mode} learns the dynamics' --learnable parameters, and --learnable names none: "
                       "nothing to train; name some, or drop --learnable for the system's")
    run_dir = args.resume or make_run_dir(args.output_dir, args.system, f"{args.exp_name}-{args.policy}", args.seed)
    if args.resume is None:
        save_args(args, run_dir / CONFIG_FILE)
    config = BCConfig(**{**asdict(config), "checkpoint_dir": str(run_dir / "checkpoints")})
    writer = make_writer(run_dir, {**asdict(spec), **asdict(config), "data": str(args.data or "collected")})
    try:
        result = SequenceBCTrainer(policy, spec, config, writer=writer).fit(*data, resume=args.resume is not None)
    except BCInterrupted as stop:
        print(f"\ninterrupted after {stop.epochs} of {config.epochs} epochs; saved {stop.checkpoint}")
        print(f"run folder: {run_dir}")
        print(f"resume with: {installed_command('dilqr-rl')} bc --resume {run_dir}")
        return 130
    finally:
        writer.close()
    metrics = {k: v for k, v in result.final_metrics.items() if k != "eval/test_loss"}  # test_loss is below
    summary = {"run_dir": str(run_dir), "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
               "test_loss": result.test_loss, **metrics}
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    for key, value in summary.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    return 0


def resumed_args(args: Args) -> Args:
    """The run's stored options, with what a resumed run may change; options that contradict them are errors."""
    from dilqr_rl.agents.bc import load_checkpoint

    last, stored_file = args.resume / "checkpoints" / "last.pt", args.resume / CONFIG_FILE
    if not last.is_file() or not stored_file.is_file():
        missing = "checkpoints/last.pt" if not last.is_file() else CONFIG_FILE
        raise CLIError(f"--resume {args.resume}: no {missing} there; pass the run folder an earlier 'dilqr-rl bc' "
                       "printed (runs stopped before their first checkpoint, and runs of versions that wrote no "
                       f"{CONFIG_FILE}, cannot be resumed: start a new run)")
    stored = load_args(stored_file)
    given = args if args.data is None else dataclasses.replace(args, data=args.data.resolve())
    defaults = Args()
    conflicts = [f"{flag(f.name)} {_show(getattr(given, f.name))} (the run has {_show(getattr(stored, f.name))})"
                 for f in dataclasses.fields(Args)
                 if f.name not in (*RESUME_MAY_CHANGE, "resume", "output_dir")
                 and getattr(args, f.name) != getattr(defaults, f.name)
                 and getattr(given, f.name) != getattr(stored, f.name)]
    if conflicts:
        raise CLIError(f"--resume continues a run with its own settings, but {', '.join(conflicts)}: drop these "
                       "options, or start a new run")
    epochs = stored.epochs if args.epochs is None else args.epochs
    if epochs != stored.epochs and stored.lr_schedule == "cosine":
        raise CLIError(f"--epochs {epochs}: the run anneals its lr over its --epochs {stored.epochs} (--lr-schedule "
                       "cosine), which it keeps when resumed; drop --epochs, or start a new run to train longer")
    done = load_checkpoint(last)["epoch"]
    if epochs < done or (epochs == done and (args.resume / "result.json").is_file()):
        more = ("start a new run to train longer" if stored.lr_schedule == "cosine"
                else f"pass --epochs above {done} to train on")
        raise CLIError(f"--resume {args.resume}: the run already has {done} epochs (--epochs {epochs}); {more}")
    return dataclasses.replace(stored, epochs=epochs, threads=args.threads, progress=args.progress,
                               resume=args.resume)


def save_args(args: Args, path: Path) -> None:
    """Write the options of a new run (``--data`` as an absolute path, so that it resumes from any folder)."""
    import json

    stored = {f.name: getattr(args, f.name) for f in dataclasses.fields(Args) if f.name != "resume"}
    stored["data"] = None if args.data is None else str(args.data.resolve())
    path.write_text(json.dumps(stored, indent=2))


def load_args(path: Path) -> Args:
    """The options a run was started with (its ``config.json``)."""
    import json

    stored = json.loads(path.read_text())
    known = {f.name for f in dataclasses.fields(Args)} - {"resume"}
    values = {k: v for k, v in stored.items() if k in known}
    if values.get("data") is not None:
        values["data"] = Path(values["data"])
    if values.get("learnable") is not None:
        values["learnable"] = tuple(values["learnable"])
    return Args(**values)


def _show(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
