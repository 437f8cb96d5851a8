"""``sysid_every``: the DiLQR actor's physics fitted to the transitions of its own rollouts during actor-critic
training (``RolloutSysId``), on-policy from the rollout buffer, off-policy from the replay buffer; the RL loss
leaves the physics to the fits."""

from __future__ import annotations

import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

from dilqr_rl.agents.rl import RLConfig, train_rl
from dilqr_rl.agents.rl_build import build_model, identified_actor, resolve_hyperparameters
from dilqr_rl.agents.rl_envs import training_venv
from dilqr_rl.agents.rl_sysid import RolloutSysId
from dilqr_rl.cli import main
from dilqr_rl.policies.env_registry import env_control, make_env


def _combinations(params: dict[str, float]) -> tuple[float, float]:
    """What Pendulum-v1's transitions identify: 3 g / (2 l) and 3 / (m l^2) (true: 15, 3)."""
    m, length, g = params["param/mass"], params["param/length"], params["param/gravity"]
    return 1.5 * g / length, 3.0 / (m * length**2)


def _config(tmp_path, algo: str, **over) -> RLConfig:
    tiny = {"ppo": dict(n_steps=64, batch_size=64, n_epochs=2, n_envs=2),
            "sac": dict(learning_starts=64, batch_size=32, buffer_size=1000, train_freq=8, gradient_steps=1),
            "td3": dict(learning_starts=64, batch_size=32, buffer_size=1000, train_freq=8, gradient_steps=1)}[algo]
    kw = dict(env_id="Pendulum-v1", algo=algo, total_timesteps=256, eval_freq=0, eval_episodes=2,
              max_episode_steps=50, checkpoint_freq=0, horizon=5, progress=False, output_dir=str(tmp_path),
              hyperparams=tiny, sysid_every=128)
    return RLConfig(**{**kw, **over})


@pytest.mark.parametrize("algo", ["ppo", "sac", "td3"])
def test_the_fits_identify_the_physics_from_a_wrong_start(tmp_path, algo):
    result = train_rl(_config(tmp_path, algo))
    start, final = result.history[0], result.history[-1]
    assert _combinations(start) == pytest.approx((27.86, 4.71), abs=0.01)  # the default wrong start
    a, b = _combinations(final)
    assert abs(a - 15.0) < 0.05 * abs(27.86 - 15.0) and abs(b - 3.0) < 0.05 * abs(4.71 - 3.0)


def _planning(first) -> tuple:
    """How a ``FirstControl`` plans: (horizon, max_iter, starts, start_switches, follow_tolerance)."""
    return (first.controller.config.horizon, first.controller.config.max_iter, first.starts, first.start_switches,
            first.follow_tolerance)


def _settings(actor) -> tuple:
    return actor.horizon, actor.max_iter, actor.starts, actor.start_switches, actor.follow_tolerance


def test_identified_actor_settings_apply_to_runs_that_identify_their_physics(tmp_path):
    control = env_control(make_env("Pendulum-v1"))
    identified = control.identified_actor
    assert identified_actor(_config(tmp_path, "ppo", horizon=None), control) == identified
    assert identified_actor(_config(tmp_path, "ppo", horizon=7), control).horizon == 7  # an explicit horizon wins
    assert identified_actor(_config(tmp_path, "ppo", sysid_every=0), control) is None
    with make_env("InvertedPendulum-v5") as env:
        assert identified_actor(_config(tmp_path, "ppo", env_id="InvertedPendulum-v5"), env_control(env)) is None


