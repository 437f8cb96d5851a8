"""Behaviour cloning on action sequences, as in the papers (Amos et al., 2018; Wang et al., 2025).

A sequence policy maps initial states to nominal action sequences, ``x_init (B, n) -> u (B, T, m)``; it
is trained on the imitation loss ``||u_{1:T}(x; theta_hat) - u_{1:T}^expert||^2`` per example (summed
over T and m, or averaged over them as the papers' code does: ``loss_reduction="mean"``), averaged over the
batch. Policies: a DiLQR learner (its forward returns a ``Solution``) in mode

- ``dx``: learn the dynamics' learnable parameters from a wrong initial model, cost known;
- ``cost``: learn the goal cost's weights w_g and goal tau_g, dynamics known (alternating every
  ``alternate_every`` epochs, weights first, as the papers do);
- ``cost_dx``: both (dynamics every epoch, weights and goal alternating);

or an NN baseline (``lstm``, ``mlp``, or ``papers_lstm``: the papers' autoregressive LSTM). The wrong
initial model is the system's documented learner start when it has one and ``perturbation`` is ``None``
(the papers' systems: their code's initial models), else seeded (``init_seed``): every learned scalar
theta_i starts at ``theta_i * (1 + r * s_i * v_i)`` with r = ``perturbation`` (0.3 when ``None``), a
random sign s_i and v_i ~ U(0.5, 1), so each starts between r/2 and r away (relatively) from the truth;
the goal (often zero) is shifted additively, ``tau_g,i + r * s_i * v_i``. ``start_params`` overrides
single dynamics parameters of the start.

DiLQR learners can warm-start every example from its previous solution (``SequenceBCTrainer(
warm_start=True)``), reset every ``warm_start_reset`` epochs, as the DiffMPC code does.

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
from dilqr_rl.models import get_system
from dilqr_rl.policies.baselines import AutoregressiveLSTMPolicy, LSTMSequencePolicy, MLPSequencePolicy


class BCMode(str, Enum):
    DX = "dx"
    COST = "cost"
    COST_DX = "cost_dx"


class PolicyKind(str, Enum):
    DILQR = "dilqr"
    LSTM = "lstm"
    MLP = "mlp"
    PAPERS_LSTM = "papers_lstm"


DEFAULT_PERTURBATION = 0.3
"""Relative error of a random wrong initial model where the system documents no learner start."""


def _choice(enum: type[Enum], value: str, what: str) -> Enum:
    try:
        return enum(value)
    except ValueError:
        raise ValueError(f"unknown {what} {value!r}; valid: {[e.value for e in enum]}") from None


@dataclass(frozen=True)
class SequencePolicySpec:
    """Everything needed to rebuild a sequence policy (stored in checkpoints)."""

    kind: str = "dilqr"
    """``dilqr``, ``lstm``, ``mlp`` or ``papers_lstm``."""
    system: str = "pendulum-upright"
    """A name for :func:`dilqr_rl.models.get_system`."""
    mode: str = "dx"
    """DiLQR only: ``dx``, ``cost`` or ``cost_dx``."""
    grad_method: str = "implicit"
    """DiLQR only: ``implicit``, ``diffmpc`` or ``unroll``."""
    perturbation: float | None = None
    """DiLQR only: relative distance r of a random wrong initial model from the truth; ``None``: the
    system's documented learner start where it has one (the papers'), else r = 0.3 (see the module doc)."""
    init_seed: int = 0
    """Seeds the wrong initial model (DiLQR) or the network's initial weights (NN)."""
    learnable: tuple[str, ...] | None = None
    """DiLQR dx modes: the dynamics parameters to learn (default: the system's ``learnable``)."""
    max_iter: int = 50
    """DiLQR only: iLQR iterations per solve."""
    hidden_size: int = 64
    """NN only: LSTM hidden size / MLP width (the papers' LSTM: 256)."""
    start_params: dict[str, float] | None = None
    """DiLQR only: dynamics parameters of the initial model, overriding the rest of the start."""
    horizon: int | None = None
    """T of the plans the policy outputs; ``None``: the system's (set it to a dataset's ``horizon``)."""

    def __post_init__(self) -> None:
        _choice(PolicyKind, self.kind, "policy kind")
        _choice(BCMode, self.mode, "BC mode")
        system = get_system(self.system)
        if self.horizon is not None and (not isinstance(self.horizon, int) or self.horizon < 1):
            raise ValueError(f"horizon must be an integer >= 1 or None (the system's {system.horizon}); got "
                             f"{self.horizon!r}")
        for what, names in (("learnable", self.learnable), ("start_params", self.start_params)):
            bad = sorted(set(names or ()) - set(system.true_params))
            if bad:
                raise ValueError(f"{what} {bad} are not parameters of {self.system}; valid: "
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
    """(dynamics parameters, cost weights, cost goal) a DiLQR learner starts from (true where not learned).

    The dynamics parameters returned override the system's true ones; they include what the learner's
    model class lacks (``SystemSpec.learner_params`` entries outside ``SystemSpec.learnable``, such as the
    non-realizable pendulum's damping), whatever is learned.
    """
    system = get_system(spec.system)
    g = torch.Generator().manual_seed(spec.init_seed)
    names = spec.learned_dynamics_names()
    documented = spec.perturbation is None and system.has_learner_start
    r = DEFAULT_PERTURBATION if spec.perturbation is None else spec.perturbation
    params = {k: v for k, v in system.learner_params.items() if k not in system.learnable}
    if documented:
        params.update({k: system.learner_params.get(k, system.true_params[k]) for k in names})
    else:
        scale = 1 + _offsets(len(names), r, g)
        params.update({k: system.true_params[k] * float(s) for k, s in zip(names, scale)})
    params.update(spec.start_params or {})
    w = torch.tensor(system.cost_weights, dtype=torch.float64)
    goal = torch.tensor(system.cost_goal, dtype=torch.float64)
    if spec.learns_cost and documented and system.learner_cost_weights is not None:
        w = torch.tensor(system.learner_cost_weights, dtype=torch.float64)
        goal = torch.tensor(system.learner_cost_goal, dtype=torch.float64)
    elif spec.learns_cost:
        w = w * (1 + _offsets(w.numel(), r, g))
        goal = goal + _offsets(goal.numel(), r, g)
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
    n, m = system.state_dim, system.control_dim
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.init_seed)
        if spec.kind == PolicyKind.LSTM.value:
            net = LSTMSequencePolicy(n, m, spec.planning_horizon, system.u_lower, system.u_upper,
                                     hidden_size=spec.hidden_size)
        elif spec.kind == PolicyKind.PAPERS_LSTM.value:
            net = AutoregressiveLSTMPolicy(n, m, spec.planning_horizon, hidden_size=spec.hidden_size)
        else:
            net = MLPSequencePolicy(n, m, spec.planning_horizon, system.u_lower, system.u_upper,
                                    hidden_sizes=(spec.hidden_size, spec.hidden_size))
    return net.to(dtype)


