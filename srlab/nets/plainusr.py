"""PlainUSR (Wang et al., ACCV 2024): a plain conv SR net of nested channel slices, LIA and RepMBConv.

Two graphs with the official key names (``docs/official_models.md#plainusr``):

- **deploy** (``deploy=True``): 3×3 convs, LeakyReLU(0.05) and LIA, the graph of the released
  ``PlainUSR*_Rep_x*.pth`` weights (bare state dicts that load strictly into it);
- **training** (``deploy=False``): every 3×3 conv is a RepMBConv (1×1 expand → 3×3 → per-channel scale +
  identity → 1×1 reduce + identity) and a PConv folds the block's output into channel 0 before LIA.
  :meth:`PlainUSR.reparameterize` folds it into the deploy graph with the same outputs.

Both run the channel nesting functionally (slice, block, concatenate) so they train; the official code
writes the slices in place, which breaks backward. LIA is :class:`srlab.attention.lia.LocalImportanceAttention`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from srlab.attention.lia import LocalImportanceAttention
from srlab.nets.registry import Arch, register_arch

KINDS = {  # kind → (block names in forward order, which im_feat slice each uses, convs per block)
    "ultra": (("block1", "blockm", "block2"), (0, 1, 0), 2),
    "general": (("block1", "block2", "blockm", "block3", "block4"), (0, 1, 2, 1, 0), 2),
    "large": (("block1", "block2", "blockm", "block3", "block4"), (0, 1, 2, 1, 0), 3),
}
SLOPE = 0.05  # LeakyReLU slope of every PlainUSR block


class LocalAttentionSpeed(nn.Module):
    """PlainUSR-U/T's cheap LIA: x ⊙ σ(x[:, 0:1]) ⊙ σ(conv3×3(x)) (key ``body.0``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x[:, :1]) * self.body(x)


class ASR(nn.Module):
    """RepMBConv's input-independent channel scale a = σ(W₂ SiLU(W₁ t)) of a learned vector t (keys
    ``tensor``, ``se.1``, ``se.3``); initialised as official (t = 0.1, W = 1).

    ``se.0`` stands for the official mean over t's 1×1 map, a no-op once t is flattened.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.tensor = nn.Parameter(torch.full((1, channels, 1, 1), 0.1))
        self.se = nn.Sequential(
            nn.Identity(),
            nn.Linear(channels, channels // 4, bias=False),
            nn.SiLU(),
            nn.Linear(channels // 4, channels, bias=False),
            nn.Sigmoid(),
        )
        for i in (1, 3):
            nn.init.ones_(self.se[i].weight)

    def forward(self) -> torch.Tensor:
        """The scale, shaped (1, C, 1, 1).

        ``se`` gets a copy of t: module hooks such as FlopCounterMode's fail on a leaf parameter (or a view of
        one) as a module input under ``no_grad``.
        """
        return self.se(self.tensor.flatten(1).clone()).view(1, -1, 1, 1)


class RepMBConv(nn.Module):
    """Training form of one 3×3 conv: x + reduce(a ⊙ fea(expand(x)) + expand(x)), ratio 2.

    ``fea`` is a 3×3 conv without padding applied to ``expand`` of the zero-padded input, i.e. the
    expanded map padded with the expand bias, as official, so the whole block folds into one 3×3 conv.
    """

    def __init__(self, channels: int, ratio: int = 2) -> None:
        super().__init__()
        wide = channels * ratio
        self.expand_conv = nn.Conv2d(channels, wide, 1)
        self.fea_conv = nn.Conv2d(wide, wide, 3)
        self.reduce_conv = nn.Conv2d(wide, channels, 1)
        self.se = ASR(wide)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = self.expand_conv(F.pad(x, (1, 1, 1, 1)))
        e = padded[..., 1:-1, 1:-1]
        return self.reduce_conv(self.se() * self.fea_conv(padded) + e) + x

    @torch.no_grad()
    def fuse(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The equivalent 3×3 conv (weight (C, C, 3, 3), bias (C)), computed in float64."""
        k0, b0 = self.expand_conv.weight.double()[:, :, 0, 0], self.expand_conv.bias.double()
        k1, b1 = self.fea_conv.weight.double(), self.fea_conv.bias.double()
        k2, b2 = self.reduce_conv.weight.double()[:, :, 0, 0], self.reduce_conv.bias.double()
        a = self.se().double().view(-1)
        w = torch.einsum("omuv,mi->oiuv", k1, k0) * a.view(-1, 1, 1, 1)
        w[:, :, 1, 1] += k0
        bias = a * (b1 + torch.einsum("omuv,m->o", k1, b0)) + b0
        w = torch.einsum("co,oiuv->ciuv", k2, w)
        w[:, :, 1, 1] += torch.eye(w.shape[0], dtype=w.dtype)
        return w, k2 @ bias + b2


