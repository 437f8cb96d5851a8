"""``gradient-fidelity``: every gradient mode against central finite differences of the solution map.

The instrument behind the learning studies: where DiffMPC's gradient is wrong, and by how much. For the
papers' pendulum and cart-pole (and a linear-dynamics control), horizons T in {5, 10, 20, 35}, the papers'
control bounds and a second regime (pendulum: wide bounds that do not saturate; cart-pole: +-10 N, which
saturate), and either the dynamics parameters (at the papers' wrong initial model) or the cost parameters
(at a perturbed cost): the gradient of the papers' imitation loss (mean squared control error against the
true model's plans) by

- ``implicit``: the exact adjoint (DiLQR);
- ``diffmpc``: the adjoint with the cost Hessian only (DiffMPC's last-layer gradient, our ``diffmpc`` mode:
  its dynamics Jacobian keeps its dependence on the parameters);
- ``diffmpc-fixed-jacobian``: the same with the Jacobian held fixed, as mpc.pytorch computes it with
  autograd Jacobians (the parameters enter only through f);
- ``unroll``: autograd through every iteration of the solve, run to convergence;

each compared with central finite differences of tightly converged re-solves (relative error of the
gradient vector, cosine). Diagnostics that explain the differences: the share of saturated controls, the
costate's size and the size of the dropped curvature term hess(lam . f) relative to the cost Hessian.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dilqr_rl.control import DiLQR, HessianFallbackWarning, UnconvergedWarning
from dilqr_rl.control.problem import Problem, costate
from dilqr_rl.experiments import report
from dilqr_rl.experiments.study import Row, Study, StudyOptions
from dilqr_rl.models import GoalCost, LinearDynamics, QuadGoalCost, get_system

METHODS = ["implicit", "diffmpc", "diffmpc-fixed-jacobian", "unroll"]
HORIZONS = [5, 10, 20, 35]
BOUNDS = {"pendulum": {"papers": 2.0, "wide": 50.0}, "cartpole": {"papers": 100.0, "tight": 10.0},
          "linear": {"papers": 0.5, "wide": 50.0}}
"""Symmetric control bounds per system and regime (papers: the papers' own)."""
STARTS, QUICK_STARTS = 8, 2
F64 = torch.float64
SEEDS = 3
"""Seeds by default (each draws its own starts and perturbations)."""


def trials(options: StudyOptions) -> list[dict]:
    systems = ["pendulum", "linear"] if options.quick else ["pendulum", "cartpole", "linear"]
    horizons = [5] if options.quick else HORIZONS
    seeds = options.seeds_or(SEEDS)
    configs = []
    for system in systems:
        regimes = list(BOUNDS[system])[:1] if options.quick else list(BOUNDS[system])
        for bounds in regimes:
            for horizon in horizons:
                for params in ("dynamics", "cost"):
                    for seed in range(seeds):
                        configs.append({"system": system, "bounds": bounds, "horizon": horizon, "params": params,
                                        "seed": seed, "starts": QUICK_STARTS if options.quick else STARTS,
                                        "trial_id": f"{system}__{bounds}__T{horizon}__{params}__s{seed}"})
    return configs


def _linear_system(seed: int) -> tuple[LinearDynamics, LinearDynamics, GoalCost, Tensor]:
    """(true, learner) linear dynamics with n = 3, m = 1, a goal cost and starts (the all-agree control)."""
    gen = torch.Generator().manual_seed(100 + seed)
    A = torch.eye(3, dtype=F64) + 0.1 * torch.randn(3, 3, generator=gen, dtype=F64)
    B = 0.5 * torch.randn(3, 1, generator=gen, dtype=F64)
    true = LinearDynamics(A, B)
    learner = LinearDynamics(A + 0.05 * torch.randn(3, 3, generator=gen, dtype=F64),
                             B * (1 + 0.2 * torch.randn(3, 1, generator=gen, dtype=F64)))
    cost = GoalCost(torch.tensor([1.0, 0.5, 0.3, 0.2], dtype=F64), torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=F64))
    return true, learner, cost, torch.randn(STARTS, 3, generator=gen, dtype=F64)


