"""``DiLQR``: a box-constrained iLQR solve as a differentiable ``nn.Module``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dilqr_rl.control import kernels
from dilqr_rl.control.config import GradMethod, OnUnconverged, SolverConfig
from dilqr_rl.control.derivatives import check_row_wise, graph_leaves, stage_cost
from dilqr_rl.control.errors import NotConvergedError, UnconvergedWarning, unconverged_warnings_enabled, warn
from dilqr_rl.control.ilqr import SolverResult, solve
from dilqr_rl.control.implicit import implicit_backward
from dilqr_rl.control.problem import Problem, check_finite
from dilqr_rl.control.solution import BackwardInfo, Solution


@dataclass(frozen=True)
class PerStep:
    """Problem data with one value per batch item and per step, for ``DiLQR.forward``'s ``cost_args`` and
    ``dynamics_args``: ``value`` (B, T, ...); the model receives row (b, t) at step t. A plain tensor
    (B, ...) is one value per item, the same at every step."""

    value: Tensor


@dataclass(frozen=True)
class _ArgSpec:
    """Where an input of the autograd Function goes: ``kind`` "dynamics" or "cost", the keyword ``name``."""

    kind: str
    name: str
    per_step: bool


def _expand(value: Tensor, per_step: bool, horizon: int) -> Tensor:
    """Per-item (B, ...) or per-step (B, T, ...) data -> (B, T, ...) (a view)."""
    if per_step:
        return value
    return value.unsqueeze(1).expand(value.shape[0], horizon, *value.shape[1:])


def _problem_args(specs: tuple[_ArgSpec, ...], values: tuple[Tensor, ...], horizon: int) -> tuple[dict, dict]:
    """{name: (B, T, ...)} for the dynamics and for the cost."""
    out: tuple[dict, dict] = ({}, {})
    for spec, value in zip(specs, values):
        out[spec.kind == "cost"][spec.name] = _expand(value, spec.per_step, horizon)
    return out


@dataclass(frozen=True)
class _Backward:
    """Everything the autograd Function's backward needs, passed as one object."""

    problem: Problem
    result: SolverResult | None  # handed to save_for_backward, then dropped from the bundle
    weight: Tensor | None  # (B,) 1 for items that get a gradient, 0 for zeroed unconverged items
    info: BackwardInfo
    specs: tuple[_ArgSpec, ...]  # the problem data among the Function's inputs (after the parameters)
    forms: dict  # the forward's form lookups (kernels.one_call), which the backward differentiates


class _AttachImplicitGradient(torch.autograd.Function):
    """Identity on the solution (x*, u*) whose backward is the implicit (or DiffMPC) adjoint.

    Inputs after the bundle: x_init, u_init (or None: the fixed point does not depend on the warm start,
    its gradient is zero), x*, u*, the tensors to differentiate (parameters and closed-over leaves), then
    the problem data values (one per ``bundle.specs``).
    """

    @staticmethod
    def forward(bundle: _Backward, x_init: Tensor, u_init: Tensor | None, x: Tensor, u: Tensor, *tensors: Tensor):
        return x.clone(), u.clone()

    @classmethod
    def apply(cls, *args):
        """``Function.apply`` without its binding of default arguments (``forward`` has none; the binding, an
        ``inspect.signature`` per call, is a measurable part of a solve at B = 1) and without its torch.func support
        (the layer refuses torch.func transforms: :meth:`DiLQR.forward`)."""
        return super(torch.autograd.Function, cls).apply(*args)

    @staticmethod
    def backward(ctx, grad_x: Tensor, grad_u: Tensor):
        b: _Backward = ctx.bundle
        x, u, F, C, lam, active, weight, *tensors = ctx.saved_tensors
        n_data = len(b.specs)
        params, data = tuple(tensors[: len(tensors) - n_data]), tensors[len(tensors) - n_data :]
        problem = b.problem
        if data:
            with torch.enable_grad():  # the rows built from the copies carry the graph Psi needs
                data = tuple(v.detach().requires_grad_(True) for v in data)
                problem = problem.with_args(*_problem_args(b.specs, data, problem.horizon))
        with kernels.one_call(b.forms):
            out = implicit_backward(problem, x, u, F, C, lam, active, grad_x, grad_u, (*params, *data),
                                    problem.config.grad_method, weight)
        b.info.hessian_fallback = out.fallback
        b.info.zero_gradient = out.singular
        grad_u_init = torch.zeros_like(ctx.u_init_like) if ctx.needs_input_grad[2] else None
        return None, out.grad_x_init, grad_u_init, None, None, *out.params

    @staticmethod
    def setup_context(ctx, inputs, output):
        bundle: _Backward = inputs[0]
        r = bundle.result
        ctx.bundle = _Backward(bundle.problem, None, None, bundle.info, bundle.specs, bundle.forms)
        ctx.u_init_like = r.u.new_zeros(()).expand(r.u.shape) if inputs[2] is not None else None
        ctx.save_for_backward(r.x, r.u, r.F, r.C, r.lam, r.active, bundle.weight, *inputs[5:])


