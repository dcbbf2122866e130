import copy

import pytest
import torch
import torch.nn.functional as F

import srlab.attention as attention
from srlab.attention import pfa
from srlab.attention.base import AttentionContext
from srlab.attention.probe import AttentionProbe
from srlab.attention.window import shift_mask
from srlab.nets import build_net, net_macs

WS, N, HEADS, D = 4, 16, 2, 8
NET = {"arch": "window_sr", "scale": 2, "embed_dim": 16, "num_heads": HEADS, "window_size": WS,
       "upsampler": "pixelshuffledirect", "lepe": True, "ffn": "convffn", "rpb": "shared", "mlp_ratio": 1.0}  # fmt: skip
MASK = shift_mask(8, 8, WS, WS // 2).double()  # one 8x8 image = 4 windows


class _Keep(AttentionProbe):
    """A probe that keeps the raw maps (dtype and device as the mechanism made them)."""

    def __init__(self):
        super().__init__(maps=True)

    def record(self, layer, attn):
        self.maps[layer] = attn


def _qkvb(seed, b=4):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(b, HEADS, N, D, generator=g, dtype=torch.float64) for _ in range(3))
    return q, k, v, torch.randn(1, N, N, generator=g, dtype=torch.float64)


def _ctx(layer, keep, state, probe=None):
    shift = WS // 2 if layer % 2 else 0
    return AttentionContext(layer=layer, shift=shift, keep=keep, mask=MASK if shift else None, state=state,
                            probe=probe)  # fmt: skip


def _oracle(layers, keeps):
    """PFA written densely: N×N weights that are zero off the selected set, a boolean selected set per chain."""
    sel, val, outs = [None, None], [None, None], []
    for layer, ((q, k, v, bias), keep) in enumerate(zip(layers, keeps, strict=True)):
        slot = layer % 2
        logits = q @ k.transpose(-2, -1) + bias
        if sel[slot] is None:
            if slot:
                logits = (logits.view(-1, 4, HEADS, N, N) + MASK[None, :, None]).view_as(logits)
            p = logits.softmax(-1)
            chosen = torch.ones_like(p, dtype=torch.bool)
        else:
            chosen = sel[slot]
            p = logits.masked_fill(~chosen, float("-inf")).softmax(-1)  # no shift mask once sparse
        if val[slot] is not None:
            p = p * val[slot]
            p = torch.where(chosen, (p + 1e-20) / (p.sum(-1, keepdim=True) + 1e-20), 0.0)
        if keep < N:
            top = p.masked_fill(~chosen, float("-inf")).topk(keep, dim=-1).indices
            chosen = torch.zeros_like(chosen).scatter(-1, top, True)
            p = p * chosen  # kept values, not renormalised
            sel[slot] = chosen
        val[slot] = p
        outs.append(p @ v)
    return outs


def _run(layers, keeps, state=None, probe=None):
    m = attention.build("pfa", dim=HEADS * D, num_heads=HEADS, window_size=WS)
    state = {} if state is None else state
    return [
        m.attend(*lqkvb, _ctx(i, keep, state, probe))
        for i, (lqkvb, keep) in enumerate(zip(layers, keeps, strict=True))
    ], state


@pytest.mark.parametrize(
    "keeps",
    [
        [16, 16, 8, 8, 4, 4, 4, 4],
        [8, 8, 8, 8, 3, 3],
        [16, 16, 16, 16, 16, 16],
        [4, 4, 16, 16, 2, 2],
        [3, 3, 1, 1],
    ],
)
def test_attend_matches_a_dense_masked_oracle(keeps):
    layers = [_qkvb(seed) for seed in range(len(keeps))]
    probe = AttentionProbe()
    got, _ = _run(layers, keeps, probe=probe)
    for layer, (g, e) in enumerate(zip(got, _oracle(layers, keeps), strict=True)):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12, msg=f"layer {layer}")
    assert set(probe.sparsity) == set(range(len(keeps)))


