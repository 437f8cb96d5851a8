"""The README's main job: a DiLQR policy from a wrong model cloned from a few expert swing-ups, in closed loop.

:func:`run_demo` rolls the iLQR expert for ``demonstrations`` episodes of ``dilqr_rl/Pendulum-v0`` (the full
circle of starts: swing-up and balance), clones three policies on the same transitions (single-step behaviour
cloning, :func:`~dilqr_rl.agents.clone.clone_from_episodes`): the env's DiLQR actor from a wrong start of the
physics (learning the physics through the layer's implicit gradient), an MLP and an LSTM over the observation
history; and runs each in the env on the same seeded evaluation episodes (away from the demonstrations'
seeds). Returns are normalised: 0 is a uniform random policy, 1 the expert. It writes each policy's
TensorBoard events and checkpoints, the demonstrations, ``results.md``/``results.csv`` and a GIF of the
DiLQR clone in a new run folder.

The papers' open-loop comparison (DiLQR.dx against the LSTM on expert plans) is
:mod:`dilqr_rl.agents.demo_open_loop` (``dilqr-rl demo --open-loop``).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stable_baselines3.common.utils import set_random_seed

from dilqr_rl.agents.clone import Cloner, clone_from_episodes
from dilqr_rl.agents.clone_config import CloneConfig
from dilqr_rl.agents.logging import make_run_dir, make_writer
from dilqr_rl.agents.reference_returns import reference_returns
from dilqr_rl.agents.video import record_video
from dilqr_rl.data.episodes import collect_episodes
from dilqr_rl.policies.env_registry import make_env

ENV_ID = "dilqr_rl/Pendulum-v0"
POLICIES = ("dilqr", "mlp", "lstm")
NAMES = {"dilqr": "DiLQR", "mlp": "MLP", "lstm": "LSTM"}


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo (defaults: about a minute on 2 CPU cores)."""

    demonstrations: int = 5
    """Expert episodes to clone from (episode i seeded ``seed + i``)."""
    eval_episodes: int = 20
    """Evaluation episodes per policy (the same seeded starts for all, run in lockstep)."""
    eval_seed: int = 1000
    """Seed of the first evaluation episode (away from the demonstrations')."""
    seed: int = 0
    """Seeds the demonstrations, the split, the initial weights and the batches."""
    epochs: dict[str, int] = field(default_factory=dict)
    """Passes over the data per policy kind (missing: :data:`~dilqr_rl.agents.clone_config.POLICY_KINDS`')."""
    max_episode_steps: int | None = None
    """Cut demonstrations and evaluation episodes (None: the env's 200 steps)."""
    output_dir: str = "runs"
    """Root of the run folder."""
    progress: bool = True
    """Show progress bars."""


@dataclass
class DemoReport:
    """What the demo measured (see :func:`format_table`)."""

    run_dir: Path
    gif: Path
    metrics: dict[str, dict[str, Any]]
    """Per policy kind: :func:`~dilqr_rl.agents.clone.clone_from_episodes`' metrics."""
    random_return: float
    expert_return: float
    demonstrations_return: float
    config: DemoConfig


def run_demo(config: DemoConfig = DemoConfig()) -> DemoReport:
    """Run the whole demo; see the module docstring. Outputs go to a new run directory."""
    set_random_seed(config.seed)
    env_kwargs = {} if config.max_episode_steps is None else {"max_episode_steps": config.max_episode_steps}
    run_dir = make_run_dir(config.output_dir, ENV_ID, "demo", config.seed)
    demos = collect_episodes(ENV_ID, config.demonstrations, config.seed, progress=config.progress, **env_kwargs)
    demos.save(run_dir / "demonstrations.npz")
    reference = reference_returns(lambda: make_env(ENV_ID, **env_kwargs), config.eval_episodes, config.eval_seed,
                                  config.progress)
    metrics, cloners = {}, {}
    for kind in POLICIES:
        clone = CloneConfig(policy=kind, epochs=config.epochs.get(kind), eval_episodes=config.eval_episodes,
                            eval_seed=config.eval_seed, seed=config.seed, progress=config.progress)
        cloners[kind] = Cloner(ENV_ID, clone, env_kwargs)
        writer = make_writer(run_dir / kind, {**asdict(clone), "demonstrations": config.demonstrations})
        try:
            metrics[kind] = clone_from_episodes(demos, clone, env_kwargs, run_dir / kind, writer, reference,
                                                cloners[kind])
        finally:
            writer.close()
    with make_env(ENV_ID, render_mode="rgb_array", **env_kwargs) as env:
        gif, _ = record_video(cloners["dilqr"].policy, env, run_dir / "dilqr.gif", seed=config.eval_seed,
                              progress=config.progress)
    report = DemoReport(run_dir, gif, metrics, reference.random, reference.expert,
                        float(demos.episode_returns().mean()), config)
    save_results(report)
    return report


