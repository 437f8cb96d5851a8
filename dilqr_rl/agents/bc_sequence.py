"""Behaviour cloning on action sequences, as in the papers (Amos et al., 2018; Wang et al., 2025).

A sequence policy maps initial states to nominal action sequences, ``x_init (B, n) -> u (B, T, m)``; it
is trained on the imitation loss ``||u_{1:T}(x; theta_hat) - u_{1:T}^expert||^2`` (summed over T and m,
averaged over the batch). Policies: a DiLQR learner (its forward returns a ``Solution``) in mode

- ``dx``: learn the dynamics' learnable parameters from a wrong initial model, cost known;
- ``cost``: learn the goal cost's weights w_g and goal tau_g, dynamics known (alternating every
  ``alternate_every`` epochs, weights first, as the papers do);
- ``cost_dx``: both (dynamics every epoch, weights and goal alternating);

or an NN baseline (``lstm``, ``mlp``). The wrong initial model is seeded (``init_seed``): every learned
scalar theta_i starts at ``theta_i * (1 + r * s_i * v_i)`` with r = ``perturbation``, a random sign s_i
and v_i ~ U(0.5, 1), so each starts between r/2 and r away (relatively) from the truth; the goal (often
zero) is shifted additively, ``tau_g,i + r * s_i * v_i``.

Note: the pendulum's (mass, length, gravity) enter the dynamics only through 3g/(2l) and 3/(m l^2), so
imitation (or SysId) identifies the dynamics, not the three numbers; ``dynamics_error`` measures the former.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

import torch
from torch import Tensor, nn

from dilqr_rl.agents.bc import BCConfig, BCTrainer, load_checkpoint
from dilqr_rl.control import DiLQR, Solution, UnconvergedWarning
from dilqr_rl.models import SystemSpec, get_system
from dilqr_rl.policies.baselines import LSTMSequencePolicy, MLPSequencePolicy


class BCMode(str, Enum):
    DX = "dx"
    COST = "cost"
    COST_DX = "cost_dx"


class PolicyKind(str, Enum):
    DILQR = "dilqr"
    LSTM = "lstm"
    MLP = "mlp"


def _choice(enum: type[Enum], value: str, what: str) -> Enum:
    try:
        return enum(value)
    except ValueError:
        raise ValueError(f"unknown {what} {value!r}; valid: {[e.value for e in enum]}") from None


@dataclass(frozen=True)
class SequencePolicySpec:
    """Everything needed to rebuild a sequence policy (stored in checkpoints)."""

    kind: str = "dilqr"
    """``dilqr``, ``lstm`` or ``mlp``."""
    system: str = "pendulum-upright"
    """A name for :func:`dilqr_rl.models.get_system`."""
    mode: str = "dx"
    """DiLQR only: ``dx``, ``cost`` or ``cost_dx``."""
    grad_method: str = "implicit"
    """DiLQR only: ``implicit``, ``diffmpc`` or ``unroll``."""
    perturbation: float = 0.3
    """DiLQR only: relative distance r of the wrong initial model from the truth (see the module doc)."""
    init_seed: int = 0
    """Seeds the wrong initial model (DiLQR) or the network's initial weights (NN)."""
    learnable: tuple[str, ...] | None = None
    """DiLQR dx modes: the dynamics parameters to learn (default: the system's ``learnable``)."""
    max_iter: int = 50
    """DiLQR only: iLQR iterations per solve."""
    hidden_size: int = 64
    """NN only: LSTM hidden size / MLP width."""
    horizon: int | None = None
    """T of the plans the policy outputs; ``None``: the system's (set it to a dataset's ``horizon``)."""

    def __post_init__(self) -> None:
        _choice(PolicyKind, self.kind, "policy kind")
        _choice(BCMode, self.mode, "BC mode")
        system = get_system(self.system)
        if self.horizon is not None and (not isinstance(self.horizon, int) or self.horizon < 1):
            raise ValueError(f"horizon must be an integer >= 1 or None (the system's {system.horizon}); got "
                             f"{self.horizon!r}")
        if self.learnable is not None:
            bad = sorted(set(self.learnable) - set(system.true_params))
            if bad:
                raise ValueError(f"learnable {bad} are not parameters of {self.system}; valid: "
                                 f"{sorted(system.true_params)}")

    @property
    def planning_horizon(self) -> int:
        """T: ``horizon`` or, when it is ``None``, the system's."""
        return self.horizon if self.horizon is not None else get_system(self.system).horizon

    @property
    def learns_dynamics(self) -> bool:
        return self.kind == PolicyKind.DILQR.value and self.mode in (BCMode.DX.value, BCMode.COST_DX.value)

    @property
    def learns_cost(self) -> bool:
        return self.kind == PolicyKind.DILQR.value and self.mode in (BCMode.COST.value, BCMode.COST_DX.value)

    def learned_dynamics_names(self) -> tuple[str, ...]:
        if not self.learns_dynamics:
            return ()
        return self.learnable if self.learnable is not None else get_system(self.system).learnable


