"""The final policies of an ``rl`` study run on evaluation episodes none of its choices saw.

    python benchmarks/rl_heldout.py --data DIR [--env-id Pendulum-v1] [--algo td3] [--seed 2000] [--episodes 20]
                                    [--out benchmarks/results]

``DIR`` is the study's ``data`` folder (``dilqr-rl reproduce --name rl --out OUT``: ``OUT/data``), which holds each
trial's run folder with its ``model.zip`` and ``config.json``. The study evaluates on episodes seeded 1000.., the
same episodes the development runs that chose the DiLQR actor's defaults (the off-policy hold, the relative rates)
were evaluated on; this evaluates every final ``model.zip`` of ``--env-id`` and ``--algo`` on episodes seeded
``--seed``.., normalised to a random policy (0) and the iLQR expert (1) on those episodes. ``--out`` writes
``rl_heldout_<env>_<algo>.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from dilqr_rl.agents.evaluation import RandomPolicy, evaluate_episodes, load_sb3_model
from dilqr_rl.agents.rl_monitor import normalized
from dilqr_rl.policies import expert_for
from dilqr_rl.policies.env_registry import make_env


def actor_name(config: dict) -> str:
    """The study's actor name of a run's ``config.json``."""
    if config["policy"] != "dilqr":
        return "mlp"
    if config["sysid_every"]:
        return "dilqr+sysid"
    return "dilqr+cost-map" if "cost-map" in config["learn"] else "dilqr"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--env-id", default="Pendulum-v1")
    parser.add_argument("--algo", default="td3")
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runs = sorted(p for p in args.data.glob("*/config.json")
                  if (c := json.loads(p.read_text()))["env_id"] == args.env_id and c["algo"] == args.algo)
    if not runs:
        parser.error(f"no {args.algo} run of {args.env_id} in {args.data}")

    def make():
        return make_env(args.env_id)

    with make() as env:
        references = {"random": RandomPolicy(env.observation_space, env.action_space, seed=0),
                      "expert": expert_for(env)}
    ref = {k: float(evaluate_episodes(p, make, args.episodes, args.seed).returns.mean()) for k, p in references.items()}
    lines = [f"`python benchmarks/rl_heldout.py --data DIR --env-id {args.env_id} --algo {args.algo} --seed "
             f"{args.seed} --episodes {args.episodes}`: episodes seeded {args.seed}..{args.seed + args.episodes - 1}, "
             f"random {ref['random']:.1f}, expert {ref['expert']:.1f}.", "",
             "| actor | seed | return | normalised |", "|---|---|---|---|"]
    rows = []
    for path in runs:
        config = json.loads(path.read_text())
        with make() as env:
            policy = load_sb3_model(path.parent / "model.zip", env)
        value = float(evaluate_episodes(policy, make, args.episodes, args.seed).returns.mean())
        rows.append((actor_name(config), config["seed"], value, normalized(value, ref)))
    for actor, seed, value, norm in sorted(rows):
        lines.append(f"| {actor} | {seed} | {value:.1f} | {norm:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        name = f"rl_heldout_{args.env_id.replace('/', '-')}_{args.algo}.md"
        (args.out / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
