"""Jacobians and Hessians of the models along a trajectory.

Every function here acts on rows: R = B*T flattened (batch, time) pairs, n state, m control, N = n + m.
A model's closed forms (``jacobians``, ``lagrangian_hessian``, ``derivatives``) are used when present.
Otherwise autograd computes the derivative under the model contract that modules act row by row: row r
of the output depends only on row r of the input (see ``dilqr_rl.models.base``). Then the Jacobian of a
row-wise ``fn: (R, N) -> (R, k)`` is the gradient of the summed outputs, one reverse pass per output
dimension, all k passes done as one: the rows are replicated k times and copy i is seeded with e_i
(:func:`row_jacobian`). A module that sets ``row_wise = False`` gets ``torch.func`` instead, vectorized
over the rows (each row differentiated as a batch of its own; slower).

Per-item problem data reaches the models as keyword arguments, one row per row of x and u
(``args: {name: (R, ...)}``, see ``DiLQR.forward``); the closed forms receive the same keywords. The
derivatives are differentiable (``create_graph``) when grad mode is on, as in unroll mode, in the models'
parameters and in the rows of ``args``.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping
from types import MappingProxyType

import torch
from torch import Tensor, nn
from torch.func import hessian, jacfwd, jacrev, vmap

from dilqr_rl.control.errors import RowCouplingError

_REPLICATE_MAX = 16384
"""Replicate the rows while k * R * N stays below this many elements; above, a reverse pass batched over
the k seeds is cheaper (measured in benchmarks/derivative_paths.py)."""


Args = Mapping[str, Tensor]
"""Per-row keyword arguments of a model: {name: (R, ...)}, row-aligned with x and u."""

_NO_ARGS: Args = MappingProxyType({})


def stage_cost(cost: nn.Module, x: Tensor, u: Tensor, t: Tensor, args: Args = _NO_ARGS) -> Tensor:
    """g_t(x, u) for every row: x (R, n), u (R, m), t (R,) long -> (R,)."""
    if getattr(cost, "time_varying", False):
        return cost(x, u, t, **args)
    return cost(x, u, **args)


def cost_closed_form(cost: nn.Module, x: Tensor, u: Tensor, t: Tensor, args: Args = _NO_ARGS) -> tuple[Tensor, Tensor]:
    """The cost's closed-form ``derivatives``: c (R, N), C (R, N, N)."""
    if getattr(cost, "time_varying", False):
        return cost.derivatives(x, u, t, **args)
    return cost.derivatives(x, u, **args)


def _bind(keys: tuple[str, ...], values: tuple[Tensor, ...]) -> dict[str, Tensor]:
    return dict(zip(keys, values))


