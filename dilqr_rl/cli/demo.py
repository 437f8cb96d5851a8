"""``dilqr-rl demo``: the README's main job (pendulum imitation: DiLQR.dx from a wrong model vs the LSTM)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import torch

from dilqr_rl.agents.demo import DemoConfig, format_table, run_demo
from dilqr_rl.cli.args import arg_help

HELP = ("Collect pendulum demonstrations, train DiLQR.dx (from a wrong model) and the LSTM baseline, "
        "compare them (imitation loss, model loss, return) and write TensorBoard logs and a GIF")


@dataclass
class Args:
    quick: bool = field(default=False, metadata=arg_help("a tiny run for tests (seconds, not meaningful)"))
    seed: int = field(default=0, metadata=arg_help("random seed"))
    grad_method: Literal["implicit", "diffmpc", "unroll"] = field(default="implicit",
                                                                  metadata=arg_help("DiLQR gradient"))
    threads: int = field(default=1, metadata=arg_help("torch CPU threads (small problems run best on 1)"))
    output_dir: str = field(default="runs", metadata=arg_help("root of the run directory"))
    progress: bool = field(default=True, metadata=arg_help("show progress bars"))


QUICK = {"n_train": 6, "n_val": 4, "n_test": 4, "dilqr_epochs": 2, "lstm_epochs": 2, "eval_episodes": 1,
         "eval_max_steps": 20}


def run(args: Args) -> int:
    torch.set_num_threads(args.threads)
    config = DemoConfig(seed=args.seed, grad_method=args.grad_method, output_dir=args.output_dir,
                        progress=args.progress)
    if args.quick:
        config = dataclasses.replace(config, **QUICK)
    report = run_demo(config)
    print(format_table(report))
    print(f"TensorBoard: tensorboard --logdir {report.run_dir}")
    print(f"GIF of the learned controller: {report.gif}")
    return 0
