"""Backward time vs iterations and horizon (DiLQR Fig. 2); the same as ``dilqr-rl bench``.

    python benchmarks/backward_time.py [--quick] [--out DIR] [--no-mpc] ...
"""

import sys

from dilqr_rl.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
