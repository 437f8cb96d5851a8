"""Plan datasets: contents, determinism, save/load round trip and every error case of the file format."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from dilqr_rl.control import DiLQR, UnconvergedWarning
from dilqr_rl.data import DatasetError, DatasetMismatchError, PlanDataset, collect_plans
from dilqr_rl.data.format import METADATA_KEY, save_arrays
from dilqr_rl.models import get_system


@pytest.fixture(scope="module")
def small() -> PlanDataset:
    return collect_plans("pendulum-upright", n_train=4, n_val=2, n_test=3, seed=0, progress=False)


def test_splits_shapes_and_initial_states_in_the_documented_box(small: PlanDataset) -> None:
    spec = get_system("pendulum-upright")
    sizes = {"train": 4, "val": 2, "test": 3}
    for name, size in sizes.items():
        s = small.split(name)
        assert s.x_init.shape == (size, 2) and s.x.shape == (size, spec.horizon, 2)
        assert s.u.shape == (size, spec.horizon, 1) and s.x.dtype == torch.float64
        assert bool(s.converged.all())
        torch.testing.assert_close(s.x[:, 0], s.x_init)
        assert bool((s.x_init >= torch.tensor(spec.x_init_low)).all())
        assert bool((s.x_init <= torch.tensor(spec.x_init_high)).all())
        assert bool((s.u.abs() <= spec.u_upper + 1e-12).all())
    assert small.spec is spec and small.system == "pendulum-upright"
    meta = small.metadata
    assert meta["seed"] == 0 and meta["horizon"] == spec.horizon and meta["splits"] == sizes
    assert meta["physics"]["mass"] == 1.0 and meta["cost"]["weights"] == list(spec.cost_weights)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        small.split("dev")


def test_plans_are_what_a_dilqr_layer_with_the_true_model_computes(small: PlanDataset) -> None:
    spec = get_system("pendulum-upright")
    layer = DiLQR(spec.make_dynamics(), spec.make_cost(), spec.horizon, spec.u_lower, spec.u_upper,
                  max_iter=200, tol=1e-8)
    s = small.split("val")
    with torch.no_grad():
        sol = layer(s.x_init)
    torch.testing.assert_close(sol.u, s.u, atol=1e-6, rtol=0)
    # and the states follow the true dynamics under the stored controls
    model = spec.make_dynamics()
    with torch.no_grad():
        torch.testing.assert_close(model(s.x[:, 0], s.u[:, 0]), s.x[:, 1])


def test_generation_is_deterministic_and_seed_dependent(small: PlanDataset) -> None:
    again = collect_plans("pendulum-upright", n_train=4, n_val=2, n_test=3, seed=0, progress=False)
    other = collect_plans("pendulum-upright", n_train=4, n_val=2, n_test=3, seed=1, progress=False)
    for name in ("train", "val", "test"):
        assert torch.equal(again.split(name).u, small.split(name).u)
    assert not torch.equal(other.split("train").x_init, small.split("train").x_init)


def test_cartpole_plans_and_horizon_override() -> None:
    ds = collect_plans("cartpole-balance", n_train=2, n_val=1, n_test=1, seed=0, progress=False, horizon=10)
    assert ds.split("train").x.shape == (2, 10, 4) and ds.metadata["horizon"] == 10


def test_expert_controller_reproduces_the_plans_with_the_dataset_settings(tmp_path) -> None:
    ds = collect_plans("pendulum-upright", n_train=1, n_val=1, n_test=2, seed=3, progress=False, horizon=8,
                       max_iter=150, tol=1e-9)
    expert = PlanDataset.load(ds.save(tmp_path / "p.npz")).expert_controller()
    assert (expert.config.horizon, expert.config.max_iter, expert.config.tol) == (8, 150, 1e-9)
    assert not any(p.requires_grad for p in expert.parameters())
    test = ds.split("test")
    with torch.no_grad():
        torch.testing.assert_close(expert(test.x_init).u, test.u, atol=1e-12, rtol=0)
    del ds.metadata["expert"]["tol"]
    with pytest.raises(DatasetError, match=r"lacks the expert.s solver settings \(expert.max_iter, expert.tol"):
        ds.expert_controller()


def test_save_load_round_trip(small: PlanDataset, tmp_path) -> None:
    path = small.save(tmp_path / "sub" / "plans.npz")
    loaded = PlanDataset.load(path, system="pendulum-upright")
    assert loaded.system == "pendulum-upright" and loaded.metadata["splits"] == small.metadata["splits"]
    for name in ("train", "val", "test"):
        for key in ("x_init", "x", "u", "converged"):
            assert torch.equal(getattr(loaded.split(name), key), getattr(small.split(name), key))
    assert loaded.metadata["format_version"] == 1 and loaded.metadata["kind"] == "plans"
    assert not list(path.parent.glob("*.tmp"))


def test_truncated_file(small: PlanDataset, tmp_path) -> None:
    path = small.save(tmp_path / "plans.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"truncated or corrupted.*Regenerate"):
        PlanDataset.load(path)


def test_wrong_system(small: PlanDataset, tmp_path) -> None:
    path = small.save(tmp_path / "plans.npz")
    with pytest.raises(DatasetMismatchError, match="plans for system 'pendulum-upright', expected 'cartpole-balance'"):
        PlanDataset.load(path, system="cartpole-balance")


def test_wrong_kind(tmp_path) -> None:
    path = save_arrays(tmp_path / "e.npz", {"rewards": np.zeros(3)}, {"kind": "episodes", "env_id": "x"})
    with pytest.raises(DatasetMismatchError, match=r"holds a 'episodes' dataset, expected 'plans'.*EpisodeDataset"):
        PlanDataset.load(path)


def rewrite_metadata(path, change) -> None:
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays.pop(METADATA_KEY)))
    change(meta)
    np.savez(path, **{METADATA_KEY: np.array(json.dumps(meta))}, **arrays)


def test_unknown_format_version(small: PlanDataset, tmp_path) -> None:
    path = small.save(tmp_path / "plans.npz")
    rewrite_metadata(path, lambda m: m.update(format_version=99))
    with pytest.raises(DatasetError, match="format version 99, but this dilqr_rl reads version 1"):
        PlanDataset.load(path)


def test_arrays_disagreeing_with_the_metadata(small: PlanDataset, tmp_path) -> None:
    path = small.save(tmp_path / "plans.npz")
    rewrite_metadata(path, lambda m: m["arrays"]["train.x"].update(shape=[5, 20, 2]))
    with pytest.raises(DatasetError, match=r"array 'train.x' is float64\[4, 20, 2\] but the metadata says"):
        PlanDataset.load(path)


def test_not_a_dataset(tmp_path) -> None:
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(2))
    with pytest.raises(DatasetError, match="not a dilqr_rl dataset"):
        PlanDataset.load(plain)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(DatasetError, match="truncated or corrupted"):
        PlanDataset.load(text)
    with pytest.raises(FileNotFoundError, match="dilqr-rl collect --kind plans"):
        PlanDataset.load(tmp_path / "missing.npz")


def test_failed_save_keeps_the_previous_file(small: PlanDataset, tmp_path, monkeypatch) -> None:
    path = small.save(tmp_path / "plans.npz")
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        small.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plans.npz"]
    assert zipfile.is_zipfile(path)


def test_bad_sizes_and_systems() -> None:
    with pytest.raises(ValueError, match="n_val must be an integer >= 0"):
        collect_plans("pendulum-upright", n_train=1, n_val=-1, n_test=0, progress=False)
    with pytest.raises(ValueError, match="unknown system 'acrobot'"):
        collect_plans("acrobot", progress=False)


def test_unconverged_expert_plans_are_retried_then_replaced() -> None:
    """With max_iter=1 no swing-up converges at first; the retry (10 iterations) or a fresh draw does."""
    ds = collect_plans("cartpole", n_train=8, n_val=0, n_test=0, seed=0, progress=False, max_iter=1)
    expert = ds.metadata["expert"]
    assert expert["first_attempt"] == 0 and expert["retried"] == 8
    assert expert["replaced"] and expert["replacement_draws"] >= len(expert["replaced"])
    assert bool(ds.split("train").converged.all()) and expert["converged_fraction"] == 1.0
    first_draw = get_system("cartpole").sample_x_init(8, torch.Generator().manual_seed(0))
    replaced = expert["replaced"]
    assert not torch.equal(ds.split("train").x_init[replaced], first_draw[replaced])
    again = collect_plans("cartpole", n_train=8, n_val=0, n_test=0, seed=0, progress=False, max_iter=1)
    torch.testing.assert_close(again.split("train").u, ds.split("train").u)  # replacements are seeded too


def test_plans_that_never_converge_raise_unless_allowed() -> None:
    with pytest.raises(RuntimeError, match=r"did not converge within 10 iterations .*raise max_iter or loosen tol"):
        collect_plans("pendulum-upright", n_train=2, n_val=0, n_test=0, progress=False, max_iter=1, tol=0.0)
    with pytest.warns(UnconvergedWarning, match="kept and marked in split.converged"):
        ds = collect_plans("pendulum-upright", n_train=2, n_val=0, n_test=0, progress=False, max_iter=1, tol=0.0,
                           allow_unconverged=True)
    assert not bool(ds.split("train").converged.any()) and ds.metadata["expert"]["converged_fraction"] == 0.0
