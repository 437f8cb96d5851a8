"""One registry binds each supported environment to what planning in it needs.

An entry recognises an env (from ``env.unwrapped`` and, for the MuJoCo adapter, the wrapper chain) and builds
its :class:`EnvControl`: the model (dynamics and cost), the control bounds, the map from observations to model
states (numpy for the expert, torch for a policy), the scale from model controls to env actions, the expert's
solver settings, the zero-config DiLQR actor's settings and the default "wrong start" of the physics.

The iLQR expert (:func:`~dilqr_rl.policies.expert_for`), the DiLQR policies' zero-config model
(:func:`~dilqr_rl.policies.env_models.env_model`, ``policy_kwargs=dict(env_id=...)``) and the command line
(``dilqr-rl rl``, ``bc-step``, ``dagger``) all read this registry; adding an environment is one entry in
:data:`ENVS`.

Entries:

- Gymnasium's ``Pendulum-v1``: the pendulum model with the constants read from the env (g, m, l, dt,
  max_speed, max_torque), planning on a periodic version of its reward.
- ``dilqr_rl/Pendulum-v0`` (either observation) and ``dilqr_rl/PixelPendulum-v0``: the env's own model
  (``env.unwrapped.dynamics``). The pixel expert is privileged: it reads the true state of the env it
  was built for (``env.unwrapped.state``), so it serves that one env only; a policy needs a learned state map
  (``EnvControl.learned_state_map``: a keypoint encoder of the last two frames, trained by cloning).
- ``dilqr_rl/CartpoleSwingUp-v0`` and ``dilqr_rl/CartpoleBalance-v0``: the env's own cart-pole model,
  planning on the swing-up reward with a periodic angle term.
- Gymnasium's ``InvertedPendulum-v5`` (raw MuJoCo observations and controls, or through
  ``dilqr_rl.envs.InvertedPendulumStateAdapter``: states and forces): the cart-pole model fitted to
  MuJoCo transitions (:data:`~dilqr_rl.policies.expert_fit.INVERTED_PENDULUM_FIT`), an approximation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from dilqr_rl.envs import perturbations as perturbed
from dilqr_rl.envs.inverted_pendulum import STATE_ORDER, mujoco_obs_to_cartpole_state
from dilqr_rl.envs.perturbations import Perturbations, make_perturbed
from dilqr_rl.envs.registration import make_env  # noqa: F401  (re-exported: the one way the agents make an env)
from dilqr_rl.models.cartpole import CartpoleDynamics
from dilqr_rl.models.pendulum import PendulumDynamics
from dilqr_rl.policies.dilqr_actor import DEFAULT_FOLLOW_TOLERANCE
from dilqr_rl.policies.expert import ExpertSettings, ObsToState
from dilqr_rl.policies.expert_costs import PeriodicQuadraticCost
from dilqr_rl.policies.expert_fit import INVERTED_PENDULUM_FIT
from dilqr_rl.policies.pixel_state import KeypointPendulumMap
from dilqr_rl.policies.state_maps import CartpoleAngleMap, IdentityStateMap, PendulumAngleMap, ReorderStateMap

PENDULUM_WEIGHTS = (1.0, 0.1, 0.001)
"""(theta, theta_dot, torque): ``Pendulum-v1``'s reward weights (the angle term made periodic)."""
CARTPOLE_WEIGHTS = (0.1, 0.01, 1.0, 0.01, 0.001)
"""(x, x_dot, theta, theta_dot, force): the swing-up reward's weights (``dilqr_rl.envs.cartpole``)."""
BALANCE_WEIGHTS = (1.0, 0.1, 10.0, 0.1, 0.001)
"""(x, x_dot, theta, theta_dot, force): ``CartpoleBalance-v0`` ends when the cart leaves the track, so the cart's
position weighs as much as in the swing-up's 10x angle scale (the swing-up weights let the cart drift off:
399.3 over seeds 0..19, against 491.6 with these)."""
INVERTED_PENDULUM_WEIGHTS = (1.0, 0.1, 10.0, 0.1, 1e-5)
"""(x, x_dot, theta, theta_dot, force in N): keep the pole upright and the cart near the rail's centre."""


