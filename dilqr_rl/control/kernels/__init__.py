"""Compiled kernels for the solve (CPU), with the PyTorch code as fallback.

The iLQR backward sweep and the implicit gradient's adjoint LQR for one control (``riccati.c``) are loops
over T stages of tiny matrix products:
in eager PyTorch each stage is ~17 dispatched operations of a few microseconds each, in C the whole sweep
of a small problem takes microseconds. For models with a C form (the library's own, ``dynamics.c`` and
``costs.c``, registered in :mod:`.forms`) the whole forward solve of one control runs in C (``ilqr.c``,
:func:`ilqr_scalar`), and so does the whole implicit backward (``forms.c``: :func:`implicit_backward`; of its parts,
:func:`lagrangian_hessian` also serves the PyTorch backward, :func:`psi_gradient` and :func:`evaluate_forms` the tests).
The kernels are plain C (no torch headers): compiled once, on first use, with the system's C compiler
(``$CC``, ``cc`` or ``gcc``; about 2.5 s at -O3 here) into ``~/.cache/dilqr_rl`` (``$DILQR_RL_CACHE``), keyed by a
hash of their sources, and called through ctypes on the tensors' memory. Where there is no compiler, or
``DILQR_RL_KERNELS=0``, or the tensors are not on the CPU, the PyTorch path runs (it is the reference: the
tests compare the two). Only graph-free solves use the kernels (``implicit`` and ``diffmpc`` modes); ``unroll``
needs autograd through the solve.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

from dilqr_rl.control.kernels import codegen, forms

_SOURCES = tuple(Path(__file__).with_name(name) for name in ("riccati.c", "dynamics.c", "costs.c", "forms.c", "ilqr.c"))
_HEADERS = tuple(Path(__file__).with_name(name) for name in ("kernels.h", "gjets.h"))
_COMPILER: list[str] = []
"""The compiler the kernel library was built with (for the generated forms, :mod:`.codegen`)."""
_FUNCTIONS = {torch.float64: "riccati_scalar_f64", torch.float32: "riccati_scalar_f32"}
_ADJOINT = {torch.float64: "adjoint_scalar_f64", torch.float32: "adjoint_scalar_f32"}
_FORM_DTYPES = (torch.float64, torch.float32)
"""Dtypes of the C forms' paths (:func:`ilqr_scalar`, :func:`implicit_backward`, :func:`lagrangian_hessian`,
:func:`psi_gradient`): they compute in double precision; float32 tensors are converted on the way in and their results
back on the way out (by the C entry points themselves where they take a precision flag: a float32 solve then costs what
a float64 one does, and its iterates are the double-precision ones rounded)."""


def _cache_dir() -> Path:
    return Path(os.environ.get("DILQR_RL_CACHE") or Path.home() / ".cache" / "dilqr_rl")


@functools.lru_cache(maxsize=1)
def _library() -> tuple[ctypes.CDLL | None, str]:
    """(the loaded kernel library or None, a sentence saying which path the solver uses and why)."""
    if os.environ.get("DILQR_RL_KERNELS", "1") == "0":
        return None, "PyTorch sweeps (DILQR_RL_KERNELS=0)"
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None, "PyTorch sweeps (no C compiler found: set CC to use the compiled kernel)"
    source = b"".join(path.read_bytes() for path in (*_SOURCES, *_HEADERS))
    target = _cache_dir() / f"kernels-{hashlib.sha256(source).hexdigest()[:16]}.so"
    try:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f"{target.stem}.{os.getpid()}.part")
            subprocess.run([compiler, "-O3", "-shared", "-fPIC", "-o", str(partial), *map(str, _SOURCES), "-lm"],
                           check=True, capture_output=True, timeout=120)
            os.replace(partial, target)  # atomic: concurrent builders never load a half-written file
        library = ctypes.CDLL(str(target))
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"PyTorch sweeps (building the kernel failed: {error})"
    pointer, length = ctypes.c_void_p, ctypes.c_long
    for name in _FUNCTIONS.values():
        fn = getattr(library, name)
        fn.argtypes = [pointer] * 7 + [length] * 3 + [pointer] * 4
        fn.restype = ctypes.c_int
    for name in _ADJOINT.values():
        fn = getattr(library, name)
        fn.argtypes = [pointer] * 4 + [length] * 3 + [pointer] * 5
        fn.restype = ctypes.c_int
    library.ilqr_scalar_io.argtypes = ([ctypes.c_int] + [ctypes.c_int, pointer] * 2 + [length] * 2 + [pointer] * 4
                                       + [length] * 3 + [pointer, length] + [pointer] * 12)
    library.ilqr_scalar_io.restype = ctypes.c_int
    library.implicit_backward_io.argtypes = ([ctypes.c_int] + [ctypes.c_int, pointer] * 2 + [length] * 2
                                             + [ctypes.c_int] * 2 + [pointer] * 9 + [length] * 3 + [pointer] * 4)
    library.implicit_backward_io.restype = ctypes.c_int
    library.evaluate_forms_f64.argtypes = [ctypes.c_int, pointer] * 2 + [pointer] * 3 + [length] * 2 + [pointer] * 6
    library.evaluate_forms_f64.restype = ctypes.c_int
    library.lagrangian_hessian_f64.argtypes = [ctypes.c_int] + [pointer] * 4 + [length] * 2 + [pointer]
    library.lagrangian_hessian_f64.restype = ctypes.c_int
    library.psi_gradient_f64.argtypes = ([ctypes.c_int, pointer] * 2 + [length] + [pointer] * 6 + [length] * 2
                                         + [pointer] * 2)
    library.psi_gradient_f64.restype = ctypes.c_int
    for name in ("set_external_dynamics", "set_external_cost"):
        getattr(library, name).argtypes = [ctypes.c_int, pointer]
        getattr(library, name).restype = ctypes.c_int
    _COMPILER[:] = [compiler]
    return library, f"compiled C sweeps ({target})"


def _register(role: str, slot: int, address: int) -> None:
    library = _library()[0]
    setter = library.set_external_dynamics if role == "dynamics" else library.set_external_cost
    if setter(slot, address):
        raise RuntimeError(f"the kernel library has no slot {slot} for a generated form")


def _generated(module: nn.Module, role: str, n: int) -> forms.Form | None:
    """The form :mod:`.codegen` compiles from ``module`` (your own module), or None."""
    if _library()[0] is None:
        return None
    found = codegen.form_of(module, role, n, _COMPILER[0], _register, _cache_dir)
    if found is None:
        return None
    generated, tensors = found
    return forms.Form(generated.kind, codegen.parameters(tensors),
                      functools.partial(_generated_leaves, tensors, generated.parameter_count), generated.psi, True)


def _generated_leaves(tensors: list[Tensor], parameter_count: int, module: nn.Module, gradient: Tensor
                      ) -> list[tuple[Tensor, Tensor]]:
    return codegen.leaves(tensors, parameter_count, gradient)


_SCOPES: list[dict] = []


@contextlib.contextmanager
def one_call(scope: dict | None = None):
    """Within: each module's form is looked up once (at small batches the lookups are a measurable part of a call),
    and the lookups are kept in ``scope`` (a new one by default), which the context yields. A layer's backward
    reuses its forward's scope: it differentiates the forms, and their parameter values, that the forward solved
    with."""
    scope = {} if scope is None else scope
    _SCOPES.append(scope)
    try:
        yield scope
    finally:
        _SCOPES.pop()


def _scoped(lookup):
    @functools.wraps(lookup)
    def scoped(module: nn.Module, n: int) -> forms.Form | None:
        if not _SCOPES:
            return lookup(module, n)
        scope, key = _SCOPES[-1], (id(module), lookup.__name__, n)
        if key not in scope:
            scope[key] = (module, lookup(module, n))  # the module is kept: its id stays its own in the scope
        return scope[key][1]
    return scoped


@_scoped
def dynamics_form(module: nn.Module, n: int) -> forms.Form | None:
    """The dynamics' C form for n states and one control: the library's (:mod:`.forms`) or one generated from
    your module (:mod:`.codegen`); None where it has none."""
    form = forms.dynamics_form(module)
    if form is not None or type(module) in forms._DYNAMICS:
        return form  # a registered class whose instance has no form (e.g. asks for autograd): PyTorch path
    return _generated(module, "dynamics", n)


@_scoped
def cost_form(module: nn.Module, n: int) -> forms.Form | None:
    """The cost's C form for n states and one control (as :func:`dynamics_form`), shared by every row."""
    form = forms.cost_form(module)
    if form is not None:
        return form if forms.cost_fits(form.kind, len(form.parameters), n) else None
    if type(module) in forms._COSTS or getattr(module, "time_varying", False):
        return None  # a registered class whose instance has no form, or a cost of the step: PyTorch path
    return _generated(module, "cost", n)


