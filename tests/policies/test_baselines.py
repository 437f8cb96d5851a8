import numpy as np
import pytest
import torch

from dilqr_rl.policies.baselines import BoxSquash, LSTMSequencePolicy, MLPPolicy, MLPSequencePolicy


@pytest.mark.parametrize("cls", [LSTMSequencePolicy, MLPSequencePolicy])
def test_sequence_baselines_map_state_to_bounded_sequence(cls):
    torch.manual_seed(0)
    policy = cls(2, 1, 7, -2.0, 2.0)
    u = policy(100 * torch.randn(5, 2))
    assert u.shape == (5, 7, 1)
    assert bool((u.abs() <= 2.0).all())
    u.sum().backward()
    assert all(p.grad is not None for p in policy.parameters())


def test_lstm_depends_on_the_state():
    torch.manual_seed(0)
    policy = LSTMSequencePolicy(2, 1, 5, -1.0, 1.0)
    u = policy(torch.tensor([[0.0, 0.0], [1.0, -1.0]]))
    assert not torch.allclose(u[0], u[1])


def test_mlp_policy_predict_matches_forward_and_respects_per_dimension_bounds():
    torch.manual_seed(0)
    policy = MLPPolicy(3, 2, [-1.0, 0.0], [1.0, 5.0])
    obs = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32) * 50
    action, state = policy.predict(obs)
    assert state is None and action.shape == (4, 2)
    assert (action[:, 0] >= -1).all() and (action[:, 0] <= 1).all() and (action[:, 1] >= 0).all()
    single, _ = policy.predict(obs[0])
    np.testing.assert_allclose(single, action[0], rtol=1e-6)


def test_bad_bounds_are_rejected():
    with pytest.raises(ValueError, match="action_low must be < action_high"):
        BoxSquash(1.0, -1.0)
    with pytest.raises(ValueError, match="must be finite"):
        BoxSquash(-float("inf"), 1.0)
    with pytest.raises(ValueError, match="horizon, hidden_size and num_layers must be >= 1"):
        LSTMSequencePolicy(2, 1, 0, -1.0, 1.0)
