"""``train_rl``: every algorithm with each actor trains, evaluates (the untrained policy first), logs ``eval/``,
``ilqr/`` and ``param/``, writes a history a study reads back and artefacts that load and act as in training;
every env; what ``learn`` learns; rl-zoo3's table; resume with the replay buffer; references computed once."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from stable_baselines3 import TD3
from stable_baselines3.common.utils import LinearSchedule
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dilqr_rl.agents import rl_envs
from dilqr_rl.agents.evaluation import ObservationNormalized, evaluate_episodes, load_sb3_model
from dilqr_rl.agents.model_error import parse_model_error
from dilqr_rl.agents.rl import RLConfig, check_config, load_run_config, train_rl
from dilqr_rl.agents.rl_build import (
    OFF_POLICY_CRITIC_FIRST,
    actor_warmup_steps,
    build_model,
    default_model_error,
    resolve_hyperparameters,
)
from dilqr_rl.agents.rl_checkpoints import checkpoints, load_model, replay_buffer_path
from dilqr_rl.agents.rl_envs import env_factory, normalized_venv, training_venv
from dilqr_rl.agents.rl_monitor import fresh_plan_memory, load_history
from dilqr_rl.agents.zoo_hyperparams import ZOO_COMMIT, zoo_entry
from dilqr_rl.policies import DiLQRPolicy
from dilqr_rl.policies.cost_maps import GoalWeightsMap

TINY_ALGO = {"ppo": dict(n_steps=8, batch_size=16, n_epochs=1, n_envs=2), "a2c": dict(n_steps=8, n_envs=2),
             "sac": dict(learning_starts=8, batch_size=8, buffer_size=200),
             "td3": dict(learning_starts=8, batch_size=8, buffer_size=200)}
"""Hyperparameters of a tiny run (rl-zoo3's otherwise)."""


def tiny(tmp_path, algo: str = "ppo", policy: str = "dilqr", **over) -> RLConfig:
    """32 steps of Pendulum-v1 balancing (the expert beats random within 10 steps), evaluations at 0, 16, 32."""
    kw = dict(env_id="Pendulum-v1", algo=algo, policy=policy, start_angle=0.3, total_timesteps=32, eval_freq=16,
              eval_episodes=2, max_episode_steps=10, checkpoint_freq=16, horizon=5, progress=False,
              output_dir=str(tmp_path), hyperparams=TINY_ALGO[algo], actor_warmup=0)
    return RLConfig(**{**kw, **over})


@pytest.mark.parametrize("policy", ["dilqr", "mlp"])
@pytest.mark.parametrize("algo", ["ppo", "a2c", "sac", "td3"])
def test_each_algorithm_and_actor_trains_and_its_model_acts_as_evaluated(tmp_path, algo, policy):
    reported = []
    config = tiny(tmp_path, algo, policy)
    result = train_rl(config, report=reported.append)
    rows = load_history(result.run_dir)
    assert [r["timesteps"] for r in rows] == [0.0, 16.0, 32.0] and rows == reported == result.history
    assert result.untrained == rows[0] and result.final == rows[-1]
    refs = result.references
    assert refs["expert"] > refs["random"]
    assert rows[0]["eval/normalized_return"] == pytest.approx(
        (rows[0]["eval/mean_return"] - refs["random"]) / (refs["expert"] - refs["random"]))
    assert rows[-1]["train_seconds"] > 0 and result.env_steps_per_s > 0
    if policy == "dilqr":
        assert {"ilqr/converged_fraction", "ilqr/iterations", "ilqr/warm_fraction"} <= set(rows[1])
        assert set(result.initial_params) == {"mass", "length", "gravity"}
        assert result.initial_params["mass"] == pytest.approx(1.3)  # the env's default wrong start
        assert rows[-1]["param/mass"] == result.final_params["mass"] != result.initial_params["mass"]
        assert result.registered_params == {"mass": 1.0, "length": 1.0, "gravity": 10.0}
    else:
        assert not any(k.startswith(("ilqr/", "param/")) for k in rows[-1]) and result.final_params == {}
    metrics = result.metrics()
    assert metrics["untrained_normalized"] == rows[0]["eval/normalized_return"]
    assert metrics["final_return"] == rows[-1]["eval/mean_return"] and metrics["timesteps"] == 32.0
    make = env_factory(config)
    with make() as env:
        loaded = load_sb3_model(result.checkpoint, env)
    if policy == "dilqr":
        scale = loaded.policy._get_constructor_parameters()["controller_lr_scale"]
        assert scale == {"ppo": 3.0, "a2c": 10.0}.get(algo, 1.0)
    normalizes = resolve_hyperparameters(config).normalize and policy == "mlp"
    assert isinstance(loaded, ObservationNormalized) == normalizes
    again = evaluate_episodes(loaded, make, config.eval_episodes, config.eval_seed)
    assert again.mean_return == pytest.approx(rows[-1]["eval/mean_return"], abs=1e-9)


def test_tensorboard_has_eval_ilqr_and_param_scalars_off_policy(tmp_path):
    result = train_rl(tiny(tmp_path, "sac"))
    (events,) = result.run_dir.glob("events.out.tfevents.*")
    accumulator = EventAccumulator(str(events), size_guidance={"tensors": 0})
    accumulator.Reload()
    scalars = set(accumulator.Tags()["scalars"])
    assert {"eval/mean_return", "eval/normalized_return", "ilqr/converged_fraction", "ilqr/iterations",
            "ilqr/warm_fraction", "param/mass", "param/gravity", "train/actor_loss"} <= scalars
    assert [e.step for e in accumulator.Scalars("eval/normalized_return")] == [0, 16, 32]
    assert "hyperparameters/text_summary" in accumulator.Tags()["tensors"]


@pytest.mark.parametrize("env_id", ["dilqr_rl/Pendulum-v0", "dilqr_rl/CartpoleSwingUp-v0",
                                    "dilqr_rl/CartpoleBalance-v0", "InvertedPendulum-v5"])
def test_every_env_trains_from_its_default_wrong_start(tmp_path, env_id):
    result = train_rl(tiny(tmp_path, env_id=env_id, start_angle=None, eval_freq=0))
    assert [r["timesteps"] for r in result.history] == [0.0, 32.0]
    errors = default_model_error(env_id)
    assert errors and result.initial_params == pytest.approx(
        {k: v * (1 + errors.get(k, 0.0)) for k, v in result.registered_params.items()})
    assert math.isfinite(result.final["eval/mean_return"])


def test_learn_cost_learns_log_weights_with_the_physics_frozen(tmp_path):
    result = train_rl(tiny(tmp_path, learn=("cost",)))
    assert {"cost_weight_0", "cost_weight_1", "cost_weight_2"} <= set(result.final_params)
    assert result.initial_params["cost_weight_0"] == pytest.approx(1.0)
    assert result.final_params["cost_weight_1"] != result.initial_params["cost_weight_1"]
    for name in ("mass", "length", "gravity"):
        assert result.final_params[name] == result.initial_params[name]


def test_learn_cost_map_adds_the_goal_weights_map(tmp_path):
    result = train_rl(tiny(tmp_path, learn=("physics", "cost-map")))
    model = load_sb3_model(result.checkpoint, env_factory(tiny(tmp_path))())
    assert isinstance(model.policy, DiLQRPolicy) and isinstance(model.policy.action_net.cost_map, GoalWeightsMap)
    assert result.final_params["mass"] != result.initial_params["mass"]


def test_resume_continues_an_off_policy_run_with_its_replay_buffer(tmp_path):
    config = tiny(tmp_path, "td3")
    first = train_rl(config)
    assert [steps.name for steps in checkpoints(first.run_dir)] == ["model_16_steps.zip", "model_32_steps.zip"]
    assert not replay_buffer_path(checkpoints(first.run_dir)[0]).exists()  # only the latest keeps its buffer
    assert load_model(TD3, checkpoints(first.run_dir)[-1], training_venv(config, 1)).replay_buffer.size() == 32
    assert load_run_config(first.run_dir) == config
    longer = train_rl(replace(config, total_timesteps=48), resume=first.run_dir)
    assert longer.run_dir == first.run_dir and [r["timesteps"] for r in longer.history] == [0.0, 16.0, 32.0, 48.0]
    assert longer.untrained == first.untrained and longer.initial_params == first.initial_params
    assert load_model(TD3, checkpoints(first.run_dir)[-1], training_venv(config, 1)).replay_buffer.size() == 48
    assert (first.run_dir / "progress-from-32.csv").is_file()


def test_references_are_computed_once_per_setting(tmp_path, monkeypatch):
    config = tiny(tmp_path, eval_freq=0)
    first = rl_envs.reference_returns(config)

    def no_expert(env):
        raise AssertionError("the expert ran again")

    monkeypatch.setattr(rl_envs, "expert_for", no_expert)
    assert rl_envs.reference_returns(config) == first
    assert len(first["returns"]["expert"]) == config.eval_episodes
    with pytest.raises(AssertionError, match="the expert ran again"):
        rl_envs.reference_returns(replace(config, eval_seed=7))


def test_zoo_table_and_what_the_dilqr_actor_changes():
    assert len(ZOO_COMMIT) == 40
    ppo = zoo_entry("Pendulum-v1", "ppo")
    assert ppo.n_envs == 4 and ppo.algo_kwargs["n_steps"] == 1024 and ppo.algo_kwargs["gamma"] == 0.9
    assert zoo_entry("InvertedPendulum-v5", "ppo").key == "InvertedPendulum-v2"
    assert zoo_entry("dilqr_rl/CartpoleSwingUp-v0", "sac").key == "default"
    dilqr = resolve_hyperparameters(RLConfig(hyperparams={"n_steps": 256.0, "n_envs": 2.0}))
    assert dilqr.dropped == ("use_sde", "sde_sample_freq") and "use_sde" not in dilqr.algo_kwargs
    assert dilqr.algo_kwargs["n_steps"] == 256 and isinstance(dilqr.algo_kwargs["n_steps"], int) and dilqr.n_envs == 2
    mlp = resolve_hyperparameters(RLConfig(policy="mlp"))
    assert mlp.algo_kwargs["use_sde"] is True and mlp.dropped == ()
    a2c = RLConfig(algo="a2c", hyperparams={"n_envs": 1.0})
    hp = resolve_hyperparameters(a2c)
    assert hp.normalize and hp.as_dict("dilqr")["algo_kwargs"]["learning_rate"] == "lin_0.0007"
    venv = normalized_venv(training_venv(a2c, 1), a2c, 0.9)
    assert not venv.norm_obs and venv.norm_reward  # the DiLQR actor reads the env's units
    model = build_model(a2c, hp, venv)
    assert isinstance(model.learning_rate, LinearSchedule) and model.lr_schedule(0.5) == pytest.approx(3.5e-4)


def test_parse_model_error_and_config_errors():
    assert parse_model_error(["mass=-0.3", "length=0.5"]) == {"mass": -0.3, "length": 0.5}
    for bad, message in ((["mass"], "is not NAME=REL"), (["mass=x"], "is not NAME=REL"),
                         (["mass=-1"], "must be a finite number > -1"), (["mass=0.1", "mass=0.2"], "names mass twice")):
        with pytest.raises(ValueError, match=message):
            parse_model_error(bad)
    with pytest.raises(ValueError, match=r"model_error mas=-0.3: unknown physical parameter\(s\) \['mas'\] of "
                                         r"PendulumDynamics; its parameters: \['gravity', 'length', 'mass'\]"):
        check_config(RLConfig(model_error=("mas=-0.3",)))
    with pytest.raises(ValueError, match="hyperparams=n_step: not a hyperparameter of PPO; its hyperparameters: "):
        check_config(RLConfig(hyperparams={"n_step": 3.0}))


@pytest.mark.parametrize("algo", ["ppo", "sac"])
def test_actor_warmup_keeps_the_actors_parameters_while_the_critic_learns(tmp_path, algo):
    result = train_rl(tiny(tmp_path, algo, actor_warmup=16, learn=("physics", "cost-map")))
    rows = result.history
    assert [r["timesteps"] for r in rows] == [0.0, 16.0, 32.0]
    assert rows[1]["param/mass"] == rows[0]["param/mass"] == pytest.approx(1.3)  # fixed for 16 steps
    assert rows[2]["param/mass"] != rows[1]["param/mass"]  # then learning


def test_off_policy_dilqr_actors_wait_for_the_critic_by_default(tmp_path):
    """None: 0 for PPO and A2C and for the MLP; SAC and TD3's learning_starts + 3000 for a DiLQR actor (SB3's
    learning_starts of 100 where none is given); a given value is kept, 0 included."""
    td3 = tiny(tmp_path, "td3", actor_warmup=None, hyperparams={"learning_starts": 1000})
    assert actor_warmup_steps(td3) == 1000 + OFF_POLICY_CRITIC_FIRST == 4000
    assert actor_warmup_steps(tiny(tmp_path, "sac", actor_warmup=None, hyperparams={})) == 100 + 3000
    assert actor_warmup_steps(tiny(tmp_path, "td3", "mlp", actor_warmup=None)) == 0
    assert actor_warmup_steps(tiny(tmp_path, "ppo", actor_warmup=None)) == 0
    assert actor_warmup_steps(tiny(tmp_path, "td3", actor_warmup=0)) == 0
    assert actor_warmup_steps(tiny(tmp_path, "ppo", actor_warmup=7)) == 7
    result = train_rl(tiny(tmp_path, "td3", actor_warmup=None))  # 32 steps: held all along
    assert [r["param/mass"] for r in result.history] == pytest.approx([1.3] * 3)


def test_evaluations_plan_with_an_empty_memory_as_a_loaded_model_does(tmp_path):
    config = tiny(tmp_path)
    model = build_model(config, resolve_hyperparameters(config), training_venv(config, 2))
    first = model.policy.action_net
    model.predict(model.env.reset(), deterministic=True)
    memory, kept = first.memory, len(first.memory)
    assert kept == 2
    with fresh_plan_memory(model.policy):
        assert first.memory is not memory and len(first.memory) == 0
        assert first.memory.capacity == memory.capacity
        model.predict(model.env.reset() + 0.01, deterministic=True)
    assert first.memory is memory and len(memory) == kept  # the evaluation's observations are not kept
