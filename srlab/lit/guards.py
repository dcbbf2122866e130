"""Stop (or skip) a training step whose loss or gradients hold NaN/Inf, before the optimizer applies it.

One fused check per optimizer step: the L2 norm of every gradient (``torch._foreach_norm``, one multi-tensor
kernel on GPU and the fastest reduction on CPU) and the loss, one host sync. NaN/Inf always reach a norm;
only when one is non-finite does the guard walk the parameters (``torch.isfinite``) to name the culprit,
which also clears norms that merely overflowed on huge finite gradients.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch

log = logging.getLogger("srlab")

ACTIONS = ("stop", "skip")


class NonFiniteError(RuntimeError):
    """A training step produced a NaN/Inf loss or gradient (action ``stop``, or too many skips)."""


class NonFiniteGuard(L.Callback):
    """Check the loss and, after backward and before the optimizer step, the gradients.

    Args:
        action: ``stop`` raises :class:`NonFiniteError` naming the global step and the first parameter
            with a non-finite gradient (or the loss). ``skip`` drops that step's update: every gradient
            is set to None, so the optimizer (Adam/AdamW) leaves weights and moments untouched; the
            step still counts (global step, LR schedule, EMA of the unchanged weights), as a GradScaler
            skip does. The total is logged as ``train/nonfinite_skips``.
        max_skips: with ``skip``, how many consecutive steps may be skipped; one more stops the run.

    Runs under a GradScaler (``16-mixed``) leave non-finite gradients to the scaler, which skips those
    steps itself and lowers its scale: the guard checks nothing there.
    """

    def __init__(self, action: str = "stop", max_skips: int = 10) -> None:
        if action not in ACTIONS:
            raise ValueError(f"callbacks.nonfinite.action={action!r}: expected one of {ACTIONS}")
        if max_skips < 0:
            raise ValueError(f"callbacks.nonfinite.max_skips={max_skips}: must be ≥ 0")
        self.action, self.max_skips = action, max_skips
        self.skipped = 0  # steps skipped in this run (resumed from the checkpoint)
        self.consecutive = 0
        self._loss_ok: torch.Tensor | None = None
        self._params: list[tuple[str, torch.nn.Parameter]] = []

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._params = [(n, p) for n, p in pl_module.named_parameters() if p.requires_grad]

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        ok = torch.isfinite(loss.detach()).all()  # no sync here: read once, before the optimizer step
        self._loss_ok = ok if self._loss_ok is None else self._loss_ok & ok

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        loss_ok, self._loss_ok = self._loss_ok, None
        if getattr(trainer.precision_plugin, "scaler", None) is not None:
            return
        named = [(n, p) for n, p in self._params if p.grad is not None]
        flags = [] if loss_ok is None else [loss_ok]
        if named:
            flags.append(torch.isfinite(torch.stack(torch._foreach_norm([p.grad for _, p in named]))).all())
        bad: list[str] = []
        loss_bad = False
        if flags and not bool(torch.stack(flags).all()):  # the one sync; the slow path only on failure
            loss_bad = loss_ok is not None and not bool(loss_ok)
            bad = [n for n, p in named if not bool(torch.isfinite(p.grad).all())]
        if bad or loss_bad:
            self._non_finite(trainer, named, _describe(bad, len(named), loss_bad))
        else:
            self.consecutive = 0
        if self.action == "skip":
            pl_module.log("train/nonfinite_skips", float(self.skipped), on_step=True, on_epoch=False)

    def _non_finite(self, trainer: L.Trainer, named: list[tuple[str, torch.nn.Parameter]], what: str) -> None:
        where = f"global step {trainer.global_step} (epoch {trainer.current_epoch})"
        if self.action == "stop":
            raise NonFiniteError(
                f"{what} at {where}; stopped by callbacks.nonfinite (action=stop; action=skip drops such steps)"
            )
        self.consecutive += 1
        if self.consecutive > self.max_skips:
            raise NonFiniteError(
                f"{what} at {where}: {self.consecutive} consecutive non-finite steps, more than "
                f"callbacks.nonfinite.max_skips={self.max_skips}"
            )
        self.skipped += 1
        for _, p in named:
            p.grad = None
        log.warning("%s at %s: update skipped (%d skipped so far)", what, where, self.skipped)

    def state_dict(self) -> dict[str, Any]:
        return {"skipped": self.skipped, "consecutive": self.consecutive}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.skipped, self.consecutive = int(state_dict["skipped"]), int(state_dict["consecutive"])


def _describe(bad: list[str], total: int, loss_bad: bool) -> str:
    """What was non-finite: the loss, or the first parameter (in module order) with a NaN/Inf gradient."""
    if loss_bad:
        return f"non-finite loss (NaN/Inf; {len(bad)} of {total} gradients non-finite)"
    module = bad[0].rpartition(".")[0] or "<root>"
    return f"non-finite gradient in {bad[0]} (module {module}; {len(bad)} of {total} parameters have NaN/Inf gradients)"
