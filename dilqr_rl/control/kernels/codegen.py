"""C forms compiled from your own modules: a dynamics or cost ``nn.Module`` written in plain torch operations runs
in the compiled solve (``ilqr.c``) like the library's models, with its exact derivatives.

How: the module's forward on two rows is traced to ATen operations (``make_fx`` on fake tensors, its parameters and
buffers as inputs, so they are read at every solve and training needs no new trace), the trace is interpreted on
arrays of symbols to straight-line C statements for one row (every tensor element a scalar), and those statements
are compiled four times, on the scalar types of ``gjets.h``: values, first-order jets in tau = (x, u) (the dynamics'
Jacobians), second-order jets (the cost's gradient and Hessian, the curvature hess[lam . f]) and parameter jets (the
implicit gradient's Psi in the module's parameters). Forward mode carries the exact derivatives through the same
statements, so they are those autograd gives (with torch's subgradients at kinks: clamp, abs, relu). The library is
built with the system's C compiler at -O1 (0.2-0.5 s for small physics models, seconds near the size limit) into
the kernels' cache, keyed by a hash of its source, and registered with the kernel library as an external form.

A module gets a form only where the result is sure to be its own: one control; its parameters and buffers floating
point; its other attributes plain values (numbers, strings, tuples of them: they are read into the trace, so they are
part of the cache key with its classes' plain attributes, and a changed ``dt`` traces again; a module-level global
it reads is compiled in unseen); no hooks (its own or global); no closed-form methods of its own
(``jacobians``, ``lagrangian_hessian``, ``derivatives``: those run on the PyTorch path as written); not
``row_wise = False``; each output row depending on its own input row only, and row 0 the same for any batch size
(checked on traces of 2 and 3 rows); results of float32 or float64 (comparison masks aside); only the
operations below (elementwise arithmetic and functions, views, concatenation, sums, matrix products, ``where``,
``clamp``), at most :data:`MAX_STATEMENTS` of them per row; no data-dependent Python control flow (the fake-tensor
trace refuses it). Anything else has no form and runs on the PyTorch path, exactly as before (:func:`why_not` says
why). ``DILQR_RL_CODEGEN=0`` turns the generated forms off.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import operator
import os
import re
import subprocess
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

MAX_STATEMENTS = 600
"""Traced modules with more scalar statements than this per row (large networks) keep the PyTorch path, whose
batched matrix products are faster there."""
MAX_STRUCTURES_PER_CLASS = 16
"""A module class whose instances showed more structures than this (e.g. a ``dt`` attribute set to a new value per
episode: plain attributes are compiled in) keeps the PyTorch path for new ones, rather than compiling every value."""
MAX_PSI_PARAMETERS = 64
"""Above this many parameter entries the Psi gradient is left to the PyTorch path (its jets grow with them)."""

class _Unsupported(Exception):
    """The trace holds something this generator does not translate: the module keeps the PyTorch path."""


class _Program:
    """Straight-line statements in SSA form: (name, op, args); args are names or floats."""

    def __init__(self, rows: int) -> None:
        self.row_count = rows
        self.statements: list[tuple[str, str, tuple]] = []
        self.rows: dict[str, frozenset] = {}
        self.inputs: dict[str, tuple[str, int]] = {}  # name -> ("x", i) / ("u", 0) / ("p", k)
        self.boolean: set[str] = set()

    def input(self, name: str, kind: str, index: int, row: int | None) -> str:
        self.inputs[name] = (kind, index)
        self.rows[name] = frozenset() if row is None else frozenset({row})
        return name

    def emit(self, op: str, *args: Any, boolean: bool = False) -> str:
        name = f"v{len(self.statements)}"
        self.statements.append((name, op, args))
        self.rows[name] = frozenset().union(*(self.rows[a] for a in args if isinstance(a, str) and a in self.rows))
        if boolean:
            self.boolean.add(name)
        if len(self.statements) > MAX_STATEMENTS * self.row_count:
            raise _Unsupported(f"more than {MAX_STATEMENTS} scalar statements per row")
        return name


_UNARY = {"sin": math.sin, "cos": math.cos, "tan": math.tan, "tanh": math.tanh, "exp": math.exp,
          "log": lambda v: math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan),
          "sqrt": lambda v: math.sqrt(v) if v >= 0 else math.nan,
          "rsqrt": lambda v: 1 / math.sqrt(v) if v > 0 else (math.inf if v == 0 else math.nan),
          "sigmoid": lambda v: 1 / (1 + math.exp(-v)), "atan": math.atan, "abs": abs, "relu": lambda v: max(v, 0.0),
          "neg": operator.neg, "recip": lambda v: 1 / v if v else math.copysign(math.inf, v)}
_BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "atan2": math.atan2,
           "div": lambda a, b: a / b if b else (math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
                                                * math.copysign(1, b))}
_COMPARE = {"gt": ">", "lt": "<", "ge": ">=", "le": "<=", "eq": "==", "ne": "!="}
_PYCOMPARE = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le, "==": operator.eq,
              "!=": operator.ne}


class _Interpreter:
    """ATen operations on symbol arrays (numpy object arrays of statement names and float constants: numpy does the
    shapes), emitting the scalar statements."""

    def __init__(self, program: _Program) -> None:
        self.p = program

    # -- scalars (a boolean in arithmetic is 0 or 1, as torch promotes it) --
    def unary(self, fn: str, a: Any) -> Any:
        a = float(a) if isinstance(a, bool) else a
        if isinstance(a, float):
            return float(_UNARY[fn](a))
        return self.p.emit("un", fn, a)

    def binary(self, fn: str, a: Any, b: Any) -> Any:
        a, b = (float(v) if isinstance(v, bool) else v for v in (a, b))
        if isinstance(a, float) and isinstance(b, float):
            return float(_BINARY[fn](a, b))
        return self.p.emit("bin", fn, a, b)

    def compare(self, op: str, a: Any, b: Any) -> Any:
        if isinstance(a, float) and isinstance(b, float):
            return bool(_PYCOMPARE[op](a, b))
        return self.p.emit("cmp", op, a, b, boolean=True)

    def where(self, c: Any, a: Any, b: Any) -> Any:
        if isinstance(c, bool):
            return a if c else b
        return self.p.emit("where", c, a, b)

    def powc(self, a: Any, c: float) -> Any:
        if isinstance(a, float):
            return float(a**c) if not (a < 0 and c != int(c)) else math.nan
        return self.p.emit("powc", a, c)

    def clamp(self, a: Any, lo: float, hi: float) -> Any:
        if isinstance(a, float):
            return min(max(a, lo), hi)
        return self.p.emit("clamp", a, lo, hi)

    # -- arrays --
    def map(self, fn: Callable, *arrays: Any) -> np.ndarray:
        arrays = np.broadcast_arrays(*(_array(a) for a in arrays))
        out = np.empty(arrays[0].shape, dtype=object)
        for index in np.ndindex(out.shape):
            out[index] = fn(*(a[index] for a in arrays))
        return out

    def reduce_sum(self, a: np.ndarray, dims: list[int] | None, keepdim: bool, mean: bool = False) -> np.ndarray:
        a = _array(a)
        dims = list(range(a.ndim)) if not dims else [d % a.ndim for d in dims]
        keep = [d for d in range(a.ndim) if d not in dims]
        moved = np.transpose(a, keep + dims)
        count = int(np.prod([a.shape[d] for d in dims]))
        flat = moved.reshape(*[a.shape[d] for d in keep], count)
        out = np.empty(flat.shape[:-1], dtype=object)
        for index in np.ndindex(out.shape):
            terms = list(flat[index])
            total: Any = 0.0
            for i, term in enumerate(terms):
                total = term if i == 0 else self.binary("add", total, term)
            out[index] = self.binary("div", total, float(count)) if mean else total
        if keepdim:
            out = out.reshape([1 if d in dims else a.shape[d] for d in range(a.ndim)])
        return out

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.empty((a.shape[0], b.shape[1]), dtype=object)
        for i in range(a.shape[0]):
            for j in range(b.shape[1]):
                total: Any = 0.0
                for k in range(a.shape[1]):
                    term = self.binary("mul", a[i, k], b[k, j])
                    total = term if k == 0 else self.binary("add", total, term)
                out[i, j] = total
        return out


def _array(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (bool, int, float, str)):  # a scalar (numpy returns an element, not a 0-d array)
        out = np.empty((), dtype=object)
        out[()] = float(value) if isinstance(value, int) and not isinstance(value, bool) else value
        return out
    raise _Unsupported(f"operand {type(value).__name__}")


def _constant_array(shape: Any, value: float) -> np.ndarray:
    out = np.empty(tuple(shape), dtype=object)
    out.fill(float(value))
    return out


def _alpha(ip: _Interpreter, b: Any, alpha: Any) -> Any:
    return b if alpha in (None, 1) else ip.map(lambda v: ip.binary("mul", v, float(alpha)), b)


def _handlers(ip: _Interpreter) -> dict[str, Callable]:
    """ATen overload name -> its translation on symbol arrays."""

    def elementwise(fn: str) -> Callable:
        return lambda a, **_: ip.map(lambda v: ip.unary(fn, v), a)

    def binary(fn: str) -> Callable:
        return lambda a, b, **kw: ip.map(lambda x, y: ip.binary(fn, x, y), a,
                                         _alpha(ip, b, kw.get("alpha")) if fn in ("add", "sub") else b)

    def div(a, b, rounding_mode=None):
        if rounding_mode is not None:
            raise _Unsupported("div with rounding")
        return ip.map(lambda x, y: ip.binary("div", x, y), a, b)

    def compare(op: str) -> Callable:
        return lambda a, b: ip.map(lambda x, y: ip.compare(op, x, y), a, b)

    def pow_scalar(a, c):
        if isinstance(c, np.ndarray):
            raise _Unsupported("pow with a tensor exponent")
        return ip.map(lambda v: ip.powc(v, float(c)), a)

    def clamp(a, min=None, max=None):
        lo = -math.inf if min is None else float(min)
        hi = math.inf if max is None else float(max)
        return ip.map(lambda v: ip.clamp(v, lo, hi), a)

    def rsub(a, b, alpha=1):
        return ip.map(lambda x, y: ip.binary("sub", y, x), _alpha(ip, a, alpha), b)

    def select(a, dim, index):
        return _array(np.take(a, index, axis=dim))

    def slice_(a, dim=0, start=None, end=None, step=1):
        index = [slice(None)] * a.ndim
        index[dim] = slice(start, end, step)
        return a[tuple(index)]

    def unsqueeze(a, dim):
        return np.expand_dims(a, dim if dim >= 0 else dim + a.ndim + 1)

    def squeeze(a, dim=None):
        dims = range(a.ndim) if dim is None else ([dim] if isinstance(dim, int) else dim)
        drop = tuple(d % a.ndim for d in dims if a.shape[d % a.ndim] == 1) if a.ndim else ()
        return np.squeeze(a, drop) if drop else a

    def expand(a, size, implicit=False):
        lead = len(size) - a.ndim
        shape = [s if s != -1 else a.shape[i - lead] for i, s in enumerate(size)]
        return np.broadcast_to(a, shape)

    def identity(a, *args, **kwargs):
        dtype = kwargs.get("dtype")
        if dtype is not None and not dtype.is_floating_point:
            raise _Unsupported(f"conversion to {dtype}")
        return a

    def full(size, fill_value, **_):
        return _constant_array(size, fill_value)

    def like(value: float | None) -> Callable:
        return lambda a, *args, **kw: _constant_array(a.shape, kw.get("fill_value", args[0] if args else None)
                                                      if value is None else value)

    def new(value: float | None) -> Callable:
        return lambda a, size, *args, **kw: _constant_array(size, args[0] if value is None else value)

    def split(a, size, dim=0):
        sizes = [size] * (a.shape[dim] // size) + ([a.shape[dim] % size] if a.shape[dim] % size else [])
        return split_sizes(a, sizes, dim)

    def split_sizes(a, sizes, dim=0):
        return np.split(a, np.cumsum(sizes)[:-1], axis=dim)

    def addmm(bias, a, b, beta=1, alpha=1):
        product = _alpha(ip, ip.matmul(a, b), alpha)
        return ip.map(lambda x, y: ip.binary("add", x, y), _alpha(ip, bias, beta), product)

    def bmm(a, b):
        return np.stack([ip.matmul(a[i], b[i]) for i in range(a.shape[0])])

    def mv(a, v):
        return ip.matmul(a, v.reshape(-1, 1)).reshape(-1)

    def dot(a, b):
        return ip.matmul(a.reshape(1, -1), b.reshape(-1, 1)).reshape(())

    def where(c, a, b):
        return ip.map(lambda x, y, z: ip.where(x, y, z), c, a, b)

    table = {
        "aten.select.int": select, "aten.slice.Tensor": slice_, "aten.unsqueeze.default": unsqueeze,
        "aten.squeeze.dim": squeeze, "aten.squeeze.dims": squeeze, "aten.squeeze.default": squeeze,
        "aten.view.default": lambda a, shape: a.reshape(shape), "aten._unsafe_view.default": lambda a, s: a.reshape(s),
        "aten.reshape.default": lambda a, shape: a.reshape(shape), "aten.expand.default": expand,
        "aten.permute.default": lambda a, dims: np.transpose(a, dims), "aten.t.default": lambda a: a.T,
        "aten.transpose.int": lambda a, d0, d1: np.swapaxes(a, d0, d1),
        "aten.cat.default": lambda ts, dim=0: np.concatenate([_array(t) for t in ts], axis=dim),
        "aten.stack.default": lambda ts, dim=0: np.stack([_array(t) for t in ts], axis=dim),
        "aten.clone.default": identity, "aten.alias.default": identity, "aten.lift_fresh_copy.default": identity,
        "aten._to_copy.default": identity, "aten.contiguous.default": identity,
        "aten.split.Tensor": split, "aten.split_with_sizes.default": split_sizes,
        "aten.unbind.int": lambda a, dim=0: [_array(np.take(a, i, axis=dim)) for i in range(a.shape[dim])],
        "aten.full.default": full, "aten.zeros.default": lambda size, **_: _constant_array(size, 0.0),
        "aten.ones.default": lambda size, **_: _constant_array(size, 1.0),
        "aten.scalar_tensor.default": lambda v, **_: _constant_array((), v),
        "aten.zeros_like.default": like(0.0), "aten.ones_like.default": like(1.0), "aten.full_like.default": like(None),
        "aten.new_zeros.default": new(0.0), "aten.new_ones.default": new(1.0), "aten.new_full.default": new(None),
        "aten.add.Tensor": binary("add"), "aten.sub.Tensor": binary("sub"), "aten.mul.Tensor": binary("mul"),
        "aten.add.Scalar": binary("add"), "aten.sub.Scalar": binary("sub"), "aten.mul.Scalar": binary("mul"),
        "aten.div.Tensor": div, "aten.div.Scalar": div, "aten.div.Tensor_mode": div,
        "aten.atan2.default": binary("atan2"),
        "aten.rsub.Scalar": rsub, "aten.rsub.Tensor": rsub,
        "aten.pow.Tensor_Scalar": pow_scalar, "aten.reciprocal.default": elementwise("recip"),
        "aten.neg.default": elementwise("neg"), "aten.clamp.default": clamp,
        "aten.clamp_min.default": lambda a, lo: clamp(a, min=lo),
        "aten.clamp_max.default": lambda a, hi: clamp(a, max=hi),
        "aten.where.self": where,
        "aten.sum.dim_IntList": lambda a, dims, keepdim=False, dtype=None: ip.reduce_sum(a, dims, keepdim),
        "aten.sum.default": lambda a, dtype=None: ip.reduce_sum(a, None, False),
        "aten.mean.dim": lambda a, dims, keepdim=False, dtype=None: ip.reduce_sum(a, dims, keepdim, mean=True),
        "aten.mean.default": lambda a, dtype=None: ip.reduce_sum(a, None, False, mean=True),
        "aten.mm.default": ip.matmul, "aten.addmm.default": addmm, "aten.bmm.default": bmm, "aten.mv.default": mv,
        "aten.dot.default": dot,
    }
    for fn in ("sin", "cos", "tan", "tanh", "exp", "log", "sqrt", "rsqrt", "sigmoid", "atan", "abs", "relu"):
        table[f"aten.{fn}.default"] = elementwise(fn)
    for name, op in _COMPARE.items():
        table[f"aten.{name}.Scalar"] = compare(op)
        table[f"aten.{name}.Tensor"] = compare(op)
    return table


def _trace(module: nn.Module, tensors: list[Tensor], example: tuple[Tensor, ...]) -> torch.fx.GraphModule:
    from torch.func import functional_call
    from torch.fx.experimental.proxy_tensor import make_fx

    names = [name for name, _ in _named_tensors(module)]

    def call(values: list[Tensor], *inputs: Tensor) -> Tensor:
        return functional_call(module, dict(zip(names, values)), inputs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_fx(call, tracing_mode="fake")(tensors, *example)


def _interpret(graph_module: torch.fx.GraphModule, n: int, sizes: list[tuple[int, ...]], rows: int
               ) -> tuple[_Program, Any]:
    """The trace on ``rows`` rows as statements; returns the program and the output's symbols."""
    program = _Program(rows)
    ip = _Interpreter(program)
    handlers = _handlers(ip)
    env: dict[str, Any] = {}
    placeholders = [node for node in graph_module.graph.nodes if node.op == "placeholder"]
    if len(placeholders) != len(sizes) + 2:
        raise _Unsupported("unexpected inputs")
    offset = 0
    for node, shape in zip(placeholders, sizes):
        count = int(np.prod(shape)) if shape else 1
        symbols = np.array([program.input(f"p{offset + k}", "p", offset + k, None) for k in range(count)],
                           dtype=object).reshape(shape)
        env[node.name] = symbols
        offset += count
    x_node, u_node = placeholders[-2:]
    env[x_node.name] = np.array([[program.input(f"x{r}_{i}", "x", i, r) for i in range(n)] for r in range(rows)],
                                dtype=object)
    env[u_node.name] = np.array([[program.input(f"u{r}", "u", 0, r)] for r in range(rows)], dtype=object)
    output = None
    for node in graph_module.graph.nodes:
        if node.op == "placeholder":
            continue
        if node.op == "output":
            output = torch.fx.node.map_arg(node.args[0], lambda a: env[a.name])
            if isinstance(output, (list, tuple)):
                if len(output) != 1:
                    raise _Unsupported(f"{len(output)} outputs")
                output = output[0]
            break
        args = torch.fx.node.map_arg(node.args, lambda a: env[a.name])
        kwargs = torch.fx.node.map_arg(node.kwargs, lambda a: env[a.name])
        if node.op == "get_attr":
            # Only a literal written in forward (torch.tensor([...]): lifted by lift_fresh_copy) is a constant; a
            # tensor the module closes over may change, or need its gradient: the PyTorch path reads it each time.
            if not node.users or any(str(user.target) != "aten.lift_fresh_copy.default" for user in node.users):
                raise _Unsupported(f"a tensor the module closes over ({node.target})")
            value = getattr(graph_module, node.target)
            if not isinstance(value, Tensor) or type(value) is not Tensor or not value.is_floating_point():
                raise _Unsupported(f"constant {node.target}")
            env[node.name] = np.array(value.detach().double().tolist(), dtype=object).reshape(tuple(value.shape))
            continue
        if node.op != "call_function":
            raise _Unsupported(node.op)
        if node.target is operator.getitem:
            env[node.name] = args[0][args[1]]
            continue
        handler = handlers.get(str(node.target))
        if handler is None:
            raise _Unsupported(str(node.target))
        kwargs = {k: v for k, v in kwargs.items() if k not in ("layout", "device", "pin_memory", "memory_format",
                                                               "non_blocking")}
        _check_dtype(node)
        env[node.name] = handler(*args, **kwargs)
    return program, output


