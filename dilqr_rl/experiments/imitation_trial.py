"""One imitation trial as the papers run it: a method x seed x setting, trained on expert plans.

Methods (``METHODS``): the DiLQR learner with the exact implicit gradient (``dilqr.dx``, ``dilqr.cost``,
``dilqr.cost_dx``) or DiffMPC's (``diffmpc.dx``, ``diffmpc.cost``), the papers' LSTM (``lstm``) and SysId on
next-state transitions (``sysid``). The protocol is the papers' code's (locuslab/differentiable-mpc
``imitation_nonconvex/il_exp.py``): the loss is the squared control error averaged over T and m, mini-batches
of 32 plans, RMSprop (lr 1e-2, alpha 0.5) for the model-based learners and Adam (1e-4) for the LSTM, cost
weights and goal alternating every 10 epochs, per-example warm starts reset every 50 epochs, the learners'
initial models from the code, the epoch with the best validation loss selected and its test loss reported.

A trial writes TensorBoard logs, ``history.json`` (per-epoch curves) and ``result.json`` (final metrics) to its
directory; :func:`run_imitation_trial` is a plain function (tests and debugging call it directly; the
sweep runs it on Ray).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import torch

from dilqr_rl.agents.bc import BCConfig, BCResult
from dilqr_rl.agents.bc_sequence import (
    SequenceBCTrainer,
    SequencePolicySpec,
    build_sequence_policy,
    learned_parameter_vector,
    parameter_names,
    true_parameter_vector,
)
from dilqr_rl.agents.logging import make_writer
from dilqr_rl.agents.sysid import SysIdSequenceTrainer, plan_transition_loss
from dilqr_rl.control import DiLQR
from dilqr_rl.data import PlanDataset, collect_plans

METHODS = ("dilqr.dx", "dilqr.cost", "dilqr.cost_dx", "diffmpc.dx", "diffmpc.cost", "lstm", "sysid")
"""``<gradient>.<mode>`` for the model-based learners; the two baselines."""

GRADIENTS = {"dilqr": "implicit", "diffmpc": "diffmpc"}

PAPERS_PROTOCOL: dict[str, Any] = {
    "batch_size": 32, "lr": 1e-2, "rmsprop_alpha": 0.5, "nn_lr": 1e-4, "nn_hidden": 256, "alternate_every": 10,
    "warm_start_reset": 50, "n_val": 10, "n_test": 10, "max_iter": 100, "tol": 1e-8,
}
"""The papers' code's settings (``max_iter`` and ``tol`` are ours: the code runs up to 500 iterations to an
eps of 1e-4 on the control change; we converge to a KKT residual of 1e-8 and rarely need 100)."""


def plans_for(config: dict[str, Any]) -> PlanDataset:
    """The trial's expert plans: cached under ``data_dir`` (one file per system, sizes and seed)."""
    name = f"{config['system']}__{config['n_train']}-{config['n_val']}-{config['n_test']}__seed{config['seed']}.npz"
    path = Path(config["data_dir"]) / name
    if path.is_file():
        return PlanDataset.load(path, system=config["system"])
    ds = collect_plans(config["system"], n_train=config["n_train"], n_val=config["n_val"], n_test=config["n_test"],
                       seed=config["seed"], progress=False)
    ds.save(path)  # atomic: trials that collect the same data at once write the same bytes
    return ds


def _spec(config: dict[str, Any]) -> SequencePolicySpec:
    method, seed = config["method"], config["seed"]
    if method == "lstm":
        return SequencePolicySpec(kind="papers_lstm", system=config["system"], init_seed=seed,
                                  hidden_size=config.get("nn_hidden", PAPERS_PROTOCOL["nn_hidden"]))
    gradient, _, mode = method.partition(".")
    if method == "sysid":
        gradient, mode = "dilqr", "dx"
    return SequencePolicySpec(kind="dilqr", system=config["system"], mode=mode, grad_method=GRADIENTS[gradient],
                              init_seed=seed, max_iter=config.get("max_iter", PAPERS_PROTOCOL["max_iter"]),
                              start_params=config.get("start_params"))


def _bc_config(config: dict[str, Any], checkpoint_dir: Path) -> BCConfig:
    nn = config["method"] == "lstm"
    return BCConfig(
        epochs=config["nn_epochs" if nn else "epochs"], batch_size=config.get("batch_size", 32),
        optimizer="adam" if nn else "rmsprop", lr=config.get("nn_lr", 1e-4) if nn else config.get("lr", 1e-2),
        rmsprop_alpha=PAPERS_PROTOCOL["rmsprop_alpha"], seed=config["seed"], progress=False,
        checkpoint_dir=str(checkpoint_dir),
    )