@dataclass(frozen=True)
class ActorSettings:
    """How the zero-config DiLQR actor of an env plans (``DiLQRPolicy`` kwargs ``horizon``, ``starts``,
    ``start_switches``, ``follow_tolerance`` and ``solver_options["max_iter"]``).

    A new observation that does not continue the actor's previous plan is solved from each of the ``starts``
    (constant controls, fractions of the bounds) and ``start_switches`` (bang-bang sequences, as the expert's
    cold starts), keeping the cheapest converged plan; one that does starts from that plan, shifted; a plan
    memory keyed by the observation warm-starts the solves of observations seen before (PPO's update re-solves
    its rollout's observations from their plans). See ``FirstControl``.
    """

    horizon: int
    max_iter: int
    starts: tuple[float, ...] = (0.0,)
    start_switches: tuple[int, ...] = ()
    follow_tolerance: float = DEFAULT_FOLLOW_TOLERANCE
    """0: every new observation from the starts (for a short horizon whose warm starts can stall)."""

    def policy_kwargs(self) -> dict:
        return dict(horizon=self.horizon, starts=self.starts, start_switches=self.start_switches,
                    solver_options={"max_iter": self.max_iter}, follow_tolerance=self.follow_tolerance)


@dataclass
class EnvControl:
    """What planning in one environment needs (built by :func:`env_control`)."""

    name: str
    dynamics: nn.Module
    """The true model (our envs') or a fitted one (MuJoCo), float64."""
    cost: nn.Module
    """The stage cost the expert plans with (matches the env's reward)."""
    u_lower: float
    u_upper: float
    obs_to_state: ObsToState
    """Batched observations (B, *obs_shape) -> model states (B, n) float64 (numpy)."""
    state_map: nn.Module | None
    """``obs_to_state`` in torch (keeps dtype, device and gradient), or None (images: no fixed map)."""
    expert: ExpertSettings
    actor: ActorSettings
    model_error: Mapping[str, float] = field(default_factory=dict)
    """Default relative errors of the physical parameters for a policy's wrong start (``apply_model_error``):
    chosen so that the untrained zero-config actor is at most 0.7 of the expert's normalised return."""
    identified_actor: ActorSettings | None = None
    """The actor for physics identified from its own rollouts (``dilqr-rl rl --sysid-every``), where a longer
    horizon than ``actor``'s pays once the model is right but amplifies a wrong one (None: ``actor``)."""
    action_scale: float = 1.0
    """Env action = ``action_scale`` * model control u (e.g. MuJoCo controls from forces)."""
    learned_state_map: Callable[[tuple[int, ...]], nn.Module] | None = None
    """For image observations (``state_map`` None): builds a trainable map from observations of a shape to model
    states (the pixel pendulum: :class:`~dilqr_rl.policies.pixel_state.KeypointPendulumMap`). It starts
    untrained: clone it with a state regression (``bc-step --state-weight``) before acting on it."""