_NOT_ONLY_FLOAT = frozenset({
    *(f"aten.{name}.{kind}" for name in _COMPARE for kind in ("Scalar", "Tensor")),
    "aten.select.int", "aten.slice.Tensor", "aten.unsqueeze.default", "aten.squeeze.dim", "aten.squeeze.dims",
    "aten.squeeze.default", "aten.view.default", "aten._unsafe_view.default", "aten.reshape.default",
    "aten.expand.default", "aten.permute.default", "aten.t.default", "aten.transpose.int", "aten.cat.default",
    "aten.stack.default", "aten.clone.default", "aten.alias.default", "aten.contiguous.default",
    "aten.lift_fresh_copy.default", "aten.split.Tensor", "aten.split_with_sizes.default", "aten.unbind.int"})
"""Operations translated for boolean (comparison masks) as well as floating-point tensors: comparisons and shape
operations. Every other operation must give a float32 or float64 tensor (an integer or boolean result, e.g. bool +
bool, which torch evaluates as a logical or, or a half-precision cast is not translated)."""


def _check_dtype(node: torch.fx.Node) -> None:
    """Raise _Unsupported where ``node`` gives a tensor the statements do not model (:data:`_NOT_ONLY_FLOAT`)."""
    value = node.meta.get("val")
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if not isinstance(v, Tensor):
            continue
        if v.dtype in (torch.float32, torch.float64):
            continue
        if v.dtype == torch.bool and str(node.target) in _NOT_ONLY_FLOAT:
            continue
        raise _Unsupported(f"{node.target} gives a {v.dtype} tensor")


