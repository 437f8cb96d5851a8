"""``dilqr-rl bench``: run one timing study, print its table, write CSV/JSON/Markdown (and a plot).

Results go to ``runs/bench/{study}__{time}/`` unless ``--out`` names a folder; the committed results in
``benchmarks/results/`` change only with ``--out benchmarks/results``.
"""

from __future__ import annotations

import csv
import json
import platform
import time
import warnings
from pathlib import Path

import torch

from dilqr_rl.bench import backward_time, mpc_pytorch, scale, speed, trajax_peer, trajax_study
from dilqr_rl.bench.config import BenchConfig
from dilqr_rl.control import HessianFallbackWarning, UnconvergedWarning

STUDIES = {"iterations": backward_time, "speed": speed, "scale": scale, "trajax": trajax_study}


def output_folder(config: BenchConfig) -> Path:
    if config.out:
        return Path(config.out)
    return Path("runs") / "bench" / f"{config.study}__{time.strftime('%Y%m%d-%H%M%S')}"


def file_stem(config: BenchConfig) -> str:
    """backward_time_{model} for the iterations study (one file set per model kind), else the study's name."""
    return f"backward_time_{config.model.replace('-', '_')}" if config.study == "iterations" else config.study


def write(result: dict, out: Path, stem: str, text: str, meta: dict, plot) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{stem}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(result["rows"][0]))
        writer.writeheader()
        writer.writerows(result["rows"])
    (out / f"{stem}.json").write_text(json.dumps({**result, "meta": meta}, indent=2))
    (out / f"{stem}.md").write_text(text + "\n")
    plot(result, out / f"{stem}.png")


def run_config(config: BenchConfig) -> int:
    """Run the study, write the files, print the table."""
    args = config.resolved()
    study = STUDIES[args.study]
    out, stem = output_folder(args), file_stem(args)
    torch.manual_seed(0)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    meta = {"study": args.study, "torch": torch.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "threads": torch.get_num_threads(), "device": args.device,
            "dtype": args.dtype, "repeats": args.repeats, "mpc_pytorch": mpc_pytorch.available(),
            "trajax": trajax_peer.available()}
    print(f"benchmark: {meta}")
    with warnings.catch_warnings():
        # tol=0 runs a fixed number of iterations: such solves are "unconverged" by design, and their
        # backward may fall back to the cost Hessian; both are expected here.
        warnings.simplefilter("ignore", UnconvergedWarning)
        warnings.simplefilter("ignore", HessianFallbackWarning)
        warnings.filterwarnings("ignore", message="indexing with dtype torch.uint8", category=UserWarning)
        result = study.run(args)
    text = study.table(result)
    write(result, out, stem, text, meta, study.plot)
    print(text)
    print(f"wrote {out}/{stem}.{{csv,json,md,png}}")
    return 0
