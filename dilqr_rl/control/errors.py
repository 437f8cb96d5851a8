"""Exceptions and warnings raised by the control core, and how the core issues its warnings."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import torch


class DiLQRError(RuntimeError):
    """Base class of the errors the control core raises."""


class NotConvergedError(DiLQRError):
    """Some batch items did not converge and ``on_unconverged="raise"`` was chosen."""


class NonFiniteError(DiLQRError, ValueError):
    """An input, a model output or a derivative is NaN or infinite."""


class RowCouplingError(DiLQRError, ValueError):
    """A model's output for one row changed when other rows were added: it does not act row by row (e.g.
    BatchNorm or Dropout in training mode), which the solver's derivatives and rollouts assume."""


class UnconvergedWarning(UserWarning):
    """Some batch items did not converge; their gradient is that of the last iterate (or zero)."""


class HessianFallbackWarning(UserWarning):
    """The adjoint's reduced Lagrangian Hessian was not positive definite for some items; the backward
    pass used the cost Hessian (the DiffMPC gradient) for them, or a zero gradient where that failed too."""


_UNCONVERGED_WARNINGS: ContextVar[bool] = ContextVar("dilqr_unconverged_warnings", default=True)
_INTERNAL = tuple(str(p) + os.sep for p in (Path(torch.__file__).parent, Path(__file__).parent))  # torch, the core


@contextmanager
def unconverged_warnings(enabled: bool) -> Iterator[None]:
    """Turn the layer's ``UnconvergedWarning`` off (or on) inside the block, without touching the
    ``warnings`` filters (entering ``warnings.catch_warnings`` resets every module's once-only registry, so
    a caller that counts unconverged solves itself would make other warnings repeat at every call)."""
    token = _UNCONVERGED_WARNINGS.set(enabled)
    try:
        yield
    finally:
        _UNCONVERGED_WARNINGS.reset(token)


def unconverged_warnings_enabled() -> bool:
    return _UNCONVERGED_WARNINGS.get()


_PASSED_OVER: list[str] = []


def pass_over(*folders: str) -> None:
    """Attribute warnings past frames in ``folders`` too (a higher layer's: the policies pass over their package and
    the RL libraries that call them, so that a warning raised while SB3 trains names the user's ``learn`` line)."""
    for folder in folders:
        prefix = str(Path(folder)) + os.sep
        if prefix not in _PASSED_OVER:
            _PASSED_OVER.append(prefix)


def warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first frame outside torch, the control core and the folders of
    :func:`pass_over`: the user's call of the layer, or of ``backward()`` for warnings raised inside the backward
    pass (not the autograd engine); the outermost frame where all are inside (a command line's entry point)."""
    inside = _INTERNAL + tuple(_PASSED_OVER)
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(inside):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1)
