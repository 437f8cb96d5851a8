"""Compiled kernels for the model-independent parts of the solve (CPU), with the PyTorch code as fallback.

The iLQR backward sweep and the implicit gradient's adjoint LQR for one control (``riccati.c``) are loops
over T stages of tiny matrix products:
in eager PyTorch each stage is ~17 dispatched operations of a few microseconds each, in C the whole sweep
of a small problem takes microseconds. The kernel is plain C (no torch headers): it is compiled once, on
first use, with the system's C compiler (``$CC``, ``cc`` or ``gcc``; about 0.2 s) into
``~/.cache/dilqr_rl`` (``$DILQR_RL_CACHE``), keyed by a hash of its source, and called through ctypes on
the tensors' memory. Where there is no compiler, or ``DILQR_RL_KERNELS=0``, or the tensors are not on the
CPU, the PyTorch path runs (it is the reference: the tests compare the two). Only graph-free solves use the
kernel (``implicit`` and ``diffmpc`` modes); ``unroll`` needs autograd through the sweep.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import torch
from torch import Tensor

_SOURCE = Path(__file__).with_name("riccati.c")
_FUNCTIONS = {torch.float64: "riccati_scalar_f64", torch.float32: "riccati_scalar_f32"}
_ADJOINT = {torch.float64: "adjoint_scalar_f64", torch.float32: "adjoint_scalar_f32"}


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
    source = _SOURCE.read_bytes()
    target = _cache_dir() / f"riccati-{hashlib.sha256(source).hexdigest()[:16]}.so"
    try:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f"{target.stem}.{os.getpid()}.part")
            subprocess.run([compiler, "-O3", "-shared", "-fPIC", "-o", str(partial), str(_SOURCE)], check=True,
                           capture_output=True, timeout=120)
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
    return library, f"compiled C sweeps ({target})"


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
