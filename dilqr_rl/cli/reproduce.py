"""``dilqr-rl reproduce``: the papers' experiments as multi-seed sweeps on Ray Tune; results.csv, summary.md, plots."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Args:
    """Reproduce one of the papers' experiments as a multi-seed sweep on Ray Tune (cartpole-cost, cartpole-dx,
    imitation, nonrealizable-pendulum, gradient-fidelity, visual, pixel-bc, closed-loop-bc, rl); writes
    results.csv, summary.md and plots."""

    name: str
    """The study: cartpole-cost, cartpole-dx, imitation, nonrealizable-pendulum, gradient-fidelity, visual,
    pixel-bc, closed-loop-bc, rl."""
    seeds: int | None = None
    """Seeds per method and setting (None: the study's: 5; 8 for nonrealizable-pendulum; 3 for gradient-fidelity,
    visual and pixel-bc; 1 with --quick)."""
    quick: bool = False
    """A reduced version of the same study (seconds to a few minutes): tiny sizes, one seed unless --seeds says
    otherwise."""
    epochs: int | None = None
    """Epochs of the model-based learners (None: the study's)."""
    device: str = "cpu"
    """Torch device of the studies that train networks (visual, pixel-bc), e.g. cuda; the others run on CPU."""
    size: int | None = None
    """Frame side in pixels of visual and pixel-bc, a multiple of 32 (None: the study's, 64; e.g. 224 on a GPU)."""
    grid: str | None = None
    """A study's named grid where it has several (closed-loop-bc, rl: full or reduced; None: the study's full
    grid)."""
    address: str | None = None
    """A Ray cluster to run on: its address, or auto (the one RAY_ADDRESS or the last `ray start` here names).
    None: a new local Ray on --cpus cores, whatever cluster this machine knows of."""
    cpus_per_trial: int = 1
    """CPU cores (and torch threads) per trial."""
    cpus: int | None = None
    """Cores a local Ray may use (None: all of them); trials run cpus / cpus_per_trial at a time."""
    out: Path | None = None
    """Output folder (None: runs/reproduce/NAME[-quick]); an earlier run of the same sweep there is resumed."""
    fresh: bool = False
    """Discard an earlier sweep in the output folder."""
    cache: str | None = "runs/reproduce/trial-cache"
    """Where finished trials are kept for other studies: a trial another study ran with the same settings, the
    same library source and the same torch, numpy, Gymnasium, SB3 and MuJoCo versions is copied, not run again
    (None: no cache)."""
    progress: bool = True
    """Show a progress bar over the trials."""
    summary_only: bool = False
    """Run nothing: rewrite summary.md and the plots of a finished sweep in --out from its results.csv."""

    def __post_init__(self) -> None:
        from dilqr_rl.experiments import STUDIES

        if self.name not in STUDIES:
            raise ValueError(f"--name must be one of {list(STUDIES)}; got {self.name!r}")
        if self.grid is not None:
            import importlib

            grids = getattr(importlib.import_module(f"dilqr_rl.experiments.{STUDIES[self.name]}"), "GRIDS", {})
            if self.grid not in grids:
                raise ValueError(f"--grid must be one of {list(grids)} for {self.name}; got {self.grid!r}" if grids
                                 else f"--grid: {self.name} has one grid only; drop --grid (closed-loop-bc and rl have "
                                      "named grids)")
        if self.cpus_per_trial < 1:
            raise ValueError(f"--cpus-per-trial must be >= 1; got {self.cpus_per_trial}")
        if self.size is not None and (self.size < 32 or self.size % 32):
            raise ValueError(f"--size must be a multiple of 32 (the image encoder halves each side five times), "
                             f"e.g. 64 or 224; got {self.size}")
        if self.cpus is not None and self.cpus < self.cpus_per_trial:
            raise ValueError(f"--cpus must be >= --cpus-per-trial ({self.cpus_per_trial}); got {self.cpus}")


def resume_command(args: Args, out: Path) -> str:
    """The command that resumes the sweep ``args`` started in ``out``: the same options, without --fresh."""
    from dilqr_rl.cli._commands import installed_command

    parts = [installed_command("dilqr-rl"), "reproduce"]
    for field in dataclasses.fields(Args):
        value = out if field.name == "out" else getattr(args, field.name)
        if field.name in ("fresh", "summary_only") or value == field.default:
            continue
        flag = "--" + field.name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else f"--no-{flag[2:]}")
        else:
            parts += [flag, shlex.quote(str(value))]
    return " ".join(parts)


def run(args: Args) -> int:
    from dilqr_rl.cli._errors import CLIError
    from dilqr_rl.experiments import StudyOptions, run_study
    from dilqr_rl.experiments.sweep import SweepError, SweepInterrupted, summarize_again

    options = StudyOptions(seeds=args.seeds, quick=args.quick, epochs=args.epochs, device=args.device,
                           size=args.size, grid=args.grid)
    try:
        if args.summary_only:
            default = Path("runs") / "reproduce" / (args.name + ("-quick" if args.quick else ""))
            out = summarize_again(args.name, args.out or default, options)
            print(f"summary: {out / 'summary.md'}")
            return 0
        out = run_study(args.name, options, args.out, args.address, args.cpus_per_trial, args.fresh,
                        args.progress, args.cache, args.cpus)
    except SweepError as error:
        raise CLIError(str(error)) from None
    except SweepInterrupted as stop:  # the finished trials' rows and the summary are written
        print(f"interrupted: {stop}\nresume: {resume_command(args, stop.out_dir)}", file=sys.stderr)
        return 130
    print(f"results: {out / 'results.csv'}\nsummary: {out / 'summary.md'}")
    return 0