@dataclass(frozen=True)
class EnvEntry:
    """One supported environment: how to recognise it and how to build its :class:`EnvControl`."""

    env_id: str
    """The id to ``gymnasium.make`` (after ``import dilqr_rl.envs``)."""
    description: str
    matches: Callable[[gym.Env], bool]
    build: Callable[[gym.Env], EnvControl]
    state_ids: tuple[str, ...] = ()
    """Every id the entry serves whose observations are states (``dilqr-rl rl`` trains in these); default: just
    ``env_id``."""
    image_ids: tuple[str, ...] = ()
    """Ids it serves whose observations are images (cloning only: ``bc-step``, ``dagger``)."""
    perturbations: Mapping[str, Perturbations] = field(default_factory=dict)
    """Id -> how that env is made with changed physics and from wider starts (the ``rl`` study's robustness
    test; :func:`perturbed_env`)."""

    @property
    def state_env_ids(self) -> tuple[str, ...]:
        """The ids it serves whose observations are states (``state_ids``, else ``env_id``)."""
        return self.state_ids or (self.env_id,)

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id the entry serves, states first."""
        return self.state_env_ids + self.image_ids


WRONG_PENDULUM = {"mass": 0.3, "length": -0.3, "gravity": 0.3}
"""30% off, in the directions that hurt: the pendulum identifies only 3g/(2l) and 3/(m l^2), so every parameter
x0.7 (or x1.3) leaves g/l right; this start is 0.51 of the expert's normalised return on Pendulum-v1 (seeds
0..9; every parameter x0.7: 0.75, x1.3: about 1)."""
WRONG_CARTPOLE = {"cart_mass": -0.3, "pole_mass": -0.3, "length": -0.3}
"""The swing-up's wrong start: 0.46 of the expert's normalised return (seeds 0..9)."""
WRONG_BALANCE = {"length": 1.0}
"""Balancing forgives 30% errors (CartpoleBalance-v0 keeps the true model's return with WRONG_CARTPOLE): a pole
twice as long is 0.61 normalised (seeds 0..3)."""
WRONG_INVERTED_PENDULUM = {"length": 2.0}
"""InvertedPendulum-v5 balances for 1000 steps with the pole length x0.3, x1.5 or x2: x3 falls (73.5 of 1000)."""


def _pendulum_obs_to_state(obs: np.ndarray) -> np.ndarray:
    """(B, 3) = (cos theta, sin theta, theta_dot) -> (B, 2) = (theta, theta_dot)."""
    obs = np.asarray(obs, dtype=np.float64)
    return np.stack([np.arctan2(obs[:, 1], obs[:, 0]), obs[:, 2]], axis=1)


def _identity(obs: np.ndarray) -> np.ndarray:
    return np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)


def _cartpole_trig_to_state(obs: np.ndarray) -> np.ndarray:
    """(B, 5) = (x, x_dot, cos theta, sin theta, theta_dot) -> (B, 4)."""
    obs = np.asarray(obs, dtype=np.float64)
    return np.stack([obs[:, 0], obs[:, 1], np.arctan2(obs[:, 3], obs[:, 2]), obs[:, 4]], axis=1)


def _is_gym_pendulum(env: gym.Env) -> bool:
    from gymnasium.envs.classic_control.pendulum import PendulumEnv

    return isinstance(env.unwrapped, PendulumEnv)


PENDULUM_ACTOR = ActorSettings(horizon=20, max_iter=30, starts=(0.0, 1.0, -1.0), follow_tolerance=0.0)
"""1 s ahead, every new observation from three starts: -157.1 with the true model on Pendulum-v1's seeds
1000..1019 (expert -143.5), -719.7 from WRONG_PENDULUM. Measured against it (seeds 1000..1019 unless said):

- following its own plans at T = 20 stalls the swing-up on some starts: -288.6, two episodes near -1495;
- the expert's horizon and starts, following (T = 40, 60 iterations, start_switches (3, 6, 10, 15, 20, 25),
  follow_tolerance 0.5) match the expert with the true model: -146.5 (seeds 0..19: -129.0; 2000..2049: -141.1
  against the expert's -138.2) at the same PPO env steps/s; T = 60 equals the expert (-143.5). T = 30 following
  stalls (-404.0). But a long horizon amplifies wrong physics: from WRONG_PENDULUM the T = 40 actor returns
  -1358.5 (below a random policy), and ``dilqr-rl demo``'s clone from 5 expert episodes does not learn at all
  (-1259.3 against -156.6 at T = 20: its 3g/(2l) stays at 27.7, the truth 15). The short horizon is kept: it is
  the one that learns from a wrong start."""
PENDULUM_EXPERT = ExpertSettings(horizon=60, max_iter=5, cold_iter=60, cold_switches=(3, 6, 10, 15, 20, 25))
"""3 s ahead from bang-bang cold starts besides the constant ones: from the bottom the best swing-up pumps once,
which T = 40 from constant starts does not find (-146.5 against -134.3 on seeds 0..99)."""
PENDULUM_IDENTIFIED_ACTOR = replace(PENDULUM_ACTOR, horizon=40, max_iter=60,
                                    start_switches=PENDULUM_EXPERT.cold_switches,
                                    follow_tolerance=DEFAULT_FOLLOW_TOLERANCE)
"""The pendulums' actor once SysId has identified the physics: T = 40 following its plans, from the expert's
bang-bang starts besides its constant ones (see PENDULUM_ACTOR)."""


def _gym_pendulum(env: gym.Env) -> EnvControl:
    p = env.unwrapped
    return EnvControl(
        "Pendulum-v1", PendulumDynamics(p.m, p.l, p.g, dt=p.dt, max_speed=p.max_speed, dtype=torch.float64),
        PeriodicQuadraticCost(PENDULUM_WEIGHTS, angle_index=0), -p.max_torque, p.max_torque,
        _pendulum_obs_to_state, PendulumAngleMap(),
        PENDULUM_EXPERT, PENDULUM_ACTOR, WRONG_PENDULUM, identified_actor=PENDULUM_IDENTIFIED_ACTOR)


def _own_model(env: gym.Env, cls: type) -> bool:
    return isinstance(getattr(env.unwrapped, "dynamics", None), cls)


def _own_pendulum(env: gym.Env) -> EnvControl:
    p = env.unwrapped
    learned = None
    if p.observation_space.dtype == np.uint8:  # images: the pixel pendulum
        obs_to_state, state_map = _privileged_state(p), None
        learned = functools.partial(KeypointPendulumMap, dt=p.dynamics.dt, max_speed=p.dynamics.max_speed)
    elif getattr(p, "observation_mode", None) is not None and p.observation_mode.value == "state":
        obs_to_state, state_map = _identity, IdentityStateMap(2)
    else:
        obs_to_state, state_map = _pendulum_obs_to_state, PendulumAngleMap()
    return EnvControl(
        type(p).__name__, p.dynamics, PeriodicQuadraticCost(PENDULUM_WEIGHTS, angle_index=0), -p.action_bound,
        p.action_bound, obs_to_state, state_map, PENDULUM_EXPERT, PENDULUM_ACTOR, WRONG_PENDULUM,
        identified_actor=PENDULUM_IDENTIFIED_ACTOR, learned_state_map=learned)


def _privileged_state(unwrapped: gym.Env) -> ObsToState:
    """Reads the true state of ``unwrapped`` instead of decoding the images (one env only)."""

    def read(obs: np.ndarray) -> np.ndarray:
        if len(obs) != 1:
            raise ValueError(
                f"the pixel-pendulum expert reads the true state of the one env it was built for, but got "
                f"{len(obs)} observations; for vectorised envs call expert.predict_state with info['state']"
            )
        return unwrapped.state[None]

    return read


def _own_cartpole(env: gym.Env) -> EnvControl:
    p = env.unwrapped
    trig = getattr(p, "observation_mode", None) is not None and p.observation_mode.value == "trig"
    if p.task.value == "swingup":
        expert = ExpertSettings(horizon=60, max_iter=5, cold_iter=60)
        actor = ActorSettings(horizon=60, max_iter=60, starts=(0.0, 1.0, -1.0))
        weights = CARTPOLE_WEIGHTS
    else:
        expert = ExpertSettings(horizon=25, max_iter=3, cold_iter=30, cold_starts=(0.0,))
        actor = ActorSettings(horizon=25, max_iter=30)
        weights = BALANCE_WEIGHTS
    return EnvControl(
        f"Cartpole ({p.task.value})", p.dynamics, PeriodicQuadraticCost(weights, angle_index=2),
        -p.action_bound, p.action_bound, _cartpole_trig_to_state if trig else _identity,
        CartpoleAngleMap() if trig else IdentityStateMap(4), expert, actor,
        WRONG_CARTPOLE if p.task.value == "swingup" else WRONG_BALANCE)


def _is_inverted_pendulum(env: gym.Env) -> bool:
    try:
        from gymnasium.envs.mujoco.inverted_pendulum_v5 import InvertedPendulumEnv
    except ImportError:  # mujoco missing: then this env cannot exist either
        return False
    return isinstance(env.unwrapped, InvertedPendulumEnv)


def _force_adapter_gear(env: gym.Env) -> float | None:
    """The gear of an ``InvertedPendulumStateAdapter`` in the wrapper chain (states and forces), else None."""
    while isinstance(env, gym.Wrapper):
        if hasattr(env, "gear") and hasattr(env, "force_limit"):
            return float(env.gear)
        env = env.env
    return None


def _inverted_pendulum(env: gym.Env) -> EnvControl:
    fit = INVERTED_PENDULUM_FIT
    limit = float(env.unwrapped.action_space.high[0]) * fit.gain  # model force bound (N)
    gear = _force_adapter_gear(env)
    if gear is None:  # raw MuJoCo: obs [x, theta, x_dot, theta_dot], action = force / gain
        obs_to_state, state_map = mujoco_obs_to_cartpole_state, ReorderStateMap(STATE_ORDER)
        action_scale = 1.0 / fit.gain
    else:  # adapter: states in model order, action = force in N, converted by the adapter with its gear
        obs_to_state, state_map = _identity, IdentityStateMap(4)
        action_scale = gear / fit.gain
    return EnvControl(
        "InvertedPendulum-v5 (fitted cart-pole model)",
        CartpoleDynamics(**fit.model_parameters(), dtype=torch.float64),
        PeriodicQuadraticCost(INVERTED_PENDULUM_WEIGHTS, angle_index=2), -limit, limit, obs_to_state, state_map,
        ExpertSettings(horizon=25, max_iter=3, cold_iter=30, cold_starts=(0.0,)),
        ActorSettings(horizon=25, max_iter=30), WRONG_INVERTED_PENDULUM, action_scale=action_scale)


ENVS: tuple[EnvEntry, ...] = (
    EnvEntry("Pendulum-v1", "Gymnasium's Pendulum-v1", _is_gym_pendulum, _gym_pendulum,
             perturbations={"Pendulum-v1": perturbed.GYM_PENDULUM}),
    EnvEntry("InvertedPendulum-v5",
             "InvertedPendulum-v5 (raw, or through dilqr_rl.envs.InvertedPendulumStateAdapter)",
             _is_inverted_pendulum, _inverted_pendulum,
             perturbations={"InvertedPendulum-v5": perturbed.INVERTED_PENDULUM}),
    EnvEntry("dilqr_rl/Pendulum-v0", "dilqr_rl/Pendulum-v0 and dilqr_rl/PixelPendulum-v0",
             lambda env: _own_model(env, PendulumDynamics), _own_pendulum,
             image_ids=("dilqr_rl/PixelPendulum-v0",),
             perturbations={"dilqr_rl/Pendulum-v0": perturbed.OWN_PENDULUM}),
    EnvEntry("dilqr_rl/CartpoleSwingUp-v0", "dilqr_rl/CartpoleSwingUp-v0 and dilqr_rl/CartpoleBalance-v0",
             lambda env: _own_model(env, CartpoleDynamics), _own_cartpole,
             state_ids=("dilqr_rl/CartpoleSwingUp-v0", "dilqr_rl/CartpoleBalance-v0"),
             perturbations={"dilqr_rl/CartpoleSwingUp-v0": perturbed.CARTPOLE_SWING_UP,
                            "dilqr_rl/CartpoleBalance-v0": perturbed.CARTPOLE_BALANCE}),
)
"""Every supported environment; :func:`env_control` takes the first entry that matches. Adding an environment is
adding its entry here (with the builder of its :class:`EnvControl`): the ids below, the expert, the actor,
``dilqr-rl rl``, ``bc-step`` and ``dagger`` read them from here."""

STATE_ENV_IDS: tuple[str, ...] = tuple(i for entry in ENVS for i in entry.state_env_ids)
"""The ids whose observations are states, in the registry's order (``dilqr-rl rl`` trains in these)."""
SUPPORTED: tuple[str, ...] = tuple(i for entry in ENVS for i in entry.ids)
"""Every id the registry serves (for messages and the command line)."""


def env_control(env: gym.Env) -> EnvControl:
    """The :class:`EnvControl` of ``env``; ``ValueError`` listing the supported envs if none matches."""
    for entry in ENVS:
        if entry.matches(env):
            return entry.build(env)
    spec = getattr(env, "spec", None)
    described = type(env.unwrapped).__name__ + (f" (id {spec.id!r})" if spec is not None else "")
    raise ValueError(f"no iLQR expert for {described} (no entry in the env registry); supported environments: "
                     f"{', '.join(SUPPORTED)}")


def perturbations_of(env_id: str) -> Perturbations:
    """The registered :class:`~dilqr_rl.envs.perturbations.Perturbations` of ``env_id`` (every state-based id has
    them); ``ValueError`` listing the ids that do otherwise."""
    known = {i: p for entry in ENVS for i, p in entry.perturbations.items()}
    if env_id not in known:
        raise ValueError(f"no changed-physics and wide-start settings for {env_id!r} in the env registry; "
                         f"registered for: {', '.join(known)}")
    return known[env_id]


def perturbed_env(env_id: str, scale: float = 1.0, wide: bool = False) -> gym.Env:
    """``env_id`` with every mass and length x ``scale``, starting outside its training starts when ``wide`` (the
    ``rl`` study's robustness test; what is changed: :func:`perturbations_of`)."""
    return make_perturbed(env_id, perturbations_of(env_id), scale, wide)


def apply_model_error(dynamics: nn.Module, model_error: Mapping[str, float]) -> nn.Module:
    """Scale the named scalar parameters of ``dynamics`` in place: p <- p * (1 + error); returns ``dynamics``.

    ``model_error`` maps parameter names (``dynamics.named_parameters()``, e.g. ``mass``, ``length``,
    ``gravity``; through a ``ScaledControl`` wrapper the inner model's names) to relative errors > -1.
    """
    inner = getattr(dynamics, "model", dynamics)
    params = {name: p for name, p in inner.named_parameters() if p.numel() == 1}
    unknown = sorted(set(model_error) - set(params))
    if unknown:
        raise ValueError(f"unknown physical parameter(s) {unknown} of {type(inner).__name__}; its parameters: "
                         f"{sorted(params)}")
    bad = {k: v for k, v in model_error.items() if not (np.isfinite(v) and v > -1)}
    if bad:
        raise ValueError(f"relative model errors must be finite and > -1 (the parameter stays positive); got {bad}")
    with torch.no_grad():
        for name, error in model_error.items():
            params[name].mul_(1.0 + float(error))
    return dynamics