@pytest.mark.parametrize("algo", ["ppo", "td3"])
def test_the_actor_plans_as_the_envs_actor_for_identified_physics_from_the_first_fit_on(tmp_path, algo):
    control = env_control(make_env("Pendulum-v1"))
    registered, identified = _settings(control.actor), _settings(control.identified_actor)
    assert identified[0] > registered[0]
    config = _config(tmp_path, algo, horizon=None, hyperparams={
        "ppo": dict(n_steps=64, batch_size=64, n_epochs=1, n_envs=1),
        "td3": dict(learning_starts=64, batch_size=32, buffer_size=1000, train_freq=64, gradient_steps=1)}[algo])
    model = build_model(config, resolve_hyperparameters(config), training_venv(config, 1))

    def actors(policy) -> list:
        return [policy.action_net] if algo == "ppo" else [policy.actor.first_control, policy.actor_target.first_control]

    planned = []

    class Recorder(BaseCallback):  # how the rollouts' actors planned

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            planned.append({_planning(first) for first in actors(self.model.policy)})

    sysid = RolloutSysId(control, every=128, then_plan_as=control.identified_actor)
    model.learn(192, callback=[Recorder(), sysid])  # rollouts of 64 steps; the third starts with a fit
    assert sysid.fits == 1
    assert planned == [{registered}, {registered}, {identified}]
    plans = [plan for first in actors(model.policy) for plan in first.memory._plans.values()]
    assert plans and all(plan.shape[0] == identified[0] for plan in plans)  # the old plans are forgotten
    model.save(tmp_path / "model.zip")
    loaded = type(model).load(tmp_path / "model.zip")
    assert all(_planning(first) == identified for first in actors(loaded.policy))  # saved with the settings


def test_the_rl_loss_leaves_the_physics_to_the_fits(tmp_path):
    result = train_rl(_config(tmp_path, "ppo", sysid_every=10_000))  # no fit within 256 steps
    assert result.history[-1]["param/mass"] == result.history[0]["param/mass"] == pytest.approx(1.3)
    moved = train_rl(_config(tmp_path, "ppo", sysid_every=0))  # the RL loss trains them
    assert moved.history[-1]["param/mass"] != pytest.approx(1.3, abs=1e-6)


def test_td3s_target_actor_plans_with_the_fitted_physics(tmp_path):
    config = _config(tmp_path, "td3")
    model = build_model(config, resolve_hyperparameters(config), training_venv(config, 1))
    with make_env("Pendulum-v1") as env:
        model.learn(256, callback=RolloutSysId(env_control(env), every=128))
    actor = model.policy.actor.first_control.controller.dynamics
    target = model.policy.actor_target.first_control.controller.dynamics
    assert float(actor.mass) != pytest.approx(1.3)
    for p, q in zip(actor.parameters(), target.parameters()):
        torch.testing.assert_close(q, p, rtol=0, atol=0)


def test_rollout_transitions_skip_the_step_across_an_episode_start(tmp_path):
    config = _config(tmp_path, "ppo", max_episode_steps=10)
    model = build_model(config, resolve_hyperparameters(config), training_venv(config, 2))
    with make_env("Pendulum-v1") as env:
        sysid = RolloutSysId(env_control(env), every=10_000)
    model.learn(128, callback=sysid)  # one rollout: 64 steps x 2 envs, episodes of 10 steps
    obs, _, next_obs = sysid._transitions()
    assert len(obs) == 2 * (64 - 1) - 2 * 6  # 63 pairs per env, less the 6 that cross a reset (steps 10, 20, ...)
    buffer = model.rollout_buffer.observations  # flattened env by env by the update: row e * 64 + t
    torch.testing.assert_close(torch.as_tensor(obs[0]), torch.as_tensor(buffer[0]))  # env 0, steps 0 -> 1
    torch.testing.assert_close(torch.as_tensor(next_obs[0]), torch.as_tensor(buffer[1]))


def test_config_errors():
    for over, message in ((dict(sysid_every=-1), "sysid_every must be >= 0"),
                          (dict(policy="mlp", sysid_every=10), "so it needs policy=dilqr and learn=physics"),
                          (dict(learn=("cost",), sysid_every=10), "got policy=dilqr, learn=cost")):
        with pytest.raises(ValueError, match=message):
            RLConfig(**over)


def test_cli_error_names_the_flags(tmp_path, capsys):
    assert main(["rl", "--policy", "mlp", "--sysid-every", "10", "--output-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == ("error: --sysid-every fits the DiLQR actor's physics, so it needs --policy "
                                       "dilqr and --learn physics (alone or with cost or cost-map); got --policy mlp, "
                                       "--learn physics\n")
    assert not (tmp_path / "runs").exists()
