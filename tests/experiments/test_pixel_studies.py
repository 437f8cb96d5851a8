"""The trials of the pixel studies (``visual``, ``pixel-bc``) as plain functions: what they write, and the grid of
the pixel-bc study."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dilqr_rl.experiments import StudyOptions, get_study
from dilqr_rl.experiments.closed_loop_bc_trial import run_closed_loop_bc_trial
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


def test_pixel_bc_trial_clones_through_the_keypoint_encoder_and_loads_back(tmp_path):
    config = {**next(t for t in get_study("pixel-bc").trials(StudyOptions(quick=True))
                     if t["variant"] == "dilqr+state" and t["method"] == "bc"),
              "data_dir": str(tmp_path / "data")}
    metrics = run_closed_loop_bc_trial(config, tmp_path / "trial")
    assert metrics["expert_labels"] == config["n_demos"] * config["max_steps"]
    assert set(metrics["physics_learned"]) == {"mass", "length", "gravity"}
    assert np.isfinite(metrics["normalized_return"]) and np.isfinite(metrics["normalized_untrained"])
    assert len(list((tmp_path / "data").glob("closed-loop-bc__dilqr_rl-PixelPendulum-v0__size32*.npz"))) == 1


def test_pixel_bc_trials_cover_demonstrations_policies_and_the_ablation():
    trials = get_study("pixel-bc").trials(StudyOptions())
    assert {t["seed"] for t in trials} == {0, 1, 2}
    grid = {(t["variant"], t["method"]): sorted({u["n_demos"] for u in trials
                                                 if (u["variant"], u["method"]) == (t["variant"], t["method"])})
            for t in trials}
    assert grid == {("dilqr+state", "bc"): [1, 2, 5, 10, 20], ("mlp+state", "bc"): [1, 2, 5, 10, 20],
                    ("lstm+state", "bc"): [5, 20], ("dilqr", "bc"): [5, 20], ("mlp", "bc"): [5, 20],
                    ("dilqr+state", "dagger"): [5], ("mlp+state", "dagger"): [5]}
    for t in trials:
        assert (t["clone_options"]["state_weight"] > 0) == t["variant"].endswith("+state")
        assert t["epochs"] == max(30, -(-600 // t["n_demos"]))  # about 1500 steps of 64 at every n
        assert t["env_kwargs"] == {"size": 64} and t["env_id"] == "dilqr_rl/PixelPendulum-v0"


def test_size_reaches_the_pixel_trials_and_bad_sizes_are_refused(capsys):
    from dilqr_rl.cli import main

    for name in ("visual", "pixel-bc"):
        assert {t.get("size", t.get("env_kwargs", {}).get("size")) for t in
                get_study(name).trials(StudyOptions(size=224))} == {224}
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
