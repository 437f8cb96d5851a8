"""The behaviour-cloning loop shared by sequence BC (the papers') and single-step BC.

:class:`BCTrainer` runs seeded mini-batch epochs, selects the best-validation model, reports the test loss,
logs to TensorBoard (``train/``, ``eval/``, ``bc/``, ``ilqr/``), shows a progress bar and writes
checkpoints (``best.pt``, ``last.pt``) that load back and resume. Subclasses override a few hooks:
``item_loss`` (the per-example loss and diagnostics) and optionally ``on_epoch_start`` and ``metrics``.
"""

from __future__ import annotations

import math
import pickle
import time
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

CHECKPOINT_FORMAT = "dilqr_rl.bc/1"


class OptimizerName(str, Enum):
    RMSPROP = "rmsprop"
    ADAM = "adam"


@dataclass(frozen=True)
class BCConfig:
    """Optimisation settings of a BC run (the papers' defaults for DiLQR modes)."""

    epochs: int = 100
    """Passes over the training set."""
    batch_size: int = 64
    """Examples per gradient step (the last batch may be smaller)."""
    optimizer: str = "rmsprop"
    """``rmsprop`` (the papers' choice for DiLQR modes) or ``adam`` (their choice for the NN)."""
    lr: float = 1e-2
    """Learning rate (papers: 1e-2 with RMSprop for DiLQR, 1e-4 with Adam for the NN)."""
    rmsprop_alpha: float = 0.5
    """RMSprop's smoothing constant: the papers' "decay term of 0.5"."""
    lr_schedule: str = "constant"
    """``constant`` (the papers) or ``cosine``: anneal lr to ``lr * lr_min_factor`` over the epochs, which
    lets RMSprop settle instead of oscillating at a step of about ``lr``."""
    lr_min_factor: float = 1e-3
    """Final lr / initial lr of the ``cosine`` schedule."""
    relative_lr: bool = False
    """Scale each parameter tensor's lr by its initial magnitude (max |theta_0|, at least 1e-3), so that
    physical parameters of different scales (a mass of 1, a gravity of 10) move at the same relative
    rate. Off by default (the papers)."""
    seed: int = 0
    """Seeds the order of the mini-batches."""
    progress: bool = True
    """Show a tqdm progress bar over epochs."""
    progress_label: str = "bc"
    """The progress bar's label (e.g. the learner's name when one run trains several)."""
    checkpoint_dir: str | None = None
    """Where ``best.pt`` and ``last.pt`` go; ``None`` keeps the best model in memory only."""

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"need epochs >= 0, batch_size >= 1 and lr > 0; got epochs={self.epochs}, "
                             f"batch_size={self.batch_size}, lr={self.lr}")
        valid = [o.value for o in OptimizerName]
        if self.optimizer not in valid:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {valid}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; valid: {list(LR_SCHEDULES)}")

    def lr_at(self, epoch: int) -> float:
        """The learning rate of (0-based) ``epoch``."""
        if self.lr_schedule == "constant" or self.epochs <= 1:
            return self.lr
        frac = epoch / (self.epochs - 1)
        low = self.lr * self.lr_min_factor
        return low + 0.5 * (self.lr - low) * (1 + math.cos(math.pi * frac))


LR_SCHEDULES = ("constant", "cosine")


def make_optimizer(params: list[nn.Parameter], config: BCConfig) -> torch.optim.Optimizer:
    """RMSprop(lr, alpha) or Adam(lr) over ``params``; one group per tensor with ``relative_lr``.

    Each group carries ``lr_scale`` (1, or the tensor's initial magnitude); its lr is ``lr * lr_scale``.
    """
    if not params:
        raise ValueError("the policy has no trainable parameters: check the mode / which parameters "
                         "require grad")
    if config.relative_lr:
        groups = [{"params": [p], "lr_scale": max(p.detach().abs().max().item(), 1e-3)} for p in params]
    else:
        groups = [{"params": params, "lr_scale": 1.0}]
    for group in groups:
        group["lr"] = config.lr * group["lr_scale"]
    if config.optimizer == OptimizerName.RMSPROP.value:
        return torch.optim.RMSprop(groups, lr=config.lr, alpha=config.rmsprop_alpha)
    return torch.optim.Adam(groups, lr=config.lr)


@dataclass
class BCResult:
    """What a BC run produced: losses of the best-validation model and per-epoch curves."""

    best_epoch: int
    """The epoch of the best-validation model, counted from 1 as TensorBoard's step (0: none was better than
    the initial model's infinite loss, e.g. every validation loss was NaN)."""
    best_val_loss: float
    test_loss: float | None
    history: dict[str, list[float]] = field(default_factory=dict)
    """``train_loss`` and ``val_loss`` per epoch, plus whatever ``metrics`` reported."""
    final_metrics: dict[str, float] = field(default_factory=dict)
    """``metrics()`` of the best-validation model (e.g. the model loss)."""
    wall_time: float = 0.0


