"""``--model-error NAME=REL ...``: a policy's wrong start of the physics, as the configs and the CLI spell it.

A config holds the strings (``("mass=0.3", "length=-0.3")``: tyro parses them, ``--help`` shows them) and
:func:`parse_model_error` turns them into ``{name: relative error}`` for
:func:`~dilqr_rl.policies.env_registry.apply_model_error` (the model's value is the true one x (1 + REL)). No
torch import: light configs use it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def parse_model_error(items: Sequence[str]) -> dict[str, float]:
    """``("mass=-0.3", "length=-0.3")`` -> ``{"mass": -0.3, "length": -0.3}``; ``ValueError`` naming the item
    that is not ``NAME=REL`` with a finite number REL > -1, or a name given twice."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            error = float(value) if sep and name else None
        except ValueError:
            error = None
        if error is None:
            raise ValueError(f"model_error {item!r} is not NAME=REL (a physical parameter and its relative error), "
                             "e.g. model_error mass=-0.3 length=-0.3")
        if not (math.isfinite(error) and error > -1):
            raise ValueError(f"model_error {item!r}: the relative error must be a finite number > -1 (the model's "
                             f"value is true x (1 + REL), which must stay positive); got {value}")
        if name in out:
            raise ValueError(f"model_error names {name} twice ({item!r}); give each parameter once")
        out[name] = error
    return out


def format_model_error(errors: dict[str, float]) -> tuple[str, ...]:
    """The inverse of :func:`parse_model_error`: ``{"mass": 0.3}`` -> ``("mass=0.3",)``."""
    return tuple(f"{name}={value!r}" for name, value in errors.items())
