"""The sparse products as ``torch.library`` custom ops: ``srlab::smm_qk``, ``srlab::smm_av``, ``srlab::smm_scatter``.

Each op validates its inputs, runs the selected backend (:mod:`srlab_kernels.backend`), has a fake
implementation (meta device, FakeTensor, ``torch.compile``) and autograd. The three ops are closed under
differentiation, so every backward is written with the ops themselves and double backward works:

- smm_qk(q, k, I):  dq = smm_av(g, k, I),       dk = smm_scatter(g, q, I, M)
- smm_av(a, v, I):  da = smm_qk(g, v, I),       dv = smm_scatter(a, g, I, M)
- smm_scatter(w, x, I, M):  dw = smm_qk(x, g, I),  dx = smm_av(w, g, I)

Under autocast (CUDA or CPU) the floating inputs are cast to the autocast dtype, as for a matmul.

FLOP formulas make :class:`torch.utils.flop_counter.FlopCounterMode` count 2·B·N·K·d for each op: the
multiply-adds at the indices actually touched, which is how srlab counts PFA's MACs the way PFT does.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import register_flop_formula

from srlab_kernels import backend, reference


@torch.library.custom_op("srlab::smm_qk", mutates_args=())
def smm_qk(q: torch.Tensor, k: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """out[b, n, j] = q[b, n] · k[b, idx[b, n, j]]; q (B, N, d), k (B, M, d), idx int32 (B, N, K) → (B, N, K)."""
    reference.check_qk(q, k, idx)
    return backend.dispatch("smm_qk", q, k, idx)


@torch.library.custom_op("srlab::smm_av", mutates_args=())
def smm_av(a: torch.Tensor, v: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """out[b, n] = Σ_j a[b, n, j] · v[b, idx[b, n, j]]; a (B, N, K), v (B, M, d), idx int32 (B, N, K) → (B, N, d)."""
    reference.check_av(a, v, idx)
    return backend.dispatch("smm_av", a, v, idx)


@torch.library.custom_op("srlab::smm_scatter", mutates_args=())
def smm_scatter(w: torch.Tensor, x: torch.Tensor, idx: torch.Tensor, m: int) -> torch.Tensor:
    """out[b, m'] = Σ_{idx[b, n, j] = m'} w[b, n, j] · x[b, n]; w (B, N, K), x (B, N, d) → (B, m, d)."""
    reference.check_scatter(w, x, idx, m)
    return backend.dispatch("smm_scatter", w, x, idx, m)


@smm_qk.register_fake
def _smm_qk_fake(q: torch.Tensor, k: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    reference.check_qk(q, k, idx)
    return q.new_empty(idx.shape)


@smm_av.register_fake
def _smm_av_fake(a: torch.Tensor, v: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    reference.check_av(a, v, idx)
    return a.new_empty(a.shape[0], a.shape[1], v.shape[2])


@smm_scatter.register_fake
def _smm_scatter_fake(w: torch.Tensor, x: torch.Tensor, idx: torch.Tensor, m: int) -> torch.Tensor:
    reference.check_scatter(w, x, idx, m)
    return x.new_empty(x.shape[0], m, x.shape[2])


def _save_inputs(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    """Keep the three tensors; ``m`` = rows of the second operand (k or v), the size of its gradient."""
    ctx.save_for_backward(*inputs[:3])
    ctx.m = inputs[1].shape[1]


def _smm_qk_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    q, k, idx = ctx.saved_tensors
    dq = smm_av(grad, k, idx) if ctx.needs_input_grad[0] else None
    dk = smm_scatter(grad, q, idx, ctx.m) if ctx.needs_input_grad[1] else None
    return dq, dk, None


def _smm_av_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    a, v, idx = ctx.saved_tensors
    da = smm_qk(grad, v, idx) if ctx.needs_input_grad[0] else None
    dv = smm_scatter(a, grad, idx, ctx.m) if ctx.needs_input_grad[1] else None
    return da, dv, None


def _smm_scatter_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    w, x, idx = ctx.saved_tensors
    dw = smm_qk(x, grad, idx) if ctx.needs_input_grad[0] else None
    dx = smm_av(w, grad, idx) if ctx.needs_input_grad[1] else None
    return dw, dx, None, None


smm_qk.register_autograd(_smm_qk_backward, setup_context=_save_inputs)
smm_av.register_autograd(_smm_av_backward, setup_context=_save_inputs)
smm_scatter.register_autograd(_smm_scatter_backward, setup_context=_save_inputs)


_autocast_lib = torch.library.Library("srlab", "IMPL")


def _register_autocast(name: str, op: Any, device_type: str) -> None:
    """Under autocast, run ``op`` on its floating inputs cast to the autocast dtype (matmul's policy)."""

    def kernel(*args: Any) -> torch.Tensor:
        dtype = torch.get_autocast_dtype(device_type)
        cast = [a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args]
        with torch.autocast(device_type, enabled=False):
            return op(*cast)

    _autocast_lib.impl(name, kernel, "Autocast" + device_type.upper())


for _name, _op in (("smm_qk", smm_qk), ("smm_av", smm_av), ("smm_scatter", smm_scatter)):
    for _device_type in ("cuda", "cpu"):
        _register_autocast(_name, _op, _device_type)


@register_flop_formula(torch.ops.srlab.smm_qk)
def _smm_qk_flops(q_shape: torch.Size, k_shape: torch.Size, idx_shape: torch.Size, *_: Any, **__: Any) -> int:
    b, n, d = q_shape
    return 2 * b * n * idx_shape[2] * d


@register_flop_formula(torch.ops.srlab.smm_av)
def _smm_av_flops(a_shape: torch.Size, v_shape: torch.Size, idx_shape: torch.Size, *_: Any, **__: Any) -> int:
    b, n, k = a_shape
    return 2 * b * n * k * v_shape[2]


@register_flop_formula(torch.ops.srlab.smm_scatter)
def _smm_scatter_flops(w_shape: torch.Size, x_shape: torch.Size, *_: Any, **__: Any) -> int:
    b, n, k = w_shape
    return 2 * b * n * k * x_shape[2]