def _named_tensors(module: nn.Module) -> list[tuple[str, Tensor]]:
    """The module's parameters, then its buffers (the form's parameter vector, in this order)."""
    return list(module.named_parameters()) + list(module.named_buffers())


# ---- C ----

def _literal(value: float) -> str:
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INFINITY" if value > 0 else "(-INFINITY)"
    return repr(float(value))


class _Variant(NamedTuple):
    prefix: str
    type: str
    live_parameters: bool
    """Whether parameters carry derivatives (the Psi variant)."""


_VARIANTS = {"d": _Variant("d", "dd", False), "g1": _Variant("g1", "g1", False), "g2": _Variant("g2", "g2", False),
             "gp": _Variant("gp", "gp", True)}


def _body(program: _Program, outputs: list[Any], variant: _Variant, n: int) -> tuple[list[str], set[str]]:
    """C statements computing ``outputs`` for row 0 on the variant's type; returns them and the live names (those
    of the variant's type; the others are plain doubles)."""
    needed: set[str] = set()
    stack = [o for o in outputs if isinstance(o, str)]
    producers = {name: (op, args) for name, op, args in program.statements}
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        if name in producers:
            stack.extend(a for a in producers[name][1] if isinstance(a, str))
    T, S = variant.prefix, variant.type
    live: set[str] = set()
    lines = []
    for name, (kind, index) in sorted(program.inputs.items(), key=lambda kv: kv[0]):
        if name not in needed:
            continue
        if kind == "p":
            if variant.live_parameters:
                live.add(name)
                lines.append(f"{S} {name} = gp_parameter(p[{index}], {index});")
            else:
                lines.append(f"double {name} = p[{index}];")
        else:
            live.add(name)
            value, step = (f"x[{index}]", f"dx[{index}]") if kind == "x" else ("u", "du")
            source = f"gp_along({value}, {step})" if T == "gp" else f"{T}_input({value}, {index if kind == 'x' else n})"
            lines.append(f"{S} {name} = {source};")

    def dbl(a: Any) -> str:
        if isinstance(a, float):
            return _literal(a)
        return f"{T}_val({a})" if a in live else a

    def typed(a: Any) -> str:
        if isinstance(a, float):
            return f"{T}_const({_literal(a)})"
        return a if a in live else f"{T}_const({a})"

    for name, op, args in program.statements:
        if name not in needed:
            continue
        is_live = any(isinstance(a, str) and a in live and a not in program.boolean for a in args)
        if op == "cmp":
            sign, a, b = args
            lines.append(f"int {name} = ({dbl(a)} {sign} {dbl(b)});")
            continue
        if is_live:
            live.add(name)
        if op == "where":
            c, a, b = args
            if is_live:
                lines.append(f"{S} {name} = {c} ? {typed(a)} : {typed(b)};")
            else:
                lines.append(f"double {name} = {c} ? {dbl(a)} : {dbl(b)};")
            continue
        if not is_live:
            expression = _plain(op, args, dbl)
            lines.append(f"double {name} = {expression};")
            continue
        if op == "un":
            fn, a = args
            expression = {"neg": f"{T}_neg({a})", "recip": f"{T}_cdiv(1.0, {a})"}.get(fn, f"{T}_{fn}({a})")
        elif op == "powc":
            expression = f"{T}_powc({args[0]}, {_literal(args[1])})"
        elif op == "clamp":
            expression = f"{T}_clamp({args[0]}, {_literal(args[1])}, {_literal(args[2])})"
        else:  # bin
            fn, a, b = args
            la, lb = a in live if isinstance(a, str) else False, b in live if isinstance(b, str) else False
            if la and lb:
                expression = f"{T}_{fn}({a}, {b})"
            elif la:
                expression = {"add": f"{T}_addc({a}, {dbl(b)})", "sub": f"{T}_subc({a}, {dbl(b)})",
                              "mul": f"{T}_scale({dbl(b)}, {a})", "div": f"{T}_divc({a}, {dbl(b)})",
                              "atan2": f"{T}_atan2({a}, {T}_const({dbl(b)}))"}[fn]
            else:
                expression = {"add": f"{T}_addc({b}, {dbl(a)})", "sub": f"{T}_csub({dbl(a)}, {b})",
                              "mul": f"{T}_scale({dbl(a)}, {b})", "div": f"{T}_cdiv({dbl(a)}, {b})",
                              "atan2": f"{T}_atan2({T}_const({dbl(a)}), {b})"}[fn]
        lines.append(f"{S} {name} = {expression};")
    return lines, live


