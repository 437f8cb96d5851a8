"""What a committed benchmark result records of where it ran: date, machine, the commit of ours measured."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def cpu_name() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.rstrip() if out.returncode == 0 else ""  # keep the leading blank of "git status" lines


def commit() -> dict:
    """{"commit": short hash or "unknown", "uncommitted": files under dilqr_rl/ that differ from it}."""
    changed = [line[3:] for line in _git("status", "--porcelain", "--", "dilqr_rl").splitlines()]
    return {"commit": _git("rev-parse", "--short", "HEAD").strip() or "unknown", "uncommitted": changed}


def provenance(extra: dict | None = None) -> dict:
    """Date, machine, commit, torch version and threads, and ``extra`` (e.g. a peer's versions)."""
    return {"date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "machine": f"{os.cpu_count()} cores ({cpu_name()}), {platform.system()} {platform.machine()}, CPU only",
            **commit(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(), **(extra or {})}