def _perturbed_cost(cost, seed: int):
    """The true cost with weights and goal moved: QuadGoalCost q in (0, 0.95], goal +- 0.1; GoalCost +-30%."""
    gen = torch.Generator().manual_seed(200 + seed)
    w, goal = cost.weights.detach(), cost.goal.detach()
    noise = lambda: 2 * torch.rand(w.shape, generator=gen, dtype=F64) - 1  # noqa: E731
    if isinstance(cost, QuadGoalCost):
        return QuadGoalCost((w * (1 + 0.3 * noise())).clamp(1e-3, 0.95), goal + 0.1 * noise())
    return GoalCost(w * (1 + 0.3 * noise()), goal + 0.3 * noise())


def problem_of(config: dict[str, Any]):
    """(true dynamics, true cost, learner dynamics, learner cost, x_init, bound) of a trial."""
    seed, bound = config["seed"], BOUNDS[config["system"]][config["bounds"]]
    if config["system"] == "linear":
        true_dyn, learner_dyn, cost, x0 = _linear_system(seed)
        true_cost = cost
    else:
        spec = get_system(config["system"])
        true_dyn, true_cost = spec.make_dynamics(), spec.make_cost()
        learner_dyn = spec.make_learner_dynamics()
        x0 = spec.sample_x_init(config["starts"], torch.Generator().manual_seed(seed))
    x0 = x0[: config["starts"]]
    if config["params"] == "dynamics":
        learner_cost = true_cost
    else:
        learner_dyn, learner_cost = true_dyn, _perturbed_cost(true_cost, seed)
    for module, learn in ((learner_dyn, config["params"] == "dynamics"), (learner_cost, config["params"] == "cost")):
        module.requires_grad_(learn)
    true_dyn.requires_grad_(False)
    true_cost.requires_grad_(False)
    return true_dyn, true_cost, learner_dyn, learner_cost, x0, bound


def _layer(dyn, cost, config, bound, method="implicit", tol=1e-12) -> DiLQR:
    return DiLQR(dyn, cost, config["horizon"], -bound, bound, grad_method=method, max_iter=1000, tol=tol)


def _loss(u: Tensor, target: Tensor) -> Tensor:
    return (u - target).square().mean()


def _params(dyn, cost) -> list[Tensor]:
    return [p for p in (*dyn.parameters(), *cost.parameters()) if p.requires_grad]


def finite_differences(layer: DiLQR, x0: Tensor, target: Tensor, params: list[Tensor], warm: Tensor,
                       rel_step: float) -> Tensor:
    """Central differences of the loss, one coordinate of every parameter at a time (flattened)."""
    out = []
    with torch.no_grad():
        for p in params:
            flat = p.data.view(-1)
            for i in range(flat.numel()):
                h = rel_step * max(1.0, abs(float(flat[i])))
                values = []
                for sign in (1.0, -1.0):
                    flat[i] += sign * h
                    values.append(_loss(layer(x0, u_init=warm).u, target))
                    flat[i] -= sign * h
                out.append((values[0] - values[1]) / (2 * h))
    return torch.stack(out)


def _diagnostics(layer: DiLQR, x0: Tensor, sol, bound: float) -> dict[str, float]:
    """Saturated share, costate size and the relative size of the curvature term DiffMPC drops."""
    problem = Problem(layer.dynamics, layer.cost, layer.config, *(torch.full_like(sol.u, s * bound) for s in (-1, 1)))
    with torch.no_grad():
        F, c, C = problem.linearize(sol.x, sol.u)
        lam = costate(F, c)
        Hf = problem.dynamics_curvature(sol.x, sol.u, lam)
    return {"saturated_fraction": float(sol.active.double().mean()),
            "costate_norm": float(lam.norm(dim=-1).mean()),
            "dropped_curvature": float(Hf.norm(dim=(-2, -1)).mean() / C.norm(dim=(-2, -1)).mean())}


