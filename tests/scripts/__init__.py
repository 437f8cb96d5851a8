"""Tests of ``scripts/*.py`` (run as the README runs them)."""
