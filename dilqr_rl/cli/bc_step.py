"""``dilqr-rl bc-step``: single-step behaviour cloning of a DiLQR, MLP or LSTM policy on expert episodes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dilqr_rl.agents.clone_config import CloneConfig
from dilqr_rl.cli._clone import check_episode_options


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
        check_episode_options(self)
        super().__post_init__()


def run(args: Args) -> int:
    import json
    from contextlib import closing

    from dilqr_rl.agents.clone import clone_from_episodes
    from dilqr_rl.agents.logging import make_writer
    from dilqr_rl.cli._clone import print_summary, start_run

    ds, env_kwargs, config, cloner, run_dir, hparams = start_run(args, CloneConfig)
    with closing(make_writer(run_dir, hparams)) as writer:
        writer.add_scalar("bc/expert_return", float(ds.episode_returns().mean()), 0)
        summary = clone_from_episodes(ds, config, env_kwargs, run_dir, writer, cloner=cloner)
    summary = {"run_dir": str(run_dir), **summary}
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    print_summary(summary, ds.env_id, env_kwargs, "physics" in config.learn)
    return 0
