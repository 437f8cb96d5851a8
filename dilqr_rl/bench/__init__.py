"""Timing studies of the layer (DiLQR Fig. 2): ``python -m dilqr_rl.bench.backward_time`` or ``dilqr-rl bench``."""
