"""Test-wide settings: one torch thread (the problems are tiny; extra threads only add contention), and autograd
on at the start of every test.

Autograd guard: twice in four full runs under ``-n 2`` (on 2026-12-06), one xdist worker found autograd switched
off (``torch.is_grad_enabled()`` False) at the start of every test after some point, and 112-116 gradient tests
failed with "element 0 of tensors does not require grad". No test left it off at its own end (the teardown check
below never fired), and the same tests in the same order in one process pass, so it is switched off between tests,
not yet traced. The guard switches autograd back on before each test and warns, naming the test before, so that a
leak shows in the summary instead of failing the tests after it; a test that leaves autograd off itself fails.
"""

import os
import warnings

import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")
torch.set_num_threads(1)
_previous = ["(none: the first test of this process)"]


@pytest.fixture(autouse=True)
def _autograd_on(request):
    if not torch.is_grad_enabled():
        warnings.warn(f"autograd was switched off before {request.node.nodeid} (the test before it in this process: "
                      f"{_previous[0]}); switched back on", RuntimeWarning, stacklevel=1)
        torch.set_grad_enabled(True)
    yield
    _previous[0] = request.node.nodeid
    assert torch.is_grad_enabled(), "this test left autograd switched off (torch.is_grad_enabled() is False)"
