"""The README's Python examples run as written."""

import re
import subprocess
import sys
from pathlib import Path

import torch

from tests import SUBPROCESS_TIMEOUT_S

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_layer_snippet_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has a python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["sol"].converged.all()
    assert torch.isfinite(namespace["dynamics"].mass.grad)


def test_readme_ppo_example_runs_as_written():
    """``PPO(DiLQRPolicy, env, policy_kwargs=dict(env_id=...))`` (shortened to one rollout)."""
    from dilqr_rl.policies import DiLQRPolicy

    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if "PPO(" in b)
    assert "total_timesteps=512" in block
    namespace: dict = {}
    exec(compile(block.replace("total_timesteps=512", "total_timesteps=64"), "README.md", "exec"), namespace)
    assert isinstance(namespace["model"].policy, DiLQRPolicy)


def test_readme_sac_example_runs_as_written():
    """``SAC(DiLQRSACPolicy, env, policy_kwargs=dict(env_id=...))`` (shortened to 20 gradient steps)."""
    from dilqr_rl.policies import DiLQRSACPolicy

    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if "SAC(" in b)
    assert "total_timesteps=300" in block
    namespace: dict = {}
    exec(compile(block.replace("total_timesteps=300", "total_timesteps=120"), "README.md", "exec"), namespace)
    assert isinstance(namespace["model"].policy, DiLQRSACPolicy)
    assert namespace["model"].policy.controller.dynamics.mass.item() != 1.3  # moved from the wrong start (1.3)

ROW_NAMES = ("iLQR expert", "random policy", "DiLQR, untrained (wrong model)", "DiLQR, cloned", "MLP, cloned",
             "LSTM, cloned")


def _demo_rows(text: str) -> dict[str, list[str]]:
    """The demo table's rows (policy -> return, normalised; the training seconds left out: they are timings) and
    the two physics lines, from the demo's output or the README's copy of it."""
    rows = {}
    for line in text.splitlines():
        name = next((n for n in ROW_NAMES if line.startswith(n + " ")), None)
        if name is not None:
            rows[name] = line[len(name):].split()[:2]
        elif line.startswith(("DiLQR physics (true / start / learned):", "identified (true / start / learned):")):
            rows[line.split(":")[0]] = re.findall(r"-?\d+(?:\.\d+)?", line.split(":", 1)[1])
    return rows


def _close(name: str, column: int, readme: str, printed: str) -> bool:
    """Equal to what the README's digits and another machine's last bits allow: the DiLQR rows (float64) within the
    last digit shown, the networks' (float32) within 5%, the physics within 0.1%."""
    if "-" in (readme, printed):
        return readme == printed
    a, b = float(readme), float(printed)
    if name.startswith(("DiLQR physics", "identified")):
        return abs(a - b) <= 1e-3 * max(abs(a), 1e-3)
    if name.startswith(("MLP", "LSTM")):
        return abs(a - b) <= 0.05 * abs(a) + (0.05 if column == 1 else 0.5)
    return abs(a - b) <= (0.0015 if column == 1 else 0.15)


def test_readme_demo_block_is_what_the_demo_prints(tmp_path):
    """``make demo`` (``dilqr-rl demo``, seed 0, in a fresh process as ``make demo`` runs it) prints the table the
    README quotes: only the seconds and the run folder's time stamp may differ, the numbers within the
    tolerances of ``_close``. Under a minute."""
    block = re.search(r"Output of `make demo` on a\s+fresh clone.*?```\n(.*?)```", README.read_text(), flags=re.S)
    assert block, "the README quotes the demo's output"
    expected = _demo_rows(block[1])
    assert len(expected) == 8, f"the README's demo block changed shape: {sorted(expected)}"
    cli = [sys.executable, "-c", "import sys; from dilqr_rl.cli import main; sys.exit(main())"]
    out = subprocess.run([*cli, "demo", "--output-dir", str(tmp_path), "--no-progress"], capture_output=True,
                         text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert out.returncode == 0, out.stderr
    printed = _demo_rows(out.stdout)
    assert set(printed) == set(expected)
    for name, cells in expected.items():
        assert len(cells) == len(printed[name]) and all(
            _close(name, i, a, b) for i, (a, b) in enumerate(zip(cells, printed[name]))), (
            f"README: {name}: {cells}; the demo prints {printed[name]}: update the README's demo block")
