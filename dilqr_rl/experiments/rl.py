"""``rl``: actor-critic with a DiLQR actor against SB3's MlpPolicy (issue 15, section 5).

Envs ``Pendulum-v1`` (full-circle starts), ``dilqr_rl/CartpoleSwingUp-v0`` and ``InvertedPendulum-v5``; actors
the DiLQR controller learning its physics from the env's default wrong start (and, as variants, a cost map as
well, or the physics fitted to its own rollouts instead: ``dilqr+sysid``) and SB3's ``MlpPolicy``, each with
rl-zoo3's hyperparameters for the env (:mod:`dilqr_rl.agents.zoo_hyperparams`); algorithms PPO and TD3 (the
off-policy one on every env, learning from 1,000 steps: :data:`~dilqr_rl.experiments.rl_report.OFF_POLICY` says
why TD3 and not SAC). Every trial evaluates the deterministic policy before training and every
``eval_freq`` env steps on 20 seeded episodes, normalised (random 0, expert 1), then its final policy under changed
physics and from wider starts (:mod:`~dilqr_rl.experiments.rl_trial`).

The grid is a named choice (:data:`GRIDS`, ``--grid``): ``full`` is the issue's; ``reduced`` is what the
committed run made on 2 CPU cores, every cut stated in its ``Grid.note`` and in the summary.
"""

from __future__ import annotations

from dataclasses import dataclass

from dilqr_rl.experiments.rl_report import summarize
from dilqr_rl.experiments.rl_trial import run_rl_trial
from dilqr_rl.experiments.study import Study, StudyOptions, trial_id

ENVS = ("Pendulum-v1", "dilqr_rl/CartpoleSwingUp-v0", "InvertedPendulum-v5")
ACTORS_ALL = ("dilqr", "dilqr+cost-map", "dilqr+sysid", "mlp")
EVAL_EPISODES = 20


@dataclass(frozen=True)
class Cell:
    """Trials of one env and algorithm: its actors, env steps, evaluation interval and seeds."""

    env_id: str
    algo: str
    actors: tuple[str, ...]
    steps: int
    eval_freq: int
    seeds: int


@dataclass(frozen=True)
class Grid:
    """Which trials a run makes, and what it cuts against the issue's grid and why (copied into the summary)."""

    cells: tuple[Cell, ...]
    note: str
    eval_episodes: int = EVAL_EPISODES
    robust_episodes: int = EVAL_EPISODES
    """Episodes of each robustness setting."""
    max_episode_steps: int | None = None
    """Episode length of every env (None: each env's own)."""
    hyperparams: tuple[tuple[str, dict[str, float]], ...] = (("td3", {"learning_starts": 1_000}),)
    """(algo, overrides of rl-zoo3's numbers) where the grid changes them: TD3 learns from 1,000 env steps on
    every env (rl-zoo3's Pendulum-v1 entry waits 10,000, the issue's whole budget there; its default entry, SB3's,
    100), for both actors."""