class DiLQR(nn.Module):
    """Box-constrained iLQR with exact implicit gradients (Wang et al., ICML 2025).

    Solves, for each batch item b,

        min_{x, u} sum_{t=1..T} g_t(x_t, u_t; theta, a_bt)
        s.t. x_1 = x_init, x_{t+1} = f(x_t, u_t; theta, d_bt), u_lower <= u_t <= u_upper

    where theta are the parameters of the ``dynamics`` and ``cost`` modules and a, d optional per-item
    problem data (``cost_args``, ``dynamics_args`` of :meth:`forward`).

    What is differentiated: the returned x, u and cost, with respect to ``x_init``, every parameter of
    ``dynamics`` and ``cost`` that requires grad, every tensor of ``cost_args`` / ``dynamics_args`` (and
    through them whatever produced them, e.g. a network predicting goals), and every other tensor that
    requires grad and that the modules' ``forward`` reads (a tensor they close over, found in its autograd
    graph; its gradient reaches the leaves it was computed from). ``u_init``: in ``implicit`` and
    ``diffmpc`` modes the solution, a fixed point, does not depend on the warm start, so its gradient is
    zero; ``unroll`` differentiates the iterations started from it. Bounds are constants.

    ``grad_method``: ``"implicit"`` (exact gradient of the fixed point, O(T), independent of the
    iterations), ``"diffmpc"`` (cost Hessian only: DiffMPC's gradient, an approximation) or ``"unroll"``
    (autograd through every iteration: the exact derivative of the returned iterate).

    Which gradients are exact: ``Solution.exact_gradient`` (B,) bool. The implicit gradient is the fixed
    point's only where the item converged; for an unconverged item (``on_unconverged="warn"``) the backward
    evaluates the fixed-point formula at the last iterate, which is neither the derivative of that iterate
    nor the converged solution's gradient, and ``exact_gradient`` is False there. ``on_unconverged="zero"``
    gives those items a zero gradient, ``"raise"`` refuses them. After ``backward()``,
    ``Solution.backward`` flags the items whose adjoint fell back to the cost Hessian or to zero.

    Bounds are floats, or tensors broadcastable to (B, T, m); ``None`` is unbounded. The math of the
    backward and the comparison of the modes: docs/implicit_gradient.md; the forward solver:
    docs/forward_solver.md.

    Shapes:
        x_init (B, n), u_init (B, T, m), cost_args / dynamics_args values (B, ...) or ``PerStep`` (B, T, ...)
        -> Solution with x (B, T, n), u (B, T, m), cost (B,).

    Example::

        ctrl = DiLQR(PendulumDynamics(), GoalCost(w, goal), horizon=20, u_lower=-2.0, u_upper=2.0)
        sol = ctrl(x_init, cost_args={"goal": goal_net(obs)})   # per-item goals (B, N)
        loss = ((sol.u - u_expert) ** 2).sum()
        loss.backward()                                          # reaches goal_net and the physics
    """

    def __init__(
        self,
        dynamics: nn.Module,
        cost: nn.Module,
        horizon: int,
        u_lower: float | Tensor | None = None,
        u_upper: float | Tensor | None = None,
        grad_method: str | GradMethod = GradMethod.IMPLICIT,
        max_iter: int = 100,
        tol: float = 1e-7,
        on_unconverged: str | OnUnconverged = OnUnconverged.WARN,
        control_dim: int | None = None,
        **solver_options,
    ) -> None:
        super().__init__()
        if not isinstance(dynamics, nn.Module) or not isinstance(cost, nn.Module):
            raise TypeError(
                f"dynamics and cost must be torch.nn.Module instances; got {type(dynamics).__name__} and "
                f"{type(cost).__name__}. Wrap plain functions in an nn.Module with a forward()."
            )
        self.dynamics = dynamics
        self.cost = cost
        self.config = SolverConfig(horizon=horizon, grad_method=grad_method, max_iter=max_iter, tol=tol,
                                   on_unconverged=on_unconverged, **solver_options)
        self.control_dim = control_dim or getattr(dynamics, "control_dim", None)
        for name, bound in (("u_lower", u_lower), ("u_upper", u_upper)):
            if isinstance(bound, Tensor) and bound.requires_grad:
                raise ValueError(f"{name} requires grad, but bounds are constants of the layer: pass "
                                 f"{name}.detach()")
            if bound is not None and not isinstance(bound, Tensor):  # a Python number: keep it exact in float64
                bound = torch.as_tensor(bound, dtype=torch.float64)
            self.register_buffer(name, None if bound is None else bound.detach().clone())
            value = getattr(self, name)
            if value is not None and bool(torch.isnan(value).any()):
                raise ValueError(f"{name} contains NaN; a bound must be a number (+-inf for none) or None")
        self._bounds: dict = {}  # (sign, dtype, device) -> (the bound's values, the bound converted): see _bound
        if self.u_lower is not None and self.u_upper is not None:
            lo, hi = torch.broadcast_tensors(self.u_lower, self.u_upper)
            if bool((lo > hi).any()):
                raise ValueError("u_lower must be <= u_upper everywhere; got u_lower > u_upper somewhere")

    def extra_repr(self) -> str:
        c = self.config
        return f"horizon={c.horizon}, grad_method={c.grad_method.value}, max_iter={c.max_iter}, tol={c.tol}"

    def forward(self, x_init: Tensor, u_init: Tensor | None = None, *,
                cost_args: Mapping[str, Tensor | PerStep] | None = None,
                dynamics_args: Mapping[str, Tensor | PerStep] | None = None) -> Solution:
        """Solve from ``x_init`` (B, n), warm-started at ``u_init`` (B, T, m) (default zeros).

        ``cost_args`` / ``dynamics_args``: per-item problem data, passed to the cost's (dynamics')
        ``forward`` and closed forms as keyword arguments, one row per row of x and u: a tensor (B, ...) is
        one value per item (the model sees (R, ...) with R = B*T rows), ``PerStep(v)`` with v (B, T, ...)
        one value per item and step. They are differentiated like the parameters.

        Differentiate with ``torch.autograd`` (``backward()``, ``torch.autograd.grad``); ``torch.func`` transforms
        (``grad``, ``vmap``, ``jacrev``) are refused: the solve differentiates the models with autograd inside.
        """
        if torch._C._are_functorch_transforms_active():
            raise RuntimeError(
                "DiLQR cannot run inside a torch.func transform (grad, vmap, jacrev, ...): the solve calls autograd "
                "on the models itself. Differentiate with torch.autograd instead: loss.backward() or "
                "torch.autograd.grad(loss, inputs); torch.func.functional_call alone (no transform) is fine, and a "
                "batch of problems is one call with x_init (B, n).")
        with kernels.one_call() as forms:
            return self._solve(x_init, u_init, cost_args, dynamics_args, forms)

    def _solve(self, x_init: Tensor, u_init: Tensor | None, cost_args, dynamics_args, forms: dict) -> Solution:
        cfg = self.config
        unroll = cfg.grad_method is GradMethod.UNROLL
        walk = _walk((self.dynamics, self.cost))
        problem, u0, specs, values = self._problem(x_init, u_init, cost_args, dynamics_args, keep_graph=unroll,
                                                   walk=walk)
        if unroll:
            result = solve(problem, x_init, u0)
            x, u = result.x, result.u
            keep = self._check_convergence(result.converged)
            if keep is not None:
                mask = keep.view(-1, 1, 1)
                x, u = torch.where(mask, x, x.detach()), torch.where(mask, u, u.detach())
            exact = torch.ones_like(result.converged) if keep is None else keep
        else:
            with torch.no_grad():
                result = solve(problem, x_init.detach(), u0)
            keep = self._check_convergence(result.converged)
            x, u = result.x, result.u
            exact = result.converged if cfg.grad_method is GradMethod.IMPLICIT else torch.zeros_like(result.converged)
        info = BackwardInfo()
        graph_problem = problem.with_args(*_problem_args(specs, values, cfg.horizon)) if values else problem
        if not unroll and torch.is_grad_enabled():
            params = self._learnable(problem, x_init, u0, walk)
            warm = u_init if u_init is not None and u_init.requires_grad else None
            if params or values or x_init.requires_grad or warm is not None:
                weight = torch.ones_like(result.cost) if keep is None else keep.to(result.cost.dtype)
                bundle = _Backward(problem, result, weight, info, specs, forms)
                x, u = _AttachImplicitGradient.apply(bundle, x_init, warm, x, u, *params, *values)
        cost = graph_problem.total_cost(x, u)
        return Solution(x=x, u=u, cost=cost, converged=result.converged, iterations=result.iterations,
                        kkt_residual=result.kkt, active=result.active, exact_gradient=exact, backward=info)

    def _learnable(self, problem: Problem, x_init: Tensor, u0: Tensor, walk: tuple[list[Tensor], bool]
                   ) -> tuple[Tensor, ...]:
        """The modules' parameters that require grad, and the leaves of any other tensor that requires grad
        and that their forward reads (found in the autograd graph of one evaluation at the first step; not
        needed where both modules have C forms and hold no tensor outside their parameters and buffers: the forms
        read those only, and a tensor set as a plain attribute, e.g. a network's output, may carry a graph).

        ``walk``: the modules' parameters and whether they hold such a tensor (:func:`_walk`)."""
        parameters, attribute = walk
        out = [p for p in parameters if p.requires_grad]
        seen = {id(p) for p in out}
        if (not attribute and not problem.dynamics_args and not problem.cost_args
                and self._forms(x_init.shape[-1], u0.shape[-1]) is not None):
            return tuple(out)
        with torch.enable_grad():
            x, u = x_init.detach(), u0[:, 0].detach()
            outputs = problem.f(x, u, 0), problem.stage(x, u, 0)
        for leaf in graph_leaves(*outputs):
            if id(leaf) not in seen:
                seen.add(id(leaf))
                out.append(leaf)
        return tuple(out)

    def _forms(self, n: int, m: int) -> tuple[kernels.forms.Form, kernels.forms.Form] | None:
        """The C forms (:mod:`.kernels`) of both modules for n states and m controls, or None where one has none."""
        if m != 1:
            return None
        dynamics = kernels.dynamics_form(self.dynamics, n)
        cost = None if dynamics is None else kernels.cost_form(self.cost, n)
        return None if cost is None else (dynamics, cost)

    def _check_convergence(self, converged: Tensor) -> Tensor | None:
        """Apply the unconverged policy; return the per-item gradient mask for ``zero`` (else None).

        ``tol=0`` asks for exactly ``max_iter`` iterations, with no convergence test: nothing to report.
        """
        if bool(converged.all()) or self.config.tol == 0:
            return None
        items = (~converged).nonzero().flatten().tolist()
        message = (
            f"iLQR did not converge within max_iter={self.config.max_iter} for {len(items)} of "
            f"{converged.numel()} batch items (first: {items[:10]}). Increase max_iter, loosen tol, or "
            "warm-start with u_init."
        )
        policy = self.config.on_unconverged
        if policy is OnUnconverged.RAISE:
            raise NotConvergedError(message)
        if policy is OnUnconverged.ZERO:
            if unconverged_warnings_enabled():
                warn(message + " Their gradients are zero.", UnconvergedWarning)
            return converged
        if unconverged_warnings_enabled():
            gradient = ("their gradient is the derivative of the last iterate" if self.config.grad_method is
                        GradMethod.UNROLL else "their gradient is the fixed-point formula evaluated at the last "
                        "iterate, not an exact gradient (solution.exact_gradient is False for them; "
                        "on_unconverged='zero' zeroes it)")
            warn(f"{message} As on_unconverged='warn', {gradient}.", UnconvergedWarning)
        return None

    def _data(self, x_init: Tensor, cost_args, dynamics_args) -> tuple[tuple[_ArgSpec, ...], tuple[Tensor, ...]]:
        """Check the per-item problem data against the batch and the modules' signatures."""
        specs, values = [], []
        Bsz, T = x_init.shape[0], self.config.horizon
        for kind, module, args in (("dynamics", self.dynamics, dynamics_args), ("cost", self.cost, cost_args)):
            if args is None:
                continue
            if not isinstance(args, Mapping):
                raise TypeError(f"{kind}_args must be a mapping {{keyword: tensor}}; got {type(args).__name__}")
            for name, given in args.items():
                per_step = isinstance(given, PerStep)
                value = given.value if per_step else given
                where = f"{kind}_args[{name!r}]"
                if not isinstance(value, Tensor) or not value.is_floating_point():
                    raise TypeError(f"{where} must be a floating-point tensor (or PerStep of one); got "
                                    f"{type(value).__name__ if not isinstance(value, Tensor) else value.dtype}")
                lead = (Bsz, T) if per_step else (Bsz,)
                if tuple(value.shape[: len(lead)]) != lead:
                    expected = "PerStep value (B, T, ...)" if per_step else "(B, ...): one value per batch item"
                    raise ValueError(f"{where} has shape {tuple(value.shape)}; expected a {expected} with "
                                     f"B = {Bsz}, T = {T}. Wrap per-step data (B, T, ...) in PerStep.")
                if value.dtype != x_init.dtype or value.device != x_init.device:
                    raise ValueError(f"{where} is {value.dtype} on {value.device} but x_init is {x_init.dtype} on "
                                     f"{x_init.device}: pass both in one dtype and on one device")
                _check_keyword(kind, module, name)
                check_finite(where, value, "Pass finite problem data.")
                specs.append(_ArgSpec(kind, name, per_step))
                values.append(value)
        return tuple(specs), tuple(values)

    def _problem(self, x_init: Tensor, u_init: Tensor | None, cost_args, dynamics_args, keep_graph: bool,
                 walk: tuple[list[Tensor], bool] | None = None):
        """Check the inputs once and build the problem with bounds expanded to (B, T, m) and the problem
        data expanded to (B, T, ...) (detached unless ``keep_graph``, for unroll). ``walk``: :func:`_walk` of the
        modules, if made already.

        Returns the problem, the warm start (B, T, m), the data's specs and their tensors as given."""
        if not isinstance(x_init, Tensor) or x_init.ndim != 2:
            shape = tuple(x_init.shape) if isinstance(x_init, Tensor) else type(x_init).__name__
            raise ValueError(f"x_init must be a tensor of shape (B, n); got {shape}. For one state use "
                             "x_init.unsqueeze(0).")
        if x_init.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"x_init must be float32 or float64; got {x_init.dtype}")
        n = getattr(self.dynamics, "state_dim", x_init.shape[1])
        if x_init.shape[1] != n:
            raise ValueError(f"x_init has {x_init.shape[1]} state dimensions but the dynamics expect n = {n}")
        parameters = (walk or _walk((self.dynamics, self.cost)))[0]
        if (any(p.dtype is not x_init.dtype and p.is_floating_point() for p in parameters) or self._parameters
                or len(self._modules) > 2):  # a subclass's own parameters or modules: the full check
            for name, p in self.named_parameters():
                if p.is_floating_point() and p.dtype != x_init.dtype:
                    raise ValueError(f"parameter {name!r} is {p.dtype} but x_init is {x_init.dtype}: convert the "
                                     f"layer with .to({x_init.dtype}) or cast x_init")
        check_finite("x_init", x_init, "Pass finite initial states.")
        specs, values = self._data(x_init, cost_args, dynamics_args)
        Bsz, T = x_init.shape[0], self.config.horizon
        m = u_init.shape[-1] if u_init is not None else self._control_dim()
        if u_init is not None:
            known = self.control_dim or (self._bound_dim() if self._bound_dim() != 1 else None)  # 1 broadcasts
            if known is not None and m != known:
                raise ValueError(f"u_init has {m} controls per step but the layer plans m = {known} (its dynamics' "
                                 f"control_dim or bounds): pass u_init of shape (B, T, m) = {(Bsz, T, known)}")
            if u_init.shape != (Bsz, T, m) or u_init.dtype != x_init.dtype:
                raise ValueError(f"u_init must be (B, T, m) = {(Bsz, T, m)} with dtype {x_init.dtype}; got "
                                 f"{tuple(u_init.shape)} {u_init.dtype}")
            check_finite("u_init", u_init, "Pass a finite warm start.")
            u0 = u_init if keep_graph else u_init.detach()
        else:
            u0 = x_init.new_zeros(Bsz, T, m)
        data = tuple(v if keep_graph else v.detach() for v in values)
        lo, hi = (self._bound(b, s, (Bsz, T, m), x_init) for b, s in ((self.u_lower, -1), (self.u_upper, 1)))
        problem = Problem(self.dynamics, self.cost, self.config, lo, hi, *_problem_args(specs, data, T))
        found = None if values else self._forms(n, m)
        if found is None or any(form.generated for form in found):  # the library's forms act row by row
            self._check_row_wise(problem, x_init.detach(), u0[:, 0].detach())
        return problem, u0, specs, values

    def _check_row_wise(self, problem: Problem, x: Tensor, u: Tensor) -> None:
        """RowCouplingError unless both models act row by row on the first step's rows (and their data)."""
        dyn_args, cost_args = problem.rows(problem.dynamics_args, t=0), problem.rows(problem.cost_args, t=0)
        dkeys, ckeys = tuple(dyn_args), tuple(cost_args)
        t = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        check_row_wise("dynamics", self.dynamics, lambda xr, ur, *v: self.dynamics(xr, ur, **dict(zip(dkeys, v))),
                       x, u, *dyn_args.values())
        check_row_wise("cost", self.cost, lambda xr, ur, tr, *v: stage_cost(self.cost, xr, ur, tr, dict(zip(ckeys, v))),
                       x, u, t, *cost_args.values())

    def _bound_dim(self) -> int | None:
        """m from a bound tensor's last dimension, if a bound has one."""
        for bound in (self.u_lower, self.u_upper):
            if bound is not None and bound.ndim > 0:
                return bound.shape[-1]
        return None

    def _control_dim(self) -> int:
        if self._bound_dim() is not None:
            return self._bound_dim()
        if self.control_dim is None:
            raise ValueError("cannot tell the control size m: give the dynamics a control_dim attribute, "
                             "pass control_dim= to DiLQR, or pass u_init")
        return int(self.control_dim)

    def _bound(self, bound: Tensor | None, sign: int, shape: tuple[int, int, int], like: Tensor) -> Tensor:
        """The bound (-inf or inf for None, by ``sign``) in ``like``'s dtype and on its device, expanded to (B, T, m)
        (a view). A bound of at most 16 entries is kept converted for the next call while its values are the same
        (compared as Python numbers: a change by any means is seen; at small batches the conversion is a measurable
        part of a solve); never written to. Nothing is kept under inference mode (its tensors could not be saved
        for a later backward)."""
        keep = not torch.is_inference_mode_enabled() and (bound is None or bound.numel() <= 16)
        values = None if bound is None or not keep else bound.tolist()
        cache = self.__dict__.setdefault("_bounds", {})  # (a layer pickled before the cache existed has none)
        key = (sign, like.dtype, like.device)
        cached = cache.get(key) if keep else None
        if cached is not None and cached[0] == values:
            converted = cached[1]
        else:
            converted = like.new_full((), sign * float("inf")) if bound is None else bound.to(like)
            if keep:
                cache[key] = (values, converted)
        try:
            return converted.expand(shape)
        except RuntimeError:
            raise ValueError(f"a control bound of shape {tuple(bound.shape)} does not broadcast to "
                             f"(B, T, m) = {shape}") from None


