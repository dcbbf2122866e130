import numpy as np
import pytest
import torch
from PIL import Image

from srlab.nets import build_net
from srlab.viz import (
    layer_shifts,
    plot_effective_keys,
    plot_kept_counts,
    plot_query_attention,
    plot_query_context,
    query_attention,
    save_figure,
)

SPEC = {"arch": "window_sr", "scale": 2, "embed_dim": 16, "depths": [2, 3], "num_heads": 2, "window_size": 4,
        "upsampler": "pixelshuffledirect"}  # fmt: skip


def _net(attn: str, keep: list[int] | None = None) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_net({**SPEC, "attn": {"name": attn}, "keep": keep}).eval()


def test_layer_shifts_alternate_within_each_group():
    assert layer_shifts(_net("dense")) == [0, 2, 0, 2, 0]  # depths [2, 3]: the third group layer is unshifted
    with pytest.raises(TypeError, match="Linear is not a window network"):
        layer_shifts(torch.nn.Linear(2, 2))


@pytest.mark.parametrize(("y", "x"), [(0, 0), (5, 6), (7, 3)])
def test_query_maps_show_the_query_pixel_in_its_window_in_every_layer(y, x):
    lr = torch.rand(3, 8, 12)
    maps = query_attention(_net("dense"), lr, y, x)
    assert [q.layer for q in maps] == list(range(5)) and [q.shift for q in maps] == [0, 2, 0, 2, 0]
    for q in maps:
        assert q.weights.shape == (4, 4) and q.patch.shape == (4, 4, 3)
        np.testing.assert_array_equal(q.patch[q.query], lr[:, y, x].numpy())  # the query sits on (y, x)
        np.testing.assert_allclose(q.weights.sum(), 1.0, rtol=1e-5)  # a softmax row (mean over heads)
        assert q.kept == q.similarities == 16 and 1 <= q.effective_keys <= 16
    top, left = y // 4 * 4, x // 4 * 4
    np.testing.assert_array_equal(
        maps[0].patch, lr[:, top : top + 4, left : left + 4].permute(1, 2, 0).numpy()
    )


def test_sparse_maps_keep_k_keys_per_head_and_report_the_mechanism_counts():
    keep = [16, 16, 4, 4, 1]
    maps = query_attention(_net("pfa", keep), torch.rand(3, 8, 8), 3, 5, head=1)
    assert [q.kept for q in maps] == keep
    assert [q.similarities for q in maps] == [16, 16, 16, 16, 4]  # PFA: QKᵀ only at layer 2's kept keys
    assert [int((q.weights > 0).sum()) for q in maps] == keep
    assert maps[-1].effective_keys == pytest.approx(1.0)  # a single kept key carries all the weight


def test_query_attention_rejects_bad_inputs():
    net = _net("dense")
    with pytest.raises(ValueError, match="not a multiple of the window 4"):
        query_attention(net, torch.rand(3, 8, 10), 0, 0)
    with pytest.raises(ValueError, match="one RGB image"):
        query_attention(net, torch.rand(1, 3, 8, 8), 0, 0)
    with pytest.raises(ValueError, match="head=5: layer 0 has 2 heads"):
        query_attention(net, torch.rand(3, 8, 8), 0, 0, head=5)
    assert not net.training and not net._forward_pre_hooks
    with pytest.raises(ValueError, match="layer 0 recorded no attention map"):
        query_attention(_net("lia"), torch.rand(3, 8, 8), 0, 0)


def test_attention_figures_are_labelled_and_saved(tmp_path):
    lr = torch.rand(3, 8, 8)
    results = {a: query_attention(_net(a, [16, 16, 8, 8, 4]), lr, 2, 6) for a in ("dense", "topk", "pfa")}
    fig = plot_query_attention(results, title="maps")
    grid = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(grid) == 4 * 5  # a row of window pixels + one row per mechanism, one column per layer
    assert [grid[i * 5].get_ylabel() for i in range(4)] == ["window pixels", "dense", "topk", "pfa"]
    assert grid[1].get_title() == "layer 1\nshift 2" and grid[5 + 4].get_xlabel().startswith("K=16/16")
    assert any("map maximum" in ax.get_ylabel() for ax in fig.axes)  # the colour bar says what colour means

    kept = plot_kept_counts(results)
    left, right = kept.axes[:2]
    assert [p.get_height() for p in right.patches[10:15]] == [16, 16, 8, 8, 4]  # the third mechanism's bars
    assert left.get_ylabel() == "similarities per query" and right.get_xlabel() == "layer"

    focus = plot_effective_keys({"init": results, "trained": results})
    labels = [t.get_text() for t in focus.axes[0].get_legend().get_texts()]
    assert labels[:2] == ["dense, init", "topk, init"] and "pfa, trained" in labels

    context = plot_query_context(lr, 2, 6, 4)
    assert context.axes[0].get_xlabel() == "x (LR pixels)" and len(context.axes[0].patches) == 2

    path = save_figure(fig, tmp_path / "out", "maps")
    assert path == tmp_path / "out" / "maps.png" and Image.open(path).size[0] > 500