@pytest.mark.parametrize("keeps", [[16, 16, 8, 8, 4, 4, 4, 4], [4, 4, 16, 16, 2, 2], [3, 3, 1, 1]])
def test_dense_qk_variant_is_the_same_pfa_at_dense_similarity_cost(keeps):
    """``sparse_qk=False`` (PFT's "Hadamard inheritance without sparse skipping") equals the oracle too."""
    layers = [_qkvb(seed) for seed in range(len(keeps))]
    m = attention.build("pfa", dim=HEADS * D, num_heads=HEADS, window_size=WS, sparse_qk=False)
    state, probe = {}, AttentionProbe()
    got = [
        m.attend(*lqkvb, _ctx(i, keep, state, probe))
        for i, (lqkvb, keep) in enumerate(zip(layers, keeps, strict=True))
    ]
    for layer, (g, e) in enumerate(zip(got, _oracle(layers, keeps), strict=True)):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12, msg=f"layer {layer}")
    assert all(probe.sparsity[i]["similarities"] == N for i in range(len(keeps)))  # dense QKᵀ everywhere


def test_report_record_and_kept_values_are_not_renormalised():
    layers = [_qkvb(seed) for seed in range(6)]
    rec = _Keep()
    keeps = [16, 16, 8, 8, 4, 4]
    outs, state = _run(layers, keeps, probe=rec)
    sp = rec.sparsity
    assert [sp[i] for i in range(6)] == [{"similarities": 16, "kept": 16}] * 2 + [
        {"similarities": 16, "kept": 8}
    ] * 2 + [{"similarities": 8, "kept": 4}] * 2
    chain = pfa.chains(AttentionContext(layer=0, shift=0, keep=16, state=state))
    for slot in (0, 1):
        values, indices = chain["values"][slot], chain["indices"][slot]
        assert values.shape == indices.shape == (4, HEADS, N, 4) and indices.dtype == torch.int64
        sums = values.sum(-1)  # top-k of a distribution, used as is: rows sum to less than 1
        assert torch.all(sums <= 1 + 1e-12) and torch.any(sums < 0.99)
    for layer in range(6):
        maps = rec.maps[layer]
        assert maps.shape == (4, HEADS, N, N)
        assert torch.all((maps > 0).sum(-1) == keeps[layer])
        torch.testing.assert_close(maps @ layers[layer][2], outs[layer], rtol=1e-12, atol=1e-12)
    scattered = torch.zeros(4, HEADS, N, N, dtype=torch.float64).scatter(
        -1, chain["indices"][0], chain["values"][0]
    )
    torch.testing.assert_close(rec.maps[4], scattered)


def test_eps_renormalisation_of_the_hadamard_product():
    q, k, v, bias = _qkvb(7)
    m = attention.build("pfa", dim=HEADS * D, num_heads=HEADS, window_size=WS)
    zeros = torch.zeros(4, HEADS, N, N, dtype=torch.float64)
    state = {"pfa": {"values": [zeros, None], "indices": [None, None]}}
    # P ⊙ 0 = 0 everywhere: (0 + ε) / (0 + ε) = 1 per entry, so A·V is the plain sum of v
    out = m.attend(q, k, v, bias, _ctx(2, 16, state))
    torch.testing.assert_close(out, v.sum(-2, keepdim=True).expand_as(v))
    prev = torch.rand(4, HEADS, N, N, dtype=torch.float64)
    state = {"pfa": {"values": [prev, None], "indices": [None, None]}}
    p = (q @ k.transpose(-2, -1) + bias).softmax(-1) * prev
    expected = (p + pfa.EPS) / (p.sum(-1, keepdim=True) + pfa.EPS) @ v
    torch.testing.assert_close(m.attend(q, k, v, bias, _ctx(2, 16, state)), expected, rtol=1e-13, atol=1e-13)


def test_no_shift_mask_once_sparse():
    layers = [_qkvb(seed) for seed in range(4)]
    _, state = _run(layers[:2], [8, 8])
    m = attention.build("pfa", dim=HEADS * D, num_heads=HEADS, window_size=WS)

    def shifted_layer(mask, layer, st):
        ctx = _ctx(layer, 8, copy.deepcopy(st))
        ctx.mask = mask
        return m.attend(*layers[layer], ctx)

    sparse = [shifted_layer(mask, 3, state) for mask in (MASK, torch.zeros_like(MASK))]
    torch.testing.assert_close(sparse[0], sparse[1], rtol=0, atol=0)
    dense = [shifted_layer(mask, 1, {}) for mask in (MASK, torch.zeros_like(MASK))]
    assert not torch.allclose(dense[0], dense[1])