GRIDS: dict[str, Grid] = {
    "full": Grid(tuple(Cell(env, algo, ACTORS_ALL, 50_000, 2_500, 5) for env in ENVS for algo in ("ppo", "td3")),
                 "the issue's grid: 3 envs x PPO and TD3 x DiLQR, DiLQR + cost map, DiLQR + SysId and MLP x 5 seeds, "
                 "50k env steps (the issue's 'every budget up to 50k'), evaluated every 2,500 steps on 20 episodes"),
    "reduced": Grid(
        (Cell("Pendulum-v1", "ppo", ("dilqr", "dilqr+cost-map", "dilqr+sysid", "mlp"), 10_000, 2_048, 5),
         Cell("Pendulum-v1", "td3", ("dilqr", "mlp"), 10_000, 2_000, 5),
         Cell("Pendulum-v1", "td3", ("dilqr+sysid",), 10_000, 2_000, 3),
         Cell("InvertedPendulum-v5", "ppo", ("dilqr", "dilqr+cost-map", "dilqr+sysid", "mlp"), 5_000, 1_000, 5),
         Cell("dilqr_rl/CartpoleSwingUp-v0", "ppo", ("dilqr", "dilqr+cost-map", "dilqr+sysid", "mlp"), 6_144, 2_048,
              3),
         Cell("InvertedPendulum-v5", "td3", ("dilqr", "mlp"), 6_000, 2_000, 3),
         Cell("dilqr_rl/CartpoleSwingUp-v0", "td3", ("dilqr", "mlp"), 6_000, 2_000, 3)),
        "reduced to what about an hour and a half of 2 CPU cores could run. The committed run: 57 trials in 52.1 "
        "minutes at commit cf2e549, then the 20 trials this grid gained later (the cost map on InvertedPendulum-v5 "
        "and the swing-up, TD3 on both) in 43 minutes at commit 5a4362a, as a sweep of their own (in two "
        "sittings: the machine ran out of memory once, and the resumed sweep ran the two trials it had stopped "
        "again from their start) whose rows and histories were merged with the first's (the 57 trials' "
        "configurations are this grid's; `--grid reduced` runs all 77 in one sweep). What ran: "
        "Pendulum-v1 PPO, 10k env steps "
        "(PPO collects 4 x 1024 steps per update, so 12,288 ran; evaluations after every update), DiLQR learning "
        "its physics from the RL loss, the same with a cost map, DiLQR with its physics fitted to its rollouts "
        "(SysId) and MLP, 5 seeds each; Pendulum-v1 TD3, 10k steps evaluated every 2,000, DiLQR and MLP with 5 "
        "seeds, DiLQR with SysId 3; InvertedPendulum-v5 PPO, 5k steps evaluated every 1,000, the same four actors "
        "with 5 seeds; dilqr_rl/CartpoleSwingUp-v0 PPO, the same four, 3 seeds, 6,144 steps (three rollouts), "
        "evaluated every 2,048; InvertedPendulum-v5 and dilqr_rl/CartpoleSwingUp-v0 TD3, 6,000 steps evaluated "
        "every 2,000, DiLQR and MLP with 3 seeds. Robustness on 10 episodes per setting. Not run: SysId with TD3 "
        "outside Pendulum-v1, budgets past 12k steps (the issue's 'every budget up to 50k'). "
        "`--grid full` runs the issue's grid",
        robust_episodes=10),
}
"""Named grids (``--grid``; None: ``full``)."""

QUICK_GRID = Grid(
    (Cell("Pendulum-v1", "ppo", ("dilqr", "mlp"), 64, 32, 1),
     Cell("Pendulum-v1", "td3", ("dilqr", "dilqr+sysid"), 24, 0, 1)),
    "quick: every code path in seconds", eval_episodes=2, robust_episodes=2, max_episode_steps=16,
    hyperparams=(("ppo", {"n_steps": 16, "n_envs": 2, "batch_size": 16, "n_epochs": 1}),
                 ("td3", {"learning_starts": 8, "batch_size": 8})))


def grid(options: StudyOptions) -> tuple[str, Grid]:
    """The grid's name and the grid ``options`` choose (``quick``: :data:`QUICK_GRID`)."""
    if options.quick:
        return "quick", QUICK_GRID
    name = options.grid or "full"
    if name not in GRIDS:
        raise ValueError(f"rl has no grid {name!r}; valid: {list(GRIDS)}")
    return name, GRIDS[name]


def trials(options: StudyOptions) -> list[dict]:
    _, g = grid(options)
    overrides = dict(g.hyperparams)
    configs = []
    for seed in range(max(options.seeds or c.seeds for c in g.cells)):  # seed outermost: a cut sweep has every cell
        for c in g.cells:
            if seed >= (options.seeds or c.seeds):
                continue
            for actor in c.actors:
                configs.append({"env_id": c.env_id, "algo": c.algo, "actor": actor, "seed": seed,
                                "total_timesteps": c.steps, "eval_freq": c.eval_freq,
                                "eval_episodes": g.eval_episodes, "robust_episodes": g.robust_episodes,
                                "max_episode_steps": g.max_episode_steps,
                                "hyperparams": overrides.get(c.algo, {}),
                                "trial_id": trial_id(c.env_id, c.algo, actor, c.steps, seed)})
    return configs


STUDY = Study("rl", "Actor-critic (PPO, TD3) with a DiLQR actor learning its physics vs SB3's MlpPolicy (issue 15 §5)",
              trials, run_rl_trial, summarize, __name__)
