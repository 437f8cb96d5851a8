"""Checks on what users hand the environments: physical parameters, named choices and actions.

Every check raises a ``ValueError`` that says what was wrong, what was expected and what to do.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike

E = TypeVar("E", bound=Enum)


def require_positive(name: str, value: float, example: float) -> float:
    """``value`` as a float if it is finite and > 0; otherwise a ``ValueError`` naming ``name``."""
    number = _as_number(name, value, example)
    if not (math.isfinite(number) and number > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}; pass e.g. {name}={example}")
    return number


def require_non_negative(name: str, value: float, example: float) -> float:
    """``value`` as a float if it is finite and >= 0; otherwise a ``ValueError`` naming ``name``."""
    number = _as_number(name, value, example)
    if not (math.isfinite(number) and number >= 0.0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}; pass e.g. {name}={example}")
    return number


def require_count(name: str, value: int, minimum: int, example: int) -> int:
    """``value`` if it is an int >= ``minimum``; otherwise a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}; pass e.g. {name}={example}")
    return int(value)


def require_steps(name: str, value: int | None) -> int | None:
    """A positive step count, or ``None`` for "no limit"."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int or None (no limit), got {value!r}")
    return int(value)


def parse_choice(name: str, value: str | E, choices: type[E]) -> E:
    """The member of the ``str``-valued enum ``choices`` named by ``value``; the error lists the valid ones."""
    if isinstance(value, choices):
        return value
    try:
        return choices(value)
    except ValueError:
        valid = [member.value for member in choices]
        raise ValueError(f"unknown {name} {value!r}; valid: {valid}") from None


def validate_action(action: ArrayLike, bound: float) -> np.ndarray:
    """A scalar control as a float64 array (1,), clipped to [-bound, bound].

    Raises a ``ValueError`` for NaN or for more than one number; infinite values are clipped like any
    other out-of-range action.
    """
    u = np.asarray(action, dtype=np.float64).reshape(-1)
    if u.shape != (1,):
        raise ValueError(
            f"action must hold exactly one number (shape (1,)), got shape {np.shape(action)}; "
            "pass e.g. np.array([0.5])"
        )
    if np.isnan(u[0]):
        raise ValueError(
            f"action is NaN ({action!r}); the policy produced an invalid control, check it for "
            "diverging outputs before stepping the environment"
        )
    return np.clip(u, -bound, bound)


def validate_state(name: str, state: ArrayLike, size: int) -> np.ndarray:
    """A finite float64 state vector (size,) given through reset options."""
    x = np.asarray(state, dtype=np.float64)
    if x.shape != (size,) or not np.isfinite(x).all():
        raise ValueError(
            f"{name} must be {size} finite numbers (shape ({size},)), got {state!r}; "
            "pass the state in the model's order"
        )
    return x.copy()


def _as_number(name: str, value: float, example: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}; pass e.g. {name}={example}")
    return float(value)