def load_sequence_policy(path: str | Path, dtype: torch.dtype = torch.float64) -> nn.Module:
    """Rebuild the policy saved in a BC checkpoint (``best.pt`` or ``last.pt``) and load its weights."""
    state = load_checkpoint(path)
    try:
        spec = sequence_spec_from_dict(state["spec"])
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


def sequence_spec_from_dict(values: dict) -> SequencePolicySpec:
    """Rebuild a spec stored with ``dataclasses.asdict`` (lists back to tuples)."""
    learnable = values.get("learnable")
    return SequencePolicySpec(**{**values, "learnable": None if learnable is None else tuple(learnable)})


def true_parameter_vector(spec: SequencePolicySpec, dtype: torch.dtype = torch.float64) -> Tensor:
    """theta: the true values of what a DiLQR learner learns: the dynamics parameters, then the cost's
    ``model_vector()`` (GoalCost: w_g and tau_g; QuadGoalCost: q and p, as the papers' code logs them)."""
    system = get_system(spec.system)
    parts = [torch.tensor([system.true_params[k] for k in spec.learned_dynamics_names()], dtype=dtype)]
    if spec.learns_cost:
        parts.append(system.make_cost(dtype).model_vector().detach())
    return torch.cat(parts)


def learned_parameter_vector(spec: SequencePolicySpec, ctrl: DiLQR) -> Tensor:
    """theta_hat in the order of :func:`true_parameter_vector`."""
    params = dict(ctrl.dynamics.named_parameters())
    parts = [torch.stack([params[k].detach() for k in spec.learned_dynamics_names()])
             if spec.learns_dynamics else ctrl.cost.goal.new_zeros(0)]
    if spec.learns_cost:
        parts.append(ctrl.cost.model_vector().detach())
    return torch.cat(parts)


def parameter_names(spec: SequencePolicySpec, ctrl: DiLQR) -> list[str]:
    """Names of the entries of :func:`learned_parameter_vector`."""
    names = list(spec.learned_dynamics_names())
    return names + (ctrl.cost.model_vector_names() if spec.learns_cost else [])


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


LOSS_REDUCTIONS = ("sum", "mean")


def imitation_loss(policy: nn.Module, x_init: Tensor, u_expert: Tensor, u_init: Tensor | None = None,
                   reduction: str = "sum") -> tuple[Tensor, Solution | None]:
    """The papers' imitation loss per example and the DiLQR solution: ``sum_{t,j} (u_hat - u_expert)^2``
    (``reduction="sum"``) or its mean over t and j (``"mean"``, as the papers' code computes it).

    ``policy`` is a sequence policy (DiLQR or an NN baseline); ``u_init`` warm-starts a DiLQR policy; an
    unconverged solve is not warned about (see ``solution.converged``).

    Shapes:
        x_init (B, n), u_expert (B, T, m), u_init (B, T, m) -> loss (B,) in ``u_expert``'s dtype.
    """
    if reduction not in LOSS_REDUCTIONS:
        raise ValueError(f"unknown loss reduction {reduction!r}; valid: {list(LOSS_REDUCTIONS)}")
    dtype = next(policy.parameters()).dtype
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnconvergedWarning)
        if isinstance(policy, DiLQR):
            out = policy(x_init.to(dtype), None if u_init is None else u_init.to(dtype))
        else:
            out = policy(x_init.to(dtype))
    solution = out if isinstance(out, Solution) else None
    u = out.u if solution is not None else out  # (B, T, m)
    squared = (u.to(u_expert.dtype) - u_expert).square()
    return (squared.sum(dim=(1, 2)) if reduction == "sum" else squared.mean(dim=(1, 2))), solution


