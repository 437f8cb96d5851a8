"""``python -m dilqr_rl.cli`` is the ``dilqr-rl`` command."""

import sys

from dilqr_rl.cli import main

sys.exit(main())
