"""One ``closed-loop-bc`` trial: clone one policy in one env from n expert episodes, by BC or by DAgger at the
same number of expert labels, and return its normalised return over seeded evaluation episodes.

Data: per env and seed, the expert's episodes seeded ``demo_seed(seed)``, ``+1``, ... (``collect_episodes``),
``n_data`` of them collected once and cached under ``data_dir``; a trial with n demonstrations uses the first n.
The random policy's and the expert's returns on the evaluation episodes (seeded ``eval_seed``.. , away from
every demonstration's and DAgger rollout's seed) are measured once per env and cached too.

Matching DAgger's labels to BC's (:func:`dagger_schedule`): at a budget of n episodes, DAgger clones
``n - R * E`` demonstrations and then runs R rounds of E learner episodes, each state labelled by the expert, so
that it ends with n episodes of expert labels as BC with n demonstrations has (exactly n * T labels in the envs
of fixed length; in ``InvertedPendulum-v5`` a learner episode ends when the pole falls, so DAgger may end with
fewer labels: the trial reports its count).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from dilqr_rl.agents.clone import clone_from_episodes
from dilqr_rl.agents.clone_config import POLICY_KINDS, CloneConfig, DaggerConfig
from dilqr_rl.agents.clone_data import segmented
from dilqr_rl.agents.dagger import run_dagger
from dilqr_rl.agents.reference_returns import Reference, reference_returns
from dilqr_rl.data.episodes import EpisodeDataset, collect_episodes
from dilqr_rl.policies.env_registry import make_env

METHODS = ("bc", "dagger")
MAX_ROUNDS = 4
"""DAgger's rounds at most (fewer where the budget has fewer learner episodes)."""


def demo_seed(seed: int) -> int:
    """The first demonstration's reset seed of a trial seed (100 apart: up to 100 demonstrations per seed,
    all below the evaluation seeds)."""
    return 100 * seed


def dagger_schedule(n: int) -> tuple[int, int, int]:
    """(demonstrations, rounds R, episodes per round E) of DAgger at a budget of ``n`` episodes of expert labels:
    about half of them the learner's, in at most :data:`MAX_ROUNDS` rounds; demonstrations + R * E = n.
    ``n = 1`` has no room for a round (DAgger is BC there): a ValueError."""
    learner = n // 2
    if learner < 1:
        raise ValueError(f"DAgger needs a budget of at least 2 episodes (1 demonstration + 1 round); got {n}")
    rounds = min(MAX_ROUNDS, learner)
    per_round = learner // rounds
    return n - rounds * per_round, rounds, per_round


def env_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """The env's keyword arguments: ``config["env_kwargs"]`` (e.g. the pixel pendulum's frame ``size``) and the time
    limit ``max_steps``."""
    kwargs = dict(config.get("env_kwargs", {}))
    if config.get("max_steps") is not None:
        kwargs["max_episode_steps"] = config["max_steps"]
    return kwargs


def _cached_json(path: Path, compute) -> dict[str, Any]:
    if path.is_file():
        return json.loads(path.read_text())
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{time.monotonic_ns()}.tmp")
    tmp.write_text(json.dumps(value))
    tmp.replace(path)  # atomic: trials computing the same value at once write the same content
    return value


def _stem(config: dict[str, Any]) -> str:
    steps = "" if config.get("max_steps") is None else f"__{config['max_steps']}steps"
    made = "".join(f"__{k}{v}" for k, v in sorted(config.get("env_kwargs", {}).items()))
    return f"closed-loop-bc__{config['env_id'].replace('/', '-')}{made}{steps}"


def demonstrations(config: dict[str, Any]) -> EpisodeDataset:
    """The first ``n_demos`` of the seed's ``n_data`` cached expert episodes."""
    first = demo_seed(config["seed"])
    path = Path(config["data_dir"]) / f"{_stem(config)}__{config['n_data']}eps__seed{first}.npz"
    if path.is_file():
        ds = EpisodeDataset.load(path)
    else:
        ds = collect_episodes(config["env_id"], config["n_data"], seed=first, progress=False, **env_kwargs(config))
        ds.save(path)
    keep = ds.episode < config["n_demos"]
    ds = EpisodeDataset(ds.env_id, {key: value[keep] for key, value in ds.arrays.items()}, dict(ds.metadata))
    return segmented(ds) if ds.n_episodes == 1 else ds


def reference(config: dict[str, Any]) -> Reference:
    """The random policy's and the expert's returns on the evaluation episodes (cached per env)."""
    n, seed = config["eval_episodes"], config["eval_seed"]
    path = Path(config["data_dir"]) / f"{_stem(config)}__reference__{n}eps__seed{seed}.json"
    value = _cached_json(path, lambda: reference_returns(lambda: make_env(config["env_id"], **env_kwargs(config)),
                                                         n, seed).__dict__)
    return Reference(**value)


def run_closed_loop_bc_trial(config: dict[str, Any], trial_dir: Path) -> dict[str, Any]:
    """Clone ``config["policy"]`` by ``config["method"]`` from a budget of ``config["n_demos"]`` episodes;
    ``config["clone_options"]`` (optional) sets further :class:`CloneConfig` fields (e.g. ``state_weight``)."""
    start = time.perf_counter()
    ref = reference(config)
    n = config["n_demos"]
    shared = {"policy": config["policy"], "epochs": config.get("epochs"), "eval_episodes": config["eval_episodes"],
              "eval_seed": config["eval_seed"], "seed": config["seed"], "progress": False,
              "evaluate_untrained": config.get("evaluate_untrained", False), **config.get("clone_options", {})}
    if config["method"] == "bc":
        metrics = clone_from_episodes(demonstrations(config), CloneConfig(**shared), env_kwargs(config),
                                      reference=ref)
        schedule = {"dagger_demonstrations": None, "dagger_rounds": None, "dagger_episodes_per_round": None}
    else:
        demos, rounds, per_round = dagger_schedule(n)
        dagger = DaggerConfig(**shared, rounds=rounds, episodes_per_round=per_round, evaluate_rounds=False)
        metrics = run_dagger(demonstrations({**config, "n_demos": demos}), dagger, env_kwargs(config),
                             reference=ref)
        metrics.pop("rounds")
        schedule = {"dagger_demonstrations": demos, "dagger_rounds": rounds, "dagger_episodes_per_round": per_round}
    metrics.pop("eval_seeds", None)
    metrics["demonstrations"] = n if config["method"] == "bc" else schedule["dagger_demonstrations"]
    settings = CloneConfig(**shared)  # what the trial trained with, defaults resolved, for the summary
    metrics["epochs_trained"] = settings.epochs or POLICY_KINDS[settings.policy].epochs
    metrics["loss"] = settings.loss if settings.policy == "dilqr" else "squared"
    return {**metrics, **schedule, "budget_episodes": n, "wall_seconds": time.perf_counter() - start}