class BCInterrupted(KeyboardInterrupt):
    """Ctrl-C during :meth:`BCTrainer.fit`: ``checkpoint`` (``last.pt``) holds the ``epochs`` completed epochs; a
    fit with ``resume=True`` continues from there (the epoch under way is run again)."""

    def __init__(self, checkpoint: Path, epochs: int) -> None:
        super().__init__(f"interrupted after {epochs} epochs; saved {checkpoint}")
        self.checkpoint, self.epochs = checkpoint, epochs


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"format": CHECKPOINT_FORMAT, **payload}, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :class:`BCTrainer`; the error names what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; BC runs write best.pt and last.pt in their "
                                "checkpoint directory")
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError):  # not a file torch.save wrote
        data = None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a dilqr_rl BC checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    return data


def check_splits(train: tuple[Tensor, ...], val: tuple[Tensor, ...], test: tuple[Tensor, ...] | None = None
                 ) -> None:
    """Refuse data :meth:`BCTrainer.fit` cannot use: an empty train or validation split, or tensors of one
    split with different numbers of examples. An empty test split is allowed (it means "no test loss")."""
    for name, split in (("train", train), ("val", val), ("test", test)):
        if split is None:
            continue
        sizes = [int(t.shape[0]) for t in split]
        if len(set(sizes)) > 1:
            raise ValueError(f"the {name} split's tensors hold different numbers of examples {sizes}; each "
                             "split is a tuple of tensors sharing dimension 0")
    if len(train[0]) == 0:
        raise ValueError("the training split is empty: BC needs at least one training example "
                         "(collect with n_train >= 1)")
    if len(val[0]) == 0:
        raise ValueError("the validation split is empty: BC selects the best epoch on it, so it needs at least "
                         "one example (collect with n_val >= 1, e.g. `dilqr-rl collect --n-val 20`)")


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[Tensor]:
    return list(torch.randperm(n, generator=generator).split(batch_size))


