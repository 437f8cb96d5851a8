"""The pixel-pendulum policies in Stable-Baselines3: DiLQR planning head and CNN-MLP with the same encoder;
save/load through ``PPO.load`` and ``predict``, PPO fine-tuning, and the gradient of the first control."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from dilqr_rl.envs import make_env
from dilqr_rl.policies.image_models import ImageEncoder
from dilqr_rl.policies.pixel_policies import POLICY_CLASSES, ImageFeatures, pixel_dilqr_kwargs, pixel_mlp_kwargs

ENV = "dilqr_rl/PixelPendulum-v0"


def _model(kind: str) -> PPO:
    venv = DummyVecEnv([lambda: make_env(ENV, size=32, max_episode_steps=16)])
    shape = venv.observation_space.shape
    kwargs = pixel_dilqr_kwargs(shape, horizon=4, max_iter=3) if kind == "dilqr" else pixel_mlp_kwargs(8)
    return PPO(POLICY_CLASSES[kind], venv, policy_kwargs=kwargs, n_steps=16, batch_size=16, n_epochs=1, seed=0,
               device="cpu")


@pytest.mark.parametrize("kind", ["dilqr", "mlp"])
def test_saved_pixel_policy_loads_and_predicts_the_same_actions(tmp_path, kind):
    model = _model(kind)
    assert isinstance(model.policy.features_extractor.encoder if kind == "mlp"
                      else model.policy.features_extractor[0], ImageEncoder)
    obs = np.stack([make_env(ENV, size=32).reset(seed=s)[0] for s in range(3)])  # (3, 4, 32, 32) uint8
    before, _ = model.predict(obs, deterministic=True)
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip", device="cpu")
    after, _ = loaded.predict(obs, deterministic=True)
    assert after.shape == (3, 1) and np.all(np.abs(after) <= 2.0)
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-6)
    if kind == "dilqr":
        dynamics = loaded.policy.controller.dynamics
        assert (dynamics.mass.item(), dynamics.gravity.item()) == pytest.approx((1.3, 7.0))
        assert not dynamics.length.requires_grad


def test_dilqr_pixel_policy_fine_tunes_with_ppo():
    model = _model("dilqr")
    encoder = model.policy.features_extractor[0]
    before = [p.detach().clone() for p in encoder.parameters()]
    mass = model.policy.controller.dynamics.mass.item()
    model.learn(16)
    changed = [not torch.equal(a, p) for a, p in zip(before, encoder.parameters())]
    assert any(changed), "PPO's update did not reach the image encoder"
    assert model.policy.controller.dynamics.mass.item() != mass


def test_image_features_output_size_and_encoder_errors():
    model = _model("mlp")
    assert isinstance(model.policy.features_extractor, ImageFeatures)
    assert model.policy.features_extractor.features_dim == 8
    with pytest.raises(ValueError, match=r"must be positive multiples of 32; got \(C, H, W\) = \(4, 48, 48\)"):
        pixel_dilqr_kwargs((4, 48, 48))
