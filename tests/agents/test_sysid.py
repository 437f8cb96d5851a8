import pytest
import torch

from dilqr_rl.agents.sysid import SysIdConfig, fit_sysid, transition_loss, transitions_from_plans
from dilqr_rl.control import DiLQR
from dilqr_rl.models import get_system


@pytest.fixture(scope="module")
def transitions():
    s = get_system("pendulum-upright")
    x0 = s.sample_x_init(10, torch.Generator().manual_seed(0))
    with torch.no_grad():
        sol = DiLQR(s.make_dynamics(), s.make_cost(), s.horizon, s.u_lower, s.u_upper)(x0)
    return transitions_from_plans(sol.x, sol.u)


def test_sysid_recovers_identifiable_parameters_on_clean_data(transitions):
    s = get_system("pendulum-upright")
    dynamics = s.make_dynamics(mass=1.3, gravity=8.0)
    dynamics.length.requires_grad_(False)  # with l known, m and g are identifiable
    cfg = SysIdConfig(epochs=300, batch_size=64, lr=5e-2, progress=False)
    result = fit_sysid(dynamics, *transitions, cfg)
    assert result.params["mass"] == pytest.approx(1.0, rel=1e-3)
    assert result.params["gravity"] == pytest.approx(10.0, rel=1e-3)
    assert result.loss < 1e-8 and result.history[-1] < result.history[0]


def test_transitions_pair_each_state_with_the_next(transitions):
    x, u, x_next = transitions
    assert x.shape == (10 * 19, 2) and u.shape == (10 * 19, 1)
    true = get_system("pendulum-upright").make_dynamics()
    assert float(transition_loss(true, x, u, x_next)) < 1e-20


def test_sysid_errors(transitions):
    x, u, x_next = transitions
    frozen = get_system("pendulum-upright").make_dynamics().requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter that requires grad"):
        fit_sysid(frozen, x, u, x_next, SysIdConfig(progress=False))
    with pytest.raises(ValueError, match="same number of rows"):
        fit_sysid(get_system("pendulum-upright").make_dynamics(), x, u[:3], x_next)
    with pytest.raises(ValueError, match=r"no transitions to fit: x, u, x_next have 0 rows \(collect plans with"):
        fit_sysid(get_system("pendulum-upright").make_dynamics(), x[:0], u[:0], x_next[:0])
    with pytest.raises(ValueError, match="x must be \\(N, T, n\\)"):
        transitions_from_plans(x, u)
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        SysIdConfig(optimizer="sgd")
