"""The timing studies of ``dilqr-rl bench`` (DiLQR Fig. 2 by default; ``--study speed`` or ``--study scale``).

    python benchmarks/backward_time.py [--study iterations|speed|scale] [--model closed-form|autograd]
                                       [--quick] [--out DIR] [--no-mpc] ...
"""

import sys

from dilqr_rl.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
