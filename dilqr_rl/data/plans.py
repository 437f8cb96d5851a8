"""The papers' imitation data: expert plans (x_{1:T}, u_{1:T}) of a named system from random initial states.

For a :class:`~dilqr_rl.models.SystemSpec` (``get_system(name)``), each trajectory is

    x_init ~ U[x_init_low, x_init_high]                       (the spec's documented box)
    (x_{1:T}, u_{1:T}) = DiLQR(f_true, C_goal, T, u_lower, u_upper)(x_init)

the box-constrained iLQR solution with the true dynamics and the system's goal cost, solved from a zero
warm start: exactly what a DiLQR policy with the true parameters computes, so the imitation problem is
realizable. Initial states are drawn in the order train, val, test from one generator seeded with
``seed``, so a larger test split does not change the training data.

Demonstrations come from converged solves only: an item that does not converge within ``max_iter`` is
solved again with ten times the iterations, and one that still does not converge is replaced by a fresh
draw from the same generator (after all the regular draws). The metadata records how many converged at
the first attempt, how many needed the retry, which were replaced and how many draws that took.
"""

from __future__ import annotations

import datetime
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

import dilqr_rl
from dilqr_rl.control import DiLQR, UnconvergedWarning
from dilqr_rl.data.format import DatasetError, DatasetMismatchError, load_arrays, save_arrays
from dilqr_rl.models.systems import SystemSpec, get_system

SPLITS = ("train", "val", "test")
KIND = "plans"


@dataclass(frozen=True)
class PlanSplit:
    """One split of plans. Shapes: x_init (N, n), x (N, T, n), u (N, T, m) float64; converged (N,) bool."""

    x_init: Tensor
    x: Tensor
    u: Tensor
    converged: Tensor

    def __len__(self) -> int:
        return self.x_init.shape[0]

    def __repr__(self) -> str:
        return f"PlanSplit({len(self)} plans, x {tuple(self.x.shape)}, u {tuple(self.u.shape)})"


@dataclass
class PlanDataset:
    """Expert plans of ``system`` in train/val/test splits, with the metadata that produced them."""

    system: str
    splits: dict[str, PlanSplit]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name} {len(split)}" for name, split in self.splits.items())
        return f"PlanDataset({self.system!r}, horizon {self.metadata.get('horizon')}, {sizes})"

    @property
    def spec(self) -> SystemSpec:
        return get_system(self.system)

    @property
    def horizon(self) -> int:
        return int(self.metadata["horizon"])

    def expert_controller(self) -> DiLQR:
        """The DiLQR layer that produced the plans: true model, the dataset's horizon and solver settings."""
        expert = self.metadata.get("expert", {})
        if "max_iter" not in expert or "tol" not in expert:
            raise DatasetError(f"this {self.system} plans dataset's metadata lacks the expert's solver settings "
                               "(expert.max_iter, expert.tol); regenerate it with `dilqr-rl collect --kind plans`")
        return expert_controller(self.spec, self.horizon, int(expert["max_iter"]), float(expert["tol"]))

    def split(self, name: str) -> PlanSplit:
        if name not in self.splits:
            raise ValueError(f"unknown split {name!r}; valid: {list(self.splits)}")
        return self.splits[name]

    def save(self, path: str | os.PathLike) -> Path:
        """Write the dataset (see :mod:`dilqr_rl.data.format`); atomic."""
        arrays = {}
        for name, s in self.splits.items():
            for key in ("x_init", "x", "u", "converged"):
                arrays[f"{name}.{key}"] = getattr(s, key).numpy()
        return save_arrays(path, arrays, {**self.metadata, "kind": KIND, "system": self.system})

    @classmethod
    def load(cls, path: str | os.PathLike, system: str | None = None) -> PlanDataset:
        """Read a plans file; with ``system``, refuse a file for another system."""
        arrays, metadata = load_arrays(path, KIND)
        stored = metadata.get("system")
        if system is not None and stored != system:
            raise DatasetMismatchError(f"{path} holds plans for system {stored!r}, expected {system!r}; "
                                       f"generate them with `dilqr-rl collect --kind plans --system {system}`")
        splits = {}
        for name in metadata.get("splits", {}):
            try:
                parts = {k: torch.from_numpy(arrays[f"{name}.{k}"]) for k in ("x_init", "x", "u", "converged")}
            except KeyError as missing:
                raise DatasetError(f"{path}: split {name!r} lacks array {missing}; the file is corrupted") from None
            splits[name] = PlanSplit(**parts)
        return cls(system=str(stored), splits=splits, metadata=metadata)


