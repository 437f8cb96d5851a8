"""DAgger: the labels are the expert's actions on the learner's states; the mixture; rounds and label counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dilqr_rl.agents.clone import Cloner
from dilqr_rl.agents.clone_config import DILQR_ROUND_LR_SCALE, POLICY_KINDS, CloneConfig, DaggerConfig
from dilqr_rl.agents.clone_policies import load_clone_policy
from dilqr_rl.agents.dagger import aggregate, rollout_labelled, run_dagger
from dilqr_rl.agents.reference_returns import Reference
from dilqr_rl.data import EpisodeDataset, collect_episodes
from dilqr_rl.envs import make_env
from dilqr_rl.policies import expert_for

STEPS = 12


def rollout(env_id: str, learner, beta: float, seeds=(7, 8)):
    envs = [make_env(env_id, max_episode_steps=STEPS) for _ in seeds]
    try:
        return rollout_labelled(learner, expert_for(envs[0]), envs, list(seeds), beta, np.random.default_rng(0))
    finally:
        for env in envs:
            env.close()


def replay_expert(env_id: str, observations: np.ndarray, states: np.ndarray | None) -> np.ndarray:
    """A fresh expert's best answers along the given states of one episode (each its cold solve or the warm one
    from its previous plan, whichever is cheaper)."""
    env = make_env(env_id)
    expert = expert_for(env)
    env.close()
    x = expert.obs_to_state(observations) if states is None else states
    plan, labels = None, []
    for t in range(len(observations)):
        action, plan = expert.relabel_state(torch.from_numpy(np.asarray(x[t : t + 1], dtype=np.float64)), plan)
        labels.append(action[0])
    return np.asarray(labels)


@pytest.mark.parametrize(("env_id", "kind"), [("Pendulum-v1", "mlp"), ("dilqr_rl/Pendulum-v0", "lstm")])
def test_the_labels_are_the_experts_actions_on_the_learners_states(env_id, kind):
    """Pendulum-v1 reports no state (the expert reads the observation); dilqr_rl/Pendulum-v0 does (info["state"])."""
    learner = Cloner(env_id, CloneConfig(policy=kind, progress=False)).policy  # untrained: far from the expert
    arrays, returns = rollout(env_id, learner, beta=0.0)
    assert not arrays["expert_acted"].any() and returns.shape == (2,)
    env = make_env(env_id, max_episode_steps=STEPS)
    try:
        for e, seed in enumerate((7, 8)):
            rows = arrays["episode"] == e
            obs = arrays["observations"][rows]
            states = None
            if env_id != "Pendulum-v1":  # the true states along the learner's own trajectory
                _, info = env.reset(seed=seed)
                states = [info["state"]]
                for action in arrays["applied"][rows][:-1]:
                    states.append(env.step(action)[4]["state"])
                states = np.asarray(states)
            np.testing.assert_array_equal(arrays["actions"][rows], replay_expert(env_id, obs, states))
            own, state = [], None
            for t in range(len(obs)):  # the learner alone acted (beta = 0), its hidden state carried
                action, state = learner.predict(obs[t : t + 1], state, episode_start=np.array([t == 0]))
                own.append(action[0])
            np.testing.assert_allclose(arrays["applied"][rows], np.asarray(own), rtol=1e-6)
    finally:
        env.close()
    assert not np.allclose(arrays["applied"], arrays["actions"])  # the learner's states are its own, not the expert's


def test_beta_one_lets_the_expert_drive_with_its_labels():
    learner = Cloner("dilqr_rl/Pendulum-v0", CloneConfig(policy="mlp", progress=False)).policy
    arrays, returns = rollout("dilqr_rl/Pendulum-v0", learner, beta=1.0, seeds=(3, 4))
    assert arrays["expert_acted"].all()
    np.testing.assert_array_equal(arrays["applied"], arrays["actions"])
    demos = collect_episodes("dilqr_rl/Pendulum-v0", 2, seed=3, progress=False, max_episode_steps=STEPS)
    np.testing.assert_array_equal(arrays["observations"][arrays["episode"] == 0][0], demos.observations[0])
    assert returns.mean() > 1.5 * demos.episode_returns().mean()  # close to the expert (returns are negative)


def test_aggregate_appends_renumbered_episodes():
    data = EpisodeDataset("x", {"observations": np.zeros((4, 1)), "actions": np.zeros((4, 1)),
                                "rewards": np.zeros(4), "episode": np.array([0, 0, 1, 1])})
    more = {"observations": np.ones((3, 1)), "actions": np.ones((3, 1)), "rewards": np.ones(3),
            "episode": np.array([0, 1, 1]), "applied": np.ones((3, 1))}
    out = aggregate(data, more)
    np.testing.assert_array_equal(out.episode, [0, 0, 1, 1, 2, 3, 3])
    assert out.n_episodes == 4 and "applied" not in out.arrays and len(out.observations) == 7


def test_run_dagger_counts_labels_per_round_and_saves_the_learner(tmp_path):
    demos = collect_episodes("Pendulum-v1", 2, seed=0, progress=False, max_episode_steps=STEPS)
    config = DaggerConfig(policy="dilqr", rounds=2, episodes_per_round=2, beta0=0.5, epochs=1, eval_episodes=2,
                          eval_seed=100, progress=False)
    metrics = run_dagger(demos, config, run_dir=tmp_path, reference=Reference(-100.0, -10.0, 2, 100))
    rounds = metrics["rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2] and [r["beta"] for r in rounds] == [1.0, 0.5, 0.25]
    assert [r["expert_labels"] for r in rounds] == [2 * STEPS, 4 * STEPS, 6 * STEPS]
    assert metrics["expert_labels"] == 6 * STEPS and metrics["return"] == rounds[-1]["return"]
    assert all("rollout_return" in r for r in rounds[1:]) and all("physics" in r for r in rounds)
    assert all((tmp_path / "checkpoints" / f"round_{k}" / "best.pt").is_file() for k in range(3))
    loaded = load_clone_policy(metrics["checkpoint"])
    assert float(loaded.dynamics.mass) == pytest.approx(metrics["physics_learned"]["mass"])


def test_later_rounds_retrain_at_the_kinds_round_learning_rate():
    config = DaggerConfig(policy="dilqr", rounds=2, episodes_per_round=1, epochs=1, eval_episodes=0, progress=False)
    assert config.round_lr() == DILQR_ROUND_LR_SCALE == 0.25
    assert DaggerConfig(policy="mlp").round_lr() == 1.0 and DaggerConfig(round_lr_scale=0.5).round_lr() == 0.5
    assert config.bc_config(None, lr_scale=0.25).lr == pytest.approx(0.25 * POLICY_KINDS["dilqr"].lr)
    demos = collect_episodes("Pendulum-v1", 2, seed=0, progress=False, max_episode_steps=STEPS)
    scales = []

    class Recording(Cloner):
        def fit(self, *args, lr_scale: float = 1.0, **kwargs):
            scales.append(lr_scale)
            return super().fit(*args, lr_scale=lr_scale, **kwargs)

    run_dagger(demos, config, cloner=Recording(demos.env_id, config, dict(demos.metadata.get("env_kwargs", {}))))
    assert scales == [1.0, 0.25, 0.25]  # round 0 clones at the full rate


@pytest.mark.parametrize(("settings", "message"), [
    (dict(round_lr_scale=0.0), "round_lr_scale=0.0: must be > 0"),
    (dict(rounds=0), "rounds=0: must be >= 1"),
    (dict(episodes_per_round=0), "episodes_per_round=0: must be >= 1"),
    (dict(beta0=1.5), r"beta0=1.5: must be in \[0, 1\]"),
    (dict(policy="cnn"), "policy='cnn': expected one of"),
])
def test_config_errors(settings, message):
    with pytest.raises(ValueError, match=message):
        DaggerConfig(**settings)