def _offsets(count: int, perturbation: float, generator: torch.Generator) -> Tensor:
    sign = torch.randint(0, 2, (count,), generator=generator, dtype=torch.float64) * 2 - 1
    return perturbation * sign * (0.5 + 0.5 * torch.rand(count, generator=generator, dtype=torch.float64))


def wrong_initial_model(spec: SequencePolicySpec) -> tuple[dict[str, float], Tensor, Tensor]:
    """(dynamics parameters, cost weights, cost goal) a DiLQR learner starts from (true where not learned)."""
    system = get_system(spec.system)
    g = torch.Generator().manual_seed(spec.init_seed)
    names = spec.learned_dynamics_names()
    scale = 1 + _offsets(len(names), spec.perturbation, g)
    params = {k: system.true_params[k] * float(s) for k, s in zip(names, scale)}
    w = torch.tensor(system.cost_weights, dtype=torch.float64)
    goal = torch.tensor(system.cost_goal, dtype=torch.float64)
    if spec.learns_cost:
        w = w * (1 + _offsets(w.numel(), spec.perturbation, g))
        goal = goal + _offsets(goal.numel(), spec.perturbation, g)
    return params, w, goal


def make_dilqr_learner(spec: SequencePolicySpec, dtype: torch.dtype = torch.float64) -> DiLQR:
    """A DiLQR layer over the system's model class, started from :func:`wrong_initial_model`.

    Only the learned parameters require grad, so the layer's backward computes nothing else.
    """
    system = get_system(spec.system)
    params, w, goal = wrong_initial_model(spec)
    dynamics = system.make_dynamics(dtype, **params)
    learned = set(spec.learned_dynamics_names())
    for name, p in dynamics.named_parameters():
        p.requires_grad_(name in learned)
    cost = system.make_cost(dtype, weights=w, goal=goal)
    cost.requires_grad_(spec.learns_cost)
    return DiLQR(dynamics, cost, spec.planning_horizon, system.u_lower, system.u_upper,
                 grad_method=spec.grad_method, max_iter=spec.max_iter, on_unconverged="zero")


def build_sequence_policy(spec: SequencePolicySpec, dtype: torch.dtype = torch.float64) -> nn.Module:
    """The policy ``spec`` describes: a DiLQR learner or a seeded NN baseline, in ``dtype``."""
    system = get_system(spec.system)
    if spec.kind == PolicyKind.DILQR.value:
        return make_dilqr_learner(spec, dtype)
    n, m = len(system.x_init_low), _control_dim(system)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.init_seed)
        if spec.kind == PolicyKind.LSTM.value:
            net = LSTMSequencePolicy(n, m, spec.planning_horizon, system.u_lower, system.u_upper,
                                     hidden_size=spec.hidden_size)
        else:
            net = MLPSequencePolicy(n, m, spec.planning_horizon, system.u_lower, system.u_upper,
                                    hidden_sizes=(spec.hidden_size, spec.hidden_size))
    return net.to(dtype)


