"""Every error and warning of the control core says what was wrong and what to do."""

from __future__ import annotations

import sys
import warnings

import pytest
import torch
from torch import nn

from dilqr_rl import DiLQR, SolverConfig
from dilqr_rl.control import HessianFallbackWarning, NonFiniteError, NotConvergedError, UnconvergedWarning
from dilqr_rl.control.problem import check_finite
from dilqr_rl.models import GoalCost, LinearDynamics, PendulumDynamics, PendulumFeatureDynamics
from tests.control.problems import F64, X0, pendulum


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizon": 0}, "horizon must be an integer >= 1"),
        ({"horizon": 5, "max_iter": 0}, "max_iter must be an integer >= 1"),
        ({"horizon": 5, "tol": -1.0}, "tol must be a float >= 0"),
        ({"horizon": 5, "grad_method": "adjoint"}, r"grad_method must be one of 'implicit', 'diffmpc', 'unroll'"),
        ({"horizon": 5, "on_unconverged": "ignore"}, "on_unconverged must be one of 'warn', 'raise', 'zero'"),
        ({"horizon": 5, "reg_factor": 1.0}, "reg_factor must be a float > 1"),
        ({"horizon": 5, "line_search_steps": 0}, "line_search_steps must be an integer >= 1"),
        ({"horizon": 5, "newton_tol": -1e-3}, r"newton_tol must be a float >= 0 \(0 disables"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SolverConfig(**kwargs)


def _cost():
    return GoalCost(torch.ones(3, dtype=F64), torch.zeros(3, dtype=F64))


def test_modules_must_be_nn_modules():
    with pytest.raises(TypeError, match=r"must be torch\.nn\.Module instances"):
        DiLQR(lambda x, u: x, _cost(), 5)


def test_bounds_must_not_require_grad():
    with pytest.raises(ValueError, match=r"u_upper requires grad.*u_upper.detach\(\)"):
        DiLQR(PendulumDynamics(), _cost(), 5, -1.0, torch.ones(1, requires_grad=True))


def test_lower_bound_above_upper():
    with pytest.raises(ValueError, match="u_lower must be <= u_upper"):
        DiLQR(PendulumDynamics(), _cost(), 5, 1.0, -1.0)


@pytest.mark.parametrize(
    ("x_init", "match"),
    [
        (torch.zeros(2, dtype=F64), r"x_init must be a tensor of shape \(B, n\); got \(2,\)"),
        (torch.zeros(1, 2, dtype=torch.long), "x_init must be float32 or float64"),
        (torch.zeros(1, 3, dtype=F64), "x_init has 3 state dimensions but the dynamics expect n = 2"),
        (torch.zeros(1, 2, dtype=torch.float32), "parameter 'dynamics.mass' is torch.float64 but x_init is"),
        (torch.tensor([[0.0, 0.0], [float("nan"), 0.0]], dtype=F64),
         r"x_init is NaN or infinite for batch items \[1\]"),
    ],
)
def test_x_init_errors(x_init, match):
    with pytest.raises(ValueError, match=match):
        pendulum()(x_init)


def test_u_init_errors():
    ctrl = pendulum(horizon=5)
    x0 = X0["pendulum"]
    with pytest.raises(ValueError, match=r"u_init must be \(B, T, m\) = \(3, 5, 1\)"):
        ctrl(x0, u_init=torch.zeros(3, 4, 1, dtype=F64))
    with pytest.raises(ValueError, match="u_init is NaN or infinite"):
        ctrl(x0, u_init=torch.full((3, 5, 1), float("inf"), dtype=F64))
    with pytest.raises(ValueError, match=r"u_init has 2 controls per step but the layer plans m = 1 \(its dynamics' "
                                         r"control_dim or bounds\): pass u_init of shape \(B, T, m\) = \(3, 5, 1\)"):
        ctrl(x0, u_init=torch.zeros(3, 5, 2, dtype=F64))


@pytest.mark.parametrize("name", ["u_lower", "u_upper"])
def test_nan_bounds_are_refused_where_they_are_given(name):
    bounds = {"u_lower": -1.0, "u_upper": 1.0, name: torch.tensor([0.0, float("nan")])}
    with pytest.raises(ValueError, match=rf"{name} contains NaN; a bound must be a number \(\+-inf for none\) or "
                                         "None"):
        DiLQR(PendulumDynamics().double(), _cost(), 5, **bounds)


def test_bound_that_does_not_broadcast():
    ctrl = DiLQR(PendulumDynamics().double(), _cost(), 5, torch.zeros(3, 1), 1.0)
    with pytest.raises(ValueError, match=r"does not broadcast to \(B, T, m\) = \(2, 5, 1\)"):
        ctrl(torch.zeros(2, 2, dtype=F64))


def test_unknown_control_size():
    class NoDims(nn.Module):
        def forward(self, x, u):
            return x + u

    with pytest.raises(ValueError, match="cannot tell the control size m"):
        DiLQR(NoDims(), _cost(), 5)(torch.zeros(1, 2, dtype=F64))


class _Exploding(nn.Module):
    state_dim, control_dim = 2, 1

    def forward(self, x, u):
        return torch.where(x[:, :1] > 0.5, float("nan"), x + u)


def test_non_finite_dynamics_output_names_items():
    ctrl = DiLQR(_Exploding(), _cost(), 5)
    x0 = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=F64)
    with pytest.raises(NonFiniteError, match=r"initial rollout x is NaN or infinite for batch items \[1\]"):
        ctrl(x0)