def _walk(modules: tuple[nn.Module, ...]) -> tuple[list[Tensor], bool]:
    """The parameters of ``modules`` and their submodules, each once, in ``parameters()`` order, and whether one of
    the modules holds a tensor as a plain attribute (not a parameter or buffer): one pass, cheaper than
    ``parameters()`` (a solve at small batches would spend a measurable part of its time there)."""
    parameters, seen, modules_seen, attribute = [], set(), set(), False
    stack = list(reversed(modules))
    while stack:
        module = stack.pop()
        if id(module) in modules_seen:
            continue
        modules_seen.add(id(module))
        state = module.__dict__
        for p in state["_parameters"].values():
            if p is not None and id(p) not in seen:
                seen.add(id(p))
                parameters.append(p)
        attribute = attribute or any(isinstance(value, Tensor) for value in state.values())
        stack.extend(m for m in reversed(state["_modules"].values()) if m is not None)
    return parameters, attribute


@functools.lru_cache(maxsize=256)
def _takes_keyword(fn, name: str) -> bool:
    params = inspect.signature(fn).parameters.values()
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)


def _check_keyword(kind: str, module: nn.Module, name: str) -> None:
    """Raise if ``module``'s forward (or one of its closed forms) cannot take the keyword ``name``: a closed
    form that ignored per-item data would silently differentiate another problem."""
    methods = ("forward", "jacobians", "lagrangian_hessian") if kind == "dynamics" else ("forward", "derivatives")
    for method in methods:
        fn = getattr(module, method, None)
        if fn is None:
            continue
        if not _takes_keyword(getattr(fn, "__func__", fn), name):
            raise TypeError(
                f"{kind}_args has {name!r}, but {type(module).__name__}.{method}() takes no argument {name!r}: "
                f"add a keyword argument {name} (one row per row of x, u) to {method}(), or remove it from "
                f"{kind}_args"
            )
