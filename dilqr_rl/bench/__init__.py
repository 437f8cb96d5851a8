"""Timing studies of the layer: ``dilqr-rl bench`` (``--study iterations | speed | scale``)."""
