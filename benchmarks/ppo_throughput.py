"""PPO env steps per second: the zero-config DiLQR actor against SB3's MlpPolicy, in one run.

    python benchmarks/ppo_throughput.py [--env-ids Pendulum-v1 ...] [--n-envs 8] [--n-steps 256] [--repeats 3]
                                        [--cost-map] [--profile] [--out benchmarks/results] [--quick]

The set-up of issue 14: ``PPO(policy, env_id)`` with 8 envs, ``n_steps=256``, one update of 5 epochs of batch 64
(``total_timesteps = n_envs * n_steps``), one thread; DiLQR zero-config: ``policy_kwargs=dict(env_id=...)`` (the
env's registered model, the expert's cost and state map, the registered actor settings and plan memory). The two
policies alternate in every repeat, so the machine's load drifts alike for both; medians over repeats. Where the
zero-config actor follows its own plans (``follow_tolerance`` > 0), the same actor solving every new observation
from its starts runs too, in the same alternation; with ``--cost-map`` so does the zero-config actor with a cost
map (``cost_map="goal_weights"``: per-state weights and goal, the rl study's cost-map variant). Prints steps/s of
each and their ratio, in wall-clock time and per second of process CPU time (on a shared machine the
latter leaves out the time other jobs held the core); ``--profile`` adds where the DiLQR run's time goes (one run
under cProfile, ms per env step); ``--out`` writes ppo_throughput.md and .json with the date, machine and commit.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import dilqr_rl.envs  # noqa: F401  (registers the dilqr_rl/... ids)
from dilqr_rl.bench.provenance import provenance
from dilqr_rl.control import kernels
from dilqr_rl.policies import DiLQRPolicy
from dilqr_rl.policies.env_models import env_model

PARTS = {
    "rollout: the actor's solves": ("rollout", "dilqr_actor.py", "solve"),
    "rollout, of which: multi-start solves of new observations": ("rollout", "dilqr_actor.py", "_warm_starts"),
    "rollout: env steps": ("rollout", "dummy_vec_env.py", "step_wait"),
    "update: the actor's re-solves (plan memory warm starts)": ("update", "dilqr_actor.py", "solve"),
    "update, of which: multi-start solves of observations not in memory": ("update", "dilqr_actor.py", "_warm_starts"),
    "update: implicit backward": ("update", "layer.py", "backward"),
    "update: optimizer step": ("update", "optimizer.py", "wrapper"),
}
"""Profile parts: (phase, file, function); an "of which" part is within the part above it."""


def make_ppo(policy, env_id: str, n_envs: int, n_steps: int, **actor: float) -> PPO:
    venv = make_vec_env(env_id, n_envs=n_envs, seed=0)
    kwargs = None if isinstance(policy, str) else dict(env_id=env_id, **actor)
    return PPO(policy, venv, n_steps=n_steps, n_epochs=5, batch_size=64, seed=0, device="cpu", policy_kwargs=kwargs)


def learn(model: PPO) -> tuple[float, float]:
    """One rollout and one update; returns env steps per second of wall-clock time and of process CPU time (on a
    shared machine the second leaves out the time other jobs held the core)."""
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.learn(total_timesteps=model.n_envs * model.n_steps)
    return model.num_timesteps / (time.perf_counter() - start), model.num_timesteps / (time.process_time() - cpu)


def _cumulative(stats: pstats.Stats, file: str, function: str) -> float:
    """Seconds in ``function`` of ``file`` and below (recursive entries repeat the outer call's time: the max)."""
    return max((c[3] for (path, _, name), c in stats.stats.items() if path.endswith(file) and name == function),
               default=0.0)


def profile(env_id: str, n_envs: int, n_steps: int) -> dict[str, float]:
    """One DiLQR run under cProfile: ms per env step of the rollout, the update and their parts."""
    model = make_ppo(DiLQRPolicy, env_id, n_envs, n_steps)
    profiles, wall = {"rollout": cProfile.Profile(), "update": cProfile.Profile()}, {"rollout": 0.0, "update": 0.0}

    def profiled(phase, fn):
        def run(*args, **kwargs):
            start = time.perf_counter()
            profiles[phase].enable()
            try:
                return fn(*args, **kwargs)
            finally:
                profiles[phase].disable()
                wall[phase] += time.perf_counter() - start
        return run

    model.collect_rollouts = profiled("rollout", model.collect_rollouts)
    model.train = profiled("update", model.train)
    learn(model)
    per_step = 1e3 / model.num_timesteps
    stats = {phase: pstats.Stats(p) for phase, p in profiles.items()}
    out = {"rollout (total)": wall["rollout"] * per_step, "update (total)": wall["update"] * per_step}
    for part, (phase, file, function) in PARTS.items():
        out[part] = _cumulative(stats[phase], file, function) * per_step
    for phase in ("rollout", "update"):
        parts = sum(v for k, v in out.items() if k.startswith(f"{phase}:"))  # the top-level parts
        out[f"{phase}: the rest (SB3, critic, distribution, Python)"] = out[f"{phase} (total)"] - parts
    return out


def measure(env_id: str, n_envs: int, n_steps: int, repeats: int, cost_map: bool = False) -> dict:
    """Medians over ``repeats`` alternating runs of the policies, wall-clock and process CPU time: the MLP, the
    zero-config DiLQR actor, where that actor follows its own plans the same actor solving every new observation
    from its starts (``follow_tolerance=0``) and, with ``cost_map``, the actor with a goal-and-weights cost map."""
    variants = {"MlpPolicy": ("MlpPolicy", {}), "DiLQRPolicy": (DiLQRPolicy, {})}
    if env_model(env_id).actor.follow_tolerance > 0:
        variants["starts"] = (DiLQRPolicy, {"follow_tolerance": 0.0})
    if cost_map:
        variants["cost_map"] = (DiLQRPolicy, {"cost_map": "goal_weights"})
    runs = {name: [] for name in variants}
    for _ in range(repeats):
        for name, (policy, actor) in variants.items():
            runs[name].append(learn(make_ppo(policy, env_id, n_envs, n_steps, **actor)))
    median = {name: [statistics.median(r[i] for r in v) for i in (0, 1)] for name, v in runs.items()}
    (mlp, mlp_cpu), (dilqr, dilqr_cpu) = median["MlpPolicy"], median["DiLQRPolicy"]
    row = {"env_id": env_id, "n_envs": n_envs, "n_steps": n_steps, "repeats": repeats, "mlp_steps_per_s": round(mlp),
           "dilqr_steps_per_s": round(dilqr, 1), "ratio": round(dilqr / mlp, 4), "mlp_cpu_steps_per_s": round(mlp_cpu),
           "dilqr_cpu_steps_per_s": round(dilqr_cpu, 1), "cpu_ratio": round(dilqr_cpu / mlp_cpu, 4)}
    for name in ("starts", "cost_map"):
        steps = median[name][0] if name in median else None
        row[f"{name}_steps_per_s"] = None if steps is None else round(steps, 1)
        row[f"{name}_ratio"] = None if steps is None else round(steps / mlp, 4)
    return row


def _table(rows: list[dict]) -> list[str]:
    cost_map = any(r.get("cost_map_ratio") for r in rows)
    lines = ["| env | envs x steps | MlpPolicy steps/s | DiLQRPolicy steps/s | DiLQR / MLP | the same per CPU second "
             "| DiLQR from the starts (follow_tolerance=0) steps/s | / MLP |"
             + (" DiLQR with a cost map (goal_weights) steps/s | / MLP |" if cost_map else ""),
             "|---" * (10 if cost_map else 8) + "|"]
    for r in rows:
        starts = (f"{r['starts_steps_per_s']} | 1/{1 / r['starts_ratio']:.1f}" if r["starts_ratio"]
                  else "(the zero-config actor does not follow) | -")
        mapped = f" {r['cost_map_steps_per_s']} | 1/{1 / r['cost_map_ratio']:.1f} |" if cost_map else ""
        lines.append(f"| {r['env_id']} | {r['n_envs']} x {r['n_steps']} | {r['mlp_steps_per_s']} | "
                     f"{r['dilqr_steps_per_s']} | 1/{1 / r['ratio']:.1f} | {r['mlp_cpu_steps_per_s']} vs "
                     f"{r['dilqr_cpu_steps_per_s']}: 1/{1 / r['cpu_ratio']:.1f} | {starts} |{mapped}")
    return lines


def _profile_table(rows: list[dict]) -> list[str]:
    lines = ["| part | " + " | ".join(r["env_id"] for r in rows) + " |", "|---" * (len(rows) + 1) + "|"]
    for part in rows[0]["profile_ms_per_step"]:
        lines.append(f"| {part} | " + " | ".join(f"{r['profile_ms_per_step'][part]:.3f}" for r in rows) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-ids", nargs="+", default=["Pendulum-v1"])
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--n-steps", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of both policies; medians")
    parser.add_argument("--cost-map", action="store_true", help="also the zero-config actor with a cost map")
    parser.add_argument("--profile", action="store_true", help="where the DiLQR run's time goes (cProfile)")
    parser.add_argument("--out", type=Path, default=None, help="write ppo_throughput.md and .json here")
    parser.add_argument("--quick", action="store_true", help="2 envs x 32 steps, one repeat (the test suite runs this)")
    args = parser.parse_args(argv)
    n_envs, n_steps, repeats = (2, 32, 1) if args.quick else (args.n_envs, args.n_steps, args.repeats)
    torch.set_num_threads(1)
    rows = []
    for env_id in args.env_ids:
        row = measure(env_id, n_envs, n_steps, repeats, args.cost_map)
        print(f"{env_id}, {n_envs} envs x {n_steps} steps, one update of 5 epochs, one thread, median of {repeats}")
        print(f"MlpPolicy: {row['mlp_steps_per_s']} env steps/s; DiLQRPolicy (zero-config): "
              f"{row['dilqr_steps_per_s']} env steps/s; ratio 1/{1 / row['ratio']:.1f} (per CPU second: "
              f"1/{1 / row['cpu_ratio']:.1f})" + (f"; from the starts: {row['starts_steps_per_s']} env steps/s, "
                                                  f"1/{1 / row['starts_ratio']:.1f}" if row["starts_ratio"] else "")
              + (f"; with a cost map: {row['cost_map_steps_per_s']} env steps/s, 1/{1 / row['cost_map_ratio']:.1f}"
                 if row["cost_map_ratio"] else ""))
        if args.profile:
            row["profile_ms_per_step"] = {k: round(v, 4) for k, v in profile(env_id, n_envs, n_steps).items()}
            for part, ms in row["profile_ms_per_step"].items():
                print(f"  {part}: {ms:.3f} ms per env step (under cProfile)")
        rows.append(row)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        meta = provenance({"kernels": kernels.status()})
        (args.out / "ppo_throughput.json").write_text(json.dumps({**meta, "rows": rows}, indent=1) + "\n")
        flags = (" --cost-map" if args.cost_map else "") + (" --profile" if args.profile else "")
        text = [f"`python benchmarks/ppo_throughput.py --env-ids {' '.join(args.env_ids)} --n-envs {n_envs} "
                f"--n-steps {n_steps} --repeats {repeats}{flags}`", "",
                f"{meta['date']}, {meta['machine']}, commit {meta['commit']}"
                + (f" (+ uncommitted {', '.join(meta['uncommitted'])})" if meta["uncommitted"] else "")
                + f", torch {meta['torch']}, one thread; {meta['kernels']}. One update of 5 epochs of batch 64; "
                "the policies alternate; medians.", "", *_table(rows)]
        if args.profile:
            text += ["", "Where the DiLQR run's time goes (one run under cProfile, whose overhead inflates the Python "
                     "parts; ms per env step):", "", *_profile_table(rows)]
        (args.out / "ppo_throughput.md").write_text("\n".join(text) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