def _vector(parameters: list[float] | Tensor) -> Tensor:
    if isinstance(parameters, Tensor):
        if parameters.dtype is torch.float64 and parameters.is_contiguous():
            return parameters
        return parameters.to(torch.float64).contiguous()
    return torch.tensor(parameters, dtype=torch.float64)


@functools.lru_cache(maxsize=64)
def _settings(settings: tuple[float, ...]) -> Tensor:
    """The solver's settings as the float64 vector ilqr.c reads (cached: they rarely change; never written)."""
    return torch.tensor(settings, dtype=torch.float64)


def status() -> str:
    """Which backward sweep the solver uses here, and why (for reports)."""
    return _library()[1]


def riccati_scalar(F: Tensor, c: Tensor, C: Tensor, u: Tensor, lo: Tensor, hi: Tensor,
                   reg: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor] | None:
    """The m = 1 sweep of ``lqr.ilqr_gains`` in C: (K (B, T, 1, n), k (B, T, 1), expected (B, 2), ok (B,)), or
    None where the kernel does not apply (no library, not CPU, not float32/float64, grad mode on)."""
    library = _library()[0]
    if library is None or F.device.type != "cpu" or F.dtype not in _FUNCTIONS or torch.is_grad_enabled():
        return None
    Bsz, T, n, _ = F.shape
    inputs = [t.contiguous() for t in (F, c, C)] + [t.to(F.dtype).reshape(Bsz, T).contiguous() for t in (u, lo, hi)]
    inputs.append(reg.to(F.dtype).contiguous())
    K, k, expected = F.new_empty(Bsz, T, 1, n), F.new_empty(Bsz, T, 1), F.new_empty(Bsz, 2)
    ok = torch.empty(Bsz, dtype=torch.uint8)
    code = getattr(library, _FUNCTIONS[F.dtype])(*(t.data_ptr() for t in inputs), Bsz, T, n,
                                                 K.data_ptr(), k.data_ptr(), expected.data_ptr(), ok.data_ptr())
    if code != 0:
        raise MemoryError("the compiled Riccati sweep could not allocate its workspace")
    return K, k, expected, ok.bool()