def _rows(report: DemoReport) -> list[tuple[str, float, float | None, float | None]]:
    """(policy, return, normalised, train seconds) per line of the table."""
    m = report.metrics
    rows = [("iLQR expert", report.expert_return, 1.0, None), ("random policy", report.random_return, 0.0, None),
            ("DiLQR, untrained (wrong model)", m["dilqr"]["untrained_return"], m["dilqr"]["normalized_untrained"],
             None)]
    rows += [(f"{NAMES[kind]}, cloned", m[kind]["return"], m[kind]["normalized_return"], m[kind]["train_seconds"])
             for kind in POLICIES]
    return rows


def format_table(report: DemoReport) -> str:
    """The comparison table and the learned physics, as printed by ``dilqr-rl demo``."""
    cfg = report.config
    head = f"{'policy':<32}{'return':>10}{'normalised':>12}{'train s':>9}"
    lines = [head, "-" * len(head)]
    for name, value, normalised, seconds in _rows(report):
        lines.append(f"{name:<32}{value:>10.1f}{_fmt(normalised, '.3f'):>12}{_fmt(seconds, '.0f'):>9}")
    d = report.metrics["dilqr"]
    physics = ", ".join(f"{k} {d['physics_true'][k]:g} / {d['physics_start'][k]:g} / {v:.4f}"
                        for k, v in d["physics_learned"].items())
    lines.append(f"DiLQR physics (true / start / learned): {physics}")
    true, start, learned = (physics_ratios(d[key]) for key in ("physics_true", "physics_start", "physics_learned"))
    lines.append(f"identified (true / start / learned): 3g/(2l) {true[0]:.3f} / {start[0]:.3f} / {learned[0]:.3f}, "
                 f"3/(m l^2) {true[1]:.3f} / {start[1]:.3f} / {learned[1]:.3f}")
    lines.append(f"(cloned from {cfg.demonstrations} expert episodes of {ENV_ID}, "
                 f"{report.metrics['dilqr']['expert_labels']} transitions, mean return "
                 f"{report.demonstrations_return:.1f}; each policy run in the env from the same {cfg.eval_episodes} "
                 f"seeded starts, seeds {cfg.eval_seed}..{cfg.eval_seed + cfg.eval_episodes - 1}; normalised: "
                 "random 0, expert 1)")
    lines.append("(the pendulum's motion depends on 3g/(2l) and 3/(m l^2) only: the clone can match those, not each "
                 "parameter)")
    return "\n".join(lines)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def save_results(report: DemoReport) -> tuple[Path, Path]:
    """Write the table to ``results.md`` (as printed) and ``results.csv`` (full precision) in the run folder."""
    md, table = report.run_dir / "results.md", report.run_dir / "results.csv"
    md.write_text("```\n" + format_table(report) + "\n```\n")
    with open(table, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["policy", "env_return", "normalized_return", "train_seconds"])
        for name, value, normalised, seconds in _rows(report):
            writer.writerow([name, value, "" if normalised is None else normalised, "" if seconds is None else seconds])
    return md, table


def physics_ratios(physics: dict[str, float]) -> tuple[float, float]:
    """What the pendulum identifies: (3 g / (2 l), 3 / (m l^2))."""
    g, length, m = physics["gravity"], physics["length"], physics["mass"]
    return 3 * g / (2 * length), 3 / (m * length**2)


