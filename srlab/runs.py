"""List run summaries (:class:`srlab.results.RunSummary`) as a Markdown table (``srlab runs DIR``)."""

from __future__ import annotations

from collections.abc import Iterable

from srlab.results import RunSummary


def _takes(summary: RunSummary, knob: str) -> bool:
    """Whether the run's architecture takes ``knob`` (as its registry entry declares)."""
    from srlab.nets import get_arch

    return knob in get_arch(summary.model_spec["arch"]).takes


def runs_table(summaries: Iterable[RunSummary]) -> str:
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
        cfg, choices = s.config, s.choices
        attn = choices.get("attn") if _takes(s, "attn") else "—"
        window = cfg.get("window") if attn != "—" else "—"
        for set_name in s.metrics:
            m = s.set_means(set_name)
            row = (s.wandb.get("name"), choices.get("model"), cfg.get("scale"), attn, window, f"{s.params:,}",
                   f"{s.macs / 1e9:.2f}", set_name, f"{m['psnr_y']:.2f}", f"{m['ssim_y']:.4f}",
                   f"{m['bicubic_psnr_y']:.2f}", f"{m['bicubic_ssim_y']:.4f}")  # fmt: skip
            lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)
