"""A tiny study that Ctrl-C stops, for the sweep's tests: ``done`` finishes at once; ``stop`` then sends the driver
(the process that listed the trials) a SIGINT, as Ctrl-C does; ``stop`` and ``wait`` then run until
``data_dir/go`` exists; ``later`` has no core left (2 in the tests' Ray) and has not started when the sweep stops."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from dilqr_rl.experiments.study import Study, StudyOptions
from tests.experiments.fake_study import summarize


def trials(options: StudyOptions) -> list[dict]:
    return [{"trial_id": f"{kind}__s0", "seed": 0, "kind": kind, "driver": os.getpid()}
            for kind in ("done", "stop", "wait", "later")]


def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def run_trial(config: dict, trial_dir: Path) -> dict:
    trial_dir.mkdir(parents=True, exist_ok=True)
    with (trial_dir / "runs.txt").open("a") as f:
        f.write("run\n")
    (trial_dir / "history.json").write_text('{"loss": [1.0]}')
    go = Path(config["data_dir"]) / "go"
    if config["kind"] == "stop" and not go.exists():
        _wait_for(trial_dir.parent / "done__s0" / "history.json", 30)
        time.sleep(3)  # Tune takes the finished trial's result
        os.kill(config["driver"], signal.SIGINT)
    if config["kind"] != "done":
        _wait_for(go, 60)
    return {"value": 1.0}


STUDY = Study("fake-stopping", "a sweep that Ctrl-C stops", trials, run_trial, summarize, __name__)
