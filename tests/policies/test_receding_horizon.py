"""The receding-horizon warm-start shift shared by the expert and MPCPolicy."""

from __future__ import annotations

import pytest
import torch

from dilqr_rl.policies.receding_horizon import shift_plan


def test_shift_plan_drops_the_first_control_and_repeats_the_last():
    u = torch.arange(12.0).view(2, 3, 2)  # (B, T, m)
    shifted = shift_plan(u)
    torch.testing.assert_close(shifted[:, :2], u[:, 1:])
    torch.testing.assert_close(shifted[:, 2], u[:, 2])


def test_shift_plan_rejects_an_unbatched_plan():
    with pytest.raises(ValueError, match=r"shift_plan needs a batch of plans u \(B, T, m\); got shape \(3, 2\)"):
        shift_plan(torch.zeros(3, 2))
