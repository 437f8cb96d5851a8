"""``dilqr-rl sysid``: fit dynamics parameters on next-state transitions of expert plans (SysId baseline)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

import torch

from dilqr_rl.agents.bc_sequence import SequencePolicySpec, load_or_collect_plans, wrong_initial_model
from dilqr_rl.agents.logging import make_run_dir, make_writer, seed_everything
from dilqr_rl.agents.sysid import SysIdConfig, fit_sysid, transition_loss, transitions_from_plans
from dilqr_rl.cli.args import arg_help
from dilqr_rl.models import SystemName, get_system

HELP = "System identification: fit the dynamics' parameters to next-state transitions of expert plans"


@dataclass
class Args:
    system: SystemName = field(default="pendulum-upright", metadata=arg_help(
        "control problem (pendulum, cartpole: the papers' settings; see dilqr_rl.models.systems)"))
    data: str = field(default="", metadata=arg_help("a saved PlanDataset; empty: collect one"))
    n_train: int = field(default=50, metadata=arg_help("training trajectories when collecting"))
    n_val: int = field(default=20, metadata=arg_help("validation trajectories when collecting"))
    n_test: int = field(default=50, metadata=arg_help("test trajectories when collecting"))
    epochs: int = field(default=300, metadata=arg_help("passes over the transitions"))
    batch_size: int = field(default=256, metadata=arg_help("transitions per step"))
    lr: float = field(default=1e-2, metadata=arg_help("learning rate"))
    optimizer: Literal["adam", "rmsprop"] = field(default="adam", metadata=arg_help("optimizer"))
    perturbation: float = field(default=0.3, metadata=arg_help("relative error of the initial model"))
    learnable: tuple[str, ...] = field(default=(), metadata=arg_help("parameters to fit (default all learnable)"))
    seed: int = field(default=0, metadata=arg_help("random seed"))
    threads: int = field(default=1, metadata=arg_help("torch CPU threads"))
    output_dir: str = field(default="runs", metadata=arg_help("root of the run directories"))
    exp_name: str = field(default="sysid", metadata=arg_help("experiment name in the run directory"))
    progress: bool = field(default=True, metadata=arg_help("show progress bars"))


def run(args: Args) -> int:
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    system = get_system(args.system)
    spec = SequencePolicySpec(kind="dilqr", system=args.system, mode="dx", perturbation=args.perturbation,
                              init_seed=args.seed, learnable=args.learnable or None)
    config = SysIdConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                         seed=args.seed, progress=args.progress)
    ds = load_or_collect_plans(args.system, args.data, args.n_train, args.n_val, args.n_test, args.seed,
                               progress=args.progress)
    train, test = ds.split("train"), ds.split("test")
    if len(train) == 0:
        raise ValueError("the training split is empty: SysId needs at least one plan (collect with n_train >= 1)")
    run_dir = make_run_dir(args.output_dir, args.system, args.exp_name, args.seed)
    dynamics = system.make_dynamics(torch.float64, **wrong_initial_model(spec)[0])
    learned = spec.learned_dynamics_names()
    for name, p in dynamics.named_parameters():
        p.requires_grad_(name in learned)
    writer = make_writer(run_dir, {**asdict(config), **asdict(spec)})
    try:
        result = fit_sysid(dynamics, *transitions_from_plans(train.x, train.u), config, writer=writer)
        test_loss = None  # an empty test split: no test loss
        if len(test):
            with torch.no_grad():
                test_loss = float(transition_loss(dynamics, *transitions_from_plans(test.x, test.u)))
            writer.add_scalar("eval/test_transition_loss", test_loss, config.epochs)
    finally:
        writer.close()
    summary = {"run_dir": str(run_dir), "train_loss": result.loss, "test_loss": test_loss,
               "params": {k: result.params[k] for k in learned},
               "true_params": {k: system.true_params[k] for k in learned}}
    torch.save(dynamics.state_dict(), run_dir / "dynamics.pt")
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    print(f"run directory: {run_dir}")
    print(f"transition loss: train {result.loss:.3e}, test " + ("-" if test_loss is None else f"{test_loss:.3e}"))
    for k in learned:
        print(f"{k}: true {system.true_params[k]:g}, learned {result.params[k]:.5f}")
    return 0