@pytest.mark.parametrize("dense_first", [True, False])
def test_gradients_flow_through_the_hadamard_chain(dense_first):
    layers = [_qkvb(seed) for seed in range(3)]
    q0 = layers[0][0].clone().requires_grad_(True)
    layers[0] = (q0, *layers[0][1:])
    keeps = [16, 16, 8] if dense_first else [8, 8, 8]
    outs, state = _run(layers, keeps)
    assert state["pfa"]["values"][0].requires_grad  # not detached
    (grad,) = torch.autograd.grad(outs[2].sum(), q0)  # layer 2 reaches layer 0 only through the chain
    assert grad.abs().sum() > 0


def _capture(monkeypatch):
    """Record every idx handed to pfa.smm_qk, and the chain indices each layer leaves behind."""
    seen, after = [], {}
    real_qk, real_attend = pfa.smm_qk, pfa.ProgressiveFocusedAttention.attend

    def qk(q, k, idx):
        seen.append(idx.clone())
        return real_qk(q, k, idx)

    def attend(self, q, k, v, bias, ctx):
        out = real_attend(self, q, k, v, bias, ctx)
        indices = pfa.chains(ctx)["indices"][1 if ctx.shift else 0]
        after[ctx.layer] = None if indices is None else indices.clone()
        return out

    monkeypatch.setattr(pfa, "smm_qk", qk)
    monkeypatch.setattr(pfa.ProgressiveFocusedAttention, "attend", attend)
    return seen, after


@pytest.mark.parametrize(
    ("depths", "keep", "source"),
    [
        ([2, 2, 2], [4, 4, 2, 2, 2, 2], {2: 0, 3: 1, 4: 2, 5: 3}),  # layer l inherits l−2, across groups
        ([3, 1], [4, 4, 4, 2], {2: 0, 3: 2}),  # slot = shift parity within the group: layer 3 (i=0) follows 2
    ],
)
def test_sparse_layers_compute_similarities_only_at_inherited_indices(monkeypatch, depths, keep, source):
    seen, after = _capture(monkeypatch)
    torch.manual_seed(0)
    net = build_net({**NET, "depths": depths, "attn": {"name": "pfa"}, "keep": keep}).double().eval()
    with torch.no_grad():
        net(torch.rand(1, 3, 8, 8, dtype=torch.float64))
    assert len(seen) == len(source)
    for idx, (layer, src) in zip(seen, sorted(source.items()), strict=True):
        width = after[src].shape[-1]
        assert idx.dtype == torch.int32 and idx.shape == (4 * HEADS, N, width), layer
        assert torch.equal(idx, after[src].to(torch.int32).reshape(-1, N, width)), layer


def test_keep_full_first_layers_equal_dense_and_the_chain_continues_after():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    for depths, equal in (([2], True), ([1, 1], False), ([2, 2], False)):
        dense = build_net({**NET, "depths": depths}).double().eval()
        full = build_net({**NET, "depths": depths, "attn": {"name": "pfa"}}).double().eval()
        full.load_state_dict(dense.state_dict())
        with torch.no_grad():
            diff = (full(x) - dense(x)).abs().max().item()
        # layers with no predecessor in their chain are dense attention; later ones multiply by its weights
        assert (diff < 1e-13) == equal, (depths, diff)


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = build_net({**NET, "depths": [2, 4], "attn": {"name": "pfa"}, "keep": [16, 16, 8, 8, 4, 4]})
    net(torch.rand(2, 3, 8, 8)).mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_macs_count_similarities_at_inherited_and_aggregation_at_kept_indices():
    # one window (N = 4, C = d = 4, one head) on a 2x2 LR input; no LePE/ConvFFN so every term is explicit
    spec = {"arch": "window_sr", "scale": 2, "embed_dim": 4, "depths": [6], "num_heads": 1, "window_size": 2,
            "upsampler": "pixelshuffledirect", "mlp_ratio": 2.0, "attn": {"name": "pfa"}, "keep": [4, 4, 2, 2, 1, 1]}  # fmt: skip
    hw, c, n = 4, 4, 4
    conv3 = lambda cin, cout: cin * cout * 9 * hw  # noqa: E731
    similarities = [4, 4, 4, 4, 2, 2]  # dense until a chain has indices, then K^{l−2}
    kept = [4, 4, 2, 2, 1, 1]
    per_layer = hw * c * 3 * c + hw * c * c + hw * c * 2 * c * 2  # qkv, proj, fc1 + fc2
    attention_macs = sum(n * s * c + n * k * c for s, k in zip(similarities, kept, strict=True))
    expected = conv3(3, c) + 6 * per_layer + attention_macs + conv3(c, c) * 2 + conv3(c, 3 * 4)
    assert net_macs(spec, (2, 2)) == expected
    dense = net_macs({**spec, "attn": {"name": "dense"}}, (2, 2))
    assert dense - expected == sum(
        2 * n * n * c - a for a in (n * s * c + n * k * c for s, k in zip(similarities, kept, strict=True))
    )


