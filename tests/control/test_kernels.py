"""The compiled sweeps (dilqr_rl/control/kernels) against their PyTorch reference, and the solve with either."""

from __future__ import annotations

import pytest
import torch

from dilqr_rl.control import kernels, lqr
from tests.control.problems import F64, X0, cartpole, pendulum

pytestmark = pytest.mark.skipif(kernels._library()[0] is None, reason=f"no compiled kernel here: {kernels.status()}")


@pytest.fixture
def torch_path(monkeypatch):
    """Run the block on the PyTorch sweeps (the reference), then restore the kernel."""
    def use(enabled: bool):
        monkeypatch.setenv("DILQR_RL_KERNELS", "1" if enabled else "0")
        kernels._library.cache_clear()
    yield use
    monkeypatch.delenv("DILQR_RL_KERNELS")
    kernels._library.cache_clear()


def _problem(dtype, B=7, T=20, n=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    N = n + 1
    F = 0.5 * torch.randn(B, T, n, N, generator=gen, dtype=dtype)
    c = torch.randn(B, T, N, generator=gen, dtype=dtype)
    R = torch.randn(B, T, N, N, generator=gen, dtype=dtype)
    C = R @ R.mT / N + 0.1 * torch.eye(N, dtype=dtype)
    C[3, 5, n, n] = -50.0  # item 3 fails a stage
    return F, c, C


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_compiled_ilqr_sweep_matches_pytorch(dtype, torch_path):
    F, c, C = _problem(dtype)
    u = 0.3 * torch.randn(7, 20, 1, generator=torch.Generator().manual_seed(1), dtype=dtype)
    lo, hi = torch.full_like(u, -1.0), torch.full_like(u, 1.0)  # some steps clamp
    reg = torch.tensor([0, 0, 1e-3, 0, 10, 0, 0], dtype=dtype)
    args = (F, c, C, u, lo, hi, reg, torch.zeros_like(u))
    with torch.no_grad():
        fast = lqr.ilqr_gains(*args)
        torch_path(False)
        reference = lqr.ilqr_gains(*args)
    assert reference.ok.tolist() == [True, True, True, False, True, True, True] == fast.ok.tolist()
    on_bound = ((reference.k - (lo - u)).abs() < 1e-6) | ((reference.k - (hi - u)).abs() < 1e-6)
    assert on_bound.any() and not on_bound.all(), "some steps should sit on a bound"
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == F64 else {"rtol": 1e-5, "atol": 1e-5}
    for name, a, b in zip(reference._fields, fast, reference):
        torch.testing.assert_close(a, b, **tol, msg=name)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_compiled_adjoint_matches_pytorch(dtype, torch_path):
    F, g, H = _problem(dtype, B=6, T=15, n=3)
    free = torch.rand(6, 15, 1, generator=torch.Generator().manual_seed(2)) > 0.3
    free[3, 5] = True  # item 3's failing stage is free: not positive definite there
    with torch.no_grad():
        fast = lqr.adjoint_lqr(H, g, F, free)
        torch_path(False)
        reference = lqr.adjoint_lqr(H, g, F, free)
    assert not reference.ok[3] and reference.ok.sum() == 5 and fast.ok.tolist() == reference.ok.tolist()
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == F64 else {"rtol": 1e-5, "atol": 1e-5}
    for name, a, b in zip(reference._fields, fast, reference):
        torch.testing.assert_close(a, b, **tol, msg=name)


@pytest.mark.parametrize("factory", [pendulum, cartpole], ids=["pendulum", "cartpole"])
def test_solutions_and_gradients_agree_with_either_path(factory, torch_path):
    x0 = X0["pendulum" if factory is pendulum else "cartpole"]
    results = []
    for enabled in (True, False):
        torch_path(enabled)
        ctrl = factory()
        sol = ctrl(x0)
        ((sol.u - 0.1) ** 2).sum().backward()
        grads = torch.cat([p.grad.flatten() for p in ctrl.parameters()])
        results.append((sol.u.detach(), sol.iterations, grads))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(results[0][2], results[1][2], rtol=1e-8, atol=1e-10)


def test_status_names_the_path(torch_path):
    assert kernels.status().startswith("compiled C sweeps")
    torch_path(False)
    assert kernels.status() == "PyTorch sweeps (DILQR_RL_KERNELS=0)"
    assert kernels.riccati_scalar(*_problem(F64)[:3], *(torch.zeros(7, 20, 1, dtype=F64),) * 3,
                                  torch.zeros(7, dtype=F64)) is None