def _control_dim(system: SystemSpec) -> int:
    return int(system.dynamics_cls.control_dim)


def load_sequence_policy(path: str | Path, dtype: torch.dtype = torch.float64) -> nn.Module:
    """Rebuild the policy saved in a BC checkpoint (``best.pt`` or ``last.pt``) and load its weights."""
    state = load_checkpoint(path)
    try:
        spec = SequencePolicySpec(**{**state["spec"], "learnable": _tuple(state["spec"].get("learnable"))})
    except TypeError as e:
        raise ValueError(f"{path} was not written by sequence BC (its spec does not match): {e}") from None
    policy = build_sequence_policy(spec, dtype)
    policy.load_state_dict(state["policy"])
    return policy.eval()


def load_or_collect_plans(system: str, path: str | Path | None, n_train: int, n_val: int, n_test: int,
                          seed: int, progress: bool = True):
    """``PlanDataset.load(path)`` when a path is given (its system must be ``system``), else collect one.

    The plans' horizon is the dataset's ``horizon``: build the policy with ``SequencePolicySpec(horizon=...)``.
    """
    from dilqr_rl.data import PlanDataset, collect_plans

    if not path:
        return collect_plans(system, n_train=n_train, n_val=n_val, n_test=n_test, seed=seed, progress=progress)
    ds = PlanDataset.load(path)
    name = getattr(ds.system, "name", ds.system)
    if name != system:
        raise ValueError(f"the dataset at {path} is for {name!r}, not {system!r}: pass --system {name}")
    return ds


def _tuple(v):
    return None if v is None else tuple(v)


def true_parameter_vector(spec: SequencePolicySpec, dtype: torch.dtype = torch.float64) -> Tensor:
    """theta: the true values of what a DiLQR learner learns (dynamics params, then w_g, then tau_g)."""
    system = get_system(spec.system)
    parts = [torch.tensor([system.true_params[k] for k in spec.learned_dynamics_names()], dtype=dtype)]
    if spec.learns_cost:
        parts += [torch.tensor(system.cost_weights, dtype=dtype), torch.tensor(system.cost_goal, dtype=dtype)]
    return torch.cat(parts)


def learned_parameter_vector(spec: SequencePolicySpec, ctrl: DiLQR) -> Tensor:
    """theta_hat in the order of :func:`true_parameter_vector`."""
    params = dict(ctrl.dynamics.named_parameters())
    parts = [torch.stack([params[k].detach() for k in spec.learned_dynamics_names()])
             if spec.learns_dynamics else ctrl.cost.goal.new_zeros(0)]
    if spec.learns_cost:
        parts += [ctrl.cost.weights.detach(), ctrl.cost.goal.detach().flatten()]
    return torch.cat(parts)


def model_loss(spec: SequencePolicySpec, ctrl: DiLQR) -> float:
    """MSE(theta - theta_hat) over the learned parameters (the papers' model loss)."""
    return float(((true_parameter_vector(spec) - learned_parameter_vector(spec, ctrl).double()) ** 2).mean())


def dynamics_error(spec: SequencePolicySpec, ctrl: DiLQR, x: Tensor, u: Tensor) -> float:
    """RMS relative one-step error ``||f_hat(x,u) - f(x,u)|| / ||f(x,u) - x||`` on states/controls (R, n/m).

    This is "the learned physics vs the truth" independent of how the model is parameterised.
    """
    system = get_system(spec.system)
    true = system.make_dynamics(x.dtype)
    with torch.no_grad():
        step = true(x, u) - x
        err = ctrl.dynamics(x, u) - true(x, u)
    return float((err.square().sum(-1).mean() / step.square().sum(-1).mean()).sqrt())


