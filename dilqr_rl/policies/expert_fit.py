"""The cart-pole model the ``InvertedPendulum-v5`` expert plans with, fitted to MuJoCo transitions.

MuJoCo's inverted pendulum (RK4, joint damping, a capsule pole) is outside the model class of
:class:`~dilqr_rl.models.CartpoleDynamics` (one Euler step of the Gymnasium cart-pole equations), so the
expert plans with the best model of that class: the one minimising the one-step prediction error

    L(theta) = mean_i || P (f(s_i, k a_i; theta) - s'_i) / sigma ||^2

over transitions (s_i, a_i, s'_i) of the real environment, with f the cart-pole model (dt = 0.04 s, one
environment step), a the MuJoCo control in [-3, 3], k the action-to-force gain, P picking the two
velocities (the model's position update x' = x + dt x_dot has no parameter) and sigma their standard
deviation of s' - s. States are drawn uniformly from :data:`FIT_STATE_BOX`, around
the upright pole where the expert acts, and actions uniformly from [-3, 3].

The model is invariant under scaling all masses and the force together, so masses and gain are not
identifiable jointly: the cart mass stays at MuJoCo's value (``model.body_mass`` of the cart) and the
pole mass, half-length, gravity and gain are fitted (L-BFGS on their logarithms, full batch).

:data:`INVERTED_PENDULUM_FIT` stores the result of ``fit_inverted_pendulum()`` with the defaults
(``n_samples=4000, seed=0``); ``tests/policies/test_expert_fit.py`` refits on a small sample
and checks it lands near the stored constants. Reproduce with
``python scripts/expert_returns.py --refit``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.func import functional_call

from dilqr_rl.models.cartpole import CartpoleDynamics

FIT_STATE_BOX = (0.5, 1.0, 0.25, 1.5)
"""Half-widths of the uniform box of states (x, x_dot, theta, theta_dot) the fit samples around 0."""
ENV_ID = "InvertedPendulum-v5"
DT = 0.04
"""One environment step (s): ``frame_skip`` 2 times MuJoCo's 0.02 s."""


@dataclass(frozen=True)
class CartpoleFit:
    """Constructor keywords of :class:`CartpoleDynamics` plus the action-to-force gain, and the fit's loss."""

    cart_mass: float
    """Kept at MuJoCo's cart mass (kg): the scale of masses and force is not identifiable."""
    pole_mass: float
    length: float
    """Half the pole's length (m), as in Gymnasium's cart-pole."""
    gravity: float
    gain: float
    """Newtons per unit of MuJoCo control (the actuator's gear is 100)."""
    dt: float
    """One environment step (s): two MuJoCo steps of 0.02 s."""
    loss: float
    """Final normalised one-step prediction error (mean over coordinates, 1 = predicting no change)."""

    def model_parameters(self) -> dict[str, float]:
        """Constructor keywords of :class:`CartpoleDynamics`."""
        d = asdict(self)
        return {k: d[k] for k in ("cart_mass", "pole_mass", "length", "gravity", "dt")}


INVERTED_PENDULUM_FIT = CartpoleFit(
    cart_mass=10.471975511965978,
    pole_mass=4.23410,
    length=0.327442,
    gravity=9.73948,
    gain=95.5110,
    dt=0.04,
    loss=7.911e-4,
)
"""``fit_inverted_pendulum()`` with the defaults, rounded to 6 digits (see the module docstring)."""


def inverted_pendulum_transitions(
    n_samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Transitions of ``InvertedPendulum-v5`` from states drawn in :data:`FIT_STATE_BOX`.

    Returns model-ordered states s (N, 4) = (x, x_dot, theta, theta_dot), MuJoCo controls a (N, 1), next
    states s' (N, 4), float64, and MuJoCo's cart mass (kg). Deterministic given ``seed``.
    """
    import gymnasium as gym

    rng = np.random.default_rng(seed)
    env = gym.make(ENV_ID)
    env.reset(seed=seed)
    sim = env.unwrapped
    states = rng.uniform(-1.0, 1.0, (n_samples, 4)) * np.asarray(FIT_STATE_BOX)
    actions = rng.uniform(-3.0, 3.0, (n_samples, 1))
    following = np.empty_like(states)
    for i, (s, a) in enumerate(zip(states, actions)):
        sim.set_state(np.array([s[0], s[2]]), np.array([s[1], s[3]]))
        sim.do_simulation(a, sim.frame_skip)
        following[i] = [sim.data.qpos[0], sim.data.qvel[0], sim.data.qpos[1], sim.data.qvel[1]]
    cart_mass = float(sim.model.body("cart").mass[0])
    env.close()
    return states, actions, following, cart_mass


def fit_inverted_pendulum(n_samples: int = 4000, seed: int = 0, max_iter: int = 200) -> CartpoleFit:
    """Fit the cart-pole model and gain to ``n_samples`` MuJoCo transitions (see the module docstring).

    Runs L-BFGS (strong-Wolfe line search, full batch, at most ``max_iter`` iterations) from a generic
    start (pole 1 kg, half-length 0.5 m, g = 9.8, gain 50): deterministic given ``seed``.
    """
    s, a, s_next, cart_mass = inverted_pendulum_transitions(n_samples, seed)
    s, a, s_next = (torch.from_numpy(v) for v in (s, a, s_next))
    velocities = [1, 3]  # x' = x + dt x_dot does not depend on the parameters
    sigma = (s_next - s)[:, velocities].std(0)  # (2,)
    model = CartpoleDynamics(cart_mass, dt=DT, dtype=torch.float64).requires_grad_(False)
    logs = torch.tensor(np.log([1.0, 0.5, 9.8, 50.0]), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([logs], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-12, tolerance_change=1e-15)

    def loss_fn() -> torch.Tensor:
        pole_mass, length, gravity, gain = logs.exp()
        params = {"pole_mass": pole_mass, "length": length, "gravity": gravity}
        prediction = functional_call(model, params, (s, gain * a))  # (N, 4)
        return (((prediction - s_next)[:, velocities] / sigma) ** 2).mean()

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        final = float(loss_fn())
    pole_mass, length, gravity, gain = (float(v) for v in logs.detach().exp())
    return CartpoleFit(cart_mass, pole_mass, length, gravity, gain, DT, final)
