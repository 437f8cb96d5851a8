"""The env registry's changed-physics and wide-start envs (the ``rl`` study's robustness test): every state-based id
has them, scaling changes every mass and length, and wide starts leave the training starts."""

from __future__ import annotations

import numpy as np
import pytest

from dilqr_rl.policies.env_registry import STATE_ENV_IDS, make_env, perturbations_of, perturbed_env


def test_every_state_based_id_has_perturbations_and_an_unknown_one_is_refused():
    for env_id in STATE_ENV_IDS:
        assert "training" in perturbations_of(env_id).wide_starts
    with pytest.raises(ValueError, match=r"no changed-physics .* .dilqr_rl/PixelPendulum-v0.*registered for: "
                                         "Pendulum-v1"):
        perturbations_of("dilqr_rl/PixelPendulum-v0")
    with pytest.raises(ValueError, match=r"scale=0\.0: must be a positive number"):
        perturbed_env("Pendulum-v1", 0.0)


def test_scaling_changes_every_mass_and_length():
    with perturbed_env("Pendulum-v1", 0.7) as env:
        assert (env.unwrapped.m, env.unwrapped.l) == pytest.approx((0.7, 0.7))
    with perturbed_env("dilqr_rl/Pendulum-v0", 1.3) as env:
        physics = env.unwrapped.dynamics
        values = [float(physics.get_parameter(name).detach()) for name in ("mass", "length", "gravity")]
        assert values == pytest.approx([1.3, 1.3, 10.0])
    for env_id in ("dilqr_rl/CartpoleSwingUp-v0", "dilqr_rl/CartpoleBalance-v0"):
        with perturbed_env(env_id, 1.3) as env:
            physics = env.unwrapped._physics
            assert (physics["cart_mass"], physics["pole_mass"], physics["length"]) == pytest.approx((1.3, 0.13, 0.65))
    with perturbed_env("InvertedPendulum-v5") as nominal, perturbed_env("InvertedPendulum-v5", 1.3) as scaled:
        a, b = nominal.unwrapped.model, scaled.unwrapped.model
        np.testing.assert_allclose(b.body_mass, 1.3 * a.body_mass)
        np.testing.assert_allclose(b.geom_size[a.geom("cpole").id, 1], 1.3 * a.geom_size[a.geom("cpole").id, 1])
        np.testing.assert_allclose(b.body_inertia[a.body("pole").id], 1.3**3 * a.body_inertia[a.body("pole").id])


def _start_states(env_id: str, wide: bool) -> np.ndarray:
    """The first observation of episodes seeded 0..19, as states where the env has them."""
    with (perturbed_env(env_id, wide=True) if wide else make_env(env_id)) as env:
        out = []
        for seed in range(20):
            obs = env.reset(seed=seed)[0]
            state = getattr(env.unwrapped, "state", None)
            out.append(np.asarray(obs if state is None or env_id == "Pendulum-v1" else state, dtype=float))
    return np.stack(out)


@pytest.mark.parametrize("env_id", STATE_ENV_IDS)
def test_wide_starts_leave_the_training_starts_and_are_seeded(env_id):
    training, wide = _start_states(env_id, wide=False), _start_states(env_id, wide=True)
    assert (np.abs(wide).max(axis=0) > 2 * np.abs(training).max(axis=0)).any()
    np.testing.assert_array_equal(wide, _start_states(env_id, wide=True))
