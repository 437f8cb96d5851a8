"""``dilqr-rl sysid``: system identification: fit the physics to next-state transitions of expert plans or episodes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dilqr_rl.agents.model_error import parse_model_error
from dilqr_rl.cli._commands import evaluate_command, installed_command
from dilqr_rl.cli._errors import CLIError, check_threads, speak_flags, writable_folder
from dilqr_rl.models.systems import SystemName


@dataclass(frozen=True)
class Args:
    """System identification (the SysId baseline): fit the dynamics' parameters to next-state transitions, of
    expert plans of --system (from the same wrong initial model as bc) or of expert episodes in an env (--data
    with episodes, or --env-id: the env's registered model from its default wrong start or --model-error).
    Writes dynamics.pt (the model's state dict) and policy.pt (the controller planning with it: the system's, or
    the env's DiLQR actor; loads in dilqr-rl evaluate and video)."""

    system: SystemName = "pendulum-upright"
    """plans: the control problem (pendulum, cartpole: the papers' settings)."""
    data: Path | None = None
    """A plans file (dilqr-rl collect --kind plans) or an episodes file (--kind episodes); None: collect plans of
    --system, or with --env-id n_episodes episodes."""
    env_id: str | None = None
    """episodes: the environment (None: the episodes file's; without --data, plans of --system are used)."""
    n_episodes: int = 10
    """episodes: expert episodes when collecting for --env-id."""
    max_episode_steps: int | None = None
    """episodes: time limit of collected episodes (None: the env's)."""
    model_error: tuple[str, ...] | None = None
    """episodes: the model's wrong start, NAME=REL (model = true x (1 + REL)); None: the env's registered one."""
    test_fraction: float = 0.2
    """episodes: fraction of the episodes held out for the test transition loss (0: none)."""
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
    """plans: relative error of the initial model."""
    learnable: tuple[str, ...] | None = None
    """plans: parameters to fit (None: the system's); episodes fit every physical parameter of the model."""
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
        if self.n_episodes < 1 or (self.max_episode_steps is not None and self.max_episode_steps < 1):
            raise ValueError(f"--n-episodes and --max-episode-steps must be >= 1; got {self.n_episodes} and "
                             f"{self.max_episode_steps}")
        if not 0 <= self.test_fraction < 1:
            raise ValueError(f"--test-fraction must be in [0, 1); got {self.test_fraction}")
        if self.model_error is not None:
            parse_model_error(self.model_error)


def run(args: Args) -> int:
    if args.env_id is not None or (args.data is not None and holds_episodes(args.data)):
        return run_episodes(args)
    return run_plans(args)


def holds_episodes(path: Path) -> bool:
    """Whether ``path`` is an episodes file (anything else is read as plans, whose loader names what is wrong)."""
    from dilqr_rl.data import DatasetError, EpisodeDataset

    try:
        EpisodeDataset.load(path)
    except (DatasetError, OSError):
        return False
    return True


def run_episodes(args: Args) -> int:
    """SysId of an env's registered model on expert episodes."""
    import json
    from contextlib import closing
    from dataclasses import asdict

    import torch
    from stable_baselines3.common.utils import set_random_seed

    from dilqr_rl.agents.clone_config import CloneConfig
    from dilqr_rl.agents.logging import make_run_dir, make_writer
    from dilqr_rl.agents.sysid import SysIdConfig
    from dilqr_rl.agents.sysid_episodes import sysid_from_episodes
    from dilqr_rl.cli._clone import episodes_and_env_kwargs, make_cloner

    if args.learnable is not None or args.perturbation != Args.perturbation:
        raise CLIError("--learnable and --perturbation set the plans' model (--system); with episodes every physical "
                       "parameter of the env's model is fitted from --model-error NAME=REL ... (default: the env's "
                       "registered wrong start)")
    torch.set_num_threads(args.threads)
    set_random_seed(args.seed)
    writable_folder(args.output_dir, "--output-dir")
    ds, env_kwargs = episodes_and_env_kwargs(args.data, args.env_id, args.n_episodes, args.seed, args.progress,
                                             args.max_episode_steps, images=False)
    clone = CloneConfig(policy="dilqr", model_error=args.model_error, test_fraction=args.test_fraction,
                        seed=args.seed, progress=args.progress)
    if args.test_fraction > 0 and ds.n_episodes < 2:
        raise CLIError(f"--test-fraction {args.test_fraction} holds out whole episodes, and the data has "
                       f"{ds.n_episodes}: pass --test-fraction 0, or more episodes (--n-episodes)")
    cloner = make_cloner(ds, clone, env_kwargs)
    config = SysIdConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                         seed=args.seed, progress=args.progress)
    run_dir = make_run_dir(args.output_dir, ds.env_id, args.exp_name, args.seed)
    with closing(make_writer(run_dir, {**asdict(config), "env_id": ds.env_id, "episodes": ds.n_episodes,
                                       "model_error": str(args.model_error)})) as writer:
        result = sysid_from_episodes(ds, config, None, args.test_fraction, env_kwargs, run_dir, writer, cloner)
    torch.save(cloner.policy.dynamics.state_dict(), run_dir / "dynamics.pt")
    summary = {"run_dir": str(run_dir), **result}
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    print(f"run folder: {run_dir}")
    hint = evaluate_command(result["checkpoint"], ds.env_id, 1000, max_steps=env_kwargs.get("max_episode_steps"))
    print(f"the fitted model as a controller: {hint} (dynamics only: {run_dir / 'dynamics.pt'})")
    test = "-" if result["test_loss"] is None else f"{result['test_loss']:.3e}"
    print(f"transition loss: train {result['train_loss']:.3e} ({result['transitions']} transitions), test {test}")
    for name, learned in result["physics_learned"].items():
        print(f"{name}: true {result['physics_true'][name]:g}, start {result['physics_start'][name]:g}, "
              f"learned {learned:.5f}")
    return 0


def run_plans(args: Args) -> int:
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
        raise CLIError(speak_flags(str(error), Args)) from None
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
