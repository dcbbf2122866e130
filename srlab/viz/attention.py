"""One query pixel's attention, layer by layer (PFT's Fig. 3/5): which keys of its window it weighs, how many.

:func:`query_attention` runs a window network once with an :class:`srlab.attention.AttentionProbe` and returns, for
every layer, the query's weights over its window (as an M×M map), the window's input pixels in that layer's
(shifted) frame, and the mechanism's kept/similarity counts. The ``plot_*`` functions draw them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from srlab.attention import AttentionProbe, locate
from srlab.viz._mpl import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class QueryMap:
    """The query's attention in one layer.

    ``weights`` (M, M): its attention over the window's keys (mean over heads, or one head); ``patch``
    (M, M, 3) in [0, 1]: the window's input pixels as that layer partitions them (rolled on shifted layers);
    ``query``: (row, col) of the query inside the window; ``kept`` / ``similarities``: keys kept and
    similarities computed per query, as the mechanism reported them; ``effective_keys``: exp(entropy) of
    the weights, how many keys effectively count (mean over the heads used).
    """

    layer: int
    shift: int
    weights: np.ndarray
    patch: np.ndarray
    query: tuple[int, int]
    kept: int
    similarities: int
    effective_keys: float


def layer_shifts(net: nn.Module) -> list[int]:
    """The shift of every layer, in global order, as the network declares it (``attention_layers()``)."""
    if not hasattr(net, "attention_layers"):
        raise TypeError(f"{type(net).__name__} is not a window network (it declares no attention_layers())")
    return [layer.shift for layer in net.attention_layers()]


def _effective_keys(rows: torch.Tensor) -> float:
    """exp(entropy) of each row of weights (heads, N), averaged over rows: 1 = one key, N = uniform."""
    p = rows.double() / rows.double().sum(-1, keepdim=True)
    entropy = -(p * torch.where(p > 0, p.log(), torch.zeros_like(p))).sum(-1)
    return float(entropy.exp().mean())


def query_attention(
    net: nn.Module, lr: torch.Tensor, y: int, x: int, head: int | None = None
) -> list[QueryMap]:
    """The attention of LR pixel (y, x) in every layer of ``net`` on the image ``lr`` (3, H, W) in [0, 1].

    H and W must be multiples of the window (crop the image first), so the windows tile the picture with
    no padding. ``head=None`` averages the heads.
    """
    if lr.ndim != 3 or lr.shape[0] != 3:
        raise ValueError(f"lr must be one RGB image (3, H, W), got shape {tuple(lr.shape)}")
    shifts = layer_shifts(net)
    m = net.window_size
    h, w = lr.shape[-2:]
    if h % m or w % m:
        raise ValueError(f"image {h}×{w} is not a multiple of the window {m}: crop it to a multiple first")
    located = {s: locate(y, x, h, w, m, s) for s in sorted(set(shifts))}
    windows = sorted({win for win, _ in located.values()})
    was_training = net.training
    net.eval()
    try:
        probe = AttentionProbe(maps=True, windows=windows)
        with torch.no_grad():
            net(lr[None], probe=probe)
    finally:
        net.train(was_training)
    image = lr.detach().permute(1, 2, 0).float().cpu().numpy()  # the net may run on a GPU, in bf16
    out = []
    for layer, s in enumerate(shifts):
        if layer not in probe.maps:
            raise ValueError(f"layer {layer} recorded no attention map: its mixer is not a window attention")
        win, token = located[s]
        rows = probe.maps[layer][windows.index(win), :, token, :]  # (heads, N)
        if head is not None:
            if not 0 <= head < rows.shape[0]:
                raise ValueError(f"head={head}: layer {layer} has {rows.shape[0]} heads")
            rows = rows[head : head + 1]
        rolled = np.roll(image, (-s, -s), axis=(0, 1))
        top, left = (win // (w // m)) * m, (win % (w // m)) * m
        stats = probe.sparsity.get(layer, {"kept": m * m, "similarities": m * m})
        out.append(QueryMap(layer=layer, shift=s, weights=rows.mean(0).reshape(m, m).numpy(),
                            patch=rolled[top : top + m, left : left + m], query=divmod(token, m),
                            kept=int(stats["kept"]), similarities=int(stats["similarities"]),
                            effective_keys=_effective_keys(rows)))  # fmt: skip
    return out


def plot_query_context(
    image: np.ndarray | torch.Tensor, y: int, x: int, window: int, title: str = ""
) -> Figure:
    """The LR image with the query pixel, its window (solid) and its shifted layers' window (dashed)."""
    plt = pyplot()
    from matplotlib.patches import Rectangle

    img = image.permute(1, 2, 0).numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    fig, ax = plt.subplots(figsize=(5, 5 * img.shape[0] / img.shape[1] + 0.6))
    ax.imshow(img, interpolation="nearest")
    top, left = y // window * window, x // window * window
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), window, window, fill=False, ec="cyan", lw=2,
                           label=f"window ({window}×{window} px)"))  # fmt: skip
    s = window // 2
    stop, sleft = (y - s) // window * window + s, (x - s) // window * window + s
    ax.add_patch(Rectangle((sleft - 0.5, stop - 0.5), window, window, fill=False, ec="yellow", lw=2, ls="--",
                           label=f"shifted window (by {s} px)"))  # fmt: skip
    ax.plot(x, y, marker="+", color="red", ms=14, mew=2.5, ls="none", label=f"query pixel (y={y}, x={x})")
    ax.set_xlabel("x (LR pixels)")
    ax.set_ylabel("y (LR pixels)")
    ax.set_title(title or "LR input and the query's windows")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1, fontsize=9, frameon=False)
    return fig