def test_pfa_counts_fewer_macs_than_topk_and_dense_at_the_same_window():
    spec = {**NET, "depths": [2, 2, 2], "keep": [16, 16, 4, 4, 2, 2]}
    macs = {name: net_macs({**spec, "attn": {"name": name}}, (16, 16)) for name in ("dense", "topk", "pfa")}
    nw, c = 16, 16  # 16x16 input, 4x4 windows; per window and layer: N·C per similarity/aggregation column
    topk_saving = sum(nw * N * c * (N - k) for k in spec["keep"])  # aggregation only
    pfa_saving = topk_saving + nw * N * c * 2 * (N - 4)  # similarities of layers 4 and 5 at K = 4
    assert macs["dense"] - macs["topk"] == topk_saving
    assert macs["dense"] - macs["pfa"] == pfa_saving
    no_skipping = net_macs({**spec, "attn": {"name": "pfa", "sparse_qk": False}}, (16, 16))
    assert no_skipping == macs["topk"]  # dense similarities, aggregation at the kept keys only


@pytest.mark.parametrize("name", ["pfa", "topk"])
def test_sparse_mechanisms_run_under_autocast(name):
    torch.manual_seed(0)
    net = build_net(
        {
            **NET,
            "depths": [2, 2],
            "attn": {"name": name},
            "keep": [16, 16, 4, 4] if name == "pfa" else [8] * 4,
        }
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = net(torch.rand(1, 3, 8, 8))
    y.float().mean().backward()
    assert torch.isfinite(y).all() and net.conv_first.weight.grad is not None


def _region(i: int, n: int, ws: int, shift: int) -> int:
    """Swin's region label of row/column i of the rolled map (0, 1, 2)."""
    return 0 if i < n - ws else 1 if i < n - shift else 2


def _stack_oracle(mods, x, keeps):
    """A residual stack of PFA layers written window by window from PFT's formulas, in float64.

    Independent of srlab's window utilities, shift masks, bias gathering and sparse kernels: every window
    is cut out by pixel coordinates, the chain of each (shift parity, image, window) is kept as dense N×N
    tensors (a boolean selected set and the kept weights, zero elsewhere), and PyTorch's autograd on this
    dense form gives the oracle's gradients.
    """
    b, h, w, c = x.shape
    ws, nh = mods[0].window_size, mods[0].num_heads
    d, n = c // nh, ws * ws
    rel = torch.tensor([[(i // ws - j // ws + ws - 1) * (2 * ws - 1) + (i % ws - j % ws + ws - 1)
                         for j in range(n)] for i in range(n)])  # fmt: skip
    chain = {}  # (slot, image, r0, c0) -> (selected, values)
    for layer, (m, keep) in enumerate(zip(mods, keeps, strict=True)):
        shift, slot = (ws // 2, 1) if layer % 2 else (0, 0)
        q, k, v = F.linear(x, m.qkv.weight, m.qkv.bias).split(c, dim=-1)
        lepe = None
        if m.lepe is not None:
            conv = m.lepe.conv
            lepe = F.gelu(
                F.conv2d(v.permute(0, 3, 1, 2), conv.weight, conv.bias, padding=conv.padding, groups=c)
            )
            lepe = lepe.permute(0, 2, 3, 1)
        bias = m.relative_position_bias_table[rel].permute(2, 0, 1)  # (heads or 1, N, N)
        mixed = torch.zeros_like(x)
        for img in range(b):
            for r0 in range(0, h, ws):
                for c0 in range(0, w, ws):
                    pos = [(r0 + i, c0 + j) for i in range(ws) for j in range(ws)]  # in the rolled map
                    rows = torch.tensor([(r + shift) % h for r, _ in pos])
                    cols = torch.tensor([(cc + shift) % w for _, cc in pos])
                    qw, kw, vw = (t[img, rows, cols].view(n, nh, d).transpose(0, 1) for t in (q, k, v))
                    logits = (qw * d**-0.5) @ kw.transpose(-2, -1) + bias
                    sel, val = chain.get((slot, img, r0, c0), (None, None))
                    if sel is None:
                        if shift:
                            labels = [(_region(r, h, ws, shift), _region(cc, w, ws, shift)) for r, cc in pos]
                            cross = torch.tensor([[li != lj for lj in labels] for li in labels])
                            logits = logits + torch.where(cross, -100.0, 0.0).to(x.dtype)
                        p = logits.softmax(-1)
                        chosen = torch.ones_like(p, dtype=torch.bool)
                    else:
                        chosen = sel
                        p = logits.masked_fill(~chosen, float("-inf")).softmax(-1)
                    if val is not None:
                        p = p * val
                        p = torch.where(chosen, (p + 1e-20) / (p.sum(-1, keepdim=True) + 1e-20), 0.0)
                    if keep < n:
                        width = int(chosen[0, 0].sum())
                        top = p.masked_fill(~chosen, float("-inf")).topk(min(keep, width), dim=-1).indices
                        chosen = torch.zeros_like(chosen).scatter(-1, top, True)
                        p = p * chosen
                    chain[(slot, img, r0, c0)] = (chosen if keep < n or sel is not None else None, p)
                    o = (p @ vw).transpose(0, 1).reshape(n, c)
                    if lepe is not None:
                        o = o + lepe[img, rows, cols]
                    mixed[img, rows, cols] = o
        x = x + F.linear(mixed, m.proj.weight, m.proj.bias)
    return x


@pytest.mark.parametrize(
    ("keeps", "rpb", "lepe"),
    [
        ([16, 16, 8, 8, 4, 4], "per_head", None),  # dense, dense ⊙ predecessor, then sparse
        ([8, 8, 4, 4, 2, 2], "shared", 3),  # sparse from the first layer, PFT-light's shared bias, LePE
        ([16, 16, 6, 6, 6, 6, 3, 3], "per_head", 3),  # K^l equal to the inherited width, then halved
    ],
)
def test_stack_outputs_and_gradients_match_an_independent_oracle_in_training_mode(keeps, rpb, lepe):
    """Outputs and every parameter and input gradient of a residual PFA stack, against :func:`_stack_oracle`.

    float64; tolerance 1e-13 of each tensor's largest entry (measured ≤ 1e-15 with AVX2 kernels and with
    ``ATEN_CPU_CAPABILITY=default``). The gradients pass through the sparse kernels' own backward, the
    Hadamard chain across layers (kept values are not detached), the gathered bias and the top-k.
    """
    torch.manual_seed(0)
    mods = torch.nn.ModuleList(
        attention.build("pfa", dim=HEADS * D, num_heads=HEADS, window_size=WS, rpb=rpb, lepe_kernel=lepe)
        for _ in keeps
    ).double()
    for m in mods:  # a bias that matters; peaked softmaxes would underflow P ⊙ V_prev to ε-ties
        torch.nn.init.normal_(m.relative_position_bias_table, std=0.5)
    mods.train()
    x = torch.randn(2, 8, 8, HEADS * D, dtype=torch.float64, requires_grad=True)
    probe = torch.randn(2, 8, 8, HEADS * D, dtype=torch.float64)

    def outputs_and_grads(forward):
        out = forward()
        grads = torch.autograd.grad((out * probe).sum(), [x, *mods.parameters()])
        return out.detach(), grads

    def ours():
        state, probe, y = {}, AttentionProbe(), x
        for layer, (m, keep) in enumerate(zip(mods, keeps, strict=True)):
            shifted = layer % 2
            ctx = AttentionContext(
                layer, WS // 2 if shifted else 0, keep, MASK if shifted else None, state, probe
            )
            y = y + m(y, ctx)
        assert [probe.sparsity[i]["kept"] for i in range(len(keeps))] == [min(k, N) for k in keeps]
        return y

    got, got_grads = outputs_and_grads(ours)
    expected, expected_grads = outputs_and_grads(lambda: _stack_oracle(mods, x, keeps))
    names = ["x", *(n for n, _ in mods.named_parameters())]
    for name, g, e in zip(["out", *names], [got, *got_grads], [expected, *expected_grads], strict=True):
        assert e.abs().max() > 0, name
        err = ((g - e).abs().max() / e.abs().max()).item()
        assert err <= 1e-13, f"{name}: {err:.3g} of its largest entry"
