"""``dilqr-rl dagger``: DAgger for a DiLQR, MLP or LSTM policy: the expert labels the states the learner visits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dilqr_rl.agents.clone_config import DaggerConfig
from dilqr_rl.cli._clone import check_episode_options


@dataclass(frozen=True)
class Args(DaggerConfig):
    """DAgger: clone the demonstrations, then for --rounds rounds roll the learner mixed with the expert (the
    expert acts with probability beta0^k in round k), let the expert label every visited state, aggregate and
    retrain. Writes TensorBoard events, each round's checkpoints and checkpoints/best.pt (the final learner; loads
    in dilqr-rl evaluate and video) and result.json: the return per round and the number of expert labels."""

    data: Path | None = None
    """Demonstrations: an episodes file (dilqr-rl collect --kind episodes); None: collect n_episodes."""
    env_id: str | None = None
    """Environment id; None: the dataset's with --data, else dilqr_rl/Pendulum-v0."""
    n_episodes: int = 2
    """Expert demonstrations when collecting (episode i seeded seed + i); the rounds' episodes are seeded after
    them."""
    max_episode_steps: int | None = None
    """Time limit of all episodes (None: the dataset's with --data, else the env's)."""
    threads: int = 1
    """torch CPU threads (small problems run fastest on 1)."""
    output_dir: str = "runs"
    """Root of the run folders."""
    exp_name: str = "dagger"
    """Experiment name in the run folder's name."""

    def __post_init__(self) -> None:
        check_episode_options(self)
        super().__post_init__()


def run(args: Args) -> int:
    import json
    from contextlib import closing

    from dilqr_rl.agents.dagger import run_dagger
    from dilqr_rl.agents.logging import make_writer
    from dilqr_rl.cli._clone import print_summary, share, start_run

    ds, env_kwargs, config, cloner, run_dir, hparams = start_run(args, DaggerConfig)
    with closing(make_writer(run_dir, hparams)) as writer:
        summary = run_dagger(ds, config, env_kwargs, run_dir, writer, cloner=cloner)
    summary = {"run_dir": str(run_dir), **summary}
    (run_dir / "result.json").write_text(json.dumps(summary, indent=2))
    for row in summary["rounds"]:
        returns = (f"return {row['return']:.1f} ({share(row['normalized_return'])} normalised)" if "return" in row
                   else "not evaluated")
        print(f"round {row['round']}: beta {row['beta']:.3g}, {row['expert_labels']} expert labels, {returns}")
    print_summary({k: v for k, v in summary.items() if k != "rounds"}, ds.env_id, env_kwargs,
                  "physics" in config.learn)
    return 0
