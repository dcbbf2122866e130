"""Read run summaries (``summary.json``) back and list them as a Markdown table (``srlab runs DIR``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def load_summaries(root: str | Path) -> list[dict[str, Any]]:
    """Every ``summary.json`` below ``root``, sorted by run dir; a broken file is an error naming it."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no run folder at {root}")
    summaries = []

    def job_order(path: Path) -> list[tuple[int, str]]:  # multirun jobs 0, 1, …, 10 in numeric order
        return [(int(p), "") if p.isdigit() else (-1, p) for p in path.relative_to(root).parts]

    for path in sorted(root.rglob("summary.json"), key=job_order):
        try:
            summaries.append(json.loads(path.read_text()))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
    return summaries


def _takes(summary: dict[str, Any], knob: str) -> bool:
    """Whether the run's architecture takes ``knob`` (as its registry entry declares)."""
    from srlab.nets import get_arch

    return knob in get_arch(summary["model_spec"]["arch"]).takes


def runs_table(summaries: list[dict[str, Any]]) -> str:
    """One row per run and test set: model, scale, attn, window, params, MACs, PSNR/SSIM-Y beside bicubic."""
    header = (
        "run",
        "model",
        "×",
        "attn",
        "window",
        "params",
        "MACs (G)",
        "set",
        "PSNR-Y",
        "SSIM-Y",
        "bicubic PSNR-Y",
        "bicubic SSIM-Y",
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for s in summaries:
        cfg, choices = s["config"], s["choices"]
        attn = choices.get("attn") if _takes(s, "attn") else "—"
        window = cfg.get("window") if attn != "—" else "—"
        for set_name, m in s["metrics"].items():
            row = (s["wandb"]["name"], choices.get("model"), cfg.get("scale"), attn, window, f"{s['params']:,}",
                   f"{s['macs'] / 1e9:.2f}", set_name, f"{m['psnr_y']:.2f}", f"{m['ssim_y']:.4f}",
                   f"{m['bicubic_psnr_y']:.2f}", f"{m['bicubic_ssim_y']:.4f}")  # fmt: skip
            lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)
