"""``srlab lam``: the LAM picture and DI of one or more networks for one SR box of one image.

``srlab lam -w WEIGHTS [-w WEIGHTS …] IMAGE --box H,W [--window 16] [--fold 50] [--sigma 1.2]
[--crop 64] [--lr] [-o OUT.png]``. WEIGHTS is a finished srlab run dir (``summary.json`` + ``net_ema.pth``)
(or its ``.ckpt`` / ``net_ema.pth``) or an official PFT/HAT/SwinIR/PlainUSR checkpoint
(:func:`srlab.nets.loading.build_from_weights`). IMAGE is an image file or a sample photo's name
(``srlab.data.samples``); it is the HR image, downscaled by the network's scale with MATLAB bicubic as
the test sets are (``--lr``: IMAGE is the LR input itself). The box's top-left (H, W) is in SR pixels of
the whole image; LAM runs on the LR square of side ``--crop`` around it (0: the whole image).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from srlab.analysis.figure import lam_figure
from srlab.analysis.lam import LAMResult, lam
from srlab.analysis.probes import crop_for_box
from srlab.viz._mpl import pyplot

__all__ = ["lam_cli"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="srlab lam", description="LAM picture and DI of networks for one SR box."
    )
    p.add_argument("image", help="HR image file, or a sample photo's name (e.g. chelsea)")
    p.add_argument(
        "-w",
        "--weights",
        action="append",
        required=True,
        help="srlab run dir, .ckpt, net_ema.pth or official checkpoint; repeat to compare networks side by side",
    )
    p.add_argument("--box", required=True, help="top-left H,W of the SR box, in SR pixels")
    p.add_argument("--window", type=int, default=16, help="box side in SR pixels (default 16)")
    p.add_argument("--fold", type=int, default=50, help="path steps (default 50)")
    p.add_argument("--sigma", type=float, default=1.2, help="σ₀ of the blurred path start (default 1.2)")
    p.add_argument("--kernel-size", type=int, default=9, help="blur kernel side (default 9)")
    p.add_argument(
        "--crop", type=int, default=64, help="LR side of the square around the box (0: whole image)"
    )
    p.add_argument("--batch", type=int, default=10, help="path steps per forward (memory)")
    p.add_argument("--lr", action="store_true", help="IMAGE is the LR input, not the HR image")
    p.add_argument("-o", "--output", help="PNG to write (default: lam_<image>_<H>_<W>.png)")
    return p  # fmt: skip


def _parse_box(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--box {text!r}: expected H,W (integers, SR pixels), e.g. --box 104,176") from None
    return h, w


def _load_net(source: str) -> tuple[nn.Module, int]:
    """The network and scale that ``-w`` names (run dir, .ckpt, net_ema.pth or official checkpoint), eval mode."""
    from srlab.nets.loading import build_from_weights

    try:
        built = build_from_weights(source)
    except (FileNotFoundError, ValueError) as err:
        raise type(err)(f"-w {source}: {err}") from None
    return built.net, built.scale


def _read(image: str) -> tuple[np.ndarray, str]:
    """The image as uint8 (H, W, 3) RGB and a short name: a file, or a sample photo's name."""
    from srlab.data.io import read_image
    from srlab.data.samples import load_sample

    path = Path(image)
    if path.is_file():
        return read_image(path), path.stem
    if os.sep in image or path.suffix:
        raise FileNotFoundError(f"{image}: no such image file")
    return load_sample(image), image


def _lr_of(rgb: np.ndarray, scale: int, is_lr: bool) -> torch.Tensor:
    """The LR input (3, h, w) in [0, 1]: the image itself (``--lr``) or the test sets' LR of it
    (:func:`srlab.data.datasets.bicubic_lr`: MATLAB bicubic of the mod-cropped HR, 8-bit)."""
    from srlab.data.datasets import bicubic_lr

    lr = rgb if is_lr else bicubic_lr(rgb, scale)
    return torch.from_numpy(lr).permute(2, 0, 1).float() / 255


def _label(source: str) -> str:
    """The picture's name for ``-w source``: a run dir's attention, window and seed beside its path, else the file name."""
    summary = Path(source) / "summary.json"
    if not summary.is_file():
        return Path(source).name
    from srlab.results import read_summary

    run = read_summary(summary)
    attn, window = run.choices.get("attn"), run.config.get("window")
    parts = (attn, window and f"window {window}", run.seed is not None and f"seed {run.seed}")
    described = " · ".join(str(v) for v in parts if v)
    return f"{described} ({source})" if described else source


def lam_cli(argv: list[str]) -> int:
    """Run ``srlab lam``: compute LAM per network, print DI, write the picture."""
    args = _parser().parse_args(argv)
    h, w = _parse_box(args.box)
    loaded = {source: _load_net(source) for source in args.weights}
    nets = [(source, net) for source, (net, _) in loaded.items()]
    scales = {source: scale for source, (_, scale) in loaded.items()}
    if len(set(scales.values())) > 1:
        raise ValueError(f"-w: the networks upscale differently ({scales}); compare networks of one scale")
    scale = next(iter(scales.values()))
    rgb, name = _read(args.image)
    lr = _lr_of(rgb, scale, args.lr)
    height, width = lr.shape[-2] * scale, lr.shape[-1] * scale
    if not (0 <= h <= height - args.window - 1 and 0 <= w <= width - args.window - 1):
        raise ValueError(
            f"--box {h},{w} with --window {args.window}: outside {args.image} (SR {height}×{width} at ×{scale}); "
            f"need 0 ≤ H ≤ {height - args.window - 1} and 0 ≤ W ≤ {width - args.window - 1}"
        )
    crop = args.crop if args.crop > 0 else max(lr.shape[-2:])
    top, left, ch, cw = crop_for_box(tuple(lr.shape[-2:]), h, w, args.window, scale, crop)
    lr = lr[:, top : top + ch, left : left + cw]
    bh, bw = h - top * scale, w - left * scale
    results: list[tuple[str, LAMResult]] = []
    for source, net in nets:
        start = time.perf_counter()
        result = lam(net, lr, bh, bw, window=args.window, sigma=args.sigma, fold=args.fold,
                     kernel_size=args.kernel_size, batch=args.batch)  # fmt: skip
        print(f"DI {result.di:6.2f}  {source}  ({time.perf_counter() - start:.1f} s)")
        results.append((_label(source), result))
    out = Path(args.output or f"lam_{name}_{h}_{w}.png")
    fig = lam_figure(lr, results, bh, bw, args.window, scale, origin=(top * scale, left * scale))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    print(f"wrote {out}")
    return 0
