"""``dilqr-rl collect``: demonstrations: expert plans of a system, or expert episodes in an env (ours or Minari)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dilqr_rl.cli._errors import CLIError, check_threads, flag, reported_as, writable_file, writable_folder
from dilqr_rl.models.systems import SystemName


@dataclass(frozen=True)
class Args:
    """Generate a demonstration dataset: the papers' imitation data (--kind plans: x_init, x_{1:T}, u_{1:T} of
    a system's expert) or expert rollouts in an environment (--kind episodes), as our .npz or a Minari
    dataset."""

    kind: Literal["plans", "episodes"] = "plans"
    """plans: expert plans of --system; episodes: expert rollouts in --env-id."""
    system: SystemName = "pendulum-upright"
    """plans: the control problem (pendulum, cartpole: the papers' settings)."""
    env_id: str = "dilqr_rl/Pendulum-v0"
    """episodes: environment id (ours, Pendulum-v1 or InvertedPendulum-v5)."""
    n_train: int = 50
    """plans: training trajectories."""
    n_val: int = 20
    """plans: validation trajectories."""
    n_test: int = 50
    """plans: test trajectories."""
    horizon: int | None = None
    """plans: horizon T (None: the system's)."""
    n_episodes: int = 10
    """episodes: number of episodes (episode i reset with seed + i)."""
    max_episode_steps: int | None = None
    """episodes: time limit (None: the env's own)."""
    format: Literal["npz", "minari"] = "npz"
    """episodes: npz (our versioned file) or minari (a Minari dataset for other offline-RL libraries; needs
    pip install 'dilqr_rl[minari]')."""
    dataset_id: str | None = None
    """minari: the dataset id (None: dilqr_rl/<env>-expert-v0)."""
    seed: int = 0
    """Random seed; the same seed gives the same dataset."""
    output: Path | None = None
    """npz: output file (None: runs/data/<kind>__<system or env>__<sizes>__seed<seed>.npz); minari: the datasets
    folder (None: Minari's, MINARI_DATASETS_PATH or ~/.minari/datasets)."""
    overwrite: bool = False
    """npz: replace the output file if it exists (otherwise an existing file is refused)."""
    progress: bool = True
    """Show a progress bar."""
    threads: int = 1
    """torch CPU threads (small solves run fastest on 1)."""

    def __post_init__(self) -> None:
        check_threads(self.threads)
        if self.format == "minari" and self.kind != "episodes":
            raise ValueError("format=minari writes episodes (Minari datasets are episodes); plans stay in our npz "
                             "format: add kind=episodes or drop format=minari")
        if min(self.n_train, self.n_val, self.n_test) < 0:
            raise ValueError(f"--n-train, --n-val and --n-test must be >= 0; got {self.n_train}, {self.n_val} and "
                             f"{self.n_test}")
        for name in ("n_episodes", "horizon", "max_episode_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{flag(name)} must be >= 1; got {value}")


def default_output(args: Args) -> Path:
    if args.kind == "plans":
        name = f"plans__{args.system}__{args.n_train}-{args.n_val}-{args.n_test}__seed{args.seed}.npz"
    else:
        name = f"episodes__{args.env_id.replace('/', '-')}__{args.n_episodes}__seed{args.seed}.npz"
    return Path("runs") / "data" / name


def run(args: Args) -> int:
    import torch

    torch.set_num_threads(args.threads)
    output = args.output if args.output is not None or args.format == "minari" else default_output(args)
    if args.format == "minari":
        dataset_id = _check_minari_output(args)
    else:
        _check_npz_output(output, args.overwrite)
    dataset, summary = _collect(args)
    if args.format == "minari":
        from dilqr_rl.data.minari_export import to_minari

        with reported_as(f"--dataset-id {dataset_id}", ValueError):  # minari: an id taken meanwhile
            written = to_minari(dataset, dataset_id, root=output)
        print(f"wrote Minari dataset {dataset_id} ({written.total_episodes} episodes): {summary}; load it with "
              f"minari.load_dataset({dataset_id!r})")
        return 0
    with reported_as(f"--output {output}", OSError):  # the disk filled up or the folder went away meanwhile
        path = dataset.save(output)
    print(f"wrote {path}: {summary}")
    return 0


def _check_npz_output(output: Path, overwrite: bool) -> None:
    """A file that can be written and is not a dataset already (unless ``--overwrite``)."""
    writable_file(output, "--output")
    if output.exists() and not overwrite:
        raise CLIError(f"--output {output}: the file exists; pass --overwrite to replace it, or another --output")


def _check_minari_output(args: Args) -> str:
    """The dataset id, checked with the datasets folder before any episode is collected."""
    from dilqr_rl.data.minari_export import check_new_dataset_id, default_dataset_id

    if args.output is not None:
        writable_folder(args.output, "--output")
    _check_minari_installed()
    dataset_id = args.dataset_id or default_dataset_id(args.env_id)
    with reported_as(f"--dataset-id {dataset_id}", ValueError):
        check_new_dataset_id(dataset_id, args.output)
    return dataset_id


def _collect(args: Args):
    from dilqr_rl.cli._data import expert_episodes
    from dilqr_rl.data import collect_plans

    if args.kind == "plans":
        dataset = collect_plans(args.system, args.n_train, args.n_val, args.n_test, seed=args.seed,
                                progress=args.progress, horizon=args.horizon)
        return dataset, ", ".join(f"{name} {len(split)}" for name, split in dataset.splits.items())
    dataset = expert_episodes(args.env_id, args.n_episodes, args.seed, args.progress, args.max_episode_steps)
    returns = dataset.episode_returns()
    return dataset, f"{len(dataset)} transitions, mean return {returns.mean():.2f} (min {returns.min():.2f})"


def _check_minari_installed() -> None:
    import importlib.util

    if importlib.util.find_spec("minari") is None:
        raise CLIError("--format minari needs minari, which is not installed: pip install 'dilqr_rl[minari]'")