def collect_plans(
    system: str,
    n_train: int = 50,
    n_val: int = 20,
    n_test: int = 50,
    seed: int = 0,
    progress: bool = True,
    horizon: int | None = None,
    max_iter: int = 200,
    tol: float = 1e-8,
    chunk_size: int = 25,
    allow_unconverged: bool = False,
) -> PlanDataset:
    """Expert plans for ``system`` (see the module docstring); ``horizon`` defaults to the spec's.

    Items that do not converge within ``max_iter`` are retried, then replaced (see the module docstring);
    ``allow_unconverged=True`` keeps them instead (``split.converged`` marks them, a warning says how many).
    """
    spec = get_system(system)
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    for name, size in sizes.items():
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"n_{name} must be an integer >= 0; got {size!r}")
    T = spec.horizon if horizon is None else int(horizon)
    generator = torch.Generator().manual_seed(seed)
    x_init = spec.sample_x_init(sum(sizes.values()), generator)  # (N, n)
    controller = expert_controller(spec, T, max_iter, tol)
    with tqdm(total=len(x_init), desc=f"plans {system}", unit="traj", disable=not progress) as bar:
        x, u, ok = _solve(controller, x_init, chunk_size, bar)
    report = {"first_attempt": int(ok.sum()), "retried": int((~ok).sum()), "replaced": [], "replacement_draws": 0}
    retry = expert_controller(spec, T, 10 * max_iter, tol)
    if not bool(ok.all()):
        bad = (~ok).nonzero().flatten()
        x[bad], u[bad], ok[bad] = _solve(retry, x_init[bad], chunk_size)
    for _ in range(_REPLACEMENT_ROUNDS if not allow_unconverged else 0):
        bad = (~ok).nonzero().flatten()
        if not len(bad):
            break
        report["replaced"] = sorted(set(report["replaced"]) | set(bad.tolist()))
        report["replacement_draws"] += len(bad)
        x_init[bad] = spec.sample_x_init(len(bad), generator)
        x[bad], u[bad], ok[bad] = _solve(retry, x_init[bad], chunk_size)
    if not bool(ok.all()):
        message = (f"{int((~ok).sum())} of {len(ok)} expert plans of {system} did not converge within "
                   f"{10 * max_iter} iterations (tol={tol})")
        if not allow_unconverged:
            raise RuntimeError(message + ": raise max_iter or loosen tol; or pass allow_unconverged=True to "
                               "keep them marked in split.converged")
        warnings.warn(message + "; they are kept and marked in split.converged", UnconvergedWarning, stacklevel=2)
    splits, start = {}, 0
    for name in SPLITS:
        stop = start + sizes[name]
        splits[name] = PlanSplit(x_init[start:stop], x[start:stop], u[start:stop], ok[start:stop])
        start = stop
    metadata = _metadata(spec, sizes, T, seed, max_iter, tol, ok)
    metadata["expert"].update(report)
    return PlanDataset(system=system, splits=splits, metadata=metadata)


_REPLACEMENT_ROUNDS = 5


def _solve(controller: DiLQR, x_init: Tensor, chunk_size: int, bar=None) -> tuple[Tensor, Tensor, Tensor]:
    """Expert plans x (N, T, n), u (N, T, m) and converged (N,) for x_init (N, n), in chunks."""
    xs, us, converged = [], [], []
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvergedWarning)
        for chunk in x_init.split(chunk_size):
            sol = controller(chunk)
            xs.append(sol.x)
            us.append(sol.u)
            converged.append(sol.converged)
            if bar is not None:
                bar.update(len(chunk))
    return torch.cat(xs), torch.cat(us), torch.cat(converged)


def expert_controller(spec: SystemSpec, horizon: int, max_iter: int, tol: float) -> DiLQR:
    """The demonstrator: DiLQR with ``spec``'s true dynamics and goal cost (no learnable parameters)."""
    return DiLQR(spec.make_dynamics().requires_grad_(False), spec.make_cost().requires_grad_(False), horizon,
                 spec.u_lower, spec.u_upper, max_iter=max_iter, tol=tol, on_unconverged="warn")


def _metadata(spec: SystemSpec, sizes: dict[str, int], horizon: int, seed: int, max_iter: int, tol: float,
              converged: Tensor) -> dict[str, Any]:
    return {
        "system": spec.name,
        "dynamics": spec.dynamics_cls.__name__,
        "physics": {**spec.true_params, **spec.model_options},
        "cost": {"type": "GoalCost", "weights": list(spec.cost_weights), "goal": list(spec.cost_goal)},
        "bounds": {"u_lower": spec.u_lower, "u_upper": spec.u_upper},
        "horizon": horizon,
        "x_init_distribution": {"type": "uniform", "low": list(spec.x_init_low), "high": list(spec.x_init_high)},
        "splits": sizes,
        "expert": {"solver": "DiLQR", "warm_start": "zeros", "max_iter": max_iter, "tol": tol,
                   "converged": int(converged.sum()), "total": len(converged),
                   "converged_fraction": float(converged.double().mean()) if len(converged) else 1.0},
        "seed": seed,
        "library_version": dilqr_rl.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "numpy_version": np.__version__,
        "torch_version": torch.__version__,
    }