def adjoint_scalar(H: Tensor, gbar: Tensor, F: Tensor, free: Tensor
                   ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor] | None:
    """The m = 1 ``lqr.adjoint_lqr`` in C: (dx (B, T, n), du (B, T, 1), dlam (B, T, n), grad_x_init (B, n),
    ok (B,)), or None where the kernel does not apply."""
    library = _library()[0]
    if library is None or F.device.type != "cpu" or F.dtype not in _ADJOINT or torch.is_grad_enabled():
        return None
    Bsz, T, n, _ = F.shape
    inputs = [t.contiguous() for t in (H, gbar, F)] + [free.reshape(Bsz, T).to(torch.uint8).contiguous()]
    dx, du, dlam = F.new_empty(Bsz, T, n), F.new_empty(Bsz, T, 1), F.new_empty(Bsz, T, n)
    grad_x_init, ok = F.new_empty(Bsz, n), torch.empty(Bsz, dtype=torch.uint8)
    code = getattr(library, _ADJOINT[F.dtype])(*(t.data_ptr() for t in inputs), Bsz, T, n, dx.data_ptr(),
                                               du.data_ptr(), dlam.data_ptr(), grad_x_init.data_ptr(), ok.data_ptr())
    if code != 0:
        raise MemoryError("the compiled adjoint sweep could not allocate its workspace")
    return dx, du, dlam, grad_x_init, ok.bool()


class CompiledSolve(NamedTuple):
    """What :func:`ilqr_scalar` returns: the fields of ``ilqr.SolverResult`` and ``error``: None, or where an item
    stopped on a non-finite value, (B,) uint8: 0, or for such an item 1 the initial rollout, 2 its cost, 3 the model
    derivatives."""

    x: Tensor
    u: Tensor
    cost: Tensor
    converged: Tensor
    iterations: Tensor
    kkt: Tensor
    active: Tensor
    F: Tensor
    C: Tensor
    lam: Tensor
    error: Tensor


def _form_library(x: Tensor, u: Tensor, graph_free: bool = True) -> ctypes.CDLL | None:
    """The kernel library where the C forms' paths apply to rows or states ``x`` and controls ``u``: a library,
    float32 or float64 (:data:`_FORM_DTYPES`) on the CPU, one control, and (with ``graph_free``) grad mode off;
    else None."""
    library = _library()[0]
    if (library is None or (graph_free and torch.is_grad_enabled()) or x.dtype not in _FORM_DTYPES
            or x.device.type != "cpu" or u.shape[-1] != 1):
        return None
    return library


