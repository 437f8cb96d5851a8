"""``dilqr-rl reproduce NAME``: run one of the papers' studies as a multi-seed sweep on Ray Tune."""

from __future__ import annotations

from dataclasses import dataclass, field

from dilqr_rl.cli.args import arg_help

HELP = ("Reproduce the papers' experiments as multi-seed sweeps on Ray Tune (cartpole-cost, cartpole-dx, "
        "imitation, nonrealizable-pendulum, gradient-fidelity); writes results.csv, summary.md and plots")


@dataclass
class Args:
    name: str = field(default="", metadata=arg_help(
        "the study: cartpole-cost, cartpole-dx, imitation, nonrealizable-pendulum, gradient-fidelity"))
    seeds: int = field(default=0, metadata=arg_help(
        "seeds per method and setting (0: the study's: 5; 8 for nonrealizable-pendulum)"))
    quick: bool = field(default=False, metadata=arg_help("a reduced version of the same study (minutes)"))
    epochs: int = field(default=0, metadata=arg_help("epochs of the model-based learners (0: the study's)"))
    address: str = field(default="", metadata=arg_help("a Ray cluster's address (empty: a local Ray on all cores)"))
    cpus_per_trial: int = field(default=1, metadata=arg_help("CPU cores (and torch threads) per trial"))
    out: str = field(default="", metadata=arg_help("output folder (default runs/reproduce/NAME[-quick]); "
                                                   "an earlier run of the same sweep there is resumed"))
    fresh: bool = field(default=False, metadata=arg_help("discard an earlier sweep in the output folder"))
    cache: str = field(default="runs/reproduce/trial-cache", metadata=arg_help(
        "where finished trials are kept for other studies: a trial another study ran with the same settings and "
        "the same library source is copied, not run again (empty: no cache)"))
    progress: bool = field(default=True, metadata=arg_help("show a progress bar over the trials"))


def run(args: Args) -> int:
    from dilqr_rl.experiments import STUDIES, StudyOptions, run_study

    if args.name not in STUDIES:
        raise ValueError(f"--name must be one of {list(STUDIES)}; got {args.name!r}")
    options = StudyOptions(seeds=args.seeds or None, quick=args.quick, epochs=args.epochs or None)
    out = run_study(args.name, options, args.out or None, args.address or None, args.cpus_per_trial, args.fresh,
                    args.progress, args.cache or None)
    print(f"results: {out / 'results.csv'}\nsummary: {out / 'summary.md'}")
    return 0
