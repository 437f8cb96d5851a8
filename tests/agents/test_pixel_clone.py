"""Cloning from pixels: every policy kind reads the frames through the env's keypoint state map, the state loss
reaches it, the DiLQR actor's physics wait for the encoder, DAgger keeps the true states, checkpoints evaluate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dilqr_rl.agents.clone import Cloner, clone_from_episodes
from dilqr_rl.agents.clone_config import CloneConfig, DaggerConfig
from dilqr_rl.agents.clone_policies import load_clone_policy
from dilqr_rl.agents.clone_trainers import DiLQRCloneTrainer
from dilqr_rl.agents.dagger import run_dagger
from dilqr_rl.agents.evaluation import evaluate_episodes
from dilqr_rl.agents.reference_returns import Reference
from dilqr_rl.data import collect_episodes
from dilqr_rl.envs import make_env
from dilqr_rl.policies.pixel_state import KeypointPendulumMap

ENV_ID = "dilqr_rl/PixelPendulum-v0"
KWARGS = {"size": 16, "max_episode_steps": 12}
REFERENCE = Reference(random=-100.0, expert=-10.0, episodes=2, seed=100)
"""Made-up reference returns: these tests check the bookkeeping, not the figures."""


@pytest.fixture(scope="module")
def episodes():
    return collect_episodes(ENV_ID, 3, seed=0, progress=False, **KWARGS)


@pytest.mark.parametrize("policy", ["dilqr", "mlp", "lstm"])
def test_every_policy_clones_from_pixels_through_the_keypoint_map_and_evaluates_as_saved(policy, episodes, tmp_path):
    assert episodes.observations.dtype == np.uint8 and episodes.has_states
    config = CloneConfig(policy=policy, epochs=2, eval_episodes=2, eval_seed=100, progress=False)
    cloner = Cloner(ENV_ID, config, KWARGS)
    assert cloner.config.state_weight == 10.0  # images: the state regression is on by default
    assert cloner.config.model_warmup == (1 if policy == "dilqr" else None)
    state_map = cloner.policy.state_map if policy == "dilqr" else cloner.policy.encoder.map
    assert isinstance(state_map, KeypointPendulumMap)
    before = [p.detach().clone() for p in state_map.parameters()]
    metrics = clone_from_episodes(episodes, config, KWARGS, run_dir=tmp_path, reference=REFERENCE, cloner=cloner)
    assert any(not torch.equal(a, p) for a, p in zip(before, state_map.parameters()))
    loaded = load_clone_policy(metrics["checkpoint"])
    again = evaluate_episodes(loaded, lambda: make_env(ENV_ID, **KWARGS), 2, 100)
    assert again.mean_return == pytest.approx(metrics["return"], rel=1e-6)


def test_the_state_loss_is_logged_and_the_physics_wait_for_the_encoder(episodes):
    cloner = Cloner(ENV_ID, CloneConfig(epochs=2, model_warmup=2, progress=False), KWARGS)
    result = cloner.fit(episodes.observations, episodes.actions, episodes.episode, states=episodes.states)
    assert result.history["param/mass"] == [1.3, 1.3]  # held while the encoder trained
    assert all(np.isfinite(result.history["bc/state_mse"])) and result.history["bc/state_mse"][0] > 0
    assert all(p.requires_grad for p in cloner.policy.dynamics.parameters())  # free again for the next fit
    trainer = DiLQRCloneTrainer(cloner.policy, cloner.spec, cloner.config.bc_config(None), model_warmup=1)
    trainer.on_epoch_start(0)
    assert not any(p.requires_grad for p in cloner.policy.dynamics.parameters())
    trainer.on_epoch_start(1)
    assert all(p.requires_grad for p in cloner.policy.dynamics.parameters())


def test_the_state_loss_needs_states_and_a_learned_map(episodes):
    cloner = Cloner(ENV_ID, CloneConfig(epochs=1, progress=False), KWARGS)
    with pytest.raises(ValueError, match=r"these episodes have none.*or set state_weight 0"):
        cloner.fit(episodes.observations, episodes.actions, episodes.episode)
    state_env = Cloner("dilqr_rl/Pendulum-v0", CloneConfig(epochs=1, state_weight=1.0, progress=False))
    with pytest.raises(ValueError, match="has none \\(it observes states\\): set state_weight 0"):
        state_env.fit(np.zeros((4, 3)), np.zeros((4, 1)), np.array([0, 0, 1, 1]), states=np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"state_weight=-1\.0: must be a finite number >= 0"):
        CloneConfig(state_weight=-1.0)


def test_dagger_from_pixels_relabels_with_the_true_state_and_keeps_it(episodes):
    config = DaggerConfig(rounds=1, episodes_per_round=1, epochs=1, eval_episodes=0, progress=False)
    out = run_dagger(episodes, config, KWARGS)
    assert [row["expert_labels"] for row in out["rounds"]] == [36, 48]
    assert set(out["physics_learned"]) == {"mass", "length", "gravity"}
