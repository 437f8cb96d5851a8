import dataclasses

import pytest
import torch

from dilqr_rl.agents.bc import BCConfig, load_checkpoint
from dilqr_rl.agents.bc_sequence import (
    SequenceBCTrainer,
    SequencePolicySpec,
    build_sequence_policy,
    dynamics_error,
    imitation_loss,
    load_sequence_policy,
    model_loss,
    wrong_initial_model,
)
from dilqr_rl.control import DiLQR
from dilqr_rl.models import get_system


def tiny_plans(n: int, seed: int, horizon: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_init (n, 2), expert u (n, T, 1)) from the true pendulum controller (T: the system's by default)."""
    s = get_system("pendulum-upright")
    x0 = s.sample_x_init(n, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        u = DiLQR(s.make_dynamics(), s.make_cost(), horizon or s.horizon, s.u_lower, s.u_upper)(x0).u
    return x0, u


@pytest.fixture(scope="module")
def data():
    return tiny_plans(8, 0), tiny_plans(4, 1), tiny_plans(4, 2)


def make_trainer(spec, epochs=6, **config) -> SequenceBCTrainer:
    """A trainer of a fresh policy (float64 DiLQR, float32 NN)."""
    cfg = BCConfig(**{"epochs": epochs, "batch_size": 8, "progress": False, **config})
    dtype = torch.float64 if spec.kind == "dilqr" else torch.float32
    return SequenceBCTrainer(build_sequence_policy(spec, dtype), spec, cfg)


def fit(spec, data, epochs=6, **config):
    """Train a fresh policy; return (policy, trainer, result, loss on the training set before training)."""
    trainer = make_trainer(spec, epochs, **config)
    policy = trainer.policy
    before = trainer.evaluate(data[0])[0]
    return policy, trainer, trainer.fit(*data), before


@pytest.mark.parametrize("mode", ["dx", "cost", "cost_dx"])
def test_dilqr_modes_reduce_the_imitation_loss(data, mode):
    spec = SequencePolicySpec(kind="dilqr", mode=mode, perturbation=0.3)
    _, trainer, result, before = fit(spec, data, epochs=8, lr=2e-2)
    assert trainer.evaluate(data[0])[0] < 0.85 * before  # the best-validation model, on the training set
    assert result.test_loss is not None
    assert result.history["ilqr/unconverged_fraction"][-1] < 0.5


@pytest.mark.parametrize("kind", ["lstm", "mlp"])
def test_nn_baselines_train_through_the_same_trainer(data, kind):
    spec = SequencePolicySpec(kind=kind, hidden_size=16)
    _, trainer, result, before = fit(spec, data, epochs=30, optimizer="adam", lr=1e-2)
    assert trainer.evaluate(data[0])[0] < 0.5 * before
    assert "ilqr/unconverged_fraction" not in result.history


def test_dx_moves_the_model_towards_the_truth(data):
    spec = SequencePolicySpec(kind="dilqr", mode="dx", learnable=("mass",))
    start = build_sequence_policy(spec)
    x, u = data[0][0], data[0][1][:, 0]
    policy, _, result, _ = fit(spec, data, epochs=10, optimizer="adam", lr=3e-2, lr_schedule="cosine")
    assert model_loss(spec, policy) < 0.5 * model_loss(spec, start)
    assert dynamics_error(spec, policy, x, u) < dynamics_error(spec, start, x, u)
    assert result.final_metrics["bc/model_loss"] == pytest.approx(model_loss(spec, policy))


@pytest.mark.parametrize("grad_method", ["diffmpc", "unroll"])
def test_gradient_method_is_selectable(data, grad_method):
    spec = SequencePolicySpec(kind="dilqr", mode="dx", grad_method=grad_method, max_iter=30)
    policy, _, result, _ = fit(spec, data, epochs=2, lr=2e-2)
    assert policy.config.grad_method.value == grad_method
    assert result.history["train/loss"][-1] < result.history["train/loss"][0]


def test_cost_mode_alternates_weights_and_goal_every_k_epochs():
    spec = SequencePolicySpec(kind="dilqr", mode="cost")
    policy = build_sequence_policy(spec)
    trainer = SequenceBCTrainer(policy, spec, BCConfig(progress=False), alternate_every=10)
    for epoch, weights_on in ((0, True), (9, True), (10, False), (19, False), (20, True)):
        trainer.on_epoch_start(epoch)
        assert policy.cost.log_weights.requires_grad is weights_on
        assert policy.cost.goal.requires_grad is not weights_on
    assert not any(p.requires_grad for p in policy.dynamics.parameters())


def test_wrong_initial_model_is_seeded_and_between_r_over_2_and_r():
    true = get_system("pendulum-upright").true_params
    for seed in range(5):
        spec = SequencePolicySpec(kind="dilqr", mode="dx", perturbation=0.2, init_seed=seed)
        params, _, _ = wrong_initial_model(spec)
        assert params == wrong_initial_model(spec)[0]
        for k, v in params.items():
            assert 0.1 - 1e-12 <= abs(v / true[k] - 1) <= 0.2 + 1e-12
    a = wrong_initial_model(SequencePolicySpec(init_seed=0))[0]
    assert a != wrong_initial_model(SequencePolicySpec(init_seed=1))[0]


def test_training_is_reproducible(data):
    spec = SequencePolicySpec(kind="dilqr", mode="dx")
    r1 = fit(spec, data, epochs=2, batch_size=4)[2]
    r2 = fit(spec, data, epochs=2, batch_size=4)[2]
    assert r1.history["train/loss"] == r2.history["train/loss"]


@pytest.mark.parametrize("kind", ["dilqr", "lstm"])
def test_best_checkpoint_loads_back_with_the_same_predictions(data, tmp_path, kind):
    spec = SequencePolicySpec(kind=kind, mode="dx", hidden_size=8)
    policy, _, result, _ = fit(spec, data, epochs=3, checkpoint_dir=str(tmp_path), optimizer="adam", lr=1e-2)
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == result.best_epoch
    dtype = torch.float64 if kind == "dilqr" else torch.float32
    loaded = load_sequence_policy(tmp_path / "best.pt", dtype)
    x = data[2][0].to(dtype)
    out, again = policy(x), loaded(x)
    if kind == "dilqr":
        out, again = out.u, again.u
    torch.testing.assert_close(out, again)


def test_resume_continues_to_the_same_result(data, tmp_path):
    spec = SequencePolicySpec(kind="dilqr", mode="dx")
    full = fit(spec, data, epochs=4, batch_size=4)[2]
    fit(spec, data, epochs=2, batch_size=4, checkpoint_dir=str(tmp_path))
    cfg = BCConfig(epochs=4, batch_size=4, progress=False, checkpoint_dir=str(tmp_path))
    trainer = SequenceBCTrainer(build_sequence_policy(spec), spec, cfg)
    resumed = trainer.fit(*data, resume=True)
    torch.testing.assert_close(torch.tensor(resumed.history["train/loss"]),
                               torch.tensor(full.history["train/loss"]))


def test_bad_inputs_name_the_valid_choices(tmp_path):
    with pytest.raises(ValueError, match=r"unknown BC mode 'dcost'; valid: \['dx', 'cost', 'cost_dx'\]"):
        SequencePolicySpec(mode="dcost")
    with pytest.raises(ValueError, match="unknown policy kind 'gru'"):
        SequencePolicySpec(kind="gru")
    with pytest.raises(ValueError, match=r"learnable \['dt'\] are not parameters of pendulum"):
        SequencePolicySpec(learnable=("dt",))
    with pytest.raises(ValueError, match="unknown system 'acrobot'"):
        SequencePolicySpec(system="acrobot")
    with pytest.raises(ValueError, match=r"horizon must be an integer >= 1 or None \(the system's 20\); got 0"):
        SequencePolicySpec(horizon=0)
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        BCConfig(optimizer="sgd")
    with pytest.raises(ValueError, match="unknown lr_schedule 'step'"):
        BCConfig(lr_schedule="step")
    with pytest.raises(ValueError, match="need epochs >= 0, batch_size >= 1 and lr > 0"):
        BCConfig(batch_size=0)
    spec = SequencePolicySpec()
    with pytest.raises(ValueError, match="alternate_every and warm_start_reset must be >= 1, got 0 and 50"):
        SequenceBCTrainer(build_sequence_policy(spec), spec, BCConfig(), alternate_every=0)
    with pytest.raises(ValueError, match=r"unknown loss_reduction 'max'; valid: \['sum', 'mean'\]"):
        SequenceBCTrainer(build_sequence_policy(spec), spec, BCConfig(), loss_reduction="max")
    with pytest.raises(ValueError, match=r"start_params \['mas'\] are not parameters of pendulum-upright"):
        SequencePolicySpec(start_params={"mas": 1.0})
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a dilqr_rl BC checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


@pytest.mark.parametrize("kind", ["dilqr", "lstm"])
def test_plans_of_another_horizon_train_a_policy_of_that_horizon(tmp_path, kind):
    short = tiny_plans(4, 0, horizon=6), tiny_plans(2, 1, horizon=6), tiny_plans(2, 2, horizon=6)
    with pytest.raises(ValueError, match=r"the train plans have horizon 6 but the policy plans over T=20; build "
                                         r"the policy with SequencePolicySpec\(horizon=6\)"):
        make_trainer(SequencePolicySpec(kind=kind, hidden_size=8), epochs=1).fit(*short)
    spec = SequencePolicySpec(kind=kind, hidden_size=8, horizon=6)
    result = fit(spec, short, epochs=1, checkpoint_dir=str(tmp_path), optimizer="adam")[2]
    assert result.test_loss is not None and len(result.history["train/loss"]) == 1
    dtype = torch.float64 if kind == "dilqr" else torch.float32
    out = load_sequence_policy(tmp_path / "best.pt", dtype)(short[2][0].to(dtype))
    assert (out.u if kind == "dilqr" else out).shape == (2, 6, 1)


def test_expert_actions_must_be_sequences(data):
    spec = SequencePolicySpec(kind="mlp", hidden_size=8)
    flat = tuple((x, u[:, 0]) for x, u in data)
    with pytest.raises(ValueError, match=r"the train expert actions must be u \(N, T, m\); got shape \(8, 1\)"):
        make_trainer(spec, epochs=1).fit(*flat)


def test_an_empty_validation_split_is_refused_and_an_empty_test_split_gives_no_test_loss(data):
    spec = SequencePolicySpec(kind="mlp", hidden_size=8)
    train, val, test = data
    empty = (val[0][:0], val[1][:0])
    with pytest.raises(ValueError, match=r"the validation split is empty: BC selects the best epoch on it, so it "
                                         r"needs at least one example \(collect with n_val >= 1"):
        make_trainer(spec, epochs=1).fit(train, empty, test)
    with pytest.raises(ValueError, match="the training split is empty: BC needs at least one training example"):
        make_trainer(spec, epochs=1).fit(empty, val, test)
    trainer = make_trainer(spec, epochs=1)
    result = trainer.fit(train, val, empty)
    assert result.test_loss is None and "eval/test_loss" not in result.final_metrics
    with pytest.raises(ValueError, match="cannot evaluate on an empty split"):
        trainer.evaluate(empty)
    with pytest.raises(ValueError, match=r"the val split's tensors hold different numbers of examples \[4, 3\]"):
        make_trainer(spec, epochs=1).fit(train, (val[0], val[1][:3]), test)


def test_imitation_loss_is_the_summed_squared_action_error(data):
    x, u = data[2]
    s = get_system("pendulum-upright")
    expert = DiLQR(s.make_dynamics(), s.make_cost(), s.horizon, s.u_lower, s.u_upper)  # as in tiny_plans
    loss, solution = imitation_loss(expert, x, u)
    assert loss.shape == (4,) and float(loss.max()) < 1e-12 and bool(solution.converged.all())
    loss, solution = imitation_loss(expert, x, u + 0.1)
    torch.testing.assert_close(loss, torch.full((4,), 20 * 0.01, dtype=u.dtype))


def test_cosine_schedule_goes_from_lr_to_lr_times_min_factor():
    cfg = BCConfig(epochs=11, lr=1e-2, lr_schedule="cosine", lr_min_factor=1e-2)
    assert cfg.lr_at(0) == pytest.approx(1e-2)
    assert cfg.lr_at(10) == pytest.approx(1e-4)
    assert dataclasses.replace(cfg, lr_schedule="constant").lr_at(10) == 1e-2


def test_relative_lr_scales_each_parameter_by_its_magnitude(data):
    spec = SequencePolicySpec(kind="dilqr", mode="dx")
    initial = wrong_initial_model(spec)[0]  # the learner's starting physics
    policy, trainer, _, _ = fit(spec, data, epochs=1, relative_lr=True, lr=1e-2, optimizer="adam")
    dyn = policy.dynamics
    lrs = {id(g["params"][0]): g["lr"] for g in trainer.optimizer.param_groups}
    assert len(lrs) == 2
    assert lrs[id(dyn.mass)] == pytest.approx(1e-2 * initial["mass"])
    assert lrs[id(dyn.gravity)] == pytest.approx(1e-2 * initial["gravity"])


def test_papers_systems_start_from_the_papers_initial_models():
    dx = SequencePolicySpec(system="cartpole", mode="dx")
    params, w, goal = wrong_initial_model(dx)
    assert params == {"gravity": 9.8, "cart_mass": 3.0, "pole_mass": 0.1, "length": 1.0}
    torch.testing.assert_close(w, torch.tensor(get_system("cartpole").cost_weights, dtype=torch.float64))
    cost = SequencePolicySpec(system="cartpole", mode="cost")
    params, w, goal = wrong_initial_model(cost)
    assert params == {}  # true dynamics
    assert w.tolist() == [0.5] * 6 and goal.tolist() == [0.0] * 6
    learner = build_sequence_policy(cost)
    torch.testing.assert_close(learner.cost.weights, torch.full((6,), 0.5, dtype=torch.float64))
    # a random start when asked, and single parameters overridden explicitly
    assert wrong_initial_model(SequencePolicySpec(system="cartpole", perturbation=0.3))[0]["gravity"] != 9.8
    override = SequencePolicySpec(system="pendulum-nonrealizable", start_params={"gravity": 6.0})
    params = wrong_initial_model(override)[0]
    assert params == {"damping": 0.0, "bias": 0.0, "gravity": 6.0, "mass": 1.0, "length": 1.0}


def test_cost_model_loss_of_the_papers_cost_compares_q_and_p():
    spec = SequencePolicySpec(system="pendulum", mode="cost")
    learner = build_sequence_policy(spec)
    q_true = torch.tensor([1.0, 1.0, 0.1, 0.001], dtype=torch.float64)
    p_true = -q_true.sqrt() * torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    q, p = torch.full((4,), 0.5, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    expected = float(((torch.cat([q_true, p_true]) - torch.cat([q, p])) ** 2).mean())
    assert model_loss(spec, learner) == pytest.approx(expected)


def test_mean_reduction_is_the_sum_over_t_and_m_divided():
    spec = SequencePolicySpec(kind="dilqr", mode="dx")
    policy = build_sequence_policy(spec)
    x0, u = tiny_plans(3, 5)
    total = imitation_loss(policy, x0, u)[0]
    mean = imitation_loss(policy, x0, u, reduction="mean")[0]
    torch.testing.assert_close(mean, total / (u.shape[1] * u.shape[2]))


def test_warm_starts_cut_the_iterations_and_survive_a_resume(data, tmp_path):
    spec = SequencePolicySpec(kind="dilqr", mode="dx")
    cfg = BCConfig(epochs=3, batch_size=8, progress=False, lr=1e-3)
    cold = SequenceBCTrainer(build_sequence_policy(spec), spec, cfg).fit(*data)
    warm_trainer = SequenceBCTrainer(build_sequence_policy(spec), spec, cfg, warm_start=True)
    warm = warm_trainer.fit(*data)
    assert warm.history["ilqr/iterations"][0] == cold.history["ilqr/iterations"][0]  # first epoch: cold
    assert warm.history["ilqr/iterations"][-1] < 0.7 * cold.history["ilqr/iterations"][-1]
    table = warm_trainer._warm
    assert table.shape == (16, spec.planning_horizon, 1) and bool(table.abs().sum(-1).sum(-1).gt(0).all())
    # reset every warm_start_reset epochs
    warm_trainer.warm_start_reset = 2
    warm_trainer.on_epoch_start(2)
    assert float(table.abs().max()) == 0.0
    # the warm starts are part of last.pt: a resumed run continues the same trajectory of losses
    ckpt = BCConfig(epochs=2, batch_size=8, progress=False, lr=1e-3, checkpoint_dir=str(tmp_path))
    SequenceBCTrainer(build_sequence_policy(spec), spec, ckpt, warm_start=True).fit(*data)
    resumed = SequenceBCTrainer(build_sequence_policy(spec), spec, dataclasses.replace(ckpt, epochs=3),
                                warm_start=True)
    result = resumed.fit(*data, resume=True)
    torch.testing.assert_close(torch.tensor(result.history["train/loss"]), torch.tensor(warm.history["train/loss"]))


def test_papers_lstm_predicts_unbounded_sequences_and_trains():
    spec = SequencePolicySpec(kind="papers_lstm", system="cartpole", hidden_size=16)
    policy = build_sequence_policy(spec, torch.float32)
    x0 = get_system("cartpole").sample_x_init(5, torch.Generator().manual_seed(0), torch.float32)
    assert policy(x0).shape == (5, 20, 1)
    u = 150.0 * torch.ones(5, 20, 1)  # beyond the bounds: the papers' LSTM is not squashed
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = imitation_loss(policy, x0, u, reduction="mean")[0].mean()
        loss.backward()
        opt.step()
        first = first if first is not None else float(loss)
    assert float(loss) < 0.5 * first
