"""The papers' imitation comparison (DiLQR Fig. 3, DiffMPC Fig. 4): a thin entry point to the ``imitation``
study, the same as ``dilqr-rl reproduce --name imitation``.

    .venv/bin/python scripts/imitation.py [--quick] [--seeds N] [--out DIR]
"""

from __future__ import annotations

import argparse

from dilqr_rl.experiments import StudyOptions, run_study


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (minutes)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per method (default: the study's, 5)")
    p.add_argument("--out", default=None, help="output folder (default runs/reproduce/imitation[-quick])")
    a = p.parse_args()
    out = run_study("imitation", StudyOptions(seeds=a.seeds, quick=a.quick), a.out)
    print(f"summary: {out / 'summary.md'}")


if __name__ == "__main__":
    main()