class CostTable(NamedTuple):
    """A cost's C form for a solve: its kind, its parameters and where row (b, t) finds them: at b * item + t * step
    of the flattened parameters (strides 0: one vector for every row)."""

    kind: int
    parameters: Tensor | list[float]
    item: int
    step: int
    form: forms.Form | None
    """The module's form where the parameters are one vector (its ``leaves`` map their gradient), else None: a table
    from :func:`forms.cost_rows`, computed with torch ops (differentiable in the data and the module's tensors)."""


def cost_table(cost: nn.Module, cost_args: dict[str, Tensor], Bsz: int, T: int, n: int) -> CostTable | None:
    """The cost's C form for a solve of B items, T steps and n states: one vector where the cost is the same at
    every row, a table (R, P) from :func:`forms.cost_rows` where the solve has per-item data ``cost_args``
    {keyword: (B, T, ...)} (R = B T) or the cost varies with the step (R = T). None where the cost has no such
    form."""
    if not cost_args and not getattr(cost, "time_varying", False):
        form = cost_form(cost, n)
        return None if form is None else CostTable(form.kind, form.parameters, 0, 0, form)
    items = Bsz if cost_args else 1  # a time-varying cost without per-item data: one table for every item
    rows = {name: value.reshape(Bsz * T, *value.shape[2:]) for name, value in cost_args.items()}
    table = forms.cost_rows(cost, torch.arange(T).repeat(items), rows)
    if table is None:
        return None
    kind, parameters = table
    P = parameters.shape[-1]
    if parameters.shape != (items * T, P) or not forms.cost_fits(kind, P, n):
        return None  # (a registered rows function that gives other rows: the strides would leave the table)
    return CostTable(kind, parameters, T * P if items > 1 else 0, P, None)


def ilqr_scalar(dynamics: nn.Module, cost: nn.Module, x_init: Tensor, u_init: Tensor, lo: Tensor, hi: Tensor,
                alphas: Tensor, settings: tuple[float, ...], cost_args: dict[str, Tensor] | None = None
                ) -> CompiledSolve | None:
    """The forward solve of ``ilqr.solve`` for one control in C (``ilqr.c``), or None where it does not apply:
    no library, grad mode on, not float32 or float64 on the CPU (float32 is solved in
    double precision and returned as float32), m != 1, or a model without a C form (:mod:`.forms`; for a solve
    with per-item data ``cost_args``, a cost form that takes them).

    Shapes: x_init (B, n), u_init, lo, hi (B, T, 1), alphas (S,), every value of cost_args (B, T, ...);
    ``settings`` = (tol, atol, max_iter, reg_init, reg_min, reg_max, reg_factor, newton_tol, armijo, noise_eps,
    newton_retry).
    """
    library = _form_library(x_init, u_init)
    if library is None:
        return None
    (Bsz, T, _), n = u_init.shape, x_init.shape[1]
    dyn_form = dynamics_form(dynamics, n)
    table = None if dyn_form is None else cost_table(cost, cost_args or {}, Bsz, T, n)
    if table is None:
        return None
    cost_kind, cp, cp_item, cp_step = table.kind, _vector(table.parameters), table.item, table.step
    N = n + 1
    dp = _vector(dyn_form.parameters)
    dtype = x_init.dtype
    inputs = [x_init.contiguous()] + [t.contiguous() if t.dtype is dtype else t.to(dtype).contiguous()
                                      for t in (u_init, lo, hi)]  # (B, T, 1) is read as (B, T)
    alphas = _vector(alphas)
    new, flags = x_init.new_empty, functools.partial(torch.empty, dtype=torch.bool)  # C writes bools as 0/1 bytes
    out = CompiledSolve(new(Bsz, T, n), new(Bsz, T, 1), new(Bsz), flags(Bsz), torch.empty(Bsz, dtype=torch.long),
                        new(Bsz), flags(Bsz, T, 1), new(Bsz, T, n, N), new(Bsz, T, N, N), new(Bsz, T, n),
                        torch.empty(Bsz, dtype=torch.uint8))
    code = library.ilqr_scalar_io(dtype is torch.float32, dyn_form.kind, dp.data_ptr(), cost_kind, cp.data_ptr(),
                                  cp_item, cp_step, *(t.data_ptr() for t in inputs), Bsz, T, n, alphas.data_ptr(),
                                  alphas.numel(), _settings(settings).data_ptr(), *(t.data_ptr() for t in out))
    if code == 2:
        return None  # the dynamics' C form is for another state size: the PyTorch path reports the mismatch
    if code == 1:
        raise MemoryError("the compiled iLQR solve could not allocate its workspace")
    return out if code == 3 else out._replace(error=None)


