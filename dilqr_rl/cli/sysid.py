"""``dilqr-rl sysid``: system identification: fit the dynamics' parameters to next-state transitions of expert plans."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dilqr_rl.cli._commands import installed_command
from dilqr_rl.cli._errors import CLIError, check_threads, speak_flags, writable_folder
from dilqr_rl.models.systems import SystemName


@dataclass(frozen=True)
class Args:
    """System identification (the SysId baseline): fit the dynamics' parameters to the next-state transitions
    of expert plans, from the same wrong initial model as bc. Writes dynamics.pt (the model's state dict) and
    policy.pt (the system's controller planning with it; loads in dilqr-rl evaluate and video)."""

    system: SystemName = "pendulum-upright"
    """The control problem (pendulum, cartpole: the papers' settings)."""
    data: Path | None = None
    """A plans file (dilqr-rl collect --kind plans); None: collect n_train/n_val/n_test plans."""
    n_train: int = 50
    """Training trajectories when collecting."""
    n_val: int = 20
    """Validation trajectories when collecting."""
    n_test: int = 50
    """Test trajectories when collecting."""
    epochs: int = 300
    """Passes over the transitions."""
    batch_size: int = 256
    """Transitions per step."""
    lr: float = 1e-2
    """Learning rate."""
    optimizer: Literal["adam", "rmsprop"] = "adam"
    """Optimizer."""
    perturbation: float = 0.3
    """Relative error of the initial model."""
    learnable: tuple[str, ...] | None = None
    """Parameters to fit (None: the system's)."""
    seed: int = 0
    """Random seed."""
    threads: int = 1
    """torch CPU threads."""
    output_dir: str = "runs"
    """Root of the run folders."""
    exp_name: str = "sysid"
    """Experiment name in the run folder's name."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        check_threads(self.threads)
        if self.epochs < 1:
            raise ValueError(f"--epochs must be >= 1; got {self.epochs}")


def run(args: Args) -> int:
    import json
    from dataclasses import asdict

    import torch
    from stable_baselines3.common.utils import set_random_seed

    from dilqr_rl.agents.bc import save_checkpoint
    from dilqr_rl.agents.bc_sequence import SequencePolicySpec, build_sequence_policy, wrong_initial_model
    from dilqr_rl.agents.logging import make_run_dir, make_writer
    from dilqr_rl.agents.sysid import SysIdConfig, fit_sysid, transition_loss, transitions_from_plans
    from dilqr_rl.cli._data import plans
    from dilqr_rl.models import get_system

    torch.set_num_threads(args.threads)
    set_random_seed(args.seed)
    writable_folder(args.output_dir, "--output-dir")
    system = get_system(args.system)
    try:
        spec = SequencePolicySpec(kind="dilqr", system=args.system, mode="dx", perturbation=args.perturbation,
                                  init_seed=args.seed, learnable=args.learnable)
        config = SysIdConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                             seed=args.seed, progress=args.progress)
    except ValueError as error:
        raise CLIError(speak_flags(str(error), Args).replace("learnable [", "--learnable [")) from None
    ds = plans(args.system, args.data, args.n_train, args.n_val, args.n_test, args.seed, args.progress)
    train, test = ds.split("train"), ds.split("test")
    if len(train) == 0:
        raise CLIError("the training split is empty: SysId needs at least one plan (--n-train >= 1, or --data with "
                       "training plans)")
    learned = spec.learned_dynamics_names()
    if not learned:
        raise CLIError(f"--learnable names no parameter: nothing to identify; pass some of "
                       f"{' '.join(system.true_params)}, or drop --learnable for {' '.join(system.learnable)}")
    run_dir = make_run_dir(args.output_dir, args.system, args.exp_name, args.seed)
    dynamics = system.make_dynamics(torch.float64, **wrong_initial_model(spec)[0])
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
    planner = build_sequence_policy(spec)  # the system's controller, planning with the fitted dynamics
    planner.dynamics.load_state_dict(dynamics.state_dict())
    save_checkpoint(run_dir / "policy.pt", {"spec": asdict(spec), "policy": planner.state_dict()})
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    print(f"run folder: {run_dir}")
    command = installed_command("dilqr-rl")
    print(f"the fitted model as a controller: {command} evaluate --policy {run_dir / 'policy.pt'} "
          f"(dynamics only: {run_dir / 'dynamics.pt'})")
    print(f"transition loss: train {result.loss:.3e}, test " + ("-" if test_loss is None else f"{test_loss:.3e}"))
    for k in learned:
        print(f"{k}: true {system.true_params[k]:g}, learned {result.params[k]:.5f}")
    return 0