def _plain(op: str, args: tuple, dbl: Callable[[Any], str]) -> str:
    """A statement on plain doubles (no derivatives)."""
    if op == "un":
        fn, a = args
        return {"neg": f"-({dbl(a)})", "recip": f"1.0 / ({dbl(a)})"}.get(fn, f"d_{fn}({dbl(a)})")
    if op == "powc":
        return f"d_powc({dbl(args[0])}, {_literal(args[1])})"
    if op == "clamp":
        return f"d_clamp({dbl(args[0])}, {_literal(args[1])}, {_literal(args[2])})"
    fn, a, b = args
    if fn == "atan2":
        return f"atan2({dbl(a)}, {dbl(b)})"
    return f"({dbl(a)}) {dict(add='+', sub='-', mul='*', div='/')[fn]} ({dbl(b)})"


def _function(signature: str, body: list[str], tail: list[str]) -> str:
    return signature + " {\n" + "".join(f"    {line}\n" for line in body + tail) + "}\n"


def _dynamics_source(program: _Program, outputs: list[Any], n: int, P: int, psi: bool) -> str:
    N = n + 1
    parts = []
    body, live = _body(program, outputs, _VARIANTS["d"], n)
    tail = [f"out[{i}] = {_value(o, live, 'd')};" for i, o in enumerate(outputs)]
    parts.append(_function("static void gen_f(const double *p, const double *x, double u, double *out)", body, tail))
    body, live = _body(program, outputs, _VARIANTS["g1"], n)
    tail = [f"memset(F, 0, sizeof(double) * {n * N});"]
    tail += [f"for (int j = 0; j < {N}; ++j) F[{i * N} + j] = {o}.d[j];" for i, o in enumerate(outputs) if o in live]
    parts.append(_function("static void gen_jacobians(const double *p, const double *x, double u, double *F)",
                           body, tail))
    body, live = _body(program, outputs, _VARIANTS["g2"], n)
    tail = [f"memset(H, 0, sizeof(double) * {N * N});"]
    tail += [f"for (int q = 0; q < {N * N}; ++q) H[q] += lam[{i}] * {o}.h[q];" for i, o in enumerate(outputs)
             if o in live]
    parts.append(_function("static void gen_lagrangian_hessian(const double *p, const double *x, double u, "
                           "const double *lam, double *H)", body, tail))
    if psi:
        body, live = _body(program, outputs, _VARIANTS["gp"], n)
        tail = [f"for (int j = 0; j < {P}; ++j) grad[j] += dlam[{i}] * {o}.p[j] + lam[{i}] * {o}.ep[j];"
                for i, o in enumerate(outputs) if o in live]
        parts.append(_function("static void gen_psi_gradient(const double *p, const double *x, double u, "
                               "const double *dx, double du, const double *lam, const double *dlam, double *grad)",
                               body, tail))
    table = (f"const dynamics_form dilqr_generated_dynamics = {{{n}, gen_f, gen_jacobians, gen_lagrangian_hessian, "
             f"{'gen_psi_gradient' if psi else 'NULL'}}};\n")
    return _file(N, max(P, 1), parts, table)