class CompiledBackward(NamedTuple):
    """What :func:`implicit_backward` returns: grad_x_init (B, n), [(leaf, gradient)] of the models' leaf tensors,
    fallback (B,) bool (items whose adjoint used the cost Hessian), singular (B,) bool (items given a zero gradient),
    flagged: how many items are either; where the cost's parameters were a table (:func:`cost_table`), the table,
    whose graph leads to the data and the module's tensors it was computed from (their pairs are not in ``leaves``),
    and the gradient in it (shaped and typed like it), else None."""

    grad_x_init: Tensor
    leaves: list[tuple[Tensor, Tensor]]
    fallback: Tensor
    singular: Tensor
    flagged: int
    table: Tensor | None = None
    table_gradient: Tensor | None = None


def implicit_backward(dynamics: nn.Module, cost: nn.Module, x: Tensor, u: Tensor, F: Tensor, C: Tensor, lam: Tensor,
                      active: Tensor, grad_x: Tensor, grad_u: Tensor, weight: Tensor, exact: bool, psi: bool,
                      cost_args: dict[str, Tensor] | None = None) -> CompiledBackward | None:
    """``implicit.implicit_backward`` for one control in one C call (``forms.c``): the adjoint LQR with the exact
    Lagrangian Hessian (``exact``) or the cost Hessian, its per-item fallbacks, and (with ``psi``) the gradient of Psi
    in the models' leaf tensors (in x's dtype), or in the cost's parameter table where the solve has per-item data
    ``cost_args`` {keyword: (B, T, ...)} or a cost that varies with the step (:func:`cost_table`; computed here, in
    grad mode it keeps the graph of the data); or None where it does not apply (as :func:`psi_gradient`; also where
    a tensor is not in x's dtype).

    Shapes: x, lam, grad_x (B, T, n); u, grad_u (B, T, 1); active (B, T, 1) bool (the controls held on a bound);
    F (B, T, n, N); C (B, T, N, N); weight (B,).
    """
    library = _form_library(x, u, graph_free=False)
    dtype = x.dtype
    if library is None or any(t.dtype is not dtype for t in (u, F, C, lam, grad_x, grad_u, weight)):
        return None
    Bsz, T, n = x.shape
    dyn_form = dynamics_form(dynamics, n)
    table = None if dyn_form is None else cost_table(cost, cost_args or {}, Bsz, T, n)
    cst_form = None if table is None else table.form
    if table is None or (psi and not (dyn_form.psi and (cst_form is None or cst_form.psi))):
        return None
    dp = _vector(dyn_form.parameters)
    cp = _vector(table.parameters.detach() if isinstance(table.parameters, Tensor) else table.parameters)
    inputs = (x, u, F, C, lam, active, grad_x, grad_u, weight)  # saved by autograd: no graph, contiguous as made
    inputs = [t if t.is_contiguous() else t.contiguous() for t in inputs]
    grad_x_init, status = x.new_empty(Bsz, n), torch.empty(Bsz, dtype=torch.uint8)
    dgrad, cgrad = torch.zeros_like(dp), torch.zeros_like(cp)
    flagged = library.implicit_backward_io(dtype is torch.float32, dyn_form.kind, dp.data_ptr(), table.kind,
                                           cp.data_ptr(), table.item, table.step, exact, psi,
                                           *(t.data_ptr() for t in inputs), Bsz, T, n, grad_x_init.data_ptr(),
                                           dgrad.data_ptr(), cgrad.data_ptr(), status.data_ptr())
    if flagged == -2:
        raise MemoryError("the compiled implicit backward could not allocate its workspace")
    if flagged < 0:
        return None
    if psi and dtype is not torch.float64:
        dgrad, cgrad = dgrad.to(dtype), cgrad.to(dtype)
    leaves = dyn_form.leaves(dynamics, dgrad) if psi else []
    rows = (table.parameters, cgrad.to(table.parameters.dtype).view(table.parameters.shape)) if (
        psi and cst_form is None) else (None, None)
    if psi and cst_form is not None:
        leaves += cst_form.leaves(cost, cgrad)
    if flagged:
        return CompiledBackward(grad_x_init, leaves, (status & 1).bool(), (status & 2).bool(), flagged, *rows)
    none = functools.partial(torch.zeros, Bsz, dtype=torch.bool)
    return CompiledBackward(grad_x_init, leaves, none(), none(), 0, *rows)


