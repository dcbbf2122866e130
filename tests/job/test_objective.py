"""What a job returns to an optimising sweeper: the metric ``optimized_metric`` names."""

from __future__ import annotations

import pytest

from srlab.job.objective import objective

SUMMARY = {"metrics": {"Set5": {"psnr_y": 37.5, "ssim_y": 0.95, "per_image": {"baby": {"psnr_y": 38.0}}},
                       "Set14": {"psnr_y": 33.1}}}  # fmt: skip


def test_the_named_metric_of_the_named_set_is_returned():
    assert objective(SUMMARY, "test/Set14/psnr_y") == 33.1
    assert objective(SUMMARY, "test/Set5/ssim_y") == 0.95


def test_no_name_is_the_first_test_sets_psnr_y():
    assert objective(SUMMARY, None) == 37.5
    assert objective({"metrics": {}}, None) is None


@pytest.mark.parametrize("name", ["test/Urban100/psnr_y", "val/Set5/psnr_y", "psnr_y"])
def test_an_unknown_metric_is_an_error_listing_the_known_ones(name: str):
    with pytest.raises(ValueError, match=r"test/Set5/psnr_y, test/Set5/ssim_y, test/Set14/psnr_y") as err:
        objective(SUMMARY, name)
    assert f"optimized_metric={name!r}" in str(err.value)
