import numpy as np
import pytest

from dilqr_rl.agents.bc import BCConfig
from dilqr_rl.agents.bc_step import StepBCTrainer, StepPolicySpec, build_step_policy, load_step_policy, split_episodes


def linear_expert_data(seed=0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(400, 3)).astype(np.float32)
    actions = np.clip(obs @ np.array([[0.5], [-0.3], [0.2]], dtype=np.float32), -1, 1)
    return obs, actions, np.repeat(np.arange(8), 50)


def test_step_bc_fits_an_expert_and_the_checkpoint_loads_back(tmp_path):
    obs, actions, ids = linear_expert_data()
    train, val = split_episodes(obs, actions, ids, val_fraction=0.25, seed=0)
    assert train[0].shape[0] == 300 and val[0].shape[0] == 100
    spec = StepPolicySpec(obs_dim=3, action_dim=1, action_low=(-1.0,), action_high=(1.0,), hidden_sizes=(32,))
    policy = build_step_policy(spec)
    cfg = BCConfig(epochs=40, batch_size=64, optimizer="adam", lr=1e-2, progress=False,
                   checkpoint_dir=str(tmp_path))
    trainer = StepBCTrainer(policy, spec, cfg)
    before = trainer.evaluate(val)[0]
    result = trainer.fit(train, val)
    assert result.best_val_loss < 0.1 * before
    loaded = load_step_policy(tmp_path / "best.pt")
    np.testing.assert_allclose(loaded.predict(obs[:5])[0], policy.predict(obs[:5])[0], rtol=1e-6)


def test_split_errors():
    obs, actions, ids = linear_expert_data()
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\)"):
        split_episodes(obs, actions, ids, val_fraction=1.0, seed=0)
    with pytest.raises(ValueError, match="need at least 2 episodes"):
        split_episodes(obs, actions, np.zeros(400, dtype=int), val_fraction=0.5, seed=0)


def test_loading_a_sequence_checkpoint_as_a_step_policy_fails(tmp_path):
    from dilqr_rl.agents.bc import save_checkpoint
    save_checkpoint(tmp_path / "best.pt", {"spec": {"kind": "lstm"}, "policy": {}})
    with pytest.raises(ValueError, match="was not written by single-step BC"):
        load_step_policy(tmp_path / "best.pt")