def lagrangian_hessian(dynamics: nn.Module, x: Tensor, u: Tensor, lam: Tensor) -> Tensor | None:
    """hess[lam . f] (R, N, N) on rows x (R, n), u (R, 1), lam (R, n) from the dynamics' C form, or None where
    it does not apply (as :func:`ilqr_scalar`)."""
    library = _form_library(x, u)
    if library is None:
        return None
    R, n = x.shape
    form = dynamics_form(dynamics, n)
    if form is None:
        return None
    inputs = [t.to(torch.float64).contiguous() for t in (x, u.reshape(R), lam)]
    H = torch.empty(R, n + 1, n + 1, dtype=torch.float64)
    parameters = _vector(form.parameters)
    code = library.lagrangian_hessian_f64(form.kind, parameters.data_ptr(), *(t.data_ptr() for t in inputs), R, n,
                                          H.data_ptr())
    return None if code else H.to(x.dtype)


def psi_gradient(dynamics: nn.Module, cost: nn.Module, x: Tensor, u: Tensor, dx: Tensor, du: Tensor, lam: Tensor,
                 dlam: Tensor) -> list[tuple[Tensor, Tensor]] | None:
    """The gradient of the implicit backward's Psi = sum_r dlam . f + lam . (F dtau) + c . dtau in the models'
    leaf tensors (their parameters), from the C forms: [(leaf, gradient)], or None where they do not apply (as
    :func:`ilqr_scalar`, grad mode aside: the result carries no graph). For the tests: a layer's backward computes
    it within :func:`implicit_backward`.

    Shapes: rows x, dx, lam, dlam (R, n), u, du (R, 1).
    """
    library = _form_library(x, u, graph_free=False)
    if library is None:
        return None
    R, n = x.shape
    dyn_form = dynamics_form(dynamics, n)
    cst_form = None if dyn_form is None else cost_form(cost, n)
    if cst_form is None or not (dyn_form.psi and cst_form.psi):
        return None
    dp, cp = _vector(dyn_form.parameters), _vector(cst_form.parameters)
    inputs = [t.detach().to(torch.float64).reshape(R, -1).contiguous() for t in (x, u, dx, du, lam, dlam)]
    dgrad, cgrad = torch.zeros_like(dp), torch.zeros_like(cp)
    code = library.psi_gradient_f64(dyn_form.kind, dp.data_ptr(), cst_form.kind, cp.data_ptr(), 0,
                                    *(t.data_ptr() for t in inputs), R, n, dgrad.data_ptr(), cgrad.data_ptr())
    if code:
        return None
    return dyn_form.leaves(dynamics, dgrad) + cst_form.leaves(cost, cgrad)


def evaluate_forms(dynamics: nn.Module, cost: nn.Module, x: Tensor, u: Tensor, lam: Tensor
                   ) -> tuple[Tensor, ...] | None:
    """The C forms of ``dynamics`` and ``cost`` on rows (for tests): f (R, n), F (R, n, N), hess[lam . f]
    (R, N, N), g (R,), c (R, N), C (R, N, N); None where the library or a form is missing."""
    library = _library()[0]
    R, n = x.shape
    dyn_form = None if library is None else dynamics_form(dynamics, n)
    cst_form = None if dyn_form is None else cost_form(cost, n)
    if cst_form is None:
        return None
    N = n + 1
    dp, cp = _vector(dyn_form.parameters), _vector(cst_form.parameters)
    inputs = [t.to(torch.float64).contiguous() for t in (x, u.reshape(R), lam)]
    new = functools.partial(torch.empty, dtype=torch.float64)
    out = (new(R, n), new(R, n, N), new(R, N, N), new(R), new(R, N), new(R, N, N))
    code = library.evaluate_forms_f64(dyn_form.kind, dp.data_ptr(), cst_form.kind, cp.data_ptr(),
                                      *(t.data_ptr() for t in inputs), R, n, *(t.data_ptr() for t in out))
    return None if code else out