def _cost_source(program: _Program, output: Any, n: int, P: int, psi: bool) -> str:
    N = n + 1
    parts = []
    body, live = _body(program, [output], _VARIANTS["d"], n)
    parts.append(_function("static double gen_g(const double *p, const double *x, double u, long n)",
                           ["(void)n;", *body], [f"return {_value(output, live, 'd')};"]))
    body, live = _body(program, [output], _VARIANTS["g2"], n)
    if output in live:
        tail = [f"for (int j = 0; j < {N}; ++j) c[j] = {output}.d[j];",
                f"for (int q = 0; q < {N * N}; ++q) C[q] = {output}.h[q];"]
    else:
        tail = [f"memset(c, 0, sizeof(double) * {N});", f"memset(C, 0, sizeof(double) * {N * N});"]
    parts.append(_function("static void gen_derivatives(const double *p, const double *x, double u, long n, "
                           "double *c, double *C)", ["(void)n;", *body], tail))
    if psi:
        body, live = _body(program, [output], _VARIANTS["gp"], n)
        tail = [f"for (int j = 0; j < {P}; ++j) grad[j] += {output}.ep[j];"] if output in live else []
        parts.append(_function("static void gen_psi_gradient(const double *p, const double *x, double u, "
                               "const double *dx, double du, long n, double *grad)", ["(void)n;", *body], tail))
    table = (f"const cost_form dilqr_generated_cost = {{gen_g, gen_derivatives, "
             f"{'gen_psi_gradient' if psi else 'NULL'}}};\n")
    return _file(N, max(P, 1), parts, table)