def run_fidelity_trial(config: dict[str, Any], trial_dir: str | Path) -> dict[str, Any]:
    """Gradients of one setting by every mode, against finite differences (see the module docstring)."""
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    true_dyn, true_cost, dyn, cost, x0, bound = problem_of(config)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvergedWarning)
        target = _layer(true_dyn, true_cost, config, bound)(x0).u
    params = _params(dyn, cost)
    grads: dict[str, Tensor] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HessianFallbackWarning)
        for method in METHODS:
            layer = _layer(dyn, cost, config, bound, method)
            sol = layer(x0)
            g = torch.autograd.grad(_loss(sol.u, target), params, allow_unused=True)
            grads[method] = torch.cat([(gi if gi is not None else torch.zeros_like(p)).reshape(-1)
                                       for gi, p in zip(g, params)]).detach()
            if method == "implicit":
                base, converged = sol, bool(sol.converged.all())
    layer = _layer(dyn, cost, config, bound)
    warm = base.u.detach()
    fd = finite_differences(layer, x0, target, params, warm, 1e-6)
    fd_coarse = finite_differences(layer, x0, target, params, warm, 1e-5)
    out: dict[str, Any] = {"converged": converged, "max_kkt": float(base.kkt_residual.max()),
                           "fd_self_disagreement": float((fd - fd_coarse).norm() / fd.norm().clamp_min(1e-300)),
                           "grad_norm": float(fd.norm()), **_diagnostics(layer, x0, base, bound)}
    for method, g in grads.items():
        out[f"rel_error_{method}"] = float((g - fd).norm() / fd.norm().clamp_min(1e-300))
        out[f"cosine_{method}"] = float(torch.dot(g, fd) / (g.norm() * fd.norm()).clamp_min(1e-300))
    (trial_dir / "result.json").write_text(json.dumps({**out, "fd": fd.tolist(),
                                                       **{f"grad_{k}": v.tolist() for k, v in grads.items()}}))
    return out


def _plot(ok: list[Row], path: Path) -> None:
    plt = report.pyplot()
    settings = report.group(ok, "system", "bounds", "params")
    fig, axes = plt.subplots(1, len(METHODS) - 1, figsize=(4.2 * (len(METHODS) - 1), 3.6), squeeze=False)
    for ax, method in zip(axes[0], [m for m in METHODS if m != "implicit"]):
        for (system, bounds, params), rows in settings.items():
            by_t = report.group(rows, "horizon")
            ts = sorted(t for (t,) in by_t)
            means = [report.mean_se([r[f"rel_error_{method}"] for r in by_t[(t,)]])[0] for t in ts]
            style = {"pendulum": "-", "cartpole": "--", "linear": ":"}.get(system, "-.")
            ax.plot(ts, [max(m, 1e-16) for m in means], style, marker="o" if params == "dynamics" else "s",
                    label=f"{system} {bounds} {params}")
        ax.set_yscale("log")
        ax.set_xlabel("horizon T")
        ax.set_title(f"{method}: relative error vs FD", fontsize=9)
    axes[0][0].set_ylabel("||g - g_FD|| / ||g_FD||")
    axes[0][-1].legend(fontsize=6)
    report.save(fig, path)