class BCTrainer:
    """Mini-batch BC with best-validation selection. Data are tuples of tensors sharing dimension 0.

    Hooks: ``item_loss(batch) -> (loss (B,), diagnostics)``; ``train_loss`` (default ``item_loss``);
    ``on_epoch_start(epoch)`` (e.g. switch the trained parameter group); ``metrics() -> dict`` (logged
    every epoch, e.g. model loss).
    """

    def __init__(self, policy: nn.Module, config: BCConfig, writer=None, spec: dict | None = None) -> None:
        self.policy, self.config, self.writer = policy, config, writer
        self.spec = spec or {}
        self.optimizer = make_optimizer([p for p in policy.parameters() if p.requires_grad], config)

    # -- hooks -------------------------------------------------------------------------------------------
    def item_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, dict[str, float]]:
        raise NotImplementedError

    def train_loss(self, batch: tuple[Tensor, ...]) -> tuple[Tensor, dict[str, float]]:
        """The per-example loss minimised in training; by default ``item_loss``, the loss that selects the
        best epoch (a SysId baseline trains on transitions and is selected on imitation)."""
        return self.item_loss(batch)

    def on_epoch_start(self, epoch: int) -> None:
        """Called before each training epoch (0-based)."""

    def check_data(self, train: tuple[Tensor, ...], val: tuple[Tensor, ...], test: tuple[Tensor, ...] | None
                   ) -> None:
        """Raise ``ValueError`` if ``fit`` cannot use the data (default: :func:`check_splits`)."""
        check_splits(train, val, test)

    def metrics(self) -> dict[str, float]:
        return {}

    def extra_state(self) -> dict[str, Any]:
        """Trainer state beyond the policy and optimizer that ``last.pt`` keeps for an exact resume."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""

    # -- loop --------------------------------------------------------------------------------------------
    def evaluate(self, data: tuple[Tensor, ...]) -> tuple[float, dict[str, float]]:
        """Mean loss over ``data`` (no gradient), in chunks of ``batch_size``, and averaged diagnostics."""
        n = data[0].shape[0]
        if n == 0:
            raise ValueError("cannot evaluate on an empty split: pass at least one example")
        total, diag_sum = 0.0, {}
        with torch.no_grad():
            for idx in torch.arange(n).split(self.config.batch_size):
                loss, diag = self.item_loss(tuple(d[idx] for d in data))
                total += float(loss.sum())
                for k, v in diag.items():
                    diag_sum[k] = diag_sum.get(k, 0.0) + v * len(idx)
        return total / n, {k: v / n for k, v in diag_sum.items()}

    def _train_epoch(self, train: tuple[Tensor, ...], generator: torch.Generator) -> dict[str, float]:
        self.policy.train()
        n = train[0].shape[0]
        total, count, skipped, diag_sum = 0.0, 0, 0, {}
        for idx in _batches(n, self.config.batch_size, generator):
            self.optimizer.zero_grad(set_to_none=True)
            loss, diag = self.train_loss(tuple(d[idx] for d in train))
            mean = loss.mean()
            if not torch.isfinite(mean):
                skipped += 1
                continue
            mean.backward()
            self.optimizer.step()
            total += float(loss.detach().sum())
            count += len(idx)
            for k, v in diag.items():
                diag_sum[k] = diag_sum.get(k, 0.0) + v * len(idx)
        out = {k: v / max(count, 1) for k, v in diag_sum.items()}
        out["train/loss"] = total / count if count else math.nan
        out["train/skipped_batches"] = float(skipped)
        return out

    def _log(self, scalars: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for k, v in scalars.items():
                self.writer.add_scalar(k, v, step)

    def _state(self, epoch: int, best: tuple[int, float, dict], history: dict, generator) -> dict[str, Any]:
        return {"spec": self.spec, "config": asdict(self.config), "policy": self.policy.state_dict(),
                "optimizer": self.optimizer.state_dict(), "epoch": epoch, "best_epoch": best[0],
                "best_val_loss": best[1], "best_policy": best[2], "history": history,
                "generator": generator.get_state(), "extra": self.extra_state()}

    def fit(self, train: tuple[Tensor, ...], val: tuple[Tensor, ...], test: tuple[Tensor, ...] | None = None,
            resume: bool = False) -> BCResult:
        """Train for ``config.epochs``; return the best-validation model's losses (the policy keeps it).

        ``resume=True`` continues from ``checkpoint_dir/last.pt`` when it exists (same data and config; a larger
        ``epochs`` trains on). ``last.pt`` is written before the first epoch and after each one; Ctrl-C raises
        :class:`BCInterrupted` naming it. The validation split must not be empty; an empty (or no) test split
        gives ``test_loss=None``.
        """
        self.check_data(train, val, test)
        cfg, start = self.config, time.perf_counter()
        ckpt_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
        generator = torch.Generator().manual_seed(cfg.seed)
        history: dict[str, list[float]] = {}
        first = 0
        best = (0, math.inf, _copy_state(self.policy))  # (epoch from 1, val loss, policy state)
        if resume and ckpt_dir is not None and (ckpt_dir / "last.pt").is_file():
            first, best, history = self._resume(load_checkpoint(ckpt_dir / "last.pt"), generator)
        elif ckpt_dir is not None:  # a run stopped in its first epoch can be resumed too
            save_checkpoint(ckpt_dir / "last.pt", self._state(0, best, history, generator))
        try:
            best = self._epochs(train, val, first, best, history, generator)
            self.policy.load_state_dict(best[2])
            self.policy.eval()
            test_loss = self.evaluate(test)[0] if test is not None and len(test[0]) else None
        except KeyboardInterrupt:
            if ckpt_dir is None:
                raise
            raise BCInterrupted(ckpt_dir / "last.pt", load_checkpoint(ckpt_dir / "last.pt")["epoch"]) from None
        final = self.metrics()
        if test_loss is not None:
            final["eval/test_loss"] = test_loss
        self._log(final, cfg.epochs + 1)
        return BCResult(best_epoch=best[0], best_val_loss=best[1], test_loss=test_loss, history=history,
                        final_metrics=final, wall_time=time.perf_counter() - start)

    def _epochs(self, train: tuple[Tensor, ...], val: tuple[Tensor, ...], first: int, best: tuple[int, float, dict],
                history: dict[str, list[float]], generator: torch.Generator) -> tuple[int, float, dict]:
        """Epochs ``first + 1 .. config.epochs`` (from 1): train, validate, log, checkpoint; the best so far."""
        cfg = self.config
        ckpt_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
        bar = tqdm(range(first, cfg.epochs), disable=not cfg.progress, desc=cfg.progress_label, unit="epoch",
                   leave=False)
        for epoch in bar:
            self.on_epoch_start(epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.lr_at(epoch) * group["lr_scale"]
            epoch_start = time.perf_counter()
            scalars = self._train_epoch(train, generator)
            scalars["train/epoch_seconds"] = time.perf_counter() - epoch_start
            self.policy.eval()
            val_loss, val_diag = self.evaluate(val)
            scalars.update({"eval/val_loss": val_loss, **{f"{k}_val": v for k, v in val_diag.items()}})
            if val_loss < best[1]:
                best = (epoch + 1, val_loss, _copy_state(self.policy))
                if ckpt_dir is not None:
                    save_checkpoint(ckpt_dir / "best.pt", {"spec": self.spec, "policy": best[2],
                                                           "epoch": epoch + 1, "val_loss": val_loss})
            scalars["eval/best_val_loss"], scalars["train/lr"] = best[1], cfg.lr_at(epoch)
            scalars.update(self.metrics())
            self._log(scalars, epoch + 1)
            for k, v in scalars.items():
                history.setdefault(k, []).append(v)
            bar.set_postfix(train=f"{scalars['train/loss']:.3g}", val=f"{val_loss:.3g}")
            if ckpt_dir is not None:
                save_checkpoint(ckpt_dir / "last.pt", self._state(epoch + 1, best, history, generator))
        return best

    def _resume(self, state: dict, generator: torch.Generator) -> tuple[int, tuple[int, float, dict], dict]:
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        self.load_extra_state(state.get("extra", {}))
        return state["epoch"], (state["best_epoch"], state["best_val_loss"], state["best_policy"]), \
            state["history"]


def _copy_state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
