"""The trials of the pixel studies (``visual``, ``pixel-bc``) as plain functions: what they write, and that the
pixel-bc policy comes back through SB3's ``PPO.load`` and ``predict``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from stable_baselines3 import PPO

from dilqr_rl.experiments import StudyOptions, get_study
from dilqr_rl.experiments.pixel_bc import FULL as BC_FULL
from dilqr_rl.experiments.pixel_bc import QUICK as BC_QUICK
from dilqr_rl.experiments.pixel_bc_trial import make_eval_env, run_pixel_bc_trial
from dilqr_rl.experiments.visual import FULL as VISUAL_FULL
from dilqr_rl.experiments.visual import QUICK as VISUAL_QUICK
from dilqr_rl.experiments.visual_trial import run_visual_trial


def test_visual_trial_writes_per_step_errors_and_strip_frames(tmp_path):
    config = {**VISUAL_FULL, **VISUAL_QUICK, "method": "dilqr", "seed": 0, "data_dir": str(tmp_path / "data")}
    metrics = run_visual_trial(config, tmp_path / "dilqr")
    K, n_test, size = config["horizon"], config["n_test"], config["size"]
    history = json.loads((tmp_path / "dilqr" / "history.json").read_text())
    for mode in ("plan", "rollout"):
        errors = np.asarray(history[f"eval/{mode}/mse"])
        assert errors.shape == (n_test, K + 1) and np.all(errors > 0)
        assert metrics[f"{mode}_mse_mean"] == pytest.approx(errors.mean(0)[1:].mean())
        assert np.load(tmp_path / "dilqr" / f"predictions_{mode}.npy").shape == (3, K + 1, size, size)
    assert {"param_mass", "param_gravity", "converged_fraction"} <= set(metrics)
    assert len(list((tmp_path / "data").glob("visual__*.npz"))) == 2  # train and test, cached
    with pytest.raises(ValueError, match=r"unknown method 'lstm'; valid: \['dilqr', 'dilqr-pixels', 'latent'\]"):
        run_visual_trial({**config, "method": "lstm"}, tmp_path / "x")


def test_pixel_bc_trial_policy_loads_through_sb3_and_reports_its_gradients(tmp_path):
    config = {**BC_FULL, **BC_QUICK, "method": "dilqr+state", "n_demos": 1, "seed": 0, "state_weight": 1.0,
              "data_dir": str(tmp_path / "data")}
    metrics = run_pixel_bc_trial(config, tmp_path / "bc")
    assert len(metrics["returns"]) == config["eval_episodes"]
    assert metrics["mean_return"] == pytest.approx(np.mean(metrics["returns"]))
    assert metrics["first_grad_norm"] > 0 and 0.0 <= metrics["final_saturated_fraction"] <= 1.0
    loaded = PPO.load(tmp_path / "bc" / "model.zip", device="cpu")
    assert loaded.policy.controller.dynamics.mass.item() == pytest.approx(metrics["param_mass"])
    obs, _ = make_eval_env(config).reset(seed=0)
    action, _ = loaded.predict(obs, deterministic=True)
    assert action.shape == (1,) and abs(float(action[0])) <= 2.0
    with pytest.raises(ValueError, match=r"unknown method 'ppo'"):
        run_pixel_bc_trial({**config, "method": "ppo"}, tmp_path / "x")


def test_pixel_bc_trials_cover_demonstrations_methods_and_seeds():
    trials = get_study("pixel-bc").trials(StudyOptions())
    learners = [t for t in trials if t["n_demos"]]
    assert sorted({t["n_demos"] for t in learners}) == [5, 20, 100] and {t["seed"] for t in learners} == {0, 1, 2}
    assert {t["method"] for t in trials} == {"demonstrator", "expert", "dilqr", "dilqr+state", "mlp", "mlp+state"}
    assert all(t["state_weight"] > 0 for t in learners if t["method"].endswith("+state"))
    assert all(t["device"] == "cuda" for t in get_study("visual").trials(StudyOptions(device="cuda")))


def test_size_reaches_the_pixel_trials_and_bad_sizes_are_refused(capsys):
    from dilqr_rl.cli import main

    for name in ("visual", "pixel-bc"):
        assert {t["size"] for t in get_study(name).trials(StudyOptions(size=224))} == {224}
    with pytest.raises(ValueError, match=r"size must be a multiple of 32 \(the image encoder halves each side five "
                                         r"times\), e\.g\. 64 or 224, or None \(the study's own\); got 100"):
        StudyOptions(size=100)
    assert main(["reproduce", "--name", "visual", "--size", "48"]) == 2
    assert "--size must be a multiple of 32" in capsys.readouterr().err


def test_visual_trials_carry_each_method_recipe():
    trials = {t["trial_id"]: t for t in get_study("visual").trials(StudyOptions(epochs=30))}
    assert set(trials) == {f"{m}__s{s}" for m in ("dilqr", "dilqr-pixels", "latent") for s in range(3)}
    for t in trials.values():
        regressed = t["method"] != "dilqr-pixels"
        assert t["steps"] == 30 and t["state_steps"] == (30 if regressed else 0)  # "all" follows --epochs
        assert t["decoder_on_predictions"] == (t["method"] == "latent")
    from dilqr_rl.experiments.visual_trial import resolve_state_steps

    assert resolve_state_steps({"state_steps": "all", "steps": 7}) == 7 and resolve_state_steps({"steps": 7}) == 0
    with pytest.raises(ValueError, match=r"state_steps must be a number of steps >= 0 or 'all'; got 'every'"):
        resolve_state_steps({"state_steps": "every", "steps": 7})
