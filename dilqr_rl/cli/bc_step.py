"""``dilqr-rl bc-step``: single-step behaviour cloning of a DiLQR, MLP or LSTM policy on expert episodes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dilqr_rl.agents.clone_config import CloneConfig
from dilqr_rl.cli._errors import check_threads, flag, writable_folder


@dataclass(frozen=True)
class Args(CloneConfig):
    """Single-step behaviour cloning on expert episodes, split by episode: the env's DiLQR actor from a wrong start
    of the physics (--policy dilqr, learning the physics), an MLP or an LSTM over the observation history. Writes
    TensorBoard events, checkpoints (best.pt loads in dilqr-rl evaluate and video) and result.json: the untrained
    and trained returns, normalised (0: random, 1: the expert), and the learned physics."""

    data: Path | None = None
    """An episodes file (dilqr-rl collect --kind episodes); None: collect n_episodes."""
    env_id: str | None = None
    """Environment id; None: the dataset's with --data, else dilqr_rl/Pendulum-v0."""
    n_episodes: int = 20
    """Expert episodes when collecting (episode i seeded seed + i)."""
    max_episode_steps: int | None = None
    """Time limit of collected and evaluation episodes (None: the dataset's with --data, else the env's)."""
    threads: int = 1
    """torch CPU threads (small problems run fastest on 1)."""
    output_dir: str = "runs"
    """Root of the run folders."""
    exp_name: str = "bc-step"
    """Experiment name in the run folder's name."""

    def __post_init__(self) -> None:
        check_threads(self.threads)
        for name in ("n_episodes", "max_episode_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{flag(name)} {value}: must be >= 1")
        super().__post_init__()


def run(args: Args) -> int:
    import dataclasses
    import json
    from contextlib import closing

    import torch
    from stable_baselines3.common.utils import set_random_seed

    from dilqr_rl.agents.clone import clone_from_episodes
    from dilqr_rl.agents.logging import make_run_dir, make_writer
    from dilqr_rl.cli._clone import checked_cloner, episodes_and_env_kwargs, print_summary

    torch.set_num_threads(args.threads)
    set_random_seed(args.seed)
    writable_folder(args.output_dir, "--output-dir")
    ds, env_kwargs = episodes_and_env_kwargs(args.data, args.env_id, args.n_episodes, args.seed, args.progress,
                                             args.max_episode_steps)
    config = CloneConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(CloneConfig)})
    cloner = checked_cloner(ds, config, env_kwargs, Args)
    run_dir = make_run_dir(args.output_dir, ds.env_id, args.exp_name, args.seed)
    hparams = {**dataclasses.asdict(config), "data": str(args.data or "collected"), "env_id": ds.env_id,
               "n_episodes": ds.n_episodes, "env_kwargs": str(env_kwargs)}
    with closing(make_writer(run_dir, hparams)) as writer:
        writer.add_scalar("bc/expert_return", float(ds.episode_returns().mean()), 0)
        summary = clone_from_episodes(ds, config, env_kwargs, run_dir, writer, cloner=cloner)
    summary = {"run_dir": str(run_dir), **summary}
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    print_summary(summary, ds.env_id)
    return 0
