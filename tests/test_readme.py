"""The README's Python examples run as written."""

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_layer_snippet_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has a python example"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["sol"].converged.all()
    assert torch.isfinite(namespace["dynamics"].mass.grad)


def test_readme_ppo_example_runs_as_written():
    """``PPO(DiLQRPolicy, env)`` with no policy_kwargs (shortened to one rollout)."""
    from dilqr_rl.policies import DiLQRPolicy

    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if "PPO(" in b)
    assert "total_timesteps=512" in block
    namespace: dict = {}
    exec(compile(block.replace("total_timesteps=512", "total_timesteps=64"), "README.md", "exec"), namespace)
    assert isinstance(namespace["model"].policy, DiLQRPolicy)
