"""``dilqr-rl bc-step``: single-step behaviour cloning (an MLP from observation to action) on expert episodes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dilqr_rl.cli._errors import CLIError, check_threads, flag, writable_folder

DEFAULT_ENV_ID = "dilqr_rl/Pendulum-v0"


@dataclass(frozen=True)
class Args:
    """Single-step behaviour cloning (MLP observation -> action) on expert episodes, split by episode; TensorBoard,
    checkpoints (best.pt loads in dilqr-rl evaluate and video) and the policy's return in the env."""

    data: Path | None = None
    """An episodes file (dilqr-rl collect --kind episodes); None: collect n_episodes."""
    env_id: str | None = None
    """Environment id; None: the dataset's with --data, else dilqr_rl/Pendulum-v0."""
    n_episodes: int = 20
    """Expert episodes when collecting."""
    max_episode_steps: int | None = None
    """Time limit of collected and evaluation episodes (None: the dataset's with --data, else the env's)."""
    val_fraction: float = 0.2
    """Fraction of the episodes held out for validation."""
    test_fraction: float = 0.2
    """Fraction of the episodes held out for testing (0: no test loss)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the MLP."""
    epochs: int = 50
    """Training epochs."""
    batch_size: int = 64
    """Transitions per step."""
    lr: float = 1e-3
    """Adam learning rate."""
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """Learning-rate schedule."""
    eval_episodes: int = 20
    """Episodes to measure the policy's return (0: skip)."""
    eval_seed: int = 1000
    """Seed of the first evaluation episode (keep it away from the collection seeds seed, seed + 1, ...)."""
    seed: int = 0
    """Random seed (data, split, initial weights, batches)."""
    threads: int = 1
    """torch CPU threads (small problems run fastest on 1)."""
    output_dir: str = "runs"
    """Root of the run folders."""
    exp_name: str = "bc-step"
    """Experiment name in the run folder's name."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        check_threads(self.threads)
        if self.eval_episodes < 0:
            raise ValueError(f"--eval-episodes must be >= 0 (0 skips the evaluation); got {self.eval_episodes}")
        for name in ("n_episodes", "epochs", "batch_size", "max_episode_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{flag(name)} must be >= 1; got {value}")
        if not self.lr > 0 or min(self.hidden_sizes, default=1) < 1:
            raise ValueError(f"need --lr > 0 and --hidden-sizes >= 1; got --lr {self.lr} and --hidden-sizes "
                             f"{' '.join(map(str, self.hidden_sizes))}")
        check_fractions(self.val_fraction, self.test_fraction)


def load_or_collect_episodes(args: Args):
    """The episodes of ``--data`` (for ``--env-id`` when given), else ``--n-episodes`` collected."""
    from dilqr_rl.cli._data import episodes, expert_episodes

    if args.data is not None:
        return episodes(args.data, args.env_id)
    return expert_episodes(args.env_id or DEFAULT_ENV_ID, args.n_episodes, args.seed, args.progress,
                           args.max_episode_steps)


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Refuse fractions of episodes that leave a split without episodes or with all of them."""
    if not (0.0 < val_fraction < 1.0 and 0.0 <= test_fraction < 1.0):
        raise ValueError(f"need 0 < val_fraction < 1 and 0 <= test_fraction < 1; got {val_fraction} and "
                         f"{test_fraction}")


def split_data(ds, val_fraction: float, test_fraction: float, seed: int):
    """(train, val, test) pairs of (obs (N, d), actions (N, m)) float32, split by whole episodes.

    The test episodes are chosen by :func:`split_episodes` itself, run on the episode ids; the rest is split
    into train and val the same way. ``test`` is empty when ``test_fraction`` is 0.
    """
    import numpy as np
    import torch

    from dilqr_rl.agents.bc_step import split_episodes

    check_fractions(val_fraction, test_fraction)
    obs, actions, ids = ds.observations, ds.actions, ds.episode
    if obs.ndim != 2 or actions.ndim != 2:
        raise CLIError(f"single-step BC needs flat observations (N, d) and actions (N, m); the dataset has "
                       f"observations {obs.shape} and actions {actions.shape}: use an env with vector spaces")
    n_min = 3 if test_fraction > 0 else 2
    if ds.n_episodes < n_min:
        raise CLIError(f"the dataset has {ds.n_episodes} episode(s) but bc-step splits by episode and needs at "
                       f"least {n_min} (train, val{', test' if n_min == 3 else ''}): collect more with "
                       "--n-episodes, or pass --test-fraction 0")
    rest = np.ones(len(ids), dtype=bool)
    if test_fraction > 0:
        column = ids[:, None]
        _, (test_ids, _) = split_episodes(column, column, ids, test_fraction, seed, dtype=torch.float64)
        rest = ~np.isin(ids, test_ids.long().numpy())
    train, val = split_episodes(obs[rest], actions[rest], ids[rest], val_fraction, seed)
    test = (torch.as_tensor(obs[~rest], dtype=torch.float32), torch.as_tensor(actions[~rest], dtype=torch.float32))
    return train, val, test


