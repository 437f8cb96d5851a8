"""Datasets print as a summary, not as every tensor."""

from __future__ import annotations

from dilqr_rl.data import collect_episodes, collect_plans


def test_datasets_print_a_summary():
    plans = collect_plans("pendulum-upright", n_train=2, n_val=1, n_test=1, progress=False)
    assert repr(plans) == "PlanDataset('pendulum-upright', horizon 20, train 2, val 1, test 1)"
    assert repr(plans.split("train")) == "PlanSplit(2 plans, x (2, 20, 2), u (2, 20, 1))"
    episodes = collect_episodes("dilqr_rl/Pendulum-v0", 2, progress=False, max_episode_steps=3)
    assert str(episodes) == "EpisodeDataset('dilqr_rl/Pendulum-v0', 2 episodes, 6 transitions, with states)"