def test_cost_with_wrong_output_shape():
    class Wrong(nn.Module):
        def forward(self, x, u):
            return torch.cat([x, u], -1) ** 2

    ctrl = DiLQR(PendulumDynamics().double(), Wrong(), 5)
    with pytest.raises(ValueError, match=r"the cost module must return one value per row, shape \(5,\)"):
        ctrl(torch.zeros(1, 2, dtype=F64))


def test_unconverged_raise():
    ctrl = pendulum(max_iter=1, on_unconverged="raise")
    with pytest.raises(NotConvergedError, match=r"did not converge within max_iter=1 for 3 of 3 batch items"):
        ctrl(X0["pendulum"])


def test_unconverged_warn_keeps_gradient():
    ctrl = pendulum(max_iter=1, on_unconverged="warn")
    with pytest.warns(UnconvergedWarning, match="Increase max_iter, loosen tol, or warm-start"):
        sol = ctrl(X0["pendulum"])
    sol.u.sum().backward()
    assert ctrl.dynamics.mass.grad.abs() > 0


def test_unconverged_zero_gives_zero_gradient_for_those_items():
    ctrl = pendulum(max_iter=2, on_unconverged="zero")
    x0 = torch.tensor([[0.0, 0.0], [1.0, 0.3]], dtype=F64).requires_grad_(True)
    with pytest.warns(UnconvergedWarning, match="Their gradients are zero"):
        sol = ctrl(x0)
    done = sol.converged
    assert done.any() and not done.all()
    sol.x.sum().backward()
    assert (x0.grad[~done] == 0).all() and (x0.grad[done] != 0).any()


class _IndefiniteLagrangian(PendulumDynamics):
    """Pendulum whose Lagrangian Hessian term is replaced by a large negative one."""

    def lagrangian_hessian(self, x, u, lam):
        return -100.0 * torch.eye(3, dtype=x.dtype).expand(x.shape[0], 3, 3)


def test_hessian_fallback_warns_flags_and_uses_the_cost_hessian():
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.zeros(3)).double()
    bad = DiLQR(_IndefiniteLagrangian(max_speed=None).double(), cost, 10, tol=1e-12)
    ref = DiLQR(PendulumDynamics(max_speed=None).double(), cost, 10, tol=1e-12, grad_method="diffmpc")
    x0 = torch.tensor([[0.5, 0.0]], dtype=F64)
    sol = bad(x0)
    with pytest.warns(HessianFallbackWarning, match=r"not positive definite for some batch items"):
        sol.u.sum().backward()
    assert sol.backward.hessian_fallback.tolist() == [True]
    ref(x0).u.sum().backward()
    torch.testing.assert_close(bad.dynamics.mass.grad, ref.dynamics.mass.grad)


