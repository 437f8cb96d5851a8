"""Single-step cloning of any policy from episodes: splits, targets, the trial function, checkpoints, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dilqr_rl.agents.clone import Cloner, clone_from_episodes
from dilqr_rl.agents.clone_config import CloneConfig
from dilqr_rl.agents.clone_data import episode_masks, future_actions, padded_episodes
from dilqr_rl.agents.clone_policies import load_clone_policy
from dilqr_rl.agents.clone_trainers import DiLQRCloneTrainer
from dilqr_rl.agents.evaluation import evaluate_episodes, load_policy
from dilqr_rl.agents.reference_returns import Reference
from dilqr_rl.data import collect_episodes
from dilqr_rl.envs import make_env

ENV_ID = "Pendulum-v1"
STEPS = 15
REFERENCE = Reference(random=-100.0, expert=-10.0, episodes=2, seed=100)
"""Made-up reference returns: these tests check the bookkeeping, not the figures."""


@pytest.fixture(scope="module")
def episodes():
    return collect_episodes(ENV_ID, 4, seed=0, progress=False, max_episode_steps=STEPS)


def test_episode_masks_split_whole_episodes_and_refuse_too_few():
    ids = np.repeat(np.arange(5), 3)
    train, val, test = episode_masks(ids, 0.2, 0.2, seed=0)
    assert (train.astype(int) + val + test == 1).all()
    for mask in (train, val, test):  # whole episodes
        assert set(np.unique(ids[mask])).isdisjoint(np.unique(ids[~mask]))
    assert np.unique(ids[val]).size == 1 and np.unique(ids[test]).size == 1
    _, _, none = episode_masks(ids, 0.2, 0.0, seed=0)
    assert not none.any()
    with pytest.raises(ValueError, match=r"the data has 2 episode\(s\) but cloning splits by episode and needs at "
                                         r"least 3 \(train, val, test\): collect more episodes, or set "
                                         r"test_fraction 0"):
        episode_masks(np.repeat(np.arange(2), 3), 0.2, 0.2, seed=0)
    with pytest.raises(ValueError, match=r"need 0 < val_fraction < 1 and 0 <= test_fraction < 1; got 0.0 and 0.2"):
        episode_masks(ids, 0.0, 0.2, seed=0)


def test_future_actions_stay_inside_each_episode():
    actions = np.arange(5, dtype=np.float64)[:, None]  # two episodes: rows 0..2 and 3..4
    future, mask = future_actions(actions, np.array([0, 0, 0, 1, 1]), horizon=3)
    np.testing.assert_array_equal(future[..., 0], [[0, 1, 2], [1, 2, 2], [2, 2, 2], [3, 4, 4], [4, 4, 4]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 0, 0]])


def test_padded_episodes_mask_the_padding():
    obs = np.arange(5, dtype=np.float64)[:, None]
    out_obs, out_act, valid = padded_episodes(obs, obs, np.array([0, 0, 0, 1, 1]), np.ones(5, dtype=bool))
    assert out_obs.shape == (2, 3, 1) and out_act.shape == (2, 3, 1)
    np.testing.assert_array_equal(valid.numpy(), [[1, 1, 1], [1, 1, 0]])
    np.testing.assert_array_equal(out_obs[1, :, 0].numpy(), [3, 4, 0])


@pytest.mark.parametrize("policy", ["dilqr", "mlp", "lstm"])
def test_clone_from_episodes_reports_and_saves_what_it_evaluated(policy, episodes, tmp_path):
    config = CloneConfig(policy=policy, epochs=2, eval_episodes=2, eval_seed=100, progress=False)
    metrics = clone_from_episodes(episodes, config, run_dir=tmp_path, reference=REFERENCE)
    assert metrics["demonstrations"] == 4 and metrics["expert_labels"] == 4 * STEPS
    assert metrics["normalized_return"] == pytest.approx((metrics["return"] + 100.0) / 90.0)
    assert metrics["normalized_untrained"] == pytest.approx((metrics["untrained_return"] + 100.0) / 90.0)
    assert metrics["train_seconds"] > 0 and 1 <= metrics["best_epoch"] <= 2
    loaded = load_clone_policy(metrics["checkpoint"])
    env = make_env(ENV_ID, max_episode_steps=STEPS)
    try:
        assert type(load_policy(metrics["checkpoint"], env)) is type(loaded)
    finally:
        env.close()
    again = evaluate_episodes(loaded, lambda: make_env(ENV_ID, max_episode_steps=STEPS), 2, 100)
    assert again.mean_return == pytest.approx(metrics["return"], rel=1e-6)  # the saved policy is the evaluated one
    if policy == "dilqr":
        assert metrics["physics_start"] == pytest.approx({"mass": 1.3, "length": 0.7, "gravity": 13.0})
        assert metrics["physics_true"] == {"mass": 1.0, "length": 1.0, "gravity": 10.0}
        assert metrics["physics_learned"] != metrics["physics_start"]
        assert float(loaded.dynamics.mass) == pytest.approx(metrics["physics_learned"]["mass"])
    else:
        assert "physics_learned" not in metrics


def test_the_dilqr_clone_learns_the_cost_when_asked(episodes):
    cloner = Cloner(ENV_ID, CloneConfig(learn=("cost",), epochs=1, progress=False))
    weights = cloner.policy.cost.log_w.detach().clone()
    physics = cloner.physics()
    cloner.fit(episodes.observations, episodes.actions, episodes.episode)
    assert not torch.equal(cloner.policy.cost.log_w.detach(), weights) and cloner.physics() == physics


def test_the_plan_loss_reaches_the_physics(episodes):
    cloner = Cloner(ENV_ID, CloneConfig(loss="plan", model_error=("mass=0.5",), epochs=1, progress=False))
    assert cloner.physics()["mass"] == pytest.approx(1.5)
    result = cloner.fit(episodes.observations, episodes.actions, episodes.episode)
    assert cloner.physics()["mass"] != pytest.approx(1.5) and np.isfinite(result.best_val_loss)


def test_the_default_huber_loss_counts_a_plan_that_goes_the_other_way_linearly(episodes):
    """The DiLQR clone's default loss, by hand: Huber of (u_1 - a) / 2 (Pendulum-v1's half range, |u| <= 2) with
    threshold 0.1: an error of 0.1 is squared, one of the whole range (4) linear, 80x and not 1600x the first."""
    cloner = Cloner(ENV_ID, CloneConfig(epochs=1, progress=False))
    assert cloner.config.loss == "huber"
    trainer = DiLQRCloneTrainer(cloner.policy, cloner.spec, cloner.config.bc_config(None))
    obs = torch.as_tensor(episodes.observations[:3], dtype=torch.float64)
    with torch.no_grad():
        u1 = cloner.policy(obs)
    errors = torch.tensor([[0.1], [4.0], [-0.5]], dtype=torch.float64)
    loss, diag = trainer.item_loss((obs, u1 - errors))
    by_hand = [0.5 * 0.05 ** 2, 0.1 * (2.0 - 0.05), 0.1 * (0.25 - 0.05)]
    assert loss.detach().tolist() == pytest.approx(by_hand, rel=1e-9)
    assert 0.0 <= diag["bc/saturated_fraction"] <= 1.0
    squared = DiLQRCloneTrainer(cloner.policy, cloner.spec, cloner.config.bc_config(None), loss="first")
    assert squared.item_loss((obs, u1 - errors))[0].detach().tolist() == pytest.approx([0.01, 16.0, 0.25])


def test_the_huber_loss_refuses_an_actor_without_control_bounds():
    cloner = Cloner(ENV_ID, CloneConfig(epochs=1, progress=False))
    controller = cloner.policy.controller
    controller.u_lower, controller.u_upper = (torch.full_like(b, v) for b, v in
                                              ((controller.u_lower, -float("inf")), (controller.u_upper, float("inf"))))
    with pytest.raises(ValueError, match=r"loss='huber' measures u_1's error in units of the control's half range, "
                                         r"and this actor's control bounds are infinite: use loss='first'"):
        DiLQRCloneTrainer(cloner.policy, cloner.spec, cloner.config.bc_config(None))


@pytest.mark.parametrize(("settings", "message"), [
    (dict(policy="cnn"), "policy='cnn': expected one of dilqr, mlp, lstm"),
    (dict(loss="last"), "loss='last': expected one of huber, first, plan"),
    (dict(learn=("mass",)), "learn='mass': expected one or more of physics, cost"),
    (dict(learn=()), "learn names nothing; expected one or more of physics, cost"),
    (dict(policy="mlp", model_error=("mass=0.3",)),
     "model_error sets the DiLQR actor, and policy=mlp has none: drop it, or use policy=dilqr"),
    (dict(policy="lstm", loss="plan"), "loss sets the DiLQR actor, and policy=lstm has none"),
    (dict(model_error=("mass",)), "model_error 'mass' is not NAME=REL"),
    (dict(model_error=("mass=-1",)), "model_error 'mass=-1': the relative error must be a finite number > -1"),
    (dict(model_error=("mass=1", "mass=2")), "model_error names mass twice"),
    (dict(epochs=0), "epochs=0: must be >= 1"),
    (dict(batch_size=-1), "batch_size=-1: must be >= 1"),
    (dict(lr=0.0), "lr=0.0: must be > 0"),
    (dict(hidden_sizes=(8, 0)), "hidden_sizes must be >= 1; got 8 0"),
    (dict(eval_episodes=-1), "eval_episodes must be >= 0"),
    (dict(val_fraction=1.0), "need 0 < val_fraction < 1 and 0 <= test_fraction < 1; got 1.0 and 0.0"),
    (dict(lr_schedule="step"), "unknown lr_schedule 'step'"),
])
def test_config_errors(settings, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CloneConfig(**settings)


def test_an_unknown_physical_parameter_is_refused_when_the_policy_is_built():
    with pytest.raises(ValueError, match=r"unknown physical parameter\(s\) \['mas'\] of PendulumDynamics"):
        Cloner(ENV_ID, CloneConfig(model_error=("mas=0.3",), progress=False))


def test_the_light_configs_name_what_the_library_accepts():
    """clone_config imports no torch, so it repeats two tuples of the library: they must stay equal."""
    from dilqr_rl.agents import bc, clone_config
    from dilqr_rl.policies import dilqr_clone

    assert clone_config.LEARNABLE == dilqr_clone.LEARNABLE and clone_config.LR_SCHEDULES == bc.LR_SCHEDULES
