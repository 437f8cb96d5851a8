"""The trajax study (``dilqr-rl bench --study trajax``): with trajax when it is importable, ours alone without."""

import json
import math
import subprocess
import sys

import pytest

from dilqr_rl.bench import mpc_pytorch, trajax_peer
from dilqr_rl.bench.trajax_report import ratios, table
from dilqr_rl.bench.trajax_study import COLUMNS
from tests import SUBPROCESS_TIMEOUT_S

needs_trajax = pytest.mark.skipif(not trajax_peer.available(),
                                  reason="trajax is not installed (not on PyPI; see the README's Benchmark section)")
OURS = {"ours closed-form", "ours autograd"}


def _study(tmp_path, *args):
    result = subprocess.run([sys.executable, "-m", "dilqr_rl.cli", "bench", "--study", "trajax", "--quick",
                             "--out", str(tmp_path), *args],
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    return result, json.loads((tmp_path / "trajax.json").read_text())


def test_bench_imports_no_jax():
    """XLA's one-thread flags only take effect if JAX starts after they are set: nothing imports it early."""
    code = "import sys, dilqr_rl.bench.run, dilqr_rl.cli; assert 'jax' not in sys.modules, 'jax imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert result.returncode == 0, result.stderr


def test_without_trajax_ours_alone(tmp_path):
    result, data = _study(tmp_path, "--no-trajax", "--no-mpc")
    solves = [r for r in data["rows"] if r["measure"] == "solve"]
    assert {r["solver"] for r in solves} == OURS
    assert {(r["dtype"], r["B"], r["T"]) for r in solves} == {(d, b, 5) for d in ("float32", "float64")
                                                                for b in (1, 4)}
    assert all(r["solution_ms"] > 0 and r["first_call_ms"] > 0 and r["iters_max"] >= 1 for r in solves)
    assert all(math.isfinite(r["grad_m"]) for r in solves), "the gradient w.r.t. m, l, g is computed"
    assert {r["solver"] for r in data["rows"] if r["measure"] == "receding step"} == OURS
    assert all(math.isnan(q["solution"]) for q in data["ratios"])
    text = (tmp_path / "trajax.md").read_text()
    assert "ours alone" in text and "<= 1 ms" in text
    assert "| - |" in text, "targets without a trajax measurement are marked '-', not met or missed"
    assert text.strip() in result.stdout
    assert data["provenance"]["commit"]


@needs_trajax
def test_with_trajax_side_by_side(tmp_path):
    result, data = _study(tmp_path, "--no-mpc")
    solves = [r for r in data["rows"] if r["measure"] == "solve"]
    assert {r["solver"] for r in solves} == OURS | {"trajax"}
    for r in solves:
        if r["dtype"] == "float64" and r["solver"] != "trajax":
            assert r["max_abs_du"] < 1e-6, r
            assert r["grad_rel_diff"] < 1e-6, r
            assert r["max_abs_u"] < 100, "the wide bounds (|u| <= 1000) stay inactive"
    assert "trajax" in {r["solver"] for r in data["rows"] if r["measure"] == "receding step"}
    assert all(math.isfinite(q[key]) and q[key] > 0 for q in data["ratios"]
               for key in ("solution", "forward_per_iter", "backward", "first_call", "solution_cpu"))
    assert data["provenance"]["single_thread"] and "xla_cpu_multi_thread_eigen=false" in data["provenance"]["xla_flags"]
    text = (tmp_path / "trajax.md").read_text()
    for measure in ("time to solution", "forward per iteration", "first call", "max abs du", "grad rel diff"):
        assert measure in text
    assert text.strip() in result.stdout
    assert (tmp_path / "trajax.png").stat().st_size > 1000
    assert (tmp_path / "trajax.csv").read_text().splitlines()[0] == ",".join(COLUMNS)


def _row(solver, B, solution):
    row = dict.fromkeys(COLUMNS, float("nan"))
    row.update(measure="solve", dtype="float64", B=B, T=10, solver=solver, iters_max=5, iters_mean=5.0,
               forward_ms=solution / 2, forward_per_iter_ms=solution / 10, backward_ms=solution / 2,
               solution_ms=solution, solution_cpu_ms=solution, first_call_ms=1.0, grad_m=1.0, grad_l=2.0,
               grad_g=3.0, cpu_per_wall=1.0)
    return row


def test_targets_are_judged_on_the_ratios():
    rows = [_row("ours closed-form", 20, 2.0), _row("ours autograd", 20, 4.0), _row("trajax", 20, 3.0),
            _row("ours closed-form", 1, 5.0), _row("ours autograd", 1, 10.0), _row("trajax", 1, 2.0)]
    result = {"rows": rows, "trajax": True, "batch": 20, "ratios": ratios(rows),
              "provenance": {"date": "d", "machine": "m", "commit": "c", "uncommitted": [], "torch": "t",
                             "torch_threads": 1, "jax": "j", "jaxlib": "j", "trajax": "t", "xla_flags": ""}}
    lines = table(result).splitlines()
    solution = [line for line in lines if line.startswith("| time to solution (forward + backward)")]
    # B = 20 at <= 1: closed-form 2/3 met, autograd 4/3 missed; B = 1 at <= 3: 5/2 met, 10/2 missed
    assert [line.split(" | ")[-1] for line in solution] == ["yes |", "no |", "yes |", "no |"]
    assert "0.67" in solution[0] and "1.33" in solution[1] and "2.50" in solution[2] and "5.00" in solution[3]


@pytest.mark.skipif(not mpc_pytorch.available(), reason="mpc.pytorch is not installed (an optional peer: "
                    "pip install --no-deps mpc==0.0.6, README 'Speed against trajax')")
def test_mpc_pytorch_beside_ours_to_its_own_tolerance(tmp_path):
    """mpc.pytorch joins the table as a peer (no targets), counting its iterations; its gradient is DiffMPC's, so it
    is reported (with trajax, against trajax's), not required to agree."""
    _, data = _study(tmp_path, "--no-trajax")
    solves = [r for r in data["rows"] if r["measure"] == "solve"]
    peers = {"mpc.pytorch closed-form", "mpc.pytorch autograd"}
    assert {r["solver"] for r in solves if r["B"] > 1} == OURS | peers
    assert {r["solver"] for r in solves if r["B"] == 1} == OURS, "not at B = 1 (its backward fails there)"
    for r in solves:
        if r["solver"] in peers:
            assert 1 <= r["iters_max"] <= 100 and r["solution_ms"] > 0 and math.isfinite(r["grad_m"])
    text = (tmp_path / "trajax.md").read_text()
    assert "mpc.pytorch" in text and data["provenance"]["mpc"]