def _gray(patch: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB patch in [0, 1], dimmed so a coloured overlay stands out."""
    return 0.25 + 0.6 * (patch @ np.array([0.299, 0.587, 0.114]))


def plot_query_attention(results: Mapping[str, Sequence[QueryMap]], title: str = "") -> Figure:
    """One column per layer: the window's pixels as that layer sees them (top row), then one row per
    mechanism (the keys of ``results``) with the query's weights over the window, scaled to the map's maximum,
    as colour and opacity over the dimmed window; the query is the cyan +."""
    plt = pyplot()
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    labels = list(results)
    first = next(iter(results.values()))
    n_layers = max(len(r) for r in results.values())
    cmap = plt.get_cmap("inferno")
    fig, axes = plt.subplots(len(labels) + 1, n_layers, figsize=(1.9 * n_layers + 1.4, 2.0 * len(labels) + 2.8),
                             squeeze=False, layout="constrained")  # fmt: skip
    for j in range(n_layers):
        for i, label in enumerate(["window pixels", *labels]):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            maps = first if i == 0 else results[label]
            if j >= len(maps):
                ax.set_visible(False)
                continue
            q = maps[j]
            if i == 0:
                ax.imshow(q.patch, interpolation="nearest")
                ax.set_title(
                    f"layer {q.layer}\n" + (f"shift {q.shift}" if q.shift else "no shift"), fontsize=9
                )
            else:
                rel = q.weights / (float(q.weights.max()) or 1.0)
                overlay = cmap(rel)
                overlay[..., 3] = 0.9 * rel
                ax.imshow(_gray(q.patch), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                ax.imshow(overlay, interpolation="nearest")
                m = q.weights.shape[0]
                ax.set_xlabel(f"K={q.kept}/{m * m}, eff. {q.effective_keys:.0f}", fontsize=8)
            ax.plot(q.query[1], q.query[0], marker="+", color="cyan", ms=10, mew=2, ls="none")
            if j == 0:
                ax.set_ylabel(label, fontsize=10)
    fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=axes[1:, :], shrink=0.8,
                 label="attention weight / map maximum (colour and opacity)")  # fmt: skip
    fig.suptitle(title or "Attention of one query pixel over its window, layer by layer")
    return fig


def _grouped_bars(ax: object, values: Mapping[str, Sequence[float]], ylabel: str) -> None:
    """Bars per layer, one colour per label, on a log-2 axis."""
    labels = list(values)
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        xs = np.arange(len(values[label])) + (i - (len(labels) - 1) / 2) * width
        ax.bar(xs, values[label], width, label=label)
    top = max(max(v) for v in values.values())
    ax.set_yscale("log", base=2)
    ax.set_ylim(0.8, top * 1.6)
    ax.set_yticks(
        [2**i for i in range(int(np.log2(top)) + 1)], [str(2**i) for i in range(int(np.log2(top)) + 1)]
    )
    ax.set_xticks(range(max(len(v) for v in values.values())))
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)


def plot_kept_counts(results: Mapping[str, Sequence[QueryMap]], title: str = "") -> Figure:
    """Per layer and mechanism: similarities computed and keys kept per query (as the mechanisms report)."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    _grouped_bars(
        left, {k: [q.similarities for q in v] for k, v in results.items()}, "similarities per query"
    )
    left.set_title("QKᵀ entries computed per query")
    _grouped_bars(right, {k: [q.kept for q in v] for k, v in results.items()}, "keys kept per query (K^l)")
    right.set_title("keys aggregated per query (AV)")
    n = max(q.weights.size for v in results.values() for q in v)
    for ax in (left, right):
        ax.axhline(n, color="gray", ls="--", lw=1, label=f"N = window² = {n}")
    right.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    fig.suptitle(title or "Tokens per query, layer by layer")
    return fig


def plot_effective_keys(stages: Mapping[str, Mapping[str, Sequence[QueryMap]]], title: str = "") -> Figure:
    """Per layer, how many keys the query effectively attends to (exp of the entropy of its weights).

    ``stages`` maps a stage (``"init"``, ``"trained"``) to the results per mechanism: colour = mechanism,
    line style and marker = stage.
    """
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    mechanisms = list(dict.fromkeys(m for results in stages.values() for m in results))
    cmap = plt.get_cmap("tab10")
    n = 1
    for k, (stage, results) in enumerate(stages.items()):
        for mechanism, maps in results.items():
            ax.plot([q.layer + 0.06 * k for q in maps], [q.effective_keys for q in maps],  # offset: overlaps stay visible
                    color=cmap(mechanisms.index(mechanism)), ls=["-", "--", ":", "-."][k % 4], marker="os^D"[k % 4],
                    mfc="none" if k else None, label=f"{mechanism}, {stage}")  # fmt: skip
            n = max(n, *(q.weights.size for q in maps))
    ax.axhline(n, color="gray", ls="--", lw=1, label=f"uniform over N = {n}")
    ax.set_yscale("log", base=2)
    ax.set_ylim(0.8, n * 1.6)
    ax.set_yticks([2**i for i in range(int(np.log2(n)) + 1)], [str(2**i) for i in range(int(np.log2(n)) + 1)])
    ax.set_xlabel("layer")
    ax.set_ylabel("effective keys, exp(entropy)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    ax.set_title(title or "How focused is the query's attention?")
    return fig


__all__ = [
    "QueryMap",
    "layer_shifts",
    "plot_effective_keys",
    "plot_kept_counts",
    "plot_query_attention",
    "plot_query_context",
    "query_attention",
]
