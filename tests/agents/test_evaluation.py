import gymnasium as gym
import numpy as np
import pytest
import torch

from dilqr_rl.agents.evaluation import MPCPolicy, default_state_map, evaluate_episodes, load_policy
from dilqr_rl.control import DiLQR
from dilqr_rl.envs.registration import make_env
from dilqr_rl.models import get_system
from dilqr_rl.policies import ILQRExpert, expert_for
from dilqr_rl.policies.baselines import LSTMSequencePolicy
from dilqr_rl.policies.receding_horizon import shift_plan
from dilqr_rl.policies.state_maps import PendulumAngleMap


class ZeroPolicy:
    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        return np.zeros(1, dtype=np.float32), None


def test_expert_mpc_beats_doing_nothing_and_is_reproducible():
    env = make_env("dilqr_rl/Pendulum-v0")
    expert = load_policy("expert", env)
    a = evaluate_episodes(expert, env, n_episodes=2, seed=3, max_steps=60)
    b = evaluate_episodes(expert, env, n_episodes=2, seed=3, max_steps=60)
    zero = evaluate_episodes(ZeroPolicy(), env, n_episodes=2, seed=3, max_steps=60)
    np.testing.assert_allclose(a.returns, b.returns)
    assert a.mean_return > zero.mean_return
    assert (a.lengths == 60).all()


def test_the_expert_is_the_one_expert_for_builds():
    for env_id, kwargs in (("dilqr_rl/Pendulum-v0", {}), ("dilqr_rl/CartpoleSwingUp-v0", {})):
        env = make_env(env_id, **kwargs)
        expert = load_policy("expert", env)
        assert isinstance(expert, ILQRExpert) and expert.settings == expert_for(env).settings
        assert type(expert.dynamics) is type(env.unwrapped.dynamics)
        a = evaluate_episodes(expert, env, n_episodes=1, seed=1, max_steps=5)
        b = evaluate_episodes(expert_for(env), env, n_episodes=1, seed=1, max_steps=5)
        np.testing.assert_allclose(a.returns, b.returns)
    with pytest.raises(ValueError, match="no iLQR expert for CartPoleEnv"):
        load_policy("expert", gym.make("CartPole-v1"))


def test_expert_warm_start_is_the_shifted_plan_and_sequence_baselines_run_as_mpc():
    env = make_env("dilqr_rl/Pendulum-v0", observation="state")
    expert = load_policy("expert", env)
    obs, _ = env.reset(seed=0)
    action, plan = expert.predict(obs)
    assert action.shape == (1,) and plan.shape == (1, expert.settings.horizon, 1)
    np.testing.assert_allclose(plan[0, -1], plan[0, -2])
    lstm = MPCPolicy(LSTMSequencePolicy(2, 1, 20, -2.0, 2.0))
    action, state = lstm.predict(obs)
    assert state is None and abs(float(action[0])) <= 2.0


def test_recorded_frames_are_rgb():
    env = make_env("dilqr_rl/Pendulum-v0", render_mode="rgb_array")
    result = evaluate_episodes(ZeroPolicy(), env, n_episodes=2, seed=0, record_first=True, max_steps=5)
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
        evaluate_episodes(ZeroPolicy(), env, n_episodes=0)
    with pytest.raises(ValueError, match="recording needs frames: create the env with render_mode='rgb_array'"):
        evaluate_episodes(ZeroPolicy(), env, n_episodes=1, record_first=True)
    with pytest.raises(ValueError, match=r"observations of shape \(5,\) have no known map to them"):
        default_state_map((5,), 2)
    with pytest.raises(ValueError, match="record_first needs one env, not an env factory"):
        evaluate_episodes(ZeroPolicy(), lambda: make_env("dilqr_rl/Pendulum-v0"), n_episodes=1, record_first=True)


def test_lockstep_episodes_equal_one_by_one():
    """An env factory runs the episodes in lockstep (one batched predict per step) from the same seeded starts."""
    env = make_env("dilqr_rl/Pendulum-v0")
    expert = expert_for(env)
    one_by_one = evaluate_episodes(expert, env, n_episodes=3, seed=5, max_steps=15)
    lockstep = evaluate_episodes(expert, lambda: make_env("dilqr_rl/Pendulum-v0"), n_episodes=3, seed=5, max_steps=15)
    np.testing.assert_allclose(lockstep.returns, one_by_one.returns, rtol=1e-5)  # batched solves: rounding only
    np.testing.assert_array_equal(lockstep.lengths, [15, 15, 15])


def _dilqr(max_iter: int = 2) -> DiLQR:
    spec = get_system("pendulum-upright")
    return DiLQR(spec.make_dynamics(), spec.make_cost(), spec.horizon, spec.u_lower, spec.u_upper,
                 max_iter=max_iter)


@pytest.mark.filterwarnings("ignore::dilqr_rl.control.UnconvergedWarning")  # two iterations: warm starts differ
def test_mpc_policy_resets_the_warm_start_per_row():
    planner = _dilqr()
    mpc = MPCPolicy(planner)
    x = torch.tensor([[-0.2, 0.1], [-0.2, 0.1]], dtype=torch.float64)  # the same state in both rows
    plans = np.full((2, planner.config.horizon, 1), 1.5)  # a warm start far from the zero cold start
    actions, next_plans = mpc.predict(x.numpy(), plans, episode_start=np.array([True, False]))
    with torch.no_grad():
        cold = planner(x[:1]).u  # row 0 starts an episode: solved from zero controls
        warm = planner(x[1:], u_init=torch.from_numpy(plans[1:])).u  # row 1 keeps its warm start
    np.testing.assert_allclose(actions, torch.cat([cold, warm])[:, 0].numpy().astype(np.float32))
    np.testing.assert_allclose(next_plans, shift_plan(torch.cat([cold, warm])).numpy())
    assert abs(float(actions[0, 0] - actions[1, 0])) > 0.1  # two iterations: the warm start shows
    with pytest.raises(ValueError, match=r"episode_start must hold one flag per observation \(B = 2\); got 3"):
        mpc.predict(x.numpy(), plans, episode_start=np.array([True, False, False]))