def _value(o: Any, live: set[str], prefix: str) -> str:
    if isinstance(o, float):
        return _literal(o)
    return f"{prefix}_val({o})" if o in live else o


def _file(N: int, P: int, parts: list[str], table: str) -> str:
    head = ("/* Generated by dilqr_rl.control.kernels.codegen from a traced module: do not edit. */\n"
            "#include <math.h>\n#include <string.h>\n#include <stddef.h>\n\n"
            f"#define JD {N}\n#define JP {P}\n#include \"gjets.h\"\n#include \"kernels.h\"\n\n"
            "#pragma GCC diagnostic ignored \"-Wunused-variable\"\n"
            "#pragma GCC diagnostic ignored \"-Wunused-parameter\"\n\n")
    return head + "\n".join(parts) + "\n" + table


# ---- building, loading, caching ----

class Generated(NamedTuple):
    """A compiled form: its kind for the kernel library, whether it has the Psi gradient, and how many of the
    module's tensors (parameters, then buffers) are parameters."""

    kind: int
    psi: bool
    parameter_count: int


EXTERNAL_KIND_BASE, EXTERNAL_KINDS = 1000, 512
"""As kernels.h: the kinds of forms registered from libraries of their own, and how many slots there are."""
_REASONS: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()
_STRUCTURES: dict[type, set] = {}
_LIBRARIES: dict[str, tuple[ctypes.CDLL, int]] = {}
"""Source hash -> (loaded library, kind): kept loaded while the process runs (the kernel library holds pointers
into it)."""
_CACHE: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()
_NEXT_SLOT = [0]
_INTERNALS = frozenset(vars(nn.Module()))
_CLOSED_FORMS = ("jacobians", "lagrangian_hessian", "derivatives")