def run(args: Args) -> int:
    import json
    from contextlib import closing
    from dataclasses import asdict, replace

    import numpy as np
    import torch
    from stable_baselines3.common.utils import set_random_seed

    from dilqr_rl.agents.bc import BCConfig
    from dilqr_rl.agents.bc_step import StepPolicySpec, build_step_policy
    from dilqr_rl.agents.logging import make_run_dir, make_writer
    from dilqr_rl.cli._policies import make_cli_env

    torch.set_num_threads(args.threads)
    set_random_seed(args.seed)
    writable_folder(args.output_dir, "--output-dir")
    config = BCConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer="adam", lr=args.lr,
                      lr_schedule=args.lr_schedule, seed=args.seed, progress=args.progress, progress_label="bc-step")
    ds = load_or_collect_episodes(args)
    train, val, test = split_data(ds, args.val_fraction, args.test_fraction, args.seed)
    env_kwargs = ({"max_episode_steps": args.max_episode_steps} if args.max_episode_steps is not None
                  else dict(ds.metadata.get("env_kwargs", {})) if args.data is not None else {})
    with closing(make_cli_env(ds.env_id, **env_kwargs)) as env:
        space = env.action_space
        spec = StepPolicySpec(obs_dim=train[0].shape[1], action_dim=train[1].shape[1],
                              action_low=tuple(float(v) for v in np.broadcast_to(space.low, space.shape)),
                              action_high=tuple(float(v) for v in np.broadcast_to(space.high, space.shape)),
                              hidden_sizes=tuple(args.hidden_sizes), init_seed=args.seed)
        policy = build_step_policy(spec)
        run_dir = make_run_dir(args.output_dir, ds.env_id, args.exp_name, args.seed)
        config = replace(config, checkpoint_dir=str(run_dir / "checkpoints"))
        hparams = {**asdict(spec), **asdict(config), "data": str(args.data or "collected"), "env_id": ds.env_id,
                   "n_episodes": ds.n_episodes, "val_fraction": args.val_fraction,
                   "test_fraction": args.test_fraction}
        with closing(make_writer(run_dir, hparams)) as writer:
            summary = _train_and_evaluate(args, ds, policy, spec, config, writer, (train, val, test), env_kwargs)
    summary = {"run_dir": str(run_dir), "checkpoint": str(run_dir / "checkpoints" / "best.pt"), **summary}
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    for key, value in summary.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    return 0


def _train_and_evaluate(args: Args, ds, policy, spec, config, writer, data, env_kwargs: dict) -> dict[str, Any]:
    """Fit on ``data`` = (train, val, test), log ``bc/`` and ``eval/`` scalars; the result's summary."""
    from dilqr_rl.agents.bc_step import StepBCTrainer
    from dilqr_rl.agents.evaluation import evaluate_episodes
    from dilqr_rl.cli._policies import make_cli_env

    train, val, test = data
    expert_return = float(ds.episode_returns().mean())
    for key, value in (("bc/train_transitions", len(train[0])), ("bc/val_transitions", len(val[0])),
                       ("bc/test_transitions", len(test[0])), ("bc/expert_return", expert_return)):
        writer.add_scalar(key, value, 0)
    result = StepBCTrainer(policy, spec, config, writer=writer).fit(train, val, test)
    summary: dict[str, Any] = {"best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
                               "test_loss": result.test_loss, "expert_return": expert_return}
    if args.eval_episodes:
        returns = evaluate_episodes(policy, lambda: make_cli_env(ds.env_id, **env_kwargs), args.eval_episodes,
                                    args.eval_seed, progress=args.progress, label="return")
        summary.update(mean_return=returns.mean_return, std_return=returns.std_return)
        writer.add_scalar("eval/mean_return", returns.mean_return, config.epochs + 1)
        writer.add_scalar("eval/std_return", returns.std_return, config.epochs + 1)
    return summary
