"""A tiny study for the sweep's tests: one trial that succeeds, one that fails on purpose."""

from __future__ import annotations

from pathlib import Path

from dilqr_rl.experiments.study import Study, StudyOptions


def trials(options: StudyOptions) -> list[dict]:
    return [{"trial_id": f"{kind}__s{seed}", "seed": seed, "fail": kind == "bad"}
            for kind in ("ok", "bad") for seed in range(options.seeds_or(1))]


def run_trial(config: dict, trial_dir: Path) -> dict:
    trial_dir.mkdir(parents=True, exist_ok=True)
    with (trial_dir / "runs.txt").open("a") as f:
        f.write("run\n")
    if config["fail"]:
        raise RuntimeError(f"trial {config['trial_id']} fails on purpose")
    (trial_dir / "history.json").write_text('{"loss": [3.0, 2.0, 1.0]}')
    return {"value": config["seed"] + 1.5}


def summarize(rows: list[dict], out_dir: Path, options: StudyOptions) -> None:
    lines = [f"{r['trial_id']}: {r['status']} {r.get('value')} {r.get('error')}" for r in rows]
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n")


STUDY = Study("fake", "a tiny study for tests", trials, run_trial, summarize, __name__)