class PConv(nn.Module):
    """Training-only 1×1 conv C→1 whose output replaces channel 0 (initialised to the channel mean)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, 1)
        nn.init.constant_(self.conv.weight, 1.0 / channels)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), x[:, 1:]], dim=1)


class PlainBlock(nn.Module):
    """``n_convs`` 3×3 convs (RepMBConv when training) with LeakyReLU between, then optional attention.

    ``attention``: ``lia`` (LIA of width ``attn_feat``), ``lia_speed`` or None. Body indices follow the
    official Blockv1–v4, training (PConv before the attention) and deploy alike.
    """

    def __init__(
        self, channels: int, n_convs: int, attention: str | None, attn_feat: int | None, deploy: bool
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for j in range(n_convs):
            if j:
                layers.append(nn.LeakyReLU(SLOPE))
            layers.append(nn.Conv2d(channels, channels, 3, padding=1) if deploy else RepMBConv(channels))
        if attention is not None:
            if not deploy:
                layers.append(PConv(channels))
            if attention == "lia":
                if attn_feat is None:
                    raise ValueError("attn_feat is required for PlainUSR blocks with LIA")
                layers.append(LocalImportanceAttention(channels, attn_feat))
            else:
                layers.append(LocalAttentionSpeed(channels))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class PlainUSR(nn.Module):
    """PlainUSR: head conv 3 → n_feat+3, nested blocks on channel slices, tail conv + PixelShuffle.

    The last 3 head channels carry the image to the tail untouched by any block. No mean shift, no
    padding (LIA needs maps of at least 7×7; srlab's LIA pads smaller ones), no clamp.

    Args:
        scale: upscaling factor. n_feat: feature channels (without the 3 image channels).
        im_feat: channel widths of the nested slices, outermost first (2 for ``ultra``, 3 otherwise).
        attn_feat: LIA width f (``general``/``large``; unused by ``ultra``, whose middle block has LIA-speed).
        kind: ``ultra`` (U, T), ``general`` (S, M, base) or ``large`` (L).
        deploy: build the reparameterised graph (official released weights) instead of the training one.
    """

    def __init__(
        self,
        scale: int,
        n_feat: int,
        im_feat: Sequence[int],
        attn_feat: int | None = None,
        kind: str = "general",
        deploy: bool = False,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r}: expected one of {sorted(KINDS)}")
        names, slices, n_convs = KINDS[kind]
        im_feat = [int(c) for c in im_feat]
        if (
            len(im_feat) != max(slices) + 1
            or im_feat[0] != n_feat
            or sorted(im_feat, reverse=True) != im_feat
        ):
            raise ValueError(
                f"im_feat={im_feat}: kind={kind!r} needs {max(slices) + 1} decreasing widths starting at n_feat={n_feat}"
            )
        self.scale, self.n_feat, self.im_feat, self.attn_feat = scale, n_feat, im_feat, attn_feat
        self.kind, self.deploy = kind, deploy
        self.head = nn.Conv2d(3, n_feat + 3, 3, padding=1)
        self.widths = [im_feat[s] for s in slices]
        for name, width in zip(names, self.widths, strict=True):
            attention = ("lia_speed" if name == "blockm" else None) if kind == "ultra" else "lia"
            setattr(self, name, PlainBlock(width, n_convs, attention, attn_feat, deploy))
        self.block_names = names
        self.tail = nn.Sequential(nn.Conv2d(n_feat + 3, 3 * scale**2, 3, padding=1), nn.PixelShuffle(scale))
        self._init_identity()

    @torch.no_grad()
    def _init_identity(self) -> None:
        """Official init: the head copies the image into its last 3 channels, the tail adds it to each sub-pixel."""
        s2 = self.scale**2
        for c in range(3):
            self.head.weight[-3 + c, c, 1, 1] += 1
            self.tail[0].weight[c * s2 : (c + 1) * s2, -3 + c, 1, 1] += 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """LR (N, 3, h, w) in [0, 1] → SR (N, 3, h·s, w·s), unclamped."""
        f = self.head(x)
        for name, width in zip(self.block_names, self.widths, strict=True):
            f = torch.cat([getattr(self, name)(f[:, :width]), f[:, width:]], dim=1)
        return self.tail(f)

    @torch.no_grad()
    def reparameterize(self) -> PlainUSR:
        """The deploy network with the same outputs: RepMBConvs folded into 3×3 convs, PConv into channel 0.

        Folding runs in float64 and is cast to this network's dtype; this network is left unchanged.
        """
        if self.deploy:
            raise ValueError("this PlainUSR is already the deploy graph")
        dtype = self.head.weight.dtype
        net = PlainUSR(self.scale, self.n_feat, self.im_feat, self.attn_feat, self.kind, deploy=True)
        net.to(device=self.head.weight.device, dtype=dtype)
        state = {k: v for k, v in self.state_dict().items() if k.startswith(("head.", "tail."))}
        for name in self.block_names:
            body = getattr(self, name).body
            convs = [m for m in body if isinstance(m, RepMBConv)]
            fused = [m.fuse() for m in convs]
            pconv = next((m for m in body if isinstance(m, PConv)), None)
            if pconv is not None:  # channel 0 of the last conv becomes PConv applied to its output
                p, pb = pconv.conv.weight.double()[0, :, 0, 0], pconv.conv.bias.double()
                w, b = fused[-1]
                w[0], b[0] = torch.einsum("c,ciuv->iuv", p, w), p @ b + pb[0]
            for j, (w, b) in enumerate(fused):
                state[f"{name}.body.{2 * j}.weight"] = w.to(dtype)
                state[f"{name}.body.{2 * j}.bias"] = b.to(dtype)
            attention = body[-1]
            if isinstance(attention, (LocalImportanceAttention, LocalAttentionSpeed)):
                index = 2 * len(convs) - 1
                state.update({f"{name}.body.{index}.{k}": v for k, v in attention.state_dict().items()})
        net.load_state_dict(state, strict=True)
        return net.train(self.training)


ARCH = register_arch(Arch(name="plainusr", cls=PlainUSR, official_families=("plainusr",)))
"""PlainUSR takes ``scale`` only: no window attention, so window, attn, keep, α and γ stay at the preset's."""
