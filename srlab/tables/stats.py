"""The statistics of a table: mean ± 95% CI over seeds, the paired Δ to the reference row, agreement with the paper.

- :func:`mean_ci`: a row's cell is the mean of its per-seed set means with a Student-t 95% interval
  (n − 1 degrees of freedom); one seed gives no interval (None), never a made-up one.
- :func:`paired_delta`: a row's Δ to the reference row is the mean over seeds and test images of the
  per-image difference (row − reference), both rows scored on the same images with the same seeds. Its CI is
  a paired percentile bootstrap (:data:`RESAMPLES` resamples, fixed generator seed :data:`BOOTSTRAP_SEED`, so a
  table re-renders identically). Each resample draws test images and seeds with replacement and applies the
  same draw to both rows: the pairing removes what the rows share (an image's difficulty, a seed's data order
  and initialisation stream), and resampling both factors keeps both sources of chance in the interval —
  which test images the set happens to hold, and which training seed the run happened to get. An image is
  drawn once per resample for every seed (its difficulty is common to all seeds, so drawing it separately
  per seed would treat correlated differences as independent and narrow the CI). With one seed this is the
  ordinary paired bootstrap of a mean difference over images (what ``scipy.stats.bootstrap(paired=True)``
  computes); without per-image values it is a bootstrap over the seeds' set-mean differences. The Δ is
  flagged when its CI includes 0: the data do not tell the sign of the difference.
- :func:`sign_agrees` / :func:`kendall_tau`: whether our Δ has the paper's sign, and the rank agreement of
  our row means with the paper's (``scipy.stats.kendalltau``, τ-b).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A value with its 95% interval (``lo``/``hi`` None when there is none) and the number of values behind it."""

    value: float
    lo: float | None
    hi: float | None
    n: int

    @property
    def includes_zero(self) -> bool | None:
        """Whether the CI includes 0 (None without a CI)."""
        return None if self.lo is None or self.hi is None else self.lo <= 0.0 <= self.hi


def mean_ci(values: Sequence[float], level: float = LEVEL) -> Estimate:
    """Mean and Student-t interval ``mean ± t_{(1+level)/2, n−1} · s / √n`` (s: sample std); n = 1 → no CI."""
    from scipy.stats import t

    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"mean_ci: expected a non-empty list of values, got shape {x.shape}")
    mean = float(x.mean())
    if x.size == 1:
        return Estimate(mean, None, None, 1)
    half = float(t.ppf((1 + level) / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return Estimate(mean, mean - half, mean + half, int(x.size))


def paired_delta(
    row: np.ndarray,
    reference: np.ndarray,
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = LEVEL,
) -> Estimate:
    """Δ = mean(row − reference) over a (seeds × images) grid, with its paired bootstrap percentile CI.

    ``row`` and ``reference`` hold the same seeds (rows of the array) and the same images (columns), in the
    same order; a set mean per seed is a one-column grid. A 1 × 1 grid has no CI. ``n`` counts the pairs.
    """
    a, b = np.asarray(row, dtype=float), np.asarray(reference, dtype=float)
    if a.shape != b.shape or a.ndim != 2 or a.size == 0:
        raise ValueError(
            f"paired_delta: row {a.shape} and reference {b.shape} must be the same (seeds, images) grid"
        )
    diff = a - b
    value = float(diff.mean())
    n_seeds, n_images = diff.shape
    if diff.size == 1:
        return Estimate(value, None, None, 1)
    rng = np.random.default_rng(seed)
    stats = np.empty(resamples)
    chunk = max(1, 2_000_000 // diff.size)  # bound the memory of one vectorised batch
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        seeds = rng.integers(0, n_seeds, (size, n_seeds))
        images = rng.integers(0, n_images, (size, n_images))
        picked = diff[seeds[:, :, None], images[:, None, :]]  # (size, seeds, images)
        stats[start : start + size] = picked.mean(axis=(1, 2))
    alpha = (1 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    return Estimate(value, float(lo), float(hi), int(diff.size))


def sign_agrees(ours: float | None, paper: float | None) -> bool | None:
    """Whether our Δ has the paper's sign (None when either is missing or the paper's Δ is 0)."""
    if ours is None or paper is None or paper == 0:
        return None
    return (ours > 0) == (paper > 0) if ours != 0 else False


def kendall_tau(ours: Sequence[float | None], paper: Sequence[float | None]) -> float | None:
    """Kendall τ-b of our row means vs the paper's, over the rows that have both (None with fewer than 2)."""
    from scipy.stats import kendalltau

    pairs = [(o, p) for o, p in zip(ours, paper, strict=True) if o is not None and p is not None]
    if len(pairs) < 2:
        return None
    tau = kendalltau([o for o, _ in pairs], [p for _, p in pairs]).statistic
    return None if math.isnan(tau) else float(tau)
