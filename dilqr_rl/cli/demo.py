"""``dilqr-rl demo``: pendulum imitation, DiLQR.dx from a wrong model vs the LSTM: losses, returns, logs, a GIF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dilqr_rl.cli._errors import check_threads, writable_folder

QUICK = {"n_train": 6, "n_val": 4, "n_test": 4, "dilqr_epochs": 2, "lstm_epochs": 2, "eval_episodes": 2,
         "eval_max_steps": 20}
"""The ``--quick`` sizes (seconds; for tests)."""


@dataclass(frozen=True)
class Args:
    """Collect pendulum demonstrations, train DiLQR.dx (from a wrong model) and the LSTM baseline, compare
    them (imitation loss, model loss, return in the env) and write TensorBoard logs, results.md/.csv and a
    GIF in a new run folder."""

    quick: bool = False
    """A tiny run for tests (seconds; the numbers mean nothing)."""
    seed: int = 0
    """Seeds the data, the wrong initial model, the LSTM's weights, the batches and the episodes."""
    grad_method: Literal["implicit", "diffmpc", "unroll"] = "implicit"
    """Gradient of the DiLQR layer."""
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


def run(args: Args) -> int:
    import dataclasses
    from pathlib import Path

    import torch

    from dilqr_rl.agents.demo import DemoConfig, format_table, run_demo
    from dilqr_rl.cli._commands import installed_command

    torch.set_num_threads(args.threads)
    writable_folder(args.output_dir, "--output-dir")
    config = DemoConfig(seed=args.seed, grad_method=args.grad_method, eval_episodes=args.eval_episodes,
                        output_dir=args.output_dir, progress=args.progress)
    if args.quick:
        config = dataclasses.replace(config, **QUICK)
    report = run_demo(config)
    print(format_table(report))
    print(f"results: {report.run_dir / 'results.md'} (and results.csv)")
    print(f"GIF of the learned controller: {report.gif}")
    make = Path("Makefile").is_file() and "\ntensorboard:" in Path("Makefile").read_text()  # in a checkout
    print(f"TensorBoard: {installed_command('tensorboard')} --logdir {report.run_dir}"
          + ("   (or: make tensorboard)" if make else ""))
    return 0
