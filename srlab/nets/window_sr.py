"""The one window-transformer SR backbone every attention ablation runs on.

SwinIR's layout (shallow conv → residual groups of window layers → conv → upsampler) with the knobs of
PFT and HAT built in: any registered token mixer (``attn``), a per-layer keep schedule K^l (``keep``),
HAT's CAB in parallel with attention (``ca_weight`` α) and OCAB closing each group (``overlap`` γ),
PFT's LePE and ConvFFN, and a per-head or shared relative-position bias. State-dict names follow
SwinIR/HAT (``layers.{g}.residual_group.blocks.{i}.attn.qkv`` …).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from srlab import attention
from srlab.attention.base import AttentionContext
from srlab.attention.probe import AttentionProbe
from srlab.attention.window import layer_shift, pad_to_multiple, shift_mask
from srlab.nets.frfn import FRFN
from srlab.nets.keep import resolve_keep
from srlab.nets.layers import (
    CAB,
    ConvFFN,
    DropPath,
    Mlp,
    Upsample,
    UpsampleOneStep,
    image_to_tokens,
    residual_conv,
    tokens_to_image,
)
from srlab.nets.ocab import OCAB
from srlab.nets.registry import Arch, Knobs, register_arch

FFNS = ("mlp", "convffn", "frfn")
RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K mean used by SwinIR, HAT and PFT


@dataclass(frozen=True)
class AttentionLayer:
    """One window layer of a :class:`WindowSR`: global index, residual group, index in it, shift, K^l."""

    index: int
    group: int
    position: int
    shift: int
    keep: int


def mixer_arguments(mixer: type[nn.Module]) -> dict[str, str]:
    """The arguments WindowSR passes a token mixer of class ``mixer`` → the config key each comes from.

    The one statement of that rule: the network builds its mixers with exactly these, and config
    validation refuses an ``attn.<argument>`` that would set one a second time.
    """
    sources = {"dim": "model.net.embed_dim"}
    if issubclass(mixer, attention.WindowAttention):
        sources |= {"num_heads": "model.net.num_heads", "window_size": "window", "qkv_bias": "model.net.qkv_bias",
                    "rpb": "model.net.rpb", "lepe_kernel": "model.net.lepe"}  # fmt: skip
    return sources


class WindowLayer(nn.Module):
    """One transformer layer: x + mixer(LN(x)) [+ α·CAB(LN(x))], then x + FFN(LN(x))."""

    def __init__(
        self,
        dim: int,
        mixer: nn.Module,
        *,
        mlp_ratio: float,
        ffn: str,
        ffn_kernel: int,
        ca_weight: float,
        compress_ratio: int,
        squeeze_factor: int | None,
        drop_path: float,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = mixer
        self.ca_weight = ca_weight
        self.conv_block = CAB(dim, compress_ratio, squeeze_factor) if ca_weight > 0 else None
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        if ffn == "mlp":
            self.mlp: nn.Module = Mlp(dim, hidden)
        elif ffn == "convffn":
            self.mlp = ConvFFN(dim, hidden, ffn_kernel)
        elif ffn == "frfn":
            self.mlp = FRFN(dim, hidden)
        else:
            raise ValueError(f"ffn={ffn!r}: expected one of {FFNS}")

    def forward(self, x: torch.Tensor, h: int, w: int, ctx: AttentionContext) -> torch.Tensor:
        b, _, c = x.shape
        u = self.norm1(x).view(b, h, w, c)
        x = x + self.drop_path(self.attn(u, ctx).reshape(b, h * w, c))
        if self.conv_block is not None:
            x = x + self.ca_weight * self.conv_block(u).reshape(b, h * w, c)
        return x + self.drop_path(self.mlp(self.norm2(x), h, w))


class ResidualGroup(nn.Module):
    """Window layers (+ OCAB) followed by a conv, with a long skip (SwinIR's RSTB / HAT's RHAG)."""

    def __init__(self, blocks: list[WindowLayer], ocab: OCAB | None, conv: nn.Module) -> None:
        super().__init__()
        self.residual_group = nn.Module()
        self.residual_group.blocks = nn.ModuleList(blocks)
        self.residual_group.overlap_attn = ocab
        self.conv = conv


class WindowSR(nn.Module):
    """Window-attention SR network. All arguments are plain values so a config dict rebuilds it.

    Args:
        scale: upscaling factor. embed_dim: C. depths: layers per residual group.
        num_heads: one int for every layer, or one per group. window_size: M (N = M²).
        attn: mixer spec ``{"name": "dense", ...extra kwargs}`` (see ``conf/attn/``).
        keep: K^l per layer (global index), None = N everywhere.
        mlp_ratio, ffn (``mlp``/``convffn``/registered), ffn_kernel: FFN.
        lepe: PFT's LePE on v (kernel ``ffn_kernel``). rpb: ``per_head`` / ``shared``.
        ca_weight: α of HAT's CAB (0 = off); compress_ratio (β), squeeze_factor: CAB widths
            (squeeze_factor None: CAB without its channel attention).
        overlap: γ of HAT's OCAB (None = off).
        upsampler: ``pixelshuffle`` (num_feat) or ``pixelshuffledirect``.
        pad_mode: how inputs are padded to a window multiple (``reflect`` HAT, ``symmetric`` PFT).
    """

    def __init__(
        self,
        scale: int,
        embed_dim: int,
        depths: Sequence[int],
        num_heads: int | Sequence[int],
        window_size: int,
        attn: dict[str, Any] | None = None,
        keep: Sequence[int] | None = None,
        mlp_ratio: float = 2.0,
        ffn: str = "mlp",
        ffn_kernel: int = 7,
        lepe: bool = False,
        rpb: str = "per_head",
        qkv_bias: bool = True,
        ca_weight: float = 0.0,
        compress_ratio: int = 3,
        squeeze_factor: int | None = 30,
        overlap: float | None = None,
        upsampler: str = "pixelshuffle",
        num_feat: int = 64,
        resi_connection: str = "1conv",
        img_range: float = 1.0,
        patch_norm: bool = True,
        drop_path_rate: float = 0.0,
        pad_mode: str = "reflect",
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        attn = dict(attn or {"name": "dense"})
        mixer_name = attn.pop("name")
        depths = list(depths)
        n_layers = sum(depths)
        heads = [num_heads] * len(depths) if isinstance(num_heads, int) else list(num_heads)
        if len(heads) != len(depths):
            raise ValueError(f"num_heads has {len(heads)} entries but depths has {len(depths)} groups")
        n_tokens = window_size**2
        keep = [n_tokens] * n_layers if keep is None else [int(k) for k in keep]
        if len(keep) < n_layers:
            raise ValueError(f"keep has {len(keep)} entries but the network has {n_layers} layers")
        if any(k < 1 or k > n_tokens for k in keep[:n_layers]):
            raise ValueError(f"keep={keep[:n_layers]}: every K^l must lie in [1, window²={n_tokens}]")
        self.scale, self.window_size, self.img_range, self.pad_mode = scale, window_size, img_range, pad_mode
        self.keep = keep[:n_layers]
        self.embed_dim = embed_dim
        self.upsampler = upsampler
        self.register_buffer("mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)

        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, padding=1)
        self.patch_embed = nn.Module()
        self.patch_embed.norm = nn.LayerNorm(embed_dim) if patch_norm else nn.Identity()
        rates = [drop_path_rate * i / max(n_layers - 1, 1) for i in range(n_layers)]
        groups, layer = [], 0
        for depth, nh in zip(depths, heads, strict=True):
            blocks = []
            mixer_cls = attention.get(mixer_name)
            given = {"dim": embed_dim, "num_heads": nh, "window_size": window_size, "qkv_bias": qkv_bias,
                     "rpb": rpb, "lepe_kernel": ffn_kernel if lepe else None}  # fmt: skip
            mixer_args = {name: given[name] for name in mixer_arguments(mixer_cls)}
            for _ in range(depth):
                mixer = mixer_cls(**mixer_args, **attn)
                blocks.append(
                    WindowLayer(
                        embed_dim,
                        mixer,
                        mlp_ratio=mlp_ratio,
                        ffn=ffn,
                        ffn_kernel=ffn_kernel,
                        ca_weight=ca_weight,
                        compress_ratio=compress_ratio,
                        squeeze_factor=squeeze_factor,
                        drop_path=rates[layer],
                    )
                )
                layer += 1
            ocab = OCAB(embed_dim, window_size, overlap, nh, mlp_ratio) if overlap is not None else None
            groups.append(ResidualGroup(blocks, ocab, residual_conv(embed_dim, resi_connection)))
        self.layers = nn.ModuleList(groups)
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = residual_conv(embed_dim, resi_connection)
        if upsampler == "pixelshuffle":
            self.conv_before_upsample = nn.Sequential(
                nn.Conv2d(embed_dim, num_feat, 3, padding=1), nn.LeakyReLU(inplace=True)
            )
            self.upsample: nn.Module = Upsample(scale, num_feat)
            self.conv_last = nn.Conv2d(num_feat, in_chans, 3, padding=1)
        elif upsampler == "pixelshuffledirect":
            self.upsample = UpsampleOneStep(scale, embed_dim, in_chans)
        else:
            raise ValueError(f"upsampler={upsampler!r}: expected 'pixelshuffle' or 'pixelshuffledirect'")
        self.apply(_init_weights)

    def attention_layers(self) -> list[AttentionLayer]:
        """Every window layer in global order: its group, position, shift and K^l (timm's ``feature_info``)."""
        out = []
        for g, group in enumerate(self.layers):
            for i in range(len(group.residual_group.blocks)):
                out.append(
                    AttentionLayer(len(out), g, i, layer_shift(i, self.window_size), self.keep[len(out)])
                )
        return out

    def forward_features(self, x: torch.Tensor, probe: AttentionProbe | None = None) -> torch.Tensor:
        """Residual groups on the shallow features x (B, C, H, W), H and W window multiples."""
        h, w = x.shape[-2:]
        ws = self.window_size
        mask = shift_mask(h, w, ws, ws // 2, x.device).to(x.dtype)
        state: dict[str, Any] = {}  # shared by all layers of this forward (PFA chains live here)
        t = self.patch_embed.norm(image_to_tokens(x))
        layer = 0
        for group in self.layers:
            t_in = t
            for i, block in enumerate(group.residual_group.blocks):
                s = layer_shift(i, ws)
                ctx = AttentionContext(
                    layer=layer,
                    shift=s,
                    keep=self.keep[layer],
                    mask=mask if s else None,
                    state=state,
                    probe=probe,
                )
                t = block(t, h, w, ctx)
                layer += 1
            if group.residual_group.overlap_attn is not None:
                t = group.residual_group.overlap_attn(t, h, w)
            t = image_to_tokens(group.conv(tokens_to_image(t, h, w))) + t_in
        return tokens_to_image(self.norm(t), h, w)

    def forward(self, x: torch.Tensor, probe: AttentionProbe | None = None) -> torch.Tensor:
        """LR (N, 3, h, w) in [0, 1] → SR (N, 3, h·s, w·s), unclamped. Any h, w: padded to a window multiple.

        ``probe`` (:class:`srlab.attention.AttentionProbe`) receives every layer's sparsity report and,
        when it asks, attention maps; the network itself keeps nothing of the forward.
        """
        h0, w0 = x.shape[-2:]
        x = pad_to_multiple(x, self.window_size, self.pad_mode)
        mean = self.mean.to(x.dtype)
        x = (x - mean) * self.img_range
        f0 = self.conv_first(x)
        y = self.conv_after_body(self.forward_features(f0, probe)) + f0
        if self.upsampler == "pixelshuffle":
            y = self.conv_last(self.upsample(self.conv_before_upsample(y)))
        else:
            y = self.upsample(y)
        y = y / self.img_range + mean
        return y[..., : h0 * self.scale, : w0 * self.scale]


def _init_weights(m: nn.Module) -> None:
    """SwinIR's init: truncated normal (std 0.02) linears with zero bias, unit LayerNorms."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def _knob_arguments(net: Mapping[str, Any], knobs: Knobs) -> dict[str, Any]:
    """K^l resolved for the network's depth (``keep`` is a schedule spec), the mechanism, α as a float."""
    keep = resolve_keep(dict(knobs.keep), knobs.window**2, list(net["depths"]))
    return {"attn": dict(knobs.attn), "keep": keep, "ca_weight": float(knobs.ca_weight)}


def _check_knobs(net: Mapping[str, Any], knobs: Knobs) -> None:
    """γ ≥ 0 or null, α ≥ 0, window ≥ 1, and a keep schedule that fits the depth and the window."""
    if knobs.overlap is not None and knobs.overlap < 0:
        raise ValueError(f"overlap={knobs.overlap}: must be ≥ 0, or null for no OCAB")
    if knobs.ca_weight < 0:
        raise ValueError(f"ca_weight={knobs.ca_weight}: must be ≥ 0 (0 = no CAB)")
    if knobs.window < 1:
        raise ValueError(f"window={knobs.window}: must be a positive integer")
    resolve_keep(dict(knobs.keep), knobs.window**2, list(net["depths"]))


ARCH = register_arch(
    Arch(
        name="window_sr",
        cls=WindowSR,
        takes={
            "scale": "scale",
            "window": "window_size",
            "attn": "attn",
            "keep": "keep",
            "ca_weight": "ca_weight",
            "overlap": "overlap",
        },
        build=_knob_arguments,
        check=_check_knobs,
        mixer_arguments=mixer_arguments,
        official_families=("pft", "hat", "swinir"),
    )
)
"""SwinIR / HAT / PFT / AST-style window transformers: every top-level knob applies."""
