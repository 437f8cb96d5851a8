"""Ways to differentiate a user-written model along a trajectory, timed per call (what the solver's autograd
path chose and why).

For the user-written pendulum and cart-pole (dilqr_rl.bench.user_models) and a weighted quadratic cost, at
R = B*T rows: the dynamics Jacobians [A B], the Lagrangian Hessian hess[lam . f], the cost gradient and
Hessian, and the implicit backward's Psi VJP, each by the alternatives below; medians of repeats, float32,
one thread. Optional: torch.compile of the torch.func variant (compile time and per-call time).

    python benchmarks/derivative_paths.py [--rows 200 600 12800] [--compile] [--repeats 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import torch
import torch.autograd.forward_ad as fwAD
from torch.func import hessian, jacfwd, jacrev, jvp, vmap

from dilqr_rl.bench.user_models import UserCartpole, UserPendulum, WeightedQuadCost
from dilqr_rl.control import derivatives


def _per_row(fn):
    return lambda *rows: fn(*(r.unsqueeze(0) for r in rows)).squeeze(0)


def jac_vmap(dyn, tau, n):
    """torch.func, per row: what the solver did before (and does for row_wise = False)."""
    return vmap(jacfwd(_per_row(lambda t: dyn(t[:, :n], t[:, n:]))))(tau)


def jac_vjp_loop(dyn, tau, n):
    """n reverse passes of the summed outputs over the R rows."""
    tau = tau.detach().requires_grad_(True)
    y = dyn(tau[:, :n], tau[:, n:])
    return torch.stack([torch.autograd.grad(y[:, i].sum(), tau, retain_graph=True)[0] for i in range(n)], 1)


def jac_batched_vjp(dyn, tau, n):
    """One reverse pass, vectorized over the n seeds (autograd.grad(is_grads_batched=True))."""
    tau = tau.detach().requires_grad_(True)
    y = dyn(tau[:, :n], tau[:, n:])
    seeds = torch.eye(n, dtype=y.dtype).unsqueeze(1).expand(n, *y.shape)
    return torch.autograd.grad(y, tau, seeds, is_grads_batched=True)[0].transpose(0, 1)


def jac_forward_mode(dyn, tau, n):
    """Forward mode (dual numbers), the N basis tangents as N copies of the rows."""
    R, N = tau.shape
    with fwAD.dual_level():
        basis = torch.eye(N, dtype=tau.dtype).repeat_interleave(R, 0)
        dual = fwAD.make_dual(tau.repeat(N, 1), basis)
        out = fwAD.unpack_dual(dyn(dual[:, :n], dual[:, n:])).tangent
    return out.view(N, R, n).permute(1, 2, 0)


def jac_solver(dyn, tau, n):
    """The solver's choice (derivatives.row_jacobian): rows replicated n times, copy i seeded with e_i, one
    reverse pass; above derivatives._REPLICATE_MAX elements, the batched reverse pass."""
    return derivatives.row_jacobian(lambda t: dyn(t[:, :n], t[:, n:]), tau, (), n)[1]


def hess_vmap(dyn, tau, lam, n):
    return vmap(hessian(lambda t, lr: (lr * _per_row(lambda s: dyn(s[:, :n], s[:, n:]))(t)).sum()))(tau, lam)


def hess_vjp_loop(dyn, tau, lam, n):
    tau = tau.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad((lam * dyn(tau[:, :n], tau[:, n:])).sum(), tau, create_graph=True)
    return torch.stack([torch.autograd.grad(grad[:, i].sum(), tau, retain_graph=True)[0]
                        for i in range(tau.shape[1])], 1)


def hess_batched_vjp(dyn, tau, lam, n):
    tau = tau.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad((lam * dyn(tau[:, :n], tau[:, n:])).sum(), tau, create_graph=True)
    seeds = torch.eye(tau.shape[1], dtype=grad.dtype).unsqueeze(1).expand(tau.shape[1], *grad.shape)
    return torch.autograd.grad(grad, tau, seeds, is_grads_batched=True)[0].transpose(0, 1)


def hess_solver(dyn, tau, lam, n):
    return derivatives.dynamics_lagrangian_hessian(dyn, tau[:, :n], tau[:, n:], lam)


def cost_vmap(cost, tau, n):
    g = _per_row(lambda t: cost(t[:, :n], t[:, n:]))
    return vmap(jacfwd(jacrev(g)))(tau)


def cost_solver(cost, tau, n):
    return derivatives.cost_derivatives(cost, tau[:, :n], tau[:, n:], torch.zeros(tau.shape[0], dtype=torch.long))


def psi_jvp(dyn, tau, lam, dtau, n):
    """torch.func.jvp for lam . (F dtau), then a reverse pass to the parameters (before)."""
    _, df = jvp(lambda t: dyn(t[:, :n], t[:, n:]), (tau,), (dtau,))
    return torch.autograd.grad((lam * df).sum(), list(dyn.parameters()))


def psi_double_backward(dyn, tau, lam, dtau, n):
    """(J^T lam) . dtau by one reverse pass with a graph, then the reverse pass to the parameters (now)."""
    tau = tau.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad((lam * dyn(tau[:, :n], tau[:, n:])).sum(), tau, create_graph=True)
    return torch.autograd.grad((grad * dtau).sum(), list(dyn.parameters()))


def median_us(fn, repeats):
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e6 * statistics.median(times)


def compiled(fn, repeats) -> str:
    """torch.compile(fn): its compile seconds and per-call microseconds, or why it failed."""
    compiled_fn = torch.compile(fn)
    t0 = time.perf_counter()
    try:
        compiled_fn()
    except Exception as error:  # a measurement: report what torch.compile says and go on
        return f"failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
    seconds = time.perf_counter() - t0
    return f"{median_us(compiled_fn, repeats):.0f} us/call after {seconds:.0f} s to compile"


def cases(dyn, cost, n: int, R: int):
    """(quantity, method, zero-argument callable) for every alternative at R rows."""
    gen = torch.Generator().manual_seed(0)
    tau, lam, dtau = (torch.randn(R, k, generator=gen, dtype=torch.float32) for k in (n + 1, n, n + 1))
    out = [("[A B]", m.__name__, partial(m, dyn, tau, n))
           for m in (jac_vmap, jac_vjp_loop, jac_batched_vjp, jac_forward_mode, jac_solver)]
    out += [("hess[lam.f]", m.__name__, partial(m, dyn, tau, lam, n))
            for m in (hess_vmap, hess_vjp_loop, hess_batched_vjp, hess_solver)]
    out += [("c, C", m.__name__, partial(m, cost, tau, n)) for m in (cost_vmap, cost_solver)]
    out += [("Psi VJP", m.__name__, partial(m, dyn, tau, lam, dtau, n)) for m in (psi_jvp, psi_double_backward)]
    return out


def run(rows, repeats, compile_too):
    torch.set_num_threads(1)
    dtype = torch.float32
    print("| model | R | quantity | method | us/call |\n|---|---|---|---|---|")
    for name, dyn, n in (("pendulum", UserPendulum(dtype), 2), ("cart-pole", UserCartpole(dtype), 4)):
        cost = WeightedQuadCost(torch.ones(n + 1, dtype=dtype), torch.zeros(n + 1, dtype=dtype))
        for R in rows:
            reps = repeats if R <= 1000 else max(3, repeats // 10)
            for quantity, method, fn in cases(dyn, cost, n, R):
                print(f"| {name} | {R} | {quantity} | {method} | {median_us(fn, reps):.0f} |", flush=True)
                if compile_too and method in ("jac_vmap", "jac_solver", "hess_solver"):
                    print(f"| {name} | {R} | {quantity} | torch.compile({method}) | {compiled(fn, reps)} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200, 600, 12800],
                        help="R = B*T rows (200 = B 20 x T 10; 12800 = B 256 x T 50)")
    parser.add_argument("--repeats", type=int, default=50, help="repeats per measurement (median)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (minutes)")
    args = parser.parse_args()
    run(args.rows, args.repeats, args.compile)


if __name__ == "__main__":
    main()