def imitation_loss(policy: nn.Module, x_init: Tensor, u_expert: Tensor) -> tuple[Tensor, Solution | None]:
    """The papers' imitation loss per example, ``sum_{t,j} (u_hat - u_expert)^2``, and the DiLQR solution.

    ``policy`` is a sequence policy (DiLQR or an NN baseline); an unconverged solve is not warned about
    (see ``solution.converged``).

    Shapes:
        x_init (B, n), u_expert (B, T, m) -> loss (B,) in ``u_expert``'s dtype.
    """
    dtype = next(policy.parameters()).dtype
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvergedWarning)
        out = policy(x_init.to(dtype))
    solution = out if isinstance(out, Solution) else None
    u = out.u if solution is not None else out  # (B, T, m)
    return (u.to(u_expert.dtype) - u_expert).square().sum(dim=(1, 2)), solution


class SequenceBCTrainer(BCTrainer):
    """BC of ``x_init (B, n) -> u (B, T, m)`` on (x_init, u_expert) data; DiLQR or NN policies alike.

    For DiLQR policies the ``ilqr/`` diagnostics (converged fraction, mean iterations) are logged, the
    ``cost`` modes alternate weights and goal every ``alternate_every`` epochs, and ``bc/model_loss`` and
    ``param/<name>`` are logged.
    """

    def __init__(self, policy: nn.Module, spec: SequencePolicySpec, config: BCConfig, writer=None,
                 alternate_every: int = 10) -> None:
        if alternate_every < 1:
            raise ValueError(f"alternate_every must be >= 1, got {alternate_every}")
        super().__init__(policy, config, writer, spec=asdict(spec))
        self.sequence_spec, self.alternate_every = spec, alternate_every

    def check_data(self, train: tuple[Tensor, ...], val: tuple[Tensor, ...], test: tuple[Tensor, ...] | None
                   ) -> None:
        """Also refuse expert actions that are not u (N, T, m) with the policy's horizon T."""
        super().check_data(train, val, test)
        T = self.sequence_spec.planning_horizon
        for name, split in (("train", train), ("val", val), ("test", test)):
            if split is None:
                continue
            u = split[1]
            if u.ndim != 3:
                raise ValueError(f"the {name} expert actions must be u (N, T, m); got shape {tuple(u.shape)}")
            if u.shape[1] != T:
                raise ValueError(f"the {name} plans have horizon {u.shape[1]} but the policy plans over T={T}; "
                                 f"build the policy with SequencePolicySpec(horizon={u.shape[1]}) (the "
                                 f"dataset's horizon), or collect plans with horizon {T}")

    def on_epoch_start(self, epoch: int) -> None:
        if isinstance(self.policy, DiLQR) and self.sequence_spec.learns_cost:
            weights_phase = (epoch // self.alternate_every) % 2 == 0
            for p in self.policy.cost.weight_parameters():
                p.requires_grad_(weights_phase)
            for p in self.policy.cost.goal_parameters():
                p.requires_grad_(not weights_phase)

    def item_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, dict[str, float]]:
        x_init, u_expert = batch
        loss, solution = imitation_loss(self.policy, x_init, u_expert)  # unconverged: ilqr/converged_fraction
        if solution is None:
            return loss, {}
        return loss, {"ilqr/converged_fraction": float(solution.converged.double().mean()),
                      "ilqr/iterations": float(solution.iterations.double().mean())}

    def metrics(self) -> dict[str, float]:
        if not isinstance(self.policy, DiLQR):
            return {}
        spec = self.sequence_spec
        out = {"bc/model_loss": model_loss(spec, self.policy)}
        for name in spec.learned_dynamics_names():
            out[f"param/{name}"] = float(getattr(self.policy.dynamics, name).detach())
        if spec.learns_cost:
            for i, (w, g) in enumerate(zip(self.policy.cost.weights.tolist(), self.policy.cost.goal.tolist())):
                out[f"param/weight_{i}"], out[f"param/goal_{i}"] = w, g
        return out
