"""The papers' imitation experiment (pendulum): DiLQR.dx (implicit and diffmpc), DiLQR.cost, LSTM, SysId.

Trains every method on the same expert plans, selects the best-validation model and prints the test
imitation loss, the model loss MSE(theta - theta_hat) and the relative one-step dynamics error; for the
pendulum also the identifiable coefficients 3g/(2l) and 3/(m l^2). ``--quick`` is a tiny smoke run.

    .venv/bin/python scripts/imitation.py [--quick] [--optimizer rmsprop --lr 1e-2 --schedule constant]
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

from dilqr_rl.agents.bc import BCConfig
from dilqr_rl.agents.bc_sequence import (
    SequenceBCTrainer,
    SequencePolicySpec,
    build_sequence_policy,
    dynamics_error,
    load_or_collect_plans,
    model_loss,
    wrong_initial_model,
)
from dilqr_rl.agents.sysid import SysIdConfig, fit_sysid, transitions_from_plans
from dilqr_rl.models import get_system


def coefficients(dyn) -> tuple[float, float]:
    m, l, g = (float(getattr(dyn, k).detach()) for k in ("mass", "length", "gravity"))
    return 3 * g / (2 * l), 3 / (m * l * l)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--n-train", type=int, default=50)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=3e-2)
    p.add_argument("--schedule", default="cosine")
    p.add_argument("--absolute-lr", dest="relative_lr", action="store_false",
                   help="one lr for all parameters (default: per-parameter lr relative to its magnitude)")
    p.add_argument("--lstm-epochs", type=int, default=1500)
    p.add_argument("--methods", nargs="+", default=["dx-implicit", "dx-diffmpc", "cost", "lstm", "sysid"])
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.quick:
        a.n_train, a.epochs, a.lstm_epochs = 6, 2, 2
    n_eval = 4 if a.quick else None
    ds = load_or_collect_plans("pendulum-upright", None, a.n_train, n_eval or 20, n_eval or 50, a.seed, progress=False)
    data = tuple((s.x_init, s.u) for s in (ds.split("train"), ds.split("val"), ds.split("test")))
    test = ds.split("test")
    rows_x, rows_u = test.x.reshape(-1, 2), test.u.reshape(-1, 1)
    base = BCConfig(epochs=a.epochs, batch_size=25, optimizer=a.optimizer, lr=a.lr, lr_schedule=a.schedule,
                    relative_lr=a.relative_lr, seed=a.seed, progress=False)
    print(f"pendulum, train={a.n_train}; true 3g/(2l) = 15, 3/(m l^2) = 3")
    print(f"{'method':<16}{'test loss':>11}{'model loss':>12}{'dyn err':>10}{'3g/2l':>9}{'3/ml2':>9}{'s':>6}")
    for method in a.methods:
        if method == "sysid":
            spec = SequencePolicySpec(kind="dilqr", mode="dx", init_seed=a.seed)
            dyn = get_system("pendulum-upright").make_dynamics(**wrong_initial_model(spec)[0])
            train = ds.split("train")
            fit_sysid(dyn, *transitions_from_plans(train.x, train.u),
                      SysIdConfig(epochs=3 if a.quick else 500, lr=3e-2, progress=False))
            ctrl = build_sequence_policy(spec)
            ctrl.dynamics.load_state_dict(dyn.state_dict())
            loss = SequenceBCTrainer(ctrl, spec, base).evaluate(data[2])[0]
            c = coefficients(dyn)
            print(f"{method:<16}{loss:>11.2e}{model_loss(spec, ctrl):>12.2e}"
                  f"{dynamics_error(spec, ctrl, rows_x, rows_u):>10.1e}{c[0]:>9.4f}{c[1]:>9.4f}{'':>6}")
            continue
        if method == "lstm":
            spec, cfg, dtype = (SequencePolicySpec(kind="lstm", init_seed=a.seed),
                                dataclasses.replace(base, epochs=a.lstm_epochs, optimizer="adam", lr=1e-3,
                                                    lr_schedule="constant", relative_lr=False), torch.float32)
        else:
            mode, _, grad = method.partition("-")
            spec = SequencePolicySpec(kind="dilqr", mode=mode, grad_method=grad or "implicit", init_seed=a.seed)
            cfg, dtype = base, torch.float64
        policy = build_sequence_policy(spec, dtype)
        result = SequenceBCTrainer(policy, spec, cfg).fit(*data)
        if spec.kind == "dilqr":
            c = coefficients(policy.dynamics)
            extra = (f"{model_loss(spec, policy):>12.2e}{dynamics_error(spec, policy, rows_x, rows_u):>10.1e}"
                     f"{c[0]:>9.4f}{c[1]:>9.4f}")
        else:
            extra = f"{'-':>12}{'-':>10}{'-':>9}{'-':>9}"
        print(f"{method:<16}{result.test_loss:>11.2e}{extra}{result.wall_time:>6.0f}")


if __name__ == "__main__":
    main()
