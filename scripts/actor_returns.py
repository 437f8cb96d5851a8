"""The zero-config DiLQR actor against the iLQR expert in every registered env (issue: a DiLQR actor that solves
each environment), and the untrained actor from the env's default wrong physics.

    python scripts/actor_returns.py            # every env -> benchmarks/results/actor_returns.{csv,md}
    python scripts/actor_returns.py --quick    # 2 episodes of 30 steps per env (the test suite runs this)
    python scripts/actor_returns.py --only Pendulum-v1 --episodes 5   # one env, printed only

Per env, over the same seeded episodes (episode i reset with seed i, run in lockstep: one batched predict per
step): a uniform random policy (the 0 of the normalised return), the expert (``expert_for``: the 1), the
zero-config actor (``DiLQRPolicy`` with ``policy_kwargs=dict(env_id=...)``: the registered true model,
horizon, starts, plan memory) and the same actor from the env's default model error (``EnvControl.model_error``,
the wrong start of ``dilqr-rl rl``); where the actor follows its own plans, also the true-model actor solving every
new observation from its starts (``follow_tolerance=0``, ``actor_from_starts``). The time per step is the wall
time of ``predict`` over all lockstep steps divided by the steps of one env (B = episodes, one torch thread).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import torch
from stable_baselines3 import PPO

from dilqr_rl.agents.evaluation import RandomPolicy, evaluate_episodes, normalized_return
from dilqr_rl.policies import DiLQRPolicy, expert_for
from dilqr_rl.policies.env_registry import env_control, make_env

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
ENV_IDS = ("Pendulum-v1", "dilqr_rl/Pendulum-v0", "dilqr_rl/CartpoleSwingUp-v0", "dilqr_rl/CartpoleBalance-v0",
           "InvertedPendulum-v5")
COLUMNS = ("env_id", "episodes", "max_steps", "policy", "mean_return", "std_return", "normalized", "ms_per_step",
           "model_error")
QUICK_EPISODES, QUICK_STEPS = 2, 30


class Timed:
    """Adds up the wall time of a policy's ``predict`` and the env steps it served."""

    def __init__(self, policy) -> None:
        self.policy, self.seconds, self.steps = policy, 0.0, 0

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        start = time.perf_counter()
        out = self.policy.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)
        self.seconds += time.perf_counter() - start
        self.steps += 1
        return out


def actor(env_id: str, model_error: dict[str, float] | None, **kwargs) -> PPO:
    """PPO with the zero-config DiLQR actor (the policy is what is measured; nothing is trained)."""
    return PPO(DiLQRPolicy, make_env(env_id), n_steps=8, batch_size=8,
               policy_kwargs=dict(env_id=env_id, model_error=model_error, **kwargs), seed=0)


def measure(env_id: str, episodes: int, max_steps: int | None) -> list[dict]:
    env = make_env(env_id)
    wrong = dict(env_control(env).model_error)
    policies = {"random": RandomPolicy(env.observation_space, env.action_space, seed=0),
                "expert": expert_for(env), "actor": actor(env_id, None), "actor_wrong": actor(env_id, wrong)}
    if env_control(env).actor.follow_tolerance > 0:  # the same actor, every new observation from its starts
        policies["actor_from_starts"] = actor(env_id, None, follow_tolerance=0.0)
    results = {}
    for name, policy in policies.items():
        timed = Timed(policy)
        result = evaluate_episodes(timed, lambda: make_env(env_id), n_episodes=episodes, seed=0, max_steps=max_steps)
        results[name] = (result.returns, 1e3 * timed.seconds / max(timed.steps, 1))
        print(f"  {env_id} {name}: {result.returns.mean():.1f} +- {result.returns.std():.1f}, "
              f"{results[name][1]:.1f} ms/step", flush=True)
    random, expert = results["random"][0].mean(), results["expert"][0].mean()
    rows = []
    for name, (returns, ms) in results.items():
        rows.append({"env_id": env_id, "episodes": episodes, "max_steps": max_steps or "", "policy": name,
                     "mean_return": f"{returns.mean():.1f}", "std_return": f"{returns.std():.1f}",
                     "normalized": f"{normalized_return(returns.mean(), random, expert):.3f}",
                     "ms_per_step": f"{ms:.1f}",
                     "model_error": " ".join(f"{k}={v:+g}" for k, v in wrong.items()) if name == "actor_wrong" else ""})
    return rows


def markdown(rows: list[dict], quick: bool) -> str:
    note = " --quick (2 episodes of 30 steps: not the README's figures)" if quick else ""
    lines = [f"Written by `python scripts/actor_returns.py`{note}; torch {torch.__version__}, one thread.", "",
             "| env | policy | episodes | mean return +- std | normalised | ms per step (B = episodes) | model error |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| `{r['env_id']}` | {r['policy']} | {r['episodes']} | {r['mean_return']} +- {r['std_return']} | "
              f"{r['normalized']} | {r['ms_per_step']} | {r['model_error']} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EPISODES} episodes of {QUICK_STEPS} steps")
    parser.add_argument("--episodes", type=int, default=10, help="seeded episodes per env and policy")
    parser.add_argument("--only", default=None, help="one env id (printed; no files written)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the results files")
    args = parser.parse_args(argv)
    if args.only is not None and args.only not in ENV_IDS:
        parser.error(f"--only {args.only!r} is none of {list(ENV_IDS)}")
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1; got {args.episodes}")
    torch.set_num_threads(1)
    episodes, max_steps = (QUICK_EPISODES, QUICK_STEPS) if args.quick else (args.episodes, None)
    rows = []
    for env_id in ENV_IDS if args.only is None else (args.only,):
        rows += measure(env_id, episodes, max_steps)
    if args.only is None:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = "actor_returns_quick" if args.quick else "actor_returns"
        with open(args.out / f"{stem}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        (args.out / f"{stem}.md").write_text(markdown(rows, args.quick))
        print(f"wrote {args.out / stem}.csv and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