class SequenceBCTrainer(BCTrainer):
    """BC of ``x_init (B, n) -> u (B, T, m)`` on (x_init, u_expert) data; DiLQR or NN policies alike.

    For DiLQR policies the ``ilqr/`` diagnostics (iterations per solve, unconverged fraction) are logged,
    the ``cost`` modes alternate weights and goal every ``alternate_every`` epochs, and ``bc/model_loss``
    and ``param/<name>`` are logged. ``loss_reduction`` is the per-example imitation loss (see
    :func:`imitation_loss`). With ``warm_start`` every example's solve starts from its previous solution
    (zeros every ``warm_start_reset`` epochs), as the DiffMPC code does; the warm starts are part of the
    resumable state.
    """

    def __init__(self, policy: nn.Module, spec: SequencePolicySpec, config: BCConfig, writer=None,
                 alternate_every: int = 10, loss_reduction: str = "sum", warm_start: bool = False,
                 warm_start_reset: int = 50) -> None:
        if alternate_every < 1 or warm_start_reset < 1:
            raise ValueError(f"alternate_every and warm_start_reset must be >= 1, got {alternate_every} and "
                             f"{warm_start_reset}")
        if loss_reduction not in LOSS_REDUCTIONS:
            raise ValueError(f"unknown loss_reduction {loss_reduction!r}; valid: {list(LOSS_REDUCTIONS)}")
        super().__init__(policy, config, writer, spec=asdict(spec))
        self.sequence_spec, self.alternate_every = spec, alternate_every
        self.loss_reduction = loss_reduction
        self.warm_start = warm_start and isinstance(policy, DiLQR)
        self.warm_start_reset = warm_start_reset
        self._warm: Tensor | None = None  # (N_train + N_val + N_test, T, m): one plan per example

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

    def fit(self, train: tuple[Tensor, ...], val: tuple[Tensor, ...], test: tuple[Tensor, ...] | None = None,
            resume: bool = False):
        """:meth:`BCTrainer.fit` on (x_init, u_expert, ...) splits; with ``warm_start`` each example also
        carries its index into the table of warm starts (appended last)."""
        if not self.warm_start:
            return super().fit(train, val, test, resume)
        splits, start = [], 0
        for split in (train, val, test):
            if split is None:
                splits.append(None)
                continue
            n = split[0].shape[0]
            splits.append((*split, torch.arange(start, start + n)))
            start += n
        u = train[1]
        self._warm = u.new_zeros(start, *u.shape[1:]).to(next(self.policy.parameters()).dtype)
        return super().fit(*splits, resume=resume)

    def on_epoch_start(self, epoch: int) -> None:
        if self._warm is not None and epoch % self.warm_start_reset == 0:
            self._warm.zero_()
        if isinstance(self.policy, DiLQR) and self.sequence_spec.learns_cost:
            weights_phase = (epoch // self.alternate_every) % 2 == 0
            for p in self.policy.cost.weight_parameters():
                p.requires_grad_(weights_phase)
            for p in self.policy.cost.goal_parameters():
                p.requires_grad_(not weights_phase)

    def item_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, dict[str, float]]:
        x_init, u_expert = batch[:2]
        ids = batch[-1] if self._warm is not None and len(batch) > 2 else None  # appended by fit
        u_init = None if ids is None else self._warm[ids]
        loss, solution = imitation_loss(self.policy, x_init, u_expert, u_init, self.loss_reduction)
        if solution is None:
            return loss, {}
        if ids is not None:
            self._warm[ids] = solution.u.detach()
        return loss, {"ilqr/unconverged_fraction": float((~solution.converged).double().mean()),
                      "ilqr/iterations": float(solution.iterations.double().mean())}

    def extra_state(self) -> dict:
        return {} if self._warm is None else {"warm_start": self._warm.clone()}

    def load_extra_state(self, state: dict) -> None:
        if self._warm is not None and "warm_start" in state:
            self._warm.copy_(state["warm_start"])

    def metrics(self) -> dict[str, float]:
        if not isinstance(self.policy, DiLQR):
            return {}
        spec = self.sequence_spec
        out = {"bc/model_loss": model_loss(spec, self.policy)}
        values = learned_parameter_vector(spec, self.policy).tolist()
        for name, value in zip(parameter_names(spec, self.policy), values):
            out[f"param/{name}"] = value
        return out