def run_imitation_trial(config: dict[str, Any], trial_dir: str | Path) -> dict[str, Any]:
    """Train one method on one system's plans; return the final metrics (also in ``result.json``).

    ``config`` keys: ``method`` (one of ``METHODS``), ``system``, ``seed``, ``n_train``, ``n_val``, ``n_test``,
    ``epochs`` (model-based learners), ``nn_epochs`` (LSTM), ``data_dir``; optional ``batch_size``, ``lr``,
    ``nn_lr``, ``nn_hidden``, ``max_iter``, ``start_params`` (dynamics the learner starts from).
    A rerun in the same directory resumes from ``checkpoints/last.pt``.
    """
    if config["method"] not in METHODS:
        raise ValueError(f"unknown method {config['method']!r}; valid: {list(METHODS)}")
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config["seed"])
    ds = plans_for(config)
    spec = _spec(config)
    dtype = torch.float32 if spec.kind != "dilqr" else torch.float64
    policy = build_sequence_policy(spec, dtype)
    writer = make_writer(trial_dir, {k: v for k, v in config.items() if k != "start_params"})
    trainer_cls = SysIdSequenceTrainer if config["method"] == "sysid" else SequenceBCTrainer
    trainer = trainer_cls(policy, spec, _bc_config(config, trial_dir / "checkpoints"), writer,
                          alternate_every=PAPERS_PROTOCOL["alternate_every"], loss_reduction="mean",
                          warm_start=True, warm_start_reset=PAPERS_PROTOCOL["warm_start_reset"])
    splits = [ds.split(name) for name in ("train", "val", "test")]
    data = [(s.x_init, s.u, s.x) for s in splits]
    start = learned_parameter_vector(spec, policy).tolist() if isinstance(policy, DiLQR) else []
    try:
        result = trainer.fit(*data, resume=True)
    finally:
        writer.close()
    metrics = _metrics(config, spec, policy, result, splits, start)
    (trial_dir / "history.json").write_text(json.dumps(result.history))
    (trial_dir / "result.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def _metrics(config: dict[str, Any], spec: SequencePolicySpec, policy, result: BCResult, splits,
             start: list[float]) -> dict[str, Any]:
    """Final metrics of a trial: losses of the best-validation model, time per epoch, solver statistics,
    and for model-based learners the model loss, the learned parameters and the bad-value counts."""
    h = result.history
    out: dict[str, Any] = {
        "test_loss": result.test_loss, "best_val_loss": result.best_val_loss, "best_epoch": result.best_epoch,
        "epochs": len(h.get("train/loss", [])), "wall_time_s": result.wall_time,
        "epoch_seconds_median": statistics.median(h["train/epoch_seconds"]) if h.get("train/epoch_seconds") else None,
    }
    if "ilqr/iterations" in h:
        out["iterations_mean"] = statistics.fmean(h["ilqr/iterations"])
        out["unconverged_fraction_mean"] = statistics.fmean(h["ilqr/unconverged_fraction"])
    if not isinstance(policy, DiLQR):
        return out
    test = splits[2]
    with torch.no_grad():
        out["test_transition_loss"] = float(plan_transition_loss(policy.dynamics, test.x, test.u).mean())
    names = parameter_names(spec, policy)
    learned = learned_parameter_vector(spec, policy)  # the best-validation model
    truth = true_parameter_vector(spec)
    out["model_loss_best"] = float(((learned - truth) ** 2).mean()) if len(names) else None
    out["model_loss_last"] = h["bc/model_loss"][-1] if h.get("bc/model_loss") else None
    out["params_best"] = dict(zip(names, learned.tolist()))
    out["params_last"] = {k: h[f"param/{k}"][-1] for k in names if h.get(f"param/{k}")}
    out["params_true"] = dict(zip(names, truth.tolist()))
    out["params_start"] = dict(zip(names, start))
    dyn = list(spec.learned_dynamics_names())
    if dyn:
        history = torch.tensor([h[f"param/{k}"] for k in dyn])  # (P, epochs)
        out["bad_values_last"] = int((history[:, -1] <= 0).sum())
        out["bad_values_history"] = int((history <= 0).sum())
        out["bad_values_history_total"] = int(history.numel())
        out["n_dynamics_params"] = len(dyn)
    return out


QUICK: dict[str, Any] = {"n_val": 2, "n_test": 2, "epochs": 2, "nn_epochs": 2, "nn_hidden": 16}
"""The ``--quick`` sizes (and n_train / 25 training plans): every code path of a trial in seconds."""


def imitation_trials(methods: list[str], systems: list[str], sizes: list[int], seeds: int, epochs: int,
                     nn_epochs: int, quick: bool, **extra: Any) -> list[dict[str, Any]]:
    """One config per method x system x training-set size x seed (``--quick``: tiny sizes). ``extra`` entries
    go into every config; a callable value is called with the seed."""
    configs = []
    for system in systems:
        for n_train in sizes:
            for method in methods:
                for seed in range(seeds):
                    c = {"method": method, "system": system, "n_train": n_train, "seed": seed, "epochs": epochs,
                         "nn_epochs": nn_epochs, "n_val": PAPERS_PROTOCOL["n_val"],
                         "n_test": PAPERS_PROTOCOL["n_test"]}
                    c.update({k: v(seed) if callable(v) else v for k, v in extra.items()})
                    if quick:
                        c.update(QUICK, n_train=max(2, n_train // 25))  # distinct sizes stay distinct
                    c["trial_id"] = f"{system}__{method}__n{c['n_train']}__s{seed}"
                    configs.append(c)
    return configs
