"""Measure the iLQR experts (the README's experts table): return over seeded episodes and time per step.

    python scripts/expert_returns.py           # every env expert_for supports -> benchmarks/results/expert_returns.*
    python scripts/expert_returns.py --quick   # 2 episodes of 30 steps per env (the test suite runs this)
    python scripts/expert_returns.py --only Pendulum-v1   # one env, printed only
    python scripts/expert_returns.py --refit   # also refit the InvertedPendulum-v5 model

Episode i of a row with seeds s..s+N-1 is reset with seed s + i (``evaluate_episodes``: the N episodes in
lockstep, one batched solve per step; the pixel pendulum's privileged expert reads one env's true state, so its
episodes run one after another). ``Pendulum-v1`` has three seed sets: 0..99 (its settings were tuned there),
1000..1099 (held out from the tuning, but used to diagnose its failures) and 2000..2099 (first run after the
settings were fixed). The time per step is the wall time of ``expert.predict`` for one env (B = 1, one torch
thread), averaged over every step of the first episode(s), the episode start's cold solve included.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import torch

import dilqr_rl.envs  # noqa: F401  (registers our ids)
from dilqr_rl.agents.evaluation import evaluate_episodes, run_episode
from dilqr_rl.policies import expert_for
from dilqr_rl.policies.expert import ILQRExpert
from dilqr_rl.policies.expert_fit import INVERTED_PENDULUM_FIT, fit_inverted_pendulum

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
COLUMNS = ("env_id", "seeds", "episodes", "mean_return", "std_return", "min_return", "max_return",
           "mean_length", "ms_per_step", "timed_steps", "settings")


@dataclass(frozen=True)
class Case:
    """One row: an env, its episodes' seeds, how many episodes time the steps."""

    env_id: str
    seed: int
    episodes: int
    timed_episodes: int = 1
    lockstep: bool = True
    """False for the pixel pendulum, whose expert reads the true state of the one env it was built for."""


CASES = (
    Case("Pendulum-v1", 0, 100, timed_episodes=3),
    Case("Pendulum-v1", 1000, 100, timed_episodes=0),
    Case("Pendulum-v1", 2000, 100, timed_episodes=0),
    Case("dilqr_rl/Pendulum-v0", 0, 100, timed_episodes=3),
    Case("dilqr_rl/PixelPendulum-v0", 0, 20, timed_episodes=3, lockstep=False),
    Case("dilqr_rl/CartpoleSwingUp-v0", 0, 10),
    Case("dilqr_rl/CartpoleBalance-v0", 0, 20),
    Case("InvertedPendulum-v5", 0, 10),
)
QUICK_EPISODES, QUICK_STEPS = 2, 30


class TimedPolicy:
    """Wraps a policy's ``predict`` and adds up its wall time and calls."""

    def __init__(self, policy: ILQRExpert) -> None:
        self.policy, self.seconds, self.calls = policy, 0.0, 0

    def predict(self, *args, **kwargs):
        start = time.perf_counter()
        out = self.policy.predict(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out


def settings_text(expert: ILQRExpert) -> str:
    s = expert.settings
    starts = len(s.cold_starts) + 2 * len(getattr(s, "cold_switches", ()))
    return f"T={s.horizon} warm {s.max_iter} it; cold {s.cold_iter} it from {starts} starts"


def ms_per_step(case: Case, quick: bool) -> tuple[float, int]:
    """Mean wall time (ms) of ``predict`` for one env over the steps of the timed episodes, and their count."""
    episodes = min(case.timed_episodes, 1) if quick else case.timed_episodes
    if episodes == 0:
        return float("nan"), 0
    env = gym.make(case.env_id)
    timed = TimedPolicy(expert_for(env))
    for i in range(episodes):
        run_episode(timed, env, case.seed + i, max_steps=QUICK_STEPS if quick else None)
    env.close()
    return 1e3 * timed.seconds / timed.calls, timed.calls


def measure(case: Case, quick: bool) -> dict:
    """The row of ``case``: returns over its seeded episodes, ms per step of one env."""
    episodes = QUICK_EPISODES if quick else case.episodes
    max_steps = QUICK_STEPS if quick else None
    env = gym.make(case.env_id)
    expert = expert_for(env)
    episodes_of = (lambda: gym.make(case.env_id)) if case.lockstep else env
    result = evaluate_episodes(expert, episodes_of, n_episodes=episodes, seed=case.seed, max_steps=max_steps)
    env.close()
    ms, steps = ms_per_step(case, quick)
    returns = result.returns
    return {
        "env_id": case.env_id, "seeds": f"{case.seed}..{case.seed + episodes - 1}", "episodes": episodes,
        "mean_return": f"{returns.mean():.1f}", "std_return": f"{returns.std():.1f}",
        "min_return": f"{returns.min():.1f}", "max_return": f"{returns.max():.1f}",
        "mean_length": f"{result.lengths.mean():.0f}", "ms_per_step": "-" if steps == 0 else f"{ms:.1f}",
        "timed_steps": steps, "settings": settings_text(expert),
    }


def markdown(rows: list[dict], quick: bool) -> str:
    header = ("| env | seeds | episodes | mean return +- std | min | mean length | ms per step (B = 1) | "
              "expert settings |\n|---|---|---|---|---|---|---|---|\n")
    lines = [f"| `{r['env_id']}` | {r['seeds']} | {r['episodes']} | {r['mean_return']} +- {r['std_return']} | "
             f"{r['min_return']} | {r['mean_length']} | {r['ms_per_step']} | {r['settings']} |" for r in rows]
    note = " (--quick: 2 episodes of 30 steps, not the README's figures)" if quick else ""
    return (f"Written by `python scripts/expert_returns.py`{note}; torch {torch.__version__}, one thread.\n\n"
            + header + "\n".join(lines) + "\n")


def write(rows: list[dict], out: Path, quick: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = "expert_returns_quick" if quick else "expert_returns"
    with open(out / f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (out / f"{stem}.md").write_text(markdown(rows, quick))
    print(f"wrote {out / stem}.csv and .md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_EPISODES} episodes of {QUICK_STEPS} steps per row; writes expert_returns_quick.*")
    parser.add_argument("--only", default=None, help="measure only this env id (printed; no files written)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the results files")
    parser.add_argument("--refit", action="store_true", help="also refit the InvertedPendulum-v5 model")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if args.only in (None, c.env_id)]
    if not cases:
        parser.error(f"--only {args.only!r} is none of {sorted({c.env_id for c in CASES})}")
    torch.set_num_threads(1)
    if args.refit:
        print("stored:", INVERTED_PENDULUM_FIT)
        print("refit: ", fit_inverted_pendulum())
    rows = []
    for case in cases:
        row = measure(case, args.quick)
        print(f"{row['env_id']}: seeds {row['seeds']}: return {row['mean_return']} +- {row['std_return']} "
              f"(min {row['min_return']}), length {row['mean_length']}, {row['ms_per_step']} ms/step; "
              f"{row['settings']}", flush=True)
        rows.append(row)
    if args.only is None:
        write(rows, args.out, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
