"""Why PPO learning the physics from the RL loss loses return on Pendulum-v1: the zero-config DiLQR actor's return
along the straight path from the default wrong start to the true physics, and at the physics the rl study's PPO
runs ended with.

    python benchmarks/rl_physics_path.py [--episodes 20] [--results benchmarks/reproduce/rl/results.csv]
                                         [--out benchmarks/results] [--quick]

Pendulum-v1's dynamics identify only a = 3g/(2l) and b = 3/(m l^2) (theta_ddot = a sin theta + b u): the path
runs in (a, b), from the start (mass, length, gravity x1.3, x0.7, x1.3: a = 27.9, b = 4.71) to the truth (15, 3),
each point realised with length 1. The actor is the env's registered one (``DiLQRPolicy(env_id=...,
model_error=...)``), deterministic, on the episodes the study evaluates on (seeded 1000, 1001, ...), normalised
with the study's random and expert returns (read from ``--results``). ``--out`` writes rl_physics_path.md;
``--quick`` (the tests) evaluates 1 episode at the path's ends and one run's physics.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch
from stable_baselines3 import PPO

from dilqr_rl.agents.evaluation import evaluate_episodes
from dilqr_rl.bench.provenance import provenance
from dilqr_rl.policies import DiLQRPolicy
from dilqr_rl.policies.env_registry import make_env

ENV_ID = "Pendulum-v1"
TRUTH = {"mass": 1.0, "length": 1.0, "gravity": 10.0}
START = {"mass": 1.3, "length": 0.7, "gravity": 13.0}
FRACTIONS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)


def identified(mass: float, length: float, gravity: float) -> tuple[float, float]:
    """(3g/(2l), 3/(m l^2))."""
    return 3 * gravity / (2 * length), 3 / (mass * length**2)


def physics_at(a: float, b: float) -> dict[str, float]:
    """Parameters with length 1 whose identified pair is (a, b)."""
    return {"mass": 3 / b, "length": 1.0, "gravity": 2 * a / 3}


def actor_return(physics: dict[str, float], episodes: int) -> float:
    error = {name: physics[name] / TRUTH[name] - 1 for name in TRUTH}
    env = make_env(ENV_ID)
    model = PPO(DiLQRPolicy, env, n_steps=8, batch_size=8, seed=0, device="cpu",
                policy_kwargs=dict(env_id=ENV_ID, model_error=error))
    result = evaluate_episodes(model.policy, lambda: make_env(ENV_ID), n_episodes=episodes, seed=1000)
    return float(np.mean(result.returns))


def study_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return [r for r in csv.DictReader(f) if r["env_id"] == ENV_ID and r["algo"] == "ppo" and r["actor"] == "dilqr"
                and r["status"] == "ok"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--results", type=Path, default=Path("benchmarks/reproduce/rl/results.csv"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="1 episode, the path's ends, the first run")
    args = parser.parse_args(argv)
    fractions = (FRACTIONS[0], FRACTIONS[-1]) if args.quick else FRACTIONS
    episodes = 1 if args.quick else args.episodes
    torch.set_num_threads(1)
    rows = study_rows(args.results)[: 1 if args.quick else None]
    if not rows:
        raise SystemExit(f"error: {args.results} has no finished Pendulum-v1 PPO DiLQR (physics) trial")
    random, expert = float(rows[0]["random_return"]), float(rows[0]["expert_return"])

    def normalised(value: float) -> float:
        return (value - random) / (expert - random)

    lines = ["| point | 3g/(2l) | 3/(m l^2) | return | normalised |", "|---|---|---|---|---|"]
    (a0, b0), (a1, b1) = identified(**START), identified(**TRUTH)
    for s in fractions:
        a, b = a0 + s * (a1 - a0), b0 + s * (b1 - b0)
        value = actor_return(physics_at(a, b), episodes)
        lines.append(f"| path {s:.2f} (start 0, truth 1) | {a:.2f} | {b:.3f} | {value:.1f} | {normalised(value):.3f} |")
        print(lines[-1], flush=True)
    for row in rows:
        physics = {name: float(row[f"param/{name}"]) for name in TRUTH}
        value = actor_return(physics, episodes)
        a, b = identified(**physics)
        lines.append(f"| PPO seed {row['seed']}'s final physics (its run's final evaluation: "
                     f"{float(row['final_return']):.1f}) | {a:.2f} | {b:.3f} | {value:.1f} | {normalised(value):.3f} |")
        print(lines[-1], flush=True)
    if args.out is not None:
        meta = provenance({})
        args.out.mkdir(parents=True, exist_ok=True)
        text = [f"`python benchmarks/rl_physics_path.py --episodes {episodes} --results {args.results}"
                f"{' --quick' if args.quick else ''}`", "",
                f"{meta['date']}, {meta['machine']}, commit {meta['commit']}, torch {meta['torch']}, one thread. "
                f"The zero-config DiLQR actor of {ENV_ID} (deterministic) on {episodes} episodes seeded 1000.., "
                f"normalised with the study's random ({random:.1f}) and expert ({expert:.1f}) returns.", "", *lines]
        (args.out / "rl_physics_path.md").write_text("\n".join(text) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