def test_hessian_fallback_is_reported_once_per_place_not_once_per_backward():
    """A training loop (PPO's minibatches) meets the fallback in many backwards, for different items each
    time: the message names no items (they are flagged per solve), so Python's default filter shows it once."""
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.zeros(3)).double()
    bad = DiLQR(_IndefiniteLagrangian(max_speed=None).double(), cost, 10, tol=1e-12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for x0 in ([[0.5, 0.0]], [[0.1, 0.0], [0.4, 0.2]], [[0.3, 0.1]]):
            sol = bad(torch.tensor(x0, dtype=F64))
            sol.u.sum().backward()
            assert sol.backward.hessian_fallback.all()
    assert sum(issubclass(w.category, HessianFallbackWarning) for w in caught) == 1


def test_singular_adjoint_gives_zero_gradient_and_warns():
    class StateOnlyCost(nn.Module):
        def forward(self, x, u):
            return (x**2).sum(-1) + 0.0 * u[:, 0]

    dyn = LinearDynamics(torch.eye(2, dtype=F64), torch.tensor([[0.0], [1.0]], dtype=F64))
    ctrl = DiLQR(dyn, StateOnlyCost(), 4, -1.0, 1.0, max_iter=20, on_unconverged="warn")
    x0 = torch.tensor([[0.5, 0.0]], dtype=F64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvergedWarning)  # u_T is undetermined: convergence may stall
        sol = ctrl(x0)
    with pytest.warns(HessianFallbackWarning, match=r"no positive definite adjoint Hessian for some batch items"):
        sol.x.sum().backward()
    assert sol.backward.zero_gradient.tolist() == [True]
    assert (x0.grad == 0).all()


class _NaNJacobian(PendulumDynamics):
    def jacobians(self, x, u):
        A, B = super().jacobians(x, u)
        return A * float("nan"), B


def test_non_finite_derivatives_raise():
    ctrl = DiLQR(_NaNJacobian(dtype=F64), _cost(), 5)
    with pytest.raises(NonFiniteError, match=r"model derivatives \(F, c, C\) is NaN or infinite for batch items \[0\]"):
        ctrl(torch.zeros(1, 2, dtype=F64))


def test_non_finite_cost_raises():
    class InfCost(nn.Module):
        def forward(self, x, u):
            return torch.full_like(x[:, 0], float("inf"))

    ctrl = DiLQR(PendulumDynamics(dtype=F64), InfCost(), 5)
    with pytest.raises(NonFiniteError, match=r"cost of the initial trajectory is NaN or infinite.*cost module"):
        ctrl(torch.zeros(1, 2, dtype=F64))


def test_a_converged_saddle_falls_back_to_the_cost_hessian():
    """The papers' feature pendulum hanging still, goal upright, a convex cost on the features: u = 0 is a
    stationary point (pushing left or right is symmetric) and iLQR stops there, but it is a maximum of the
    swing-up, not a minimum: the reduced Lagrangian Hessian is indefinite. The cost Hessian is positive
    definite, so the gradient is DiffMPC's."""
    cost = GoalCost(torch.tensor([1.0, 1.0, 0.1, 0.1]), torch.tensor([1.0, 0.0, 0.0, 0.0])).double()
    x0 = torch.tensor([[-1.0, 0.0, 0.0]], dtype=F64)  # (cos, sin, theta_dot): hanging at rest
    grads = {}
    for method in ("implicit", "diffmpc"):
        ctrl = DiLQR(PendulumFeatureDynamics(dtype=F64), cost, 10, -2.0, 2.0, grad_method=method, tol=1e-10)
        sol = ctrl(x0)
        assert sol.all_converged and sol.u.abs().max() < 1e-12  # the solver stops at the saddle
        if method == "implicit":
            with pytest.warns(HessianFallbackWarning, match=r"not positive definite for some batch items"):
                sol.u.sum().backward()
            assert sol.backward.hessian_fallback.tolist() == [True]
            assert sol.backward.zero_gradient.tolist() == [False]
        else:
            sol.u.sum().backward()
        grads[method] = ctrl.dynamics.mass.grad
    assert grads["implicit"] != 0 and grads["implicit"] == grads["diffmpc"]


def test_a_stationary_point_of_a_non_convex_cost_gets_a_zero_gradient():
    """The swing-up cost 2 (1 - cos theta) with almost no control penalty, from hanging at rest: u = 0 is
    stationary, and neither the Lagrangian nor the cost Hessian (cos pi < 0) is positive definite on the
    controls there. That item gets a zero gradient and both warnings; the item started near the top (a
    strict minimum) keeps its exact gradient."""
    from dilqr_rl.models import PendulumSwingUpCost

    ctrl = DiLQR(PendulumDynamics(dtype=F64), PendulumSwingUpCost(1.0, 0.0, 1e-4).double(), 30, -2.0, 2.0,
                 tol=1e-10)
    x0 = torch.tensor([[torch.pi, 0.0], [0.05, 0.0]], dtype=F64, requires_grad=True)
    sol = ctrl(x0)
    assert sol.all_converged and sol.u[0].abs().max() <= 1e-12  # stationary at rest (up to rounding)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol.u.sum().backward()
    messages = [str(w.message) for w in caught if issubclass(w.category, HessianFallbackWarning)]
    assert len(messages) == 2
    assert messages[0].startswith("the reduced Lagrangian Hessian is not positive definite for some batch items")
    assert messages[1].startswith("no positive definite adjoint Hessian for some batch items")
    assert sol.backward.hessian_fallback.tolist() == [True, False]
    assert sol.backward.zero_gradient.tolist() == [True, False]
    assert (x0.grad[0] == 0).all() and (x0.grad[1] != 0).all()
    assert torch.isfinite(ctrl.dynamics.mass.grad)


class _IndefiniteWherePositive(PendulumDynamics):
    """The Lagrangian Hessian term is indefinite only on rows with a positive angle."""

    def lagrangian_hessian(self, x, u, lam):
        bad = (x[:, 0] > 0).to(x.dtype).view(-1, 1, 1)
        true = super().lagrangian_hessian(x, u, lam)
        return bad * -100.0 * torch.eye(3, dtype=x.dtype) + (1 - bad) * true


def test_fallback_applies_to_the_failing_items_only():
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.zeros(3)).double()
    x0 = torch.tensor([[0.5, 0.0], [-0.5, 0.0]], dtype=F64)
    grads = {}
    for name, dyn, method in [("mixed", _IndefiniteWherePositive, "implicit"),
                              ("implicit", PendulumDynamics, "implicit"), ("diffmpc", PendulumDynamics, "diffmpc")]:
        ctrl = DiLQR(dyn(max_speed=None, dtype=F64), cost, 10, tol=1e-12, grad_method=method)
        x = x0.clone().requires_grad_(True)
        sol = ctrl(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HessianFallbackWarning)
            sol.u.sum().backward()
        grads[name] = x.grad
        if name == "mixed":
            assert sol.backward.hessian_fallback.tolist() == [True, False]
    torch.testing.assert_close(grads["mixed"][0], grads["diffmpc"][0])
    torch.testing.assert_close(grads["mixed"][1], grads["implicit"][1])
    assert not torch.allclose(grads["implicit"][0], grads["diffmpc"][0])


