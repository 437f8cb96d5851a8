"""``dilqr-rl bc``: behaviour cloning on expert action sequences (DiLQR dx/cost/cost_dx, LSTM, MLP)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch

from dilqr_rl.agents.bc import BCConfig, check_splits
from dilqr_rl.agents.bc_sequence import (
    SequenceBCTrainer,
    SequencePolicySpec,
    build_sequence_policy,
    load_or_collect_plans,
)
from dilqr_rl.agents.logging import make_run_dir, make_writer, seed_everything
from dilqr_rl.cli.args import arg_help
from dilqr_rl.models import SystemName

HELP = "Behaviour cloning on expert plans: DiLQR (dx, cost, cost_dx) or the LSTM/MLP baselines"


@dataclass
class Args:
    system: SystemName = field(default="pendulum-upright", metadata=arg_help(
        "control problem (pendulum, cartpole: the papers' settings; see dilqr_rl.models.systems)"))
    policy: Literal["dilqr", "lstm", "mlp"] = field(default="dilqr", metadata=arg_help("learner"))
    mode: Literal["dx", "cost", "cost_dx"] = field(default="dx", metadata=arg_help("what DiLQR learns"))
    grad_method: Literal["implicit", "diffmpc", "unroll"] = field(default="implicit",
                                                                  metadata=arg_help("DiLQR gradient"))
    data: str = field(default="", metadata=arg_help("a saved PlanDataset; empty: collect one"))
    n_train: int = field(default=50, metadata=arg_help("training trajectories when collecting"))
    n_val: int = field(default=20, metadata=arg_help("validation trajectories when collecting"))
    n_test: int = field(default=50, metadata=arg_help("test trajectories when collecting"))
    epochs: int = field(default=100, metadata=arg_help("training epochs"))
    batch_size: int = field(default=25, metadata=arg_help("trajectories per step"))
    optimizer: Literal["auto", "rmsprop", "adam"] = field(
        default="auto", metadata=arg_help("auto: the papers' (RMSprop for DiLQR, Adam for the NN)"))
    lr: float = field(default=0.0, metadata=arg_help("learning rate; 0: the papers' (1e-2 DiLQR, 1e-4 NN)"))
    lr_schedule: Literal["constant", "cosine"] = field(default="constant", metadata=arg_help("lr schedule"))
    perturbation: float = field(default=0.3, metadata=arg_help("relative error of the wrong initial model"))
    learnable: tuple[str, ...] = field(
        default=(), metadata=arg_help("dynamics parameters to learn (default: the system's; pendulum-upright: "
                                      "mass gravity)")
    )
    seed: int = field(default=0, metadata=arg_help("random seed (data, initial model, batches)"))
    threads: int = field(default=1, metadata=arg_help("torch CPU threads (small problems run best on 1)"))
    output_dir: str = field(default="runs", metadata=arg_help("root of the run directories"))
    exp_name: str = field(default="bc", metadata=arg_help("experiment name in the run directory"))
    resume: str = field(default="", metadata=arg_help("a run directory to continue from its last.pt"))
    progress: bool = field(default=True, metadata=arg_help("show progress bars"))


def run(args: Args) -> int:
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    dilqr = args.policy == "dilqr"
    optimizer = args.optimizer if args.optimizer != "auto" else ("rmsprop" if dilqr else "adam")
    lr = args.lr or (1e-2 if dilqr else 1e-4)
    if args.resume and not (Path(args.resume) / "checkpoints" / "last.pt").is_file():
        print(f"error: --resume {args.resume}: no checkpoints/last.pt there; pass the run directory of an "
              "earlier 'dilqr-rl bc'", file=sys.stderr)
        return 2
    ds = load_or_collect_plans(args.system, args.data, args.n_train, args.n_val, args.n_test, args.seed,
                               progress=args.progress)
    data = [(split.x_init, split.u) for split in map(ds.split, ("train", "val", "test"))]
    check_splits(*data)
    spec = SequencePolicySpec(kind=args.policy, system=args.system, mode=args.mode, grad_method=args.grad_method,
                              perturbation=args.perturbation, init_seed=args.seed,
                              learnable=args.learnable or None, horizon=ds.horizon)
    policy = build_sequence_policy(spec, torch.float64 if dilqr else torch.float32)
    run_dir = Path(args.resume) if args.resume else make_run_dir(args.output_dir, args.system,
                                                                  f"{args.exp_name}-{args.policy}", args.seed)
    config = BCConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=optimizer, lr=lr,
                      lr_schedule=args.lr_schedule, seed=args.seed, progress=args.progress,
                      checkpoint_dir=str(run_dir / "checkpoints"))
    writer = make_writer(run_dir, {**asdict(spec), **asdict(config), "data": args.data or "collected"})
    try:
        result = SequenceBCTrainer(policy, spec, config, writer=writer).fit(*data, resume=bool(args.resume))
    finally:
        writer.close()
    summary = {"run_dir": str(run_dir), "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
               "test_loss": result.test_loss, **result.final_metrics}
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    for key, value in summary.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    return 0
