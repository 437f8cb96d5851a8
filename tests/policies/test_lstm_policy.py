"""The LSTM over the observation history: its hidden state carries across steps and resets on episode_start."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dilqr_rl.agents.evaluation import evaluate_episodes
from dilqr_rl.envs import make_env
from dilqr_rl.policies.lstm_policy import LSTMPolicy


def make_policy(layers: int = 1) -> LSTMPolicy:
    torch.manual_seed(0)
    return LSTMPolicy(3, 1, [-2.0], [2.0], hidden_size=8, num_layers=layers)


@pytest.mark.parametrize("layers", [1, 2])
def test_predict_step_by_step_equals_the_sequence_forward(layers):
    policy = make_policy(layers)
    obs = torch.randn(2, 6, 3)
    with torch.no_grad():
        expected, _ = policy(obs)  # (2, 6, 1) from a zero hidden state
    state, actions = None, []
    for t in range(6):
        action, state = policy.predict(obs[:, t].numpy(), state, episode_start=np.array([t == 0, t == 0]))
        actions.append(action)
    np.testing.assert_allclose(np.stack(actions, 1), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert state.shape == (2, layers, 2, 8)


def test_the_hidden_state_carries_the_history_and_resets_on_episode_start():
    policy = make_policy()
    history = np.random.default_rng(0).normal(size=(4, 2, 3)).astype(np.float32)
    now = np.ones((2, 3), dtype=np.float32)
    state = None
    for o in history:
        _, state = policy.predict(o, state)
    with_history, _ = policy.predict(now, state, episode_start=np.array([False, False]))
    fresh, _ = policy.predict(now, None)
    assert not np.allclose(with_history, fresh)  # the past observations change the action
    reset, _ = policy.predict(now, state, episode_start=np.array([True, False]))  # row 0 starts an episode
    np.testing.assert_allclose(reset[0], fresh[0], rtol=1e-6)
    np.testing.assert_allclose(reset[1], with_history[1], rtol=1e-6)


def test_one_observation_and_errors():
    policy = make_policy()
    action, state = policy.predict(np.zeros(3, dtype=np.float32))
    assert action.shape == (1,) and state.shape == (2, 1, 1, 8) and -2 <= action[0] <= 2
    with pytest.raises(ValueError, match=r"state must be the hidden state \(2, layers, B, H\) = \(2, 1, 2, 8\) "
                                         r"returned by the previous predict call, or None; got shape \(2, 1, 1, 8\)"):
        policy.predict(np.zeros((2, 3)), state)
    with pytest.raises(ValueError, match=r"episode_start must hold one flag per observation \(B = 1\); got 2"):
        policy.predict(np.zeros(3), state, episode_start=np.array([True, False]))
    with pytest.raises(ValueError, match="hidden_size and num_layers must be >= 1"):
        LSTMPolicy(3, 1, -2.0, 2.0, hidden_size=0)


def test_lockstep_evaluation_carries_and_resets_the_state_as_episodes_one_by_one():
    policy = make_policy()
    lockstep = evaluate_episodes(policy, lambda: make_env("Pendulum-v1", max_episode_steps=10), 3, seed=5)
    env = make_env("Pendulum-v1", max_episode_steps=10)
    try:
        one_by_one = evaluate_episodes(policy, env, 3, seed=5)  # run_episode flags each episode's start
    finally:
        env.close()
    np.testing.assert_allclose(lockstep.returns, one_by_one.returns, rtol=1e-5)
