"""``ScaledControl`` (MuJoCo actions = scale x model forces) keeps the compiled solve: the same plans and implicit
gradients as the PyTorch path."""

from __future__ import annotations

import torch

from dilqr_rl.control import DiLQR
from dilqr_rl.control.kernels import forms
from dilqr_rl.models import CartpoleDynamics
from dilqr_rl.policies.env_models import ScaledControl
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost


class EagerScaledControl(ScaledControl):
    """A subclass: no C form (forms are registered for exact classes), so it solves on the PyTorch path."""


def _solve(wrapper: type, scale: float, x0: torch.Tensor):
    dynamics = CartpoleDynamics(cart_mass=1.3, pole_mass=0.2, length=0.6, dtype=torch.float64)
    cost = PeriodicQuadraticCost((1.0, 0.1, 10.0, 0.1, 1e-3), angle_index=2, learnable=True).double()
    layer = DiLQR(wrapper(dynamics, scale), wrapper(cost, scale), 25, -3.0, 3.0, max_iter=50, tol=1e-9)
    sol = layer(x0)
    sol.u[:, 0].square().sum().backward()
    grads = [p.grad.clone() for p in (dynamics.cart_mass, dynamics.pole_mass, dynamics.length, cost.log_w)]
    return sol, grads, layer


def test_the_scaled_cartpole_has_a_form_and_matches_the_pytorch_path():
    x0 = torch.tensor([[0.1, 0.0, 0.3, -0.2], [-0.2, 0.1, -0.4, 0.5]], dtype=torch.float64)
    compiled, compiled_grads, layer = _solve(ScaledControl, 0.25, x0)
    assert forms.dynamics_form(layer.dynamics) is not None and forms.cost_form(layer.cost) is not None
    eager, eager_grads, eager_layer = _solve(EagerScaledControl, 0.25, x0)
    assert forms.dynamics_form(eager_layer.dynamics) is None
    assert bool(compiled.converged.all()) and bool(eager.converged.all())
    torch.testing.assert_close(compiled.u, eager.u, rtol=0, atol=1e-9)
    torch.testing.assert_close(compiled.x, eager.x, rtol=0, atol=1e-9)
    for a, b in zip(compiled_grads, eager_grads):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-10)