def _left_out(rows: list[Row]) -> str:
    """The trials the table leaves out, and why."""
    unconverged = [r for r in rows if not r["converged"]]
    flat = [r for r in rows if r["converged"] and r["grad_norm"] == 0]
    text = []
    if unconverged:
        ids = ", ".join(f"`{r['trial_id']}` (KKT {r['max_kkt']:.1e})" for r in unconverged)
        text.append(f"- {len(unconverged)} trials whose solve at the learner's model did not converge within 1000 "
                    f"iterations (finite differences of an unconverged solution map measure nothing): {ids}.")
    if flat:
        ids = ", ".join(f"`{r['trial_id']}`" for r in flat)
        text.append(f"- {len(flat)} trials whose loss is flat in the parameters (the FD gradient is exactly zero; "
                    f"the learner's plans equal the expert's, their controls on the same bounds), so no relative "
                    f"error or cosine is defined; every mode's gradient is zero there too: {ids}.")
    return ("Left out of the table:\n\n" + "\n".join(text) + "\n") if text else "Every trial is in the table.\n"


def summarize(rows: list[Row], out_dir: Path, options: StudyOptions) -> None:
    ok = report.ok_rows(rows)
    usable = [r for r in ok if r["converged"] and r["grad_norm"] > 0]
    lines = []
    for (system, bounds, params, horizon), group in report.group(usable, "system", "bounds", "params",
                                                                 "horizon").items():
        line = [system, bounds, params, horizon, len(group)]
        for method in METHODS:
            m, _, n = report.mean_se([r[f"rel_error_{method}"] for r in group])
            c = report.mean_se([r[f"cosine_{method}"] for r in group])[0]
            line.append(f"{m:.1e} ({c:.3f})" if n else "n/a")
        line += [f"{report.mean_se([r['saturated_fraction'] for r in group])[0]:.0%}",
                 f"{report.mean_se([r['costate_norm'] for r in group])[0]:.3g}",
                 f"{report.mean_se([r['dropped_curvature'] for r in group])[0]:.3g}",
                 f"{max(r['fd_self_disagreement'] for r in group):.1e}"]
        lines.append(line)
    _plot(usable, out_dir / "relative_error.png")
    headers = ["system", "bounds", "parameters", "T", "seeds", *[f"{m} err (cos)" for m in METHODS], "saturated",
               "costate norm", "dropped curvature", "FD noise"]
    text = f"""# gradient-fidelity: every gradient mode against finite differences

For each setting the gradient of the papers' imitation loss (mean squared control error against the true
model's plans; {ok[0]['starts'] if ok else '?'} starts per seed, {len({r['seed'] for r in ok})} seeds) with respect
to the learned parameters: the dynamics at the papers' wrong initial model (pendulum (15, 3, 0.5), cart-pole
(9.8, 3.0, 0.1, 1.0); linear: A, B perturbed), or the cost at a perturbed cost (true dynamics). Entries:
relative error ||g - g_FD|| / ||g_FD|| against central finite differences of re-solves converged to a KKT
residual of 1e-12 (relative step 1e-6; "FD noise" is the largest disagreement with a 1e-5 step), mean over
seeds, and the cosine in brackets. Only converged solves with a non-zero gradient count (see below the table).{
report.run_note(rows, options, SEEDS)}

- `diffmpc` is this project's `diffmpc` mode: the adjoint with the cost Hessian only, the dynamics Jacobian
  differentiated in the parameters. `diffmpc-fixed-jacobian` holds the Jacobian fixed, as mpc.pytorch does
  when it computes Jacobians by autograd (its `GradMethods.AUTO_DIFF`; the parameters then reach the
  gradient only through the affine term f): it is wrong even for linear dynamics.
- "saturated": share of controls on a bound; "costate norm": mean norm of lam_t; "dropped curvature":
  mean ||hess(lam . f)|| / ||C||, the term DiffMPC leaves out of the adjoint's Hessian.

{report.table(headers, lines)}
{_left_out(ok)}
Figure: `relative_error.png`.
{report.failures(rows)}"""
    (out_dir / "summary.md").write_text(text)


STUDY = Study("gradient-fidelity", "implicit, diffmpc (two variants) and unroll gradients vs finite differences",
              trials, run_fidelity_trial, summarize, __name__)
