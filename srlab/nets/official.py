"""Official checkpoints in, official checkpoints out: PFT, HAT, SwinIR and PlainUSR.

:func:`detect_official` tells the architecture and its hyper-parameters from key names and tensor
shapes; :func:`official_layout`, :func:`check_buffers` and :func:`to_srlab_state` map the official key
names onto srlab's. :func:`srlab.nets.loading.load_official` reads the file and uses them to return an
eval-mode srlab network whose parameters are exactly the official tensors. :func:`export_official` is the inverse:
an srlab network (or its state dict) in the official key layout, official index/mask buffers included,
so the official code loads it with ``strict=True``.

Key mapping (official → srlab; everything else has the same name):

- PFT: ``layers.{g}.residual_group.layers.{i}.`` → ``layers.{g}.residual_group.blocks.{i}.`` with
  ``wqkv`` → ``attn.qkv``, ``attn_win.`` → ``attn.``, ``v_LePE.depthwise_conv.0`` → ``attn.lepe.conv``,
  ``convffn.{fc1,fc2}`` → ``mlp.{fc1,fc2}``, ``convffn.dwconv.depthwise_conv.0`` → ``mlp.dwconv``.
- HAT, SwinIR, PlainUSR: identical names.

Official buffers are not loaded but checked against what srlab computes (an error if they differ):
PFT's ``relative_position_index_SA``, HAT's ``relative_position_index_SA`` / ``_OCA`` (with its negative
entries) and SwinIR's per-block ``attn.relative_position_index`` / ``attn_mask``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from srlab.attention.window import layer_shift, relative_position_index, shift_mask
from srlab.nets.keep import pft_schedule
from srlab.nets.ocab import overlap_position_index
from srlab.nets.registry import arch_for_family

VARIANTS: dict[str, dict[str, Any]] = {
    "pft": {"family": "pft", "embed_dim": 240, "depths": [4, 4, 4, 6, 6, 6], "num_heads": 6},
    "pft_light": {"family": "pft", "embed_dim": 52, "depths": [2, 4, 6, 6, 6], "num_heads": 4},
    "hat_s": {"family": "hat", "embed_dim": 144, "depths": [6] * 6, "compress_ratio": 24},
    "hat": {"family": "hat", "embed_dim": 180, "depths": [6] * 6, "compress_ratio": 3},
    "hat_l": {"family": "hat", "embed_dim": 180, "depths": [6] * 12, "compress_ratio": 3},
    "swinir": {"family": "swinir", "embed_dim": 180, "depths": [6] * 6},
    "swinir_light": {"family": "swinir", "embed_dim": 60, "depths": [6] * 4},
    "plainusr_u": {"family": "plainusr", "kind": "ultra", "n_feat": 16, "im_feat": [16, 8]},
    "plainusr_t": {"family": "plainusr", "kind": "ultra", "n_feat": 32, "im_feat": [32, 16]},
    "plainusr_s": {"family": "plainusr", "kind": "general", "n_feat": 32, "im_feat": [32, 16, 8], "attn_feat": 4},
    "plainusr_m": {"family": "plainusr", "kind": "general", "n_feat": 48, "im_feat": [48, 32, 16], "attn_feat": 8},
    "plainusr_base": {"family": "plainusr", "kind": "general", "n_feat": 64, "im_feat": [64, 48, 32], "attn_feat": 16},
    "plainusr_l": {"family": "plainusr", "kind": "large", "n_feat": 80, "im_feat": [80, 64, 48], "attn_feat": 16},
}  # fmt: skip
"""Released variants: their family and the hyper-parameters that tell them apart."""
FAMILIES = ("pft", "hat", "swinir", "plainusr")
HAT_CONV_SCALE = 0.01  # α of every released HAT (not stored in checkpoints)
SWINIR_IMG_SIZE = 64  # training patch of the released DF2K/light SwinIR models; sets the stored attn_mask

# PFT's per-layer sub-keys (official, srlab), longest official prefix first
_PFT_LAYER_KEYS = (
    ("convffn.dwconv.depthwise_conv.0.", "mlp.dwconv."),
    ("v_LePE.depthwise_conv.0.", "attn.lepe.conv."),
    ("convffn.", "mlp."),
    ("attn_win.", "attn."),
    ("wqkv.", "attn.qkv."),
)
_PFT_LAYER = re.compile(r"^layers\.(\d+)\.residual_group\.layers\.(\d+)\.(.+)$")
_SRLAB_BLOCK = re.compile(r"^layers\.(\d+)\.residual_group\.blocks\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class Detected:
    """What a checkpoint is: ``arch`` (a :data:`VARIANTS` name, or the family for other hyper-parameters),
    its ``family`` and the :func:`srlab.nets.build_net` ``spec`` that rebuilds it."""

    arch: str
    family: str
    spec: dict[str, Any]
    img_size: int = SWINIR_IMG_SIZE  # SwinIR's constructor size, read from its stored masks


# ---------------------------------------------------------------------------------------------- detection


def _shape(state: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise ValueError(f"cannot detect the architecture: the checkpoint has no {key!r}")
    return tuple(state[key].shape)


def _groups(state: Mapping[str, torch.Tensor], inner: str) -> list[int]:
    """Layers per residual group, counted from every key under ``layers.{g}.residual_group.{inner}.{i}.``."""
    pattern = re.compile(rf"^layers\.(\d+)\.residual_group\.{inner}\.(\d+)\.")
    found: dict[int, set[int]] = {}
    for key in state:
        if m := pattern.match(key):
            found.setdefault(int(m[1]), set()).add(int(m[2]))
    if not found or sorted(found) != list(range(len(found))):
        raise ValueError(f"cannot detect the architecture: residual groups {sorted(found)} are not 0…n−1")
    return [max(found[g]) + 1 for g in range(len(found))]


def _window(rows: int, what: str) -> int:
    """Window side from a Swin bias table of (2ws−1)² rows."""
    side = math.isqrt(rows)
    if side * side != rows or side % 2 == 0:
        raise ValueError(f"cannot detect the window: {what} has {rows} rows, not (2·ws − 1)²")
    return (side + 1) // 2


def _tail(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Scale, upsampler and widths of a SwinIR-family reconstruction (``pixelshuffle`` / ``pixelshuffledirect``)."""
    if "conv_before_upsample.0.weight" in state:
        num_feat = _shape(state, "conv_before_upsample.0.weight")[0]
        outs = [
            state[f"upsample.{j}.weight"].shape[0] for j in range(0, 8, 2) if f"upsample.{j}.weight" in state
        ]
        if outs == [9 * num_feat]:
            scale = 3
        elif outs and all(o == 4 * num_feat for o in outs):
            scale = 2 ** len(outs)
        else:
            raise ValueError(f"cannot detect the scale: upsample conv widths {outs} for num_feat={num_feat}")
        return {"scale": scale, "upsampler": "pixelshuffle", "num_feat": num_feat}
    if "upsample.0.weight" in state and "conv_last.weight" not in state:
        out = _shape(state, "upsample.0.weight")[0]
        scale = math.isqrt(out // 3)
        if 3 * scale * scale != out:
            raise ValueError(f"cannot detect the scale: upsample.0 has {out} outputs, not 3·s²")
        return {"scale": scale, "upsampler": "pixelshuffledirect"}
    raise ValueError(
        "cannot detect the upsampler: only 'pixelshuffle' and 'pixelshuffledirect' checkpoints are supported"
    )


def _resi(state: Mapping[str, torch.Tensor]) -> str:
    if "conv_after_body.weight" in state:
        return "1conv"
    if "conv_after_body.0.weight" in state:
        return "3conv"
    return "identity"


def _common(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    dim = _shape(state, "conv_first.weight")[0]
    return {"embed_dim": dim, **_tail(state), "resi_connection": _resi(state),
            "patch_norm": "patch_embed.norm.weight" in state}  # fmt: skip


def _name(family: str, spec: Mapping[str, Any]) -> str:
    """The released variant whose distinguishing hyper-parameters ``spec`` has, else the family name."""
    for name, variant in VARIANTS.items():
        if variant["family"] == family and all(spec.get(k) == v for k, v in variant.items() if k != "family"):
            return name
    return family


def _detect_pft(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    spec = _common(state)
    depths = _groups(state, "layers")
    first = "layers.0.residual_group.layers.0."
    rows, cols = _shape(state, first + "attn_win.relative_position_bias_table")
    ws = _window(rows, "attn_win.relative_position_bias_table")
    dim = spec["embed_dim"]
    if cols > 1:
        heads = cols
    else:  # one shared bias column: the head count is not stored, take it from the released variant
        known = [
            v["num_heads"]
            for v in VARIANTS.values()
            if v["family"] == "pft" and v["embed_dim"] == dim and v["depths"] == depths
        ]
        if not known:
            raise ValueError(
                f"cannot detect num_heads of a PFT with C={dim}, depths={depths} and a shared bias table"
            )
        heads = known[0]
    kernel = _shape(state, first + "convffn.dwconv.depthwise_conv.0.weight")[-1]
    lepe = _shape(state, first + "v_LePE.depthwise_conv.0.weight")[-1]
    if lepe != kernel:
        raise ValueError(
            f"LePE kernel {lepe} differs from the ConvFFN kernel {kernel}; srlab uses one kernel for both"
        )
    hidden = _shape(state, first + "convffn.fc1.weight")[0]
    return {**spec, "depths": depths, "num_heads": heads, "window_size": ws, "attn": {"name": "pfa"},
            "keep": pft_schedule(ws * ws, depths), "mlp_ratio": hidden / dim, "ffn": "convffn",
            "ffn_kernel": kernel, "lepe": True, "rpb": "per_head" if cols > 1 else "shared",
            "qkv_bias": first + "wqkv.bias" in state, "pad_mode": "symmetric"}  # fmt: skip


def _heads_per_group(state: Mapping[str, torch.Tensor], depths: list[int], table: str) -> list[int]:
    return [_shape(state, f"layers.{g}.residual_group.blocks.0.{table}")[1] for g in range(len(depths))]


def _detect_hat(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    spec = _common(state)
    dim = spec["embed_dim"]
    depths = _groups(state, "blocks")
    block = "layers.0.residual_group.blocks.0."
    ws = _window(
        _shape(state, block + "attn.relative_position_bias_table")[0], "attn.relative_position_bias_table"
    )
    oca_side = math.isqrt(
        _shape(state, "layers.0.residual_group.overlap_attn.relative_position_bias_table")[0]
    )
    wo = oca_side + 1 - ws
    mid = _shape(state, block + "conv_block.cab.0.weight")[0]
    ca_mid = _shape(state, block + "conv_block.cab.3.attention.1.weight")[0]
    beta, squeeze = dim // mid, dim // ca_mid
    if dim // beta != mid or dim // squeeze != ca_mid:
        raise ValueError(f"cannot detect HAT's CAB ratios from widths {mid} and {ca_mid} at C={dim}")
    hidden = _shape(state, block + "mlp.fc1.weight")[0]
    return {**spec, "depths": depths, "num_heads": _heads_per_group(state, depths, "attn.relative_position_bias_table"),
            "window_size": ws, "mlp_ratio": hidden / dim, "ca_weight": HAT_CONV_SCALE, "compress_ratio": beta,
            "squeeze_factor": squeeze, "overlap": (wo - ws) / ws, "qkv_bias": block + "attn.qkv.bias" in state,
            "pad_mode": "reflect"}  # fmt: skip


def _detect_swinir(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    spec = _common(state)
    dim = spec["embed_dim"]
    depths = _groups(state, "blocks")
    block = "layers.0.residual_group.blocks.0."
    ws = _window(
        _shape(state, block + "attn.relative_position_bias_table")[0], "attn.relative_position_bias_table"
    )
    hidden = _shape(state, block + "mlp.fc1.weight")[0]
    return {**spec, "depths": depths, "num_heads": _heads_per_group(state, depths, "attn.relative_position_bias_table"),
            "window_size": ws, "mlp_ratio": hidden / dim, "qkv_bias": block + "attn.qkv.bias" in state,
            "pad_mode": "reflect"}  # fmt: skip


def _detect_plainusr(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    n_feat = _shape(state, "head.weight")[0] - 3
    out = _shape(state, "tail.0.weight")[0]
    scale = math.isqrt(out // 3)
    if 3 * scale * scale != out:
        raise ValueError(f"cannot detect the scale: tail.0 has {out} outputs, not 3·s²")
    deploy = "block1.body.0.expand_conv.weight" not in state
    conv = "weight" if deploy else "reduce_conv.weight"
    if not any(k.startswith("block3.") for k in state):
        kind = "ultra"
    else:
        kind = "large" if f"block1.body.4.{conv}" in state else "general"
    blocks = ("block1", "blockm") if kind == "ultra" else ("block1", "block2", "blockm")
    im_feat = [_shape(state, f"{b}.body.0.{conv}")[0] for b in blocks]
    attn_feat = None
    if kind != "ultra":
        lia = (5 if kind == "large" else 3) + (0 if deploy else 1)
        attn_feat = _shape(state, f"block1.body.{lia}.body.0.weight")[0]
    return {"scale": scale, "n_feat": n_feat, "im_feat": im_feat, "attn_feat": attn_feat,
            "kind": kind, "deploy": deploy}  # fmt: skip


def _family(state: Mapping[str, torch.Tensor]) -> str:
    if "head.weight" in state and "tail.0.weight" in state:
        return "plainusr"
    if any(_PFT_LAYER.match(k) for k in state):
        return "pft"
    if any(".residual_group.overlap_attn." in k for k in state) or "relative_position_index_OCA" in state:
        return "hat"
    if any(k.endswith(".attn.relative_position_index") for k in state):
        return "swinir"
    raise ValueError("cannot detect the architecture: the keys match none of PFT, HAT, SwinIR or PlainUSR "
                     f"(first keys: {', '.join(list(state)[:5])})")  # fmt: skip


_DETECT: dict[str, Callable[[Mapping[str, torch.Tensor]], dict[str, Any]]] = {
    "pft": _detect_pft, "hat": _detect_hat, "swinir": _detect_swinir, "plainusr": _detect_plainusr,
}  # fmt: skip


def detect_official(state: Mapping[str, torch.Tensor]) -> Detected:
    """Architecture and hyper-parameters of an official state dict, from its key names and shapes."""
    family = _family(state)
    spec = _DETECT[family](state)
    spec = {"arch": arch_for_family(family).name, **spec}
    masks = [v for k, v in state.items() if k.endswith(".attn_mask")]
    img_size = spec["window_size"] * math.isqrt(masks[0].shape[0]) if masks else SWINIR_IMG_SIZE
    return Detected(_name(family, spec), family, spec, img_size)


# ---------------------------------------------------------------------------------------------- key mapping


def _pft_to_srlab(key: str) -> str:
    if not (m := _PFT_LAYER.match(key)):
        return key
    g, i, rest = m.groups()
    for official, ours in _PFT_LAYER_KEYS:
        if rest.startswith(official):
            rest = ours + rest[len(official) :]
            break
    return f"layers.{g}.residual_group.blocks.{i}.{rest}"


def _pft_to_official(key: str) -> str:
    if not (m := _SRLAB_BLOCK.match(key)):
        return key
    g, i, rest = m.groups()
    for official, ours in sorted(_PFT_LAYER_KEYS, key=lambda pair: -len(pair[1])):
        if rest.startswith(ours):
            rest = official + rest[len(ours) :]
            break
    return f"layers.{g}.residual_group.layers.{i}.{rest}"


def _official_buffers(
    family: str, state: Mapping[str, torch.Tensor], img_size: int
) -> dict[str, torch.Tensor]:
    """The official index/mask buffers of a network with srlab-named parameters ``state``."""
    if family == "plainusr":
        return {}
    if family == "pft":
        table = next(v for k, v in state.items() if k.endswith("attn.relative_position_bias_table"))
        return {
            "relative_position_index_SA": relative_position_index(
                _window(table.shape[0], "bias table")
            ).clone()
        }
    tables = {k: v for k, v in state.items() if k.endswith("blocks.0.attn.relative_position_bias_table")}
    ws = _window(next(iter(tables.values())).shape[0], "bias table")
    if family == "hat":
        oca = next(v for k, v in state.items() if k.endswith("overlap_attn.relative_position_bias_table"))
        wo = math.isqrt(oca.shape[0]) + 1 - ws
        return {"relative_position_index_SA": relative_position_index(ws).clone(),
                "relative_position_index_OCA": overlap_position_index(ws, wo)}  # fmt: skip
    buffers: dict[str, torch.Tensor] = {}
    if img_size <= ws:
        raise ValueError(
            f"SwinIR with img_size={img_size} ≤ window {ws} has no shifted windows; srlab always shifts"
        )
    mask = shift_mask(img_size, img_size, ws, ws // 2)
    for key in state:
        if (m := _SRLAB_BLOCK.match(key)) and m[3] == "attn.relative_position_bias_table":
            prefix = key[: -len("relative_position_bias_table")]
            buffers[prefix + "relative_position_index"] = relative_position_index(ws).clone()
            if layer_shift(int(m[2]), ws):
                buffers[prefix[: -len("attn.")] + "attn_mask"] = mask.clone()
    return buffers


def _official_state(state: Mapping[str, torch.Tensor], family: str, img_size: int) -> dict[str, torch.Tensor]:
    """srlab-named ``state`` renamed to the official keys, official buffers added (tensors not copied)."""
    to_official = _pft_to_official if family == "pft" else (lambda k: k)
    return {**{to_official(k): v for k, v in state.items()}, **_official_buffers(family, state, img_size)}


def family_of(arch: str) -> str:
    if arch in VARIANTS:
        return VARIANTS[arch]["family"]
    if arch in FAMILIES:
        return arch
    raise ValueError(f"arch={arch!r}: expected one of {sorted(VARIANTS)} or a family {list(FAMILIES)}")


def export_official(
    source: nn.Module | Mapping[str, torch.Tensor], arch: str, img_size: int = SWINIR_IMG_SIZE
) -> dict[str, torch.Tensor]:
    """An srlab network (or its state dict) as the official state dict of ``arch``, official buffers included.

    ``arch`` is a variant (``pft``, ``hat_s``, ``plainusr_m``, …) or a family (``pft``, ``hat``, ``swinir``,
    ``plainusr``). ``img_size`` is SwinIR's constructor size, which fixes the shape of its stored masks.
    The result is detected again: a network that is not ``arch`` (family or variant) raises.
    """
    family = family_of(arch)
    state = source.state_dict() if isinstance(source, nn.Module) else dict(source)
    try:
        out = {k: v.detach().clone() for k, v in _official_state(state, family, img_size).items()}
        detected = detect_official(out)
    except (ValueError, StopIteration) as err:
        raise ValueError(f"this network cannot be exported as {arch!r}: {err}") from None
    if arch not in (detected.arch, detected.family):
        raise ValueError(f"this network is a {detected.arch!r} ({detected.family}), not {arch!r}")
    return out


# ---------------------------------------------------------------------------------------------- loading
# (reading the file and comparing keys: srlab.nets.loading.load_official)


def official_layout(
    detected: Detected, own: Mapping[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The official state dict expected of the network ``detected`` (srlab state ``own``), and its buffers."""
    buffers = _official_buffers(detected.family, own, detected.img_size)
    to_official = _pft_to_official if detected.family == "pft" else (lambda k: k)
    return {**{to_official(k): v for k, v in own.items()}, **buffers}, buffers


def check_buffers(family: str, state: Mapping[str, torch.Tensor], ours: Mapping[str, torch.Tensor]) -> None:
    """Official buffers in ``state`` must equal what srlab computes (``ours``); raises naming the first that differs."""
    for key, expected in ours.items():
        got = state[key]
        if got.shape != expected.shape or not torch.equal(got.to(expected.dtype), expected):
            raise ValueError(f"{family} buffer {key} {tuple(got.shape)} differs from the one srlab computes "
                             f"{tuple(expected.shape)}: not an official checkpoint, or a different variant")  # fmt: skip


def to_srlab_state(
    family: str, state: Mapping[str, torch.Tensor], buffers: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """An official ``state`` renamed to srlab's keys, its index/mask ``buffers`` dropped."""
    to_srlab = _pft_to_srlab if family == "pft" else (lambda k: k)
    return {to_srlab(k): v for k, v in state.items() if k not in buffers}