def test_warnings_point_at_the_users_call():
    """The backward's warnings name the line of the user's backward() (not the autograd engine), the forward's
    the line that called the layer."""
    cost = GoalCost(torch.tensor([1.0, 0.3, 0.1]), torch.zeros(3)).double()
    bad = DiLQR(_IndefiniteLagrangian(max_speed=None).double(), cost, 10, tol=1e-12, max_iter=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = bad(torch.tensor([[0.5, 0.0]], dtype=F64)); line_forward = sys._getframe().f_lineno  # noqa: E702
        sol.u.sum().backward(); line_backward = sys._getframe().f_lineno  # noqa: E702
    where = {w.category: (w.filename, w.lineno) for w in caught}
    assert where[UnconvergedWarning] == (__file__, line_forward)
    assert where[HessianFallbackWarning] == (__file__, line_backward)


def test_large_finite_inputs_are_not_mistaken_for_non_finite_ones():
    """The finiteness check sums first: finite float32 entries whose sum overflows are checked one by one, and
    pass; a NaN among them is still named."""
    big = torch.full((3, 2), 3e38, dtype=torch.float32)
    assert not torch.isfinite(big.sum())
    check_finite("x_init", big, "")
    check_finite("F, c, C", (big, big), "")
    big[1, 0] = float("nan")
    with pytest.raises(NonFiniteError, match=r"x_init is NaN or infinite for batch items \[1\]"):
        check_finite("x_init", big, "")


def test_changed_bounds_take_effect_at_the_next_call():
    """The layer keeps its bounds converted for the next call; a bound changed in place, through ``.data``, a new
    bound tensor and another dtype are all seen."""
    ctrl = DiLQR(PendulumDynamics(), GoalCost(torch.tensor([10.0, 1.0, 0.01]), torch.zeros(3)), 5, -1.0, 1.0)
    x0 = torch.tensor([[3.0, 0.0]])
    with torch.no_grad():
        assert ctrl(x0).u.abs().max() == pytest.approx(1.0)  # saturated
        ctrl.u_upper.fill_(0.5)
        ctrl.u_lower.fill_(-0.5)
        assert ctrl(x0).u.abs().max() == pytest.approx(0.5)
        ctrl.u_upper.data.fill_(0.375)  # no version change
        ctrl.u_lower.data = torch.tensor(-0.375, dtype=F64)
        assert ctrl(x0).u.abs().max() == pytest.approx(0.375)
        ctrl.u_lower = torch.tensor(-0.25, dtype=F64)
        ctrl.u_upper = torch.tensor(0.25, dtype=F64)
        assert ctrl(x0).u.abs().max() == pytest.approx(0.25)
        assert ctrl.double()(x0.double()).u.abs().max() == pytest.approx(0.25)
        ctrl.u_upper.fill_(0.125)
        ctrl.u_lower.fill_(-0.125)
        assert ctrl(x0.double()).u.abs().max() == pytest.approx(0.125)
        assert ctrl.float()(x0).u.abs().max() == pytest.approx(0.125)
        del ctrl.__dict__["_bounds"]  # as a layer pickled before the cache existed
        assert ctrl(x0).u.abs().max() == pytest.approx(0.125)


def test_a_solve_under_inference_mode_leaves_nothing_that_breaks_a_later_backward():
    """Tensors kept between calls (bounds, step sizes) are not made under inference mode: an unroll-mode layer
    first called there (and another layer's call there) still trains afterwards."""
    def layer():
        return DiLQR(PendulumDynamics(dtype=F64), _cost(), 5, -2.0, 2.0, grad_method="unroll", max_iter=5)

    ctrl, x0 = layer(), torch.tensor([[1.0, 0.0]], dtype=F64)
    with torch.inference_mode():
        ctrl(x0)
        layer()(x0)
    ctrl(x0).u.sum().backward()
    assert torch.isfinite(ctrl.dynamics.mass.grad)


@pytest.mark.parametrize("transform", ["grad", "vmap"])
def test_torch_func_transforms_are_refused_with_what_to_use_instead(transform):
    ctrl = pendulum(horizon=5)
    params = {k: v.detach() for k, v in ctrl.named_parameters()}
    x0 = X0["pendulum"]

    def total_control(p, x):
        return torch.func.functional_call(ctrl, p, (x,)).u.sum()

    with pytest.raises(RuntimeError, match=r"torch.func transform.*loss.backward\(\) or torch.autograd.grad"):
        if transform == "grad":
            torch.func.grad(total_control)(params, x0)
        else:
            torch.func.vmap(lambda x: total_control(params, x.unsqueeze(0)))(x0)
    with torch.no_grad():  # functional_call alone is no transform
        assert torch.func.functional_call(ctrl, params, (x0,)).u.shape == (3, 5, 1)


def test_warnings_pass_over_the_folders_a_higher_layer_names(tmp_path, monkeypatch):
    """A library that calls the layer (an RL library training a policy) registers its folder: the solver's warnings
    raised under it name the caller's line, not the library's."""
    import importlib
    import sys

    from dilqr_rl.control import errors

    library = tmp_path / "some_rl_library"
    library.mkdir()
    (library / "__init__.py").write_text(
        "from dilqr_rl.control.errors import warn\n\n\ndef train(category):\n    warn('from deep inside', category)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(errors, "_PASSED_OVER", [])
    module = importlib.import_module("some_rl_library")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module.train(UnconvergedWarning); line_before = sys._getframe().f_lineno  # noqa: E702
        errors.pass_over(str(library))
        module.train(UnconvergedWarning); line_after = sys._getframe().f_lineno  # noqa: E702
    assert [(w.filename, w.lineno) for w in caught] == [(str(library / "__init__.py"), 5), (__file__, line_after)]
    assert line_before != line_after
    sys.modules.pop("some_rl_library", None)
