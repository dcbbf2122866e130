"""PlainUSR: the released weights reproduce the official outputs; the training graph trains and folds exactly."""

import pytest
import torch
from fingerprints import (
    FINGERPRINT_RTOL,
    PLAINUSR_FILES,
    PLAINUSR_MANIFESTS,
    REAL,
    WEIGHTS,
    fingerprint,
    fingerprint_error,
    fingerprint_input,
    manifest,
)

from srlab.nets import build_net, export_official, load_official
from srlab.nets.official import VARIANTS
from srlab.nets.plainusr import PlainUSR

needs_weights = pytest.mark.skipif(
    not WEIGHTS.is_dir(),
    reason=f"official PlainUSR weights not found at {WEIGHTS} (the shared/ folder beside the repo)",
)


def plainusr(name: str, scale: int, deploy: bool = False) -> PlainUSR:
    v = VARIANTS[name]
    return PlainUSR(scale, v["n_feat"], v["im_feat"], v.get("attn_feat"), v["kind"], deploy=deploy)


def perturbed(net: PlainUSR, seed: int = 0) -> PlainUSR:
    """Move every parameter away from its (identity-like) init so equivalence is not trivial."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


@needs_weights
@pytest.mark.parametrize("name", list(PLAINUSR_FILES))
def test_released_weights_reproduce_the_official_outputs(name):
    for i, scale in enumerate((2, 4)):
        prefix = PLAINUSR_FILES[name]
        path = WEIGHTS / f"{prefix}_Rep_x{scale}.pth"
        net = load_official(path, arch=name, scale=scale)
        assert manifest(net.state_dict()) == PLAINUSR_MANIFESTS[name][i]
        released = torch.load(path, weights_only=True)
        exported = export_official(net, name)
        assert exported.keys() == released.keys() and all(
            torch.equal(exported[k], v) for k, v in released.items()
        )
        with torch.no_grad():
            got = fingerprint(net.double()(fingerprint_input(40, 56)))
        assert fingerprint_error(got, REAL[(prefix, scale)]) <= FINGERPRINT_RTOL, (got, REAL[(prefix, scale)])


@pytest.mark.parametrize("name", list(PLAINUSR_FILES))
def test_reparameterize_keeps_the_outputs(name):
    net = perturbed(plainusr(name, 2)).eval()
    deploy = net.reparameterize()
    assert deploy.deploy and not net.deploy and not deploy.training
    assert manifest(deploy.state_dict()) == PLAINUSR_MANIFESTS[name][0]
    x = torch.rand(2, 3, 17, 23)
    # float32: relative to the largest output (1.8–3.2 here); measured ≤ 1.9e-6 of it, and 1.2e-14 in float64
    with torch.no_grad():
        y = net(x)
        assert (deploy(x) - y).abs().max() <= 1e-5 * y.abs().max()
        net64 = net.double()
        assert (net64.reparameterize()(x.double()) - net64(x.double())).abs().max() <= 1e-12


def test_training_graph_trains():
    net = perturbed(plainusr("plainusr_s", 2))
    net(torch.rand(2, 3, 16, 16)).abs().mean().backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert all(g is not None and g.abs().sum() > 0 for n, g in grads.items() if ".se." not in n)
    # RepMBConv's channel scale σ(W₂ SiLU(W₁ t)) starts at σ(≈ 0.1·C²) with the official init (t = 0.1, W = 1):
    # σ(102) = 1.0 exactly in float32 for the C = 32 blocks, so there it gets exactly zero gradient, as officially.
    assert all(
        g.abs().sum() == 0 for n, g in grads.items() if ".se." in n and n.startswith(("block1.", "block4."))
    )


def test_training_checkpoints_load_as_the_training_graph():
    net = perturbed(plainusr("plainusr_l", 4)).eval()
    loaded = load_official(export_official(net, "plainusr"))
    assert isinstance(loaded, PlainUSR) and not loaded.deploy and loaded.kind == "large"
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))


def test_build_net_and_bad_widths():
    spec = {"arch": "plainusr", "scale": 4, "n_feat": 32, "im_feat": [32, 16], "kind": "ultra"}
    assert build_net(spec)(torch.rand(1, 3, 8, 9)).shape == (1, 3, 32, 36)
    with pytest.raises(ValueError, match=r"im_feat=\[32, 16\]: kind='general' needs 3 decreasing widths"):
        build_net({**spec, "kind": "general", "attn_feat": 4})
    with pytest.raises(ValueError, match="already the deploy graph"):
        build_net({**spec, "deploy": True}).reparameterize()