def enabled() -> bool:
    return os.environ.get("DILQR_RL_CODEGEN", "1") != "0"


def _simple(value: Any) -> bool:
    if isinstance(value, (bool, int, float, str, type(None), torch.dtype, torch.device)):
        return True
    return isinstance(value, tuple) and all(_simple(v) for v in value)


def _walk(module: nn.Module) -> tuple[tuple | None, list[Tensor], int]:
    """(the fingerprint, the module's tensors, how many of them are parameters): the fingerprint is what a trace of
    ``module`` depends on besides its tensors' values (every submodule's class, mode, plain attributes of the
    instance and of its classes, and where each tensor sits: parameter or buffer, shape, and which of the module's
    tensors it is, so that tying or re-registering traces again), None where something else could change its forward
    (an attribute that is no plain value, a hook, closed-form methods, ``row_wise = False``); the tensors are its
    parameters, then its buffers, in the order of ``named_parameters`` and ``named_buffers`` (the form's parameter
    vector)."""
    if nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks:
        return None, [], 0
    parts: list[tuple] = []
    parameters: list[Tensor] = []
    buffers: list[Tensor] = []
    positions: dict[int, tuple[str, int]] = {}
    for m in module.modules():
        d = m.__dict__
        if d["_forward_hooks"] or d["_forward_pre_hooks"] or d["_backward_hooks"] or d["_backward_pre_hooks"]:
            return None, [], 0
        attributes = _class_attributes(type(m))
        if attributes is None:
            return None, [], 0
        attributes = list(attributes)
        for key, value in d.items():
            if key in _INTERNALS:
                continue
            if not _simple(value) or (key in _CLOSED_FORMS and value is not None) or (key == "row_wise" and not value):
                return None, [], 0
            attributes.append((key, value))
        where = []
        for kind, store, out in (("p", m._parameters, parameters), ("b", m._buffers, buffers)):
            for key, t in store.items():
                if t is None:
                    continue
                if id(t) not in positions:
                    positions[id(t)] = (kind, len(out))
                    out.append(t)
                where.append((kind, key, positions[id(t)], t.shape, t.dtype, t.device.type))
        parts.append((type(m), m.training, tuple(attributes), tuple(where)))
    return tuple(parts), parameters + buffers, len(parameters)


def _class_attributes(cls: type) -> tuple | None:
    """The plain class-level attributes of ``cls`` and its bases up to ``nn.Module`` (a forward may read them:
    they are compiled in), read at every call since a class attribute may be set anew; None where the class has
    closed-form methods or ``row_wise = False``."""
    if getattr(cls, "row_wise", True) is False or any(getattr(cls, name, None) is not None for name in _CLOSED_FORMS):
        return None
    out = []
    for base in cls.__mro__:
        if base is nn.Module or base is object:
            break
        out += [(base.__qualname__, k, v) for k, v in vars(base).items() if not k.startswith("__") and
                isinstance(v, (bool, int, float, str, tuple)) and _simple(v)]
    return tuple(out)


def fingerprint(module: nn.Module) -> tuple | None:
    """What a trace of ``module`` depends on besides its tensors' values, or None (see :func:`_walk`)."""
    return _walk(module)[0]


def form_of(module: nn.Module, role: str, n: int, compiler: str, register: Callable[[str, int, int], None],
            cache_dir: Callable[[], Path]) -> tuple[Generated, list[Tensor]] | None:
    """The generated form of ``module`` as ``role`` (``"dynamics"`` or ``"cost"``) for n states and one control,
    built on first use, and the module's tensors its parameter vector is made of; None where it has none (see the
    module docstring)."""
    if not enabled():
        return None
    key, tensors, _ = _walk(module)
    if key is None:
        return None
    per_module = _CACHE.get(module)
    if per_module is None:
        per_module = _CACHE[module] = {}
    entry = (role, n, key)
    if entry not in per_module:
        per_module.clear()  # an older structure of this module is not used again
        try:
            structures = _STRUCTURES.setdefault(type(module), set())
            if entry not in structures and len(structures) >= MAX_STRUCTURES_PER_CLASS:
                raise _Unsupported(
                    f"more than {MAX_STRUCTURES_PER_CLASS} structures of {type(module).__name__} in this process (its "
                    "plain attributes, e.g. a dt, keep changing, and each new value would be compiled anew); make "
                    "such a value a buffer (register_buffer) to have it read at every call instead")
            structures.add(entry)
            per_module[entry] = _build(module, role, n, compiler, register, cache_dir())
        except Exception as error:
            per_module[entry] = None
            _REASONS[module] = f"{type(error).__name__}: {error}"[:500]
    generated = per_module[entry]
    return None if generated is None else (generated, tensors)


