from pathlib import Path

import pytest
from omegaconf import OmegaConf

from srlab.nets.keep import pft_schedule, resolve_keep

CONF = Path(__file__).resolve().parents[2] / "conf" / "keep"
PFT_DEPTHS, PFT_LIGHT_DEPTHS = [4, 4, 4, 6, 6, 6], [2, 4, 6, 6, 6]


def test_pft_schedule_reproduces_pft_and_pft_light_at_window_32():
    # official num_topk (PFT-SR options): classical and light
    assert (
        resolve_keep({"policy": "pft"}, 1024, PFT_DEPTHS)
        == [1024] * 4 + [256] * 4 + [128] * 4 + [64] * 6 + [32] * 6 + [16] * 6
    )
    assert (
        resolve_keep({"policy": "pft"}, 1024, PFT_LIGHT_DEPTHS)
        == [1024] * 2 + [256] * 4 + [128] * 6 + [64] * 6 + [32] * 6
    )


@pytest.mark.parametrize(
    ("n", "depths", "expected"),
    [
        (256, [6] * 6, [256] * 6 + [64] * 6 + [32] * 6 + [16] * 6 + [8] * 6 + [4] * 6),  # window 16
        (64, [6] * 6, [64] * 6 + [16] * 6 + [8] * 6 + [4] * 6 + [2] * 6 + [1] * 6),  # window 8
        (64, [2, 2], [64, 64, 16, 16]),  # the tiny model
        (16, [1] * 8, [16, 4, 2, 1, 1, 1, 1, 1]),  # never below 1
        (144, [2, 2, 2], [144, 144, 36, 36, 18, 18]),  # window 12: ⌊N / 2^(g+1)⌋
        (1024, [3], [1024] * 3),  # one group: dense
    ],
)
def test_pft_schedule_scales_with_window_and_depth(n, depths, expected):
    assert pft_schedule(n, depths) == expected


def test_ratio_full_and_list():
    assert resolve_keep({"policy": "ratio", "ratios": [1.0, 0.5, 0.01]}, 64, [2, 1, 2]) == [64, 64, 32, 1, 1]
    assert resolve_keep({"policy": "ratio", "ratios": [0.3]}, 10, [2]) == [3, 3]
    assert resolve_keep({"policy": "full"}, 16, [2, 2]) == [16] * 4
    assert resolve_keep({"policy": "list", "values": [16, 8, "4", 1]}, 16, [2, 2]) == [16, 8, 4, 1]


@pytest.mark.parametrize(
    ("policy", "match"),
    [
        (
            {"policy": "list", "values": [16, 8, 4]},
            r"keep.values=\[16, 8, 4\] has 3 entries but the network has 4 layers",
        ),
        (
            {"policy": "list", "values": [16, 17, 4, 4]},
            r"keep.values=\[16, 17, 4, 4\]: K\^l=17 is outside \[1, window²=16\]",
        ),
        ({"policy": "list", "values": [16, 0, 4, 4]}, r"K\^l=0 is outside"),
        (
            {"policy": "ratio", "ratios": [1.0]},
            r"keep.ratios=\[1.0\] has 1 entries but depths=\[2, 2\] has 2 groups",
        ),
        (
            {"policy": "ratio", "ratios": [1.0, 1.5]},
            r"keep.ratios=\[1.0, 1.5\]: ratio 1.5 is outside \(0, 1\]",
        ),
        ({"policy": "ratio", "ratios": [0.0, 0.5]}, r"ratio 0.0 is outside"),
        ({"policy": "ratio"}, "keep.ratios is required for keep.policy='ratio'"),
        ({"policy": "list", "values": None}, "keep.values is required"),
        (
            {"policy": "constant"},
            r"keep.policy='constant': expected one of \['full', 'list', 'pft', 'ratio'\]",
        ),
    ],
)
def test_errors_name_the_key_and_the_value(policy, match):
    with pytest.raises(ValueError, match=match):
        resolve_keep(policy, 16, [2, 2])


def test_yaml_presets():
    assert (
        resolve_keep(OmegaConf.to_container(OmegaConf.load(CONF / "pft.yaml")), 1024, PFT_LIGHT_DEPTHS)[2]
        == 256
    )
    ratio = OmegaConf.load(CONF / "ratio.yaml")
    assert OmegaConf.is_missing(ratio, "ratios")
    ratio.ratios = [1.0, 0.25]
    assert resolve_keep(OmegaConf.to_container(ratio), 64, [1, 1]) == [64, 16]