def _one_row(values: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return tuple(v.unsqueeze(0) for v in values)


def is_row_wise(module: nn.Module) -> bool:
    """Whether the row-wise autograd path may be used (the module's ``row_wise`` attribute, default True)."""
    return bool(getattr(module, "row_wise", True))


@functools.lru_cache(maxsize=64)
def _seed(k: int, rows: int, width: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """(k * rows, width): e_i on the rows of copy i, i < k (cached: the same shapes recur every iteration)."""
    return torch.eye(k, width, dtype=dtype, device=device).repeat_interleave(rows, 0)


_ROW_WISE_CHECKED: weakref.WeakKeyDictionary[nn.Module, set] = weakref.WeakKeyDictionary()
"""Per module, the (train/eval modes, row layouts) it has passed the row check with."""


def check_row_wise(name: str, module: nn.Module, fn: Callable[..., Tensor], *rows: Tensor) -> None:
    """Raise RowCouplingError if ``fn(*rows)`` changes on the given rows when a copy of row 0 is appended.

    ``rows`` are row-aligned inputs (R, ...). Skipped for modules with ``row_wise = False``. A row-wise
    module gives the same output up to rounding; BatchNorm in training mode (batch statistics) or Dropout
    (random masks) does not. A module that passed is not checked again while the train/eval modes of its
    submodules and the rows' shapes (past the first dimension), dtypes and devices stay the same.
    """
    if not is_row_wise(module):
        return
    key = (tuple(m.training for m in module.modules()), tuple((r.shape[1:], r.dtype, r.device) for r in rows))
    passed = _ROW_WISE_CHECKED.setdefault(module, set())
    if key in passed:
        return
    with torch.no_grad():
        alone = fn(*rows)
        if alone.ndim == 0 or alone.shape[0] != rows[0].shape[0]:
            return  # not one output per row: the shape checks downstream say so
        more = fn(*(torch.cat([r, r[:1]]) for r in rows))[: alone.shape[0]]
    tol = torch.finfo(alone.dtype).eps ** 0.5
    if not bool(torch.isclose(more, alone, rtol=tol, atol=tol, equal_nan=True).all()):
        raise RowCouplingError(
            f"the {name} module ({type(module).__name__}) does not act row by row: its output for a row changed "
            "when another row was added to the batch. The solver needs row r of the output to depend on row r of "
            "the input only. Put BatchNorm/Dropout layers in eval mode (module.eval()) or use a per-row "
            "normalization such as LayerNorm; a module that is row-wise but must not be evaluated on stacked "
            "copies of its rows can set row_wise = False (per-row torch.func derivatives, no check)."
        )
    passed.add(key)


def row_jacobian(fn: Callable[..., Tensor], tau: Tensor, aux: tuple[Tensor, ...], k: int,
                 keep_graph: bool = False) -> tuple[Tensor, Tensor]:
    """Per-row Jacobian of the first k outputs of a row-wise ``fn(tau (R', N), *aux (R', ...)) -> (R', K)``.

    Returns fn(tau) (R, K) and d fn[:, :k] / d tau (R, k, N). The rows of ``tau`` and ``aux`` are
    replicated k times and copy i is seeded with e_i, so one forward and one reverse pass give all k rows
    of every Jacobian; for large R the k seeds go through one reverse pass vectorized over them instead
    (``is_grads_batched``), without copies of the forward. With ``keep_graph`` the value keeps its graph
    (to be differentiated again, e.g. in the model parameters).
    """
    R, N = tau.shape
    create_graph = torch.is_grad_enabled()
    reps = k if k * R * N <= _REPLICATE_MAX else 1
    with torch.enable_grad():
        inp = torch.cat([tau] * reps) if reps > 1 else tau
        if not (create_graph and inp.requires_grad):
            inp = inp.detach().requires_grad_(True)
        y = fn(inp, *(torch.cat([a] * reps) if reps > 1 else a for a in aux))  # (reps R, K)
        options = {"create_graph": create_graph, "retain_graph": create_graph or keep_graph,
                   "materialize_grads": True}
        if not y.requires_grad:  # fn does not depend on tau (e.g. the gradient of a linear function)
            J = y.new_zeros(R, k, N)
        elif reps > 1:
            (J,) = torch.autograd.grad(y, inp, _seed(k, R, y.shape[1], y.dtype, y.device), **options)
            J = J.view(k, R, N).transpose(0, 1)
        else:
            seeds = _seed(k, 1, y.shape[1], y.dtype, y.device).unsqueeze(1).expand(k, R, y.shape[1])
            (J,) = torch.autograd.grad(y, inp, seeds, is_grads_batched=True, **options)
            J = J.transpose(0, 1)
        value = y[:R]  # in grad mode: with keep_graph the value stays differentiable
    return (value if create_graph or keep_graph else value.detach()), J


def _gradient(terms: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """tau, *aux -> d/dtau of the sum of all entries of terms(tau, *aux), (R, N), with a graph (to differentiate
    it again)."""
    def grad(tau: Tensor, *aux: Tensor) -> Tensor:
        return torch.autograd.grad(terms(tau, *aux).sum(), tau, create_graph=True, materialize_grads=True)[0]
    return grad


def dynamics_jacobians(dynamics: nn.Module, x: Tensor, u: Tensor, args: Args = _NO_ARGS) -> tuple[Tensor, Tensor]:
    """A = df/dx (R, n, n) and B = df/du (R, n, m)."""
    closed_form = getattr(dynamics, "jacobians", None)
    if closed_form is not None:
        return closed_form(x, u, **args)
    n = x.shape[-1]
    keys, values = tuple(args), tuple(args.values())
    if not is_row_wise(dynamics):
        def f(xr: Tensor, ur: Tensor, *vr: Tensor) -> Tensor:
            return dynamics(xr.unsqueeze(0), ur.unsqueeze(0), **_bind(keys, _one_row(vr))).squeeze(0)

        return vmap(jacfwd(f, argnums=(0, 1)))(x, u, *values)
    _, J = row_jacobian(lambda tau, *vr: dynamics(tau[:, :n], tau[:, n:], **_bind(keys, vr)),
                        torch.cat([x, u], -1), values, n)
    return J[..., :n], J[..., n:]


def cost_derivatives(cost: nn.Module, x: Tensor, u: Tensor, t: Tensor,
                     args: Args = _NO_ARGS) -> tuple[Tensor, Tensor]:
    """Gradient c (R, N) and Hessian C (R, N, N) of the stage cost in tau = [x; u]."""
    if getattr(cost, "derivatives", None) is not None:
        return cost_closed_form(cost, x, u, t, args)
    n = x.shape[-1]
    tau = torch.cat([x, u], -1)
    keys, values = tuple(args), tuple(args.values())
    if not is_row_wise(cost):
        def g(tau_r: Tensor, tr: Tensor, *vr: Tensor) -> Tensor:
            return stage_cost(cost, tau_r[:n].unsqueeze(0), tau_r[n:].unsqueeze(0), tr.unsqueeze(0),
                              _bind(keys, _one_row(vr))).squeeze(0)

        def grad_twice(tau_r: Tensor, tr: Tensor, *vr: Tensor) -> tuple[Tensor, Tensor]:
            c = jacrev(g)(tau_r, tr, *vr)
            return c, c

        C, c = vmap(jacfwd(grad_twice, has_aux=True))(tau, t, *values)
        return c, C
    grad = _gradient(lambda tau_r, tr, *vr: stage_cost(cost, tau_r[:, :n], tau_r[:, n:], tr, _bind(keys, vr)))
    return row_jacobian(grad, tau, (t, *values), tau.shape[-1])


def linearization(
    dynamics: nn.Module, cost: nn.Module, x: Tensor, u: Tensor, t: Tensor,
    dynamics_args: Args = _NO_ARGS, cost_args: Args = _NO_ARGS,
) -> tuple[Tensor, Tensor, Tensor]:
    """F = [A B] (R, n, N), c (R, N), C (R, N, N) at the rows (x, u, t).

    When neither model has closed forms and both are row-wise, one autograd pass gives all three: the
    row Jacobian of tau -> [f(tau); grad g(tau)].
    """
    closed = getattr(dynamics, "jacobians", None) is not None or getattr(cost, "derivatives", None) is not None
    if closed or not (is_row_wise(dynamics) and is_row_wise(cost)):
        A, B = dynamics_jacobians(dynamics, x, u, dynamics_args)
        c, C = cost_derivatives(cost, x, u, t, cost_args)
        return torch.cat([A, B], -1), c, C
    n = x.shape[-1]
    dkeys, ckeys = tuple(dynamics_args), tuple(cost_args)
    nd = len(dkeys)
    cost_gradient = _gradient(lambda tau, tr, *cv: stage_cost(cost, tau[:, :n], tau[:, n:], tr, _bind(ckeys, cv)))

    def stacked(tau: Tensor, tr: Tensor, *vr: Tensor) -> Tensor:
        f = dynamics(tau[:, :n], tau[:, n:], **_bind(dkeys, vr[:nd]))
        return torch.cat([f, cost_gradient(tau, tr, *vr[nd:])], -1)  # (R, n + N)

    tau = torch.cat([x, u], -1)
    aux = (t, *dynamics_args.values(), *cost_args.values())
    value, J = row_jacobian(stacked, tau, aux, n + tau.shape[-1])
    return J[:, :n], value[:, n:], J[:, n:]


def dynamics_lagrangian_hessian(dynamics: nn.Module, x: Tensor, u: Tensor, lam: Tensor,
                                args: Args = _NO_ARGS) -> Tensor:
    """Hessian of lam . f(tau) in tau = [x; u] (R, N, N); the term DiffMPC's gradient drops."""
    closed_form = getattr(dynamics, "lagrangian_hessian", None)
    if closed_form is not None:
        return closed_form(x, u, lam, **args)
    n = x.shape[-1]
    tau = torch.cat([x, u], -1)
    keys, values = tuple(args), tuple(args.values())
    if not is_row_wise(dynamics):
        def weighted(tau_r: Tensor, lr: Tensor, *vr: Tensor) -> Tensor:
            f = dynamics(tau_r[:n].unsqueeze(0), tau_r[n:].unsqueeze(0), **_bind(keys, _one_row(vr)))
            return (lr * f.squeeze(0)).sum()

        return vmap(hessian(weighted))(tau, lam, *values)
    grad = _gradient(lambda tau_r, lr, *vr: lr * dynamics(tau_r[:, :n], tau_r[:, n:], **_bind(keys, vr)))
    return row_jacobian(grad, tau, (lam, *values), tau.shape[-1])[1]


def graph_leaves(*outputs: Tensor) -> list[Tensor]:
    """The leaf tensors that require grad and that ``outputs`` depend on, found by walking their autograd
    graph (the tensors whose ``.grad`` a backward from ``outputs`` would fill)."""
    leaves, seen, stack = [], set(), [o.grad_fn for o in outputs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)  # AccumulateGrad: the leaf it accumulates into
        if variable is not None:
            leaves.append(variable)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return leaves
