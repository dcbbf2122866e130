"""srlab.tables.stats against hand-computed cases and scipy's own statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from srlab.tables.stats import RESAMPLES, kendall_tau, mean_ci, paired_delta, sign_agrees


def test_mean_ci_by_hand_and_against_scipy_t_interval():
    est = mean_ci([1.0, 2.0, 3.0])  # mean 2, s = 1, t(0.975, 2) = 4.302653 (tables)
    half = 4.302653 / math.sqrt(3)
    assert (est.value, est.n) == (2.0, 3)
    assert est.lo == pytest.approx(2 - half, abs=1e-6) and est.hi == pytest.approx(2 + half, abs=1e-6)
    values = [32.91, 32.97, 33.02, 32.88]
    lo, hi = sp.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=sp.sem(values))
    est = mean_ci(values)
    assert (est.lo, est.hi) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))


def test_one_seed_has_no_interval():
    est = mean_ci([32.5])
    assert (est.value, est.lo, est.hi, est.n, est.includes_zero) == (32.5, None, None, 1, None)
    assert paired_delta(np.array([[1.0]]), np.array([[0.5]])).lo is None


def test_paired_delta_by_hand():
    ref = np.array([[30.0, 25.0, 35.0], [30.5, 24.0, 36.0]])
    same = paired_delta(ref, ref)
    assert (same.value, same.lo, same.hi, same.includes_zero) == (0.0, 0.0, 0.0, True)
    shifted = paired_delta(ref + 0.1, ref)  # every pair differs by exactly +0.1: no uncertainty is left
    assert (
        shifted.value == pytest.approx(0.1)
        and shifted.lo == pytest.approx(0.1)
        and shifted.hi == pytest.approx(0.1)
    )
    assert shifted.includes_zero is False and shifted.n == 6
    # the images' spread (5 dB) is shared by both rows and cancels: pairing is what makes +0.1 certain
    with pytest.raises(ValueError, match="same"):
        paired_delta(ref, ref[:, :2])


def test_paired_delta_with_one_seed_is_scipys_paired_bootstrap_of_the_mean_difference():
    rng = np.random.default_rng(1)
    ref = rng.normal(30, 3, size=40)
    row = ref + rng.normal(0.05, 0.1, size=40)
    ours = paired_delta(row[None, :], ref[None, :])
    theirs = sp.bootstrap((row, ref), lambda x, y, axis: np.mean(x - y, axis=axis), paired=True, vectorized=True,
                          n_resamples=RESAMPLES, method="percentile", rng=0).confidence_interval  # fmt: skip
    width = theirs.high - theirs.low
    assert ours.value == pytest.approx(np.mean(row - ref))
    assert ours.lo == pytest.approx(theirs.low, abs=0.05 * width)
    assert ours.hi == pytest.approx(theirs.high, abs=0.05 * width)


def test_paired_delta_over_seed_means_is_scipys_bootstrap_over_seeds():
    row, ref = np.array([33.0, 33.1, 32.9, 33.2, 33.05]), np.array([32.9, 33.05, 32.95, 33.0, 32.9])
    ours = paired_delta(row[:, None], ref[:, None])
    theirs = sp.bootstrap((row, ref), lambda x, y, axis: np.mean(x - y, axis=axis), paired=True, vectorized=True,
                          n_resamples=RESAMPLES, method="percentile", rng=0).confidence_interval  # fmt: skip
    width = theirs.high - theirs.low
    assert ours.lo == pytest.approx(theirs.low, abs=0.05 * width) and ours.hi == pytest.approx(
        theirs.high, abs=0.05 * width
    )


def test_paired_delta_is_reproducible_and_widens_with_seed_noise():
    rng = np.random.default_rng(2)
    ref = rng.normal(30, 2, size=(3, 20))
    row = ref + 0.05 + rng.normal(0, 0.02, size=(3, 20))
    assert paired_delta(row, ref) == paired_delta(row, ref)  # fixed generator seed
    noisy = row + np.array([[0.3], [-0.3], [0.0]])  # one seed better, one worse: the seed factor must show
    narrow, wide = paired_delta(row, ref), paired_delta(noisy, ref)
    assert wide.hi - wide.lo > 5 * (narrow.hi - narrow.lo) and wide.includes_zero and not narrow.includes_zero


def test_sign_and_kendall_tau():
    assert sign_agrees(0.1, 0.05) is True and sign_agrees(-0.1, 0.05) is False
    assert sign_agrees(None, 0.1) is None and sign_agrees(0.1, None) is None and sign_agrees(0.1, 0.0) is None
    assert kendall_tau([1.0, 2.0, 3.0], [1.0, 3.0, 2.0]) == pytest.approx(1 / 3)  # 2 concordant, 1 discordant
    ours, paper = [27.8, 27.95, 27.9, None, 28.0], [27.81, 27.91, 27.91, 27.5, 27.97]
    assert kendall_tau(ours, paper) == pytest.approx(
        sp.kendalltau(ours[:3] + ours[4:], paper[:3] + paper[4:]).statistic
    )
    assert kendall_tau([1.0, None], [1.0, 2.0]) is None
