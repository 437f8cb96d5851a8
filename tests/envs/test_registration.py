"""Every registered id: Gymnasium's and SB3's env checkers, rendering, seeding, time limits, make_env."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from dilqr_rl.envs import ENV_IDS, InvertedPendulumStateAdapter, make_env
from dilqr_rl.envs.headless import use_egl_when_headless
from tests import SUBPROCESS_TIMEOUT_S

ALL_IDS = [*ENV_IDS, "InvertedPendulum-v5"]
TIME_LIMITS = {
    "dilqr_rl/Pendulum-v0": 200,
    "dilqr_rl/CartpoleSwingUp-v0": 500,
    "dilqr_rl/CartpoleBalance-v0": 500,
    "dilqr_rl/PixelPendulum-v0": 200,
}
# Our actions are in physical units (torque, newtons) so experts and models share them; both checkers
# recommend [-1, 1] (they say the same of Pendulum-v1). That recommendation is the only warning allowed.
NORMALIZED_ACTION_ADVICE = "symmetric and normalized"
# The adapter is a wrapper by design and observes unbounded states (positions, velocities).
ADAPTER_ADVICE = (NORMALIZED_ACTION_ADVICE, "is different from the unwrapped version",
                  "space minimum value is -infinity", "space maximum value is infinity")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_checkers_pass_without_other_warnings(env_id: str) -> None:
    env = gym.make(env_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
        sb3_check_env(env.unwrapped)
    others = [str(w.message) for w in caught if NORMALIZED_ACTION_ADVICE not in str(w.message)]
    assert others == []


def test_checkers_pass_on_the_inverted_pendulum_adapter() -> None:
    """Our ``InvertedPendulumStateAdapter`` (states, forces) over MuJoCo's InvertedPendulum-v5.

    MuJoCo's "human" render mode needs a display, so its render check is ``test_rgb_array_render_headless``;
    Gymnasium's close check re-makes the env from its spec, which cannot rebuild the adapter, so closing twice
    is checked here on the adapter itself.
    """
    env = InvertedPendulumStateAdapter(gym.make("InvertedPendulum-v5").unwrapped)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True, skip_close_check=True)
        sb3_check_env(env)
    others = [str(w.message) for w in caught if not any(a in str(w.message) for a in ADAPTER_ADVICE)]
    assert others == []
    env.close()
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_rgb_array_render_headless(env_id: str) -> None:
    env = make_env(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[0] >= 64 and frame.shape[1] >= 64
    assert frame.min() < frame.max()  # something is drawn
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_seeded_episodes_are_reproducible(env_id: str) -> None:
    def rollout(seed: int) -> list[np.ndarray]:
        env = make_env(env_id)
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        trajectory = [obs]
        for _ in range(10):
            obs, *_ = env.step(env.action_space.sample())
            trajectory.append(obs)
        return trajectory

    first, again, other = rollout(4), rollout(4), rollout(5)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_registered_time_limit(env_id: str) -> None:
    env = gym.make(env_id)
    assert env.spec.max_episode_steps == TIME_LIMITS[env_id]
    assert env.unwrapped.max_episode_steps is None  # the TimeLimit wrapper counts, not the env
    env.reset(seed=0)
    steps, truncated, terminated = 0, False, False
    while not (truncated or terminated):
        _, _, terminated, truncated, _ = env.step(np.zeros(1, dtype=np.float32))
        steps += 1
    assert truncated or env_id == "dilqr_rl/CartpoleBalance-v0"  # unactuated balance falls first
    assert steps == TIME_LIMITS[env_id] or terminated


def test_make_overrides_time_limit_and_forwards_physics() -> None:
    env = gym.make("dilqr_rl/Pendulum-v0", max_episode_steps=300, mass=2.0)
    env.reset(seed=0)
    flags = [env.step(np.zeros(1, dtype=np.float32))[3] for _ in range(300)]
    assert flags.index(True) == 299
    assert env.unwrapped.physics["mass"] == 2.0


def test_make_env_accepts_gymnasium_ids() -> None:
    assert make_env("Pendulum-v1").unwrapped.__class__.__name__ == "PendulumEnv"
    assert make_env("dilqr_rl/CartpoleBalance-v0").unwrapped.task.value == "balance"


def test_make_env_rejects_unknown_ids() -> None:
    with pytest.raises(ValueError, match=r"unknown environment id 'Pendulum-v9'; this package registers"):
        make_env("Pendulum-v9")


def test_egl_is_chosen_only_when_headless_and_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    use_egl_when_headless()
    assert os.environ["MUJOCO_GL"] == "egl"
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    use_egl_when_headless()
    assert os.environ["MUJOCO_GL"] == "osmesa"
    monkeypatch.delenv("MUJOCO_GL")
    monkeypatch.setenv("DISPLAY", ":0")
    use_egl_when_headless()
    assert "MUJOCO_GL" not in os.environ


def test_gymnasium_makes_our_ids_in_a_fresh_interpreter_without_importing_us() -> None:
    """Gymnasium >= 1.0 loads no plugins (no ``gymnasium.envs`` entry points): an id prefixed with the module
    that registers it, ``"dilqr_rl.envs:dilqr_rl/Pendulum-v0"``, is Gymnasium's way to make it without an
    import; every one of our ids works so, and registering again (our import after it) is harmless."""
    code = ("import warnings, gymnasium; warnings.simplefilter('error'); "
            "envs = [gymnasium.make(f'dilqr_rl.envs:{i}') for i in "
            "('dilqr_rl/Pendulum-v0', 'dilqr_rl/CartpoleSwingUp-v0', 'dilqr_rl/CartpoleBalance-v0', "
            "'dilqr_rl/PixelPendulum-v0')]; "
            "import dilqr_rl.envs; dilqr_rl.envs.register_envs(); "
            "print(envs[0].spec.id, envs[0].reset(seed=0)[0].shape, sorted(dilqr_rl.envs.ENV_IDS) == "
            "sorted(e.spec.id for e in envs))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["dilqr_rl/Pendulum-v0", "(3,)", "True"]
