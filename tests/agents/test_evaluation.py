import numpy as np
import pytest
import torch

from dilqr_rl.agents.evaluation import MPCPolicy, default_state_map, evaluate_policy, load_policy
from dilqr_rl.envs.registration import make_env
from dilqr_rl.policies.baselines import LSTMSequencePolicy
from dilqr_rl.policies.state_maps import PendulumAngleMap


class ZeroPolicy:
    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        return np.zeros(1, dtype=np.float32), None


def test_expert_mpc_beats_doing_nothing_and_is_reproducible():
    env = make_env("dilqr_rl/Pendulum-v0")
    expert = load_policy("expert", env)
    a = evaluate_policy(expert, env, n_episodes=2, seed=3, max_steps=60)
    b = evaluate_policy(expert, env, n_episodes=2, seed=3, max_steps=60)
    zero = evaluate_policy(ZeroPolicy(), env, n_episodes=2, seed=3, max_steps=60)
    np.testing.assert_allclose(a.returns, b.returns)
    assert a.mean_return > zero.mean_return
    assert (a.lengths == 60).all()


def test_mpc_policy_warm_start_is_the_shifted_plan_and_sequence_baselines_run_as_mpc():
    env = make_env("dilqr_rl/Pendulum-v0", observation="state")
    expert = load_policy("expert", env)
    obs, _ = env.reset(seed=0)
    action, plan = expert.predict(obs)
    assert action.shape == (1,) and plan.shape == (1, 20, 1)
    np.testing.assert_allclose(plan[0, -1], plan[0, -2])
    lstm = MPCPolicy(LSTMSequencePolicy(2, 1, 20, -2.0, 2.0))
    action, state = lstm.predict(obs)
    assert state is None and abs(float(action[0])) <= 2.0


def test_recorded_frames_are_rgb():
    env = make_env("dilqr_rl/Pendulum-v0", render_mode="rgb_array")
    result = evaluate_policy(ZeroPolicy(), env, n_episodes=2, seed=0, record_first=True, max_steps=5)
    assert len(result.frames) == 6 and result.frames[0].ndim == 3 and result.frames[0].dtype == np.uint8


def test_default_state_map():
    assert default_state_map((2,), 2) is None
    m = default_state_map((3,), 2)
    assert isinstance(m, PendulumAngleMap)
    x = m(torch.tensor([[np.cos(0.5), np.sin(0.5), 1.0]]))
    torch.testing.assert_close(x, torch.tensor([[0.5, 1.0]], dtype=x.dtype))


def test_evaluation_errors():
    env = make_env("dilqr_rl/Pendulum-v0")
    with pytest.raises(ValueError, match="n_episodes must be >= 1"):
        evaluate_policy(ZeroPolicy(), env, n_episodes=0)
    with pytest.raises(ValueError, match="recording needs frames: create the env with render_mode='rgb_array'"):
        evaluate_policy(ZeroPolicy(), env, n_episodes=1, record_first=True)
    with pytest.raises(ValueError, match=r"no default map from observations of shape \(5,\)"):
        default_state_map((5,), 2)