def why_not(module: nn.Module) -> str | None:
    """Why the last attempt to generate ``module``'s form failed (for reports and debugging), or None."""
    if fingerprint(module) is None:
        return ("it has an attribute that is not a plain value, a hook, closed-form derivative methods or "
                "row_wise = False")
    return _REASONS.get(module)


def _generate(module: nn.Module, role: str, n: int) -> tuple[str, int, bool]:
    """(C source, number of parameters, whether it has the Psi gradient) of ``module``'s form; raises _Unsupported.
    The module is traced on 2 and on 3 rows: row 0's statements must be the same (a forward that reads the batch
    size, or a tensor with one row per batch item, would be compiled for one batch size only)."""
    named = _named_tensors(module)
    if any(not t.is_floating_point() or t.device.type != "cpu" for _, t in named):
        raise _Unsupported("a tensor that is not floating point on the CPU")
    dtype = named[0][1].dtype if named else torch.get_default_dtype()
    P = sum(t.numel() for _, t in named)
    psi = P <= MAX_PSI_PARAMETERS
    sources = []
    for rows in (2, 3):
        example = (torch.zeros(rows, n, dtype=dtype), torch.zeros(rows, 1, dtype=dtype))
        traced = _trace(module, [t.detach() for _, t in named], example)
        program, output = _interpret(traced, n, [tuple(t.shape) for _, t in named], rows)
        out = _array(output)
        expected = (rows, n) if role == "dynamics" else (rows,)
        if out.shape != expected:
            raise _Unsupported(f"output of shape {out.shape}, expected {expected}")
        for r in range(rows):  # each output row from its own input row only (the solver's row-wise contract)
            for o in np.ravel(out[r]):
                if isinstance(o, str) and not program.rows[o] <= {r}:
                    raise _Unsupported("rows coupled")
                if isinstance(o, bool):
                    raise _Unsupported("a boolean output")
        row = list(np.ravel(out[0]))
        source = (_dynamics_source(program, row, n, P, psi) if role == "dynamics"
                  else _cost_source(program, row[0], n, P, psi))
        sources.append(_canonical(source))
    if sources[0] != sources[1]:
        raise _Unsupported("its forward depends on the batch size")
    return sources[0], len(list(module.parameters())), psi


def _canonical(source: str) -> str:
    """``source`` with its statement names numbered in order of first appearance (two traces of one forward give
    the same text)."""
    names: dict[str, str] = {}
    return re.sub(r"\bv(\d+)\b", lambda m: names.setdefault(m.group(0), f"v{len(names)}"), source)


def _build(module: nn.Module, role: str, n: int, compiler: str, register: Callable[[str, int, int], None],
           cache_dir: Path) -> Generated:
    source, parameter_count, psi = _generate(module, role, n)
    here = Path(__file__).parent
    digest = hashlib.sha256(source.encode() + (here / "gjets.h").read_bytes() + (here / "kernels.h").read_bytes())
    key = digest.hexdigest()[:20]
    if key not in _LIBRARIES:
        target = cache_dir / f"generated-{key}.so"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            c_file = target.with_suffix(f".{os.getpid()}.c")
            c_file.write_text(source)
            partial = target.with_name(f"{target.stem}.{os.getpid()}.part")
            subprocess.run([compiler, "-O1", "-shared", "-fPIC", f"-I{here}", "-o", str(partial), str(c_file), "-lm"],
                           check=True, capture_output=True, timeout=120)
            os.replace(partial, target)
            c_file.unlink(missing_ok=True)
        if _NEXT_SLOT[0] >= EXTERNAL_KINDS:
            raise _Unsupported(f"more than {EXTERNAL_KINDS} generated forms in this process")
        library = ctypes.CDLL(str(target))
        slot = _NEXT_SLOT[0]
        _NEXT_SLOT[0] += 1
        symbol = "dilqr_generated_dynamics" if role == "dynamics" else "dilqr_generated_cost"
        register(role, slot, ctypes.addressof(ctypes.c_char.in_dll(library, symbol)))
        _LIBRARIES[key] = (library, slot)
    return Generated(EXTERNAL_KIND_BASE + _LIBRARIES[key][1], psi, parameter_count)


def parameters(tensors: list[Tensor]) -> Tensor:
    """The form's parameter vector (float64): the tensors :func:`form_of` returns, flattened, read at every call
    (no cache: an in-place change through ``.data`` leaves no trace in the tensor's version)."""
    if not tensors:
        return torch.zeros(1, dtype=torch.float64)
    values: list[float] = []
    for t in tensors:  # through Python numbers: for the few small tensors of a form, cheaper than a cat and a cast
        value = (t if t.ndim <= 1 else t.reshape(-1)).tolist()
        if isinstance(value, list):
            values.extend(value)
        else:
            values.append(value)
    return torch.tensor(values, dtype=torch.float64)


def leaves(tensors: list[Tensor], parameter_count: int, gradient: Tensor) -> list[tuple[Tensor, Tensor]]:
    """The gradient in the form's parameter vector -> [(parameter, its gradient)] (buffers get none)."""
    out, offset = [], 0
    for i, tensor in enumerate(tensors):
        if i < parameter_count:
            out.append((tensor, gradient[offset:offset + tensor.numel()].reshape(tensor.shape)))
        offset += tensor.numel()
    return out
