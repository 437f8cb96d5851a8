"""The follow tolerance where the model is wrong: a DiLQR clone of the cart-pole swing-up evaluated following its
plans at each tolerance.

    python benchmarks/follow_tolerance_clone.py SEED EVAL_SEED TOL [TOL ...]
    python benchmarks/follow_tolerance_clone.py 0 2000 0.5 0.02

Clones the DiLQR actor (from the env's wrong physics) by BC from the closed-loop-bc study's 5 demonstrations of
its seed SEED (the study's trial: same data, same defaults), then evaluates it on 20 episodes seeded EVAL_SEED..
with each follow tolerance (the plans forgotten between), normalised (random 0, expert 1 on the same episodes).
Prints one line per tolerance: seed, tolerance, normalised return, ms per lockstep step / 20 envs. Data and the
reference returns are cached in runs/follow_tolerance/.
"""

from __future__ import annotations

import sys
import time

import torch

from dilqr_rl.agents.clone import Cloner
from dilqr_rl.agents.clone_config import CloneConfig
from dilqr_rl.experiments.closed_loop_bc_trial import demonstrations, env_kwargs, reference

ENV_ID = "dilqr_rl/CartpoleSwingUp-v0"


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    seed, eval_seed, tolerances = int(argv[0]), int(argv[1]), [float(t) for t in argv[2:]]
    config = dict(env_id=ENV_ID, n_demos=5, n_data=20, seed=seed, data_dir="runs/follow_tolerance", eval_episodes=20,
                  eval_seed=eval_seed, max_steps=None, policy="dilqr", method="bc")
    ref = reference(config)
    ds = demonstrations(config)
    cloner = Cloner(ENV_ID, CloneConfig(policy="dilqr", eval_episodes=20, eval_seed=1000, seed=seed, progress=False),
                    env_kwargs(config))
    cloner.fit(ds.observations, ds.actions, ds.episode, states=ds.arrays.get("states"))
    for tolerance in tolerances:
        cloner.policy.actor.follow_tolerance = tolerance
        cloner.policy.forget_plans()
        start = time.time()
        result = cloner.evaluate(20, eval_seed)
        ms = (time.time() - start) / (20 * 500) * 1000
        print(seed, tolerance, round(ref.normalize(result.mean_return), 3), f"{ms:.1f} ms/lockstep-ep-step", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
