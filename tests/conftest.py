"""Test-wide settings: one torch thread (the problems are tiny; extra threads only add contention), and autograd
on at the start of every test.

Autograd guard: twice in four full runs under ``-n 2`` (on 2026-12-06), one xdist worker found autograd switched
off (``torch.is_grad_enabled()`` False) at the start of every test after some point, and 112-116 gradient tests
failed with "element 0 of tensors does not require grad". No test left it off at its own end (the teardown check
below never fired), and the same tests in the same order in one process pass, so it is switched off between tests,
not yet traced. The guard switches autograd back on before each test and warns, naming the test before, so that a
leak shows in the summary instead of failing the tests after it; a test that leaves autograd off itself fails.

On 2026-12-07 a fresh-clone CI run had one worker fail 77 gradient tests with grad mode on: "element 0 of tensors
does not require grad" even for an MLP's loss, and torch.func's "Cannot access storage of TensorWrapper" at a
transform level of -2, i.e. torch's thread-local dispatch state itself broken. The suspect is the one test that
ran torch.compile in-process on torch.func transforms, two of which fail to compile on purpose (its failures'
tracebacks keep torch's state guards alive until the garbage collector runs them, at any later moment); it now runs
its study in a process of its own. The guard also checks, before each test, that no torch.func level is open and
that an op on a tensor that requires grad records a graph, and fails the test naming the one before if not.
"""

import os
import warnings

import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")
torch.set_num_threads(1)
_previous = ["(none: the first test of this process)"]


def _autograd_broken() -> str | None:
    """Why autograd does not work in this thread right now (grad mode on), or None: a torch.func transform level
    left open, or an op on a tensor that requires grad recording no graph (the Autograd dispatch key excluded)."""
    from torch._C._functorch import maybe_current_level

    if maybe_current_level() is not None:
        return f"a torch.func transform level is still open (level {maybe_current_level()})"
    if torch.ones(1, requires_grad=True).mul(2).grad_fn is None:
        return "an op on a tensor that requires grad records no graph"
    return None


@pytest.fixture(autouse=True)
def _autograd_on(request):
    if not torch.is_grad_enabled():
        warnings.warn(f"autograd was switched off before {request.node.nodeid} (the test before it in this process: "
                      f"{_previous[0]}); switched back on", RuntimeWarning, stacklevel=1)
        torch.set_grad_enabled(True)
    broken = _autograd_broken()
    if broken is not None:
        pytest.fail(f"autograd is broken in this process before the test starts: {broken} (the test before it in "
                    f"this process: {_previous[0]})", pytrace=False)
    yield
    _previous[0] = request.node.nodeid
    assert torch.is_grad_enabled(), "this test left autograd switched off (torch.is_grad_enabled() is False)"
