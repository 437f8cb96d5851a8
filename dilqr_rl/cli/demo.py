"""``dilqr-rl demo``: a DiLQR policy from a wrong model, cloned from a few expert swing-ups, beside an MLP and an LSTM

The three run in closed loop in the env; ``--open-loop``: the papers' comparison on expert plans."""

from __future__ import annotations

from dataclasses import dataclass

from dilqr_rl.cli._errors import check_threads, writable_folder

QUICK = {"demonstrations": 2, "eval_episodes": 2, "max_episode_steps": 20,
         "epochs": {"dilqr": 1, "mlp": 1, "lstm": 1}}
"""The ``--quick`` sizes (seconds; for tests)."""
QUICK_OPEN_LOOP = {"n_train": 6, "n_val": 4, "n_test": 4, "dilqr_epochs": 2, "lstm_epochs": 2, "eval_episodes": 2,
                   "eval_max_steps": 20}


@dataclass(frozen=True)
class Args:
    """Clone the iLQR expert of dilqr_rl/Pendulum-v0 (swing-up and balance) from a few episodes: the env's DiLQR
    actor from a wrong model (learning the physics), an MLP and an LSTM; run each in the env and compare their
    returns (normalised: random 0, expert 1) and the learned physics. Writes TensorBoard logs, checkpoints,
    results.md/.csv and a GIF in a new run folder."""

    quick: bool = False
    """A tiny run for tests (seconds; the numbers mean nothing)."""
    open_loop: bool = False
    """The papers' open-loop comparison instead: DiLQR.dx from a wrong model vs the LSTM on expert plans of the
    upright pendulum (imitation and model losses, and returns)."""
    demonstrations: int = 5
    """Expert episodes to clone from."""
    seed: int = 0
    """Seeds the demonstrations, the wrong model's draws (open loop), the weights, the batches and the episodes."""
    eval_episodes: int = 20
    """Episodes of the env per policy for the return (the same seeded starts for all)."""
    threads: int = 1
    """torch CPU threads (small problems run fastest on 1)."""
    output_dir: str = "runs"
    """Root of the run folder."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        check_threads(self.threads)
        if self.eval_episodes < 1:
            raise ValueError(f"--eval-episodes must be >= 1; got {self.eval_episodes}")
        if self.demonstrations < 2:
            raise ValueError(f"--demonstrations must be >= 2 (one is held out to pick the best epoch); got "
                             f"{self.demonstrations}")


def run(args: Args) -> int:
    import dataclasses
    from pathlib import Path

    import torch

    from dilqr_rl.cli._commands import installed_command

    torch.set_num_threads(args.threads)
    writable_folder(args.output_dir, "--output-dir")
    if args.open_loop:
        from dilqr_rl.agents.demo_open_loop import DemoConfig, format_table, run_demo

        config = DemoConfig(seed=args.seed, eval_episodes=args.eval_episodes, output_dir=args.output_dir,
                            progress=args.progress)
        config = dataclasses.replace(config, **QUICK_OPEN_LOOP) if args.quick else config
    else:
        from dilqr_rl.agents.demo import DemoConfig, format_table, run_demo

        config = DemoConfig(demonstrations=args.demonstrations, seed=args.seed, eval_episodes=args.eval_episodes,
                            output_dir=args.output_dir, progress=args.progress)
        config = dataclasses.replace(config, **QUICK) if args.quick else config
    report = run_demo(config)
    print(format_table(report))
    print(f"results: {report.run_dir / 'results.md'} (and results.csv)")
    print(f"GIF of the DiLQR policy: {report.gif}")
    make = Path("Makefile").is_file() and "\ntensorboard:" in Path("Makefile").read_text()  # in a checkout
    print(f"TensorBoard: {installed_command('tensorboard')} --logdir {report.run_dir}"
          + ("   (or: make tensorboard)" if make else ""))
    return 0
