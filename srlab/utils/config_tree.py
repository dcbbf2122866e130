"""Print the composed config as a rich tree and save the same text in the run dir."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import rich
import rich.syntax
import rich.tree
from omegaconf import DictConfig, OmegaConf

FIRST = ("mode", "model", "attn", "keep", "window", "scale", "ca_weight", "overlap", "data", "trainer")


def render_config_tree(
    cfg: DictConfig, order: Sequence[str] = FIRST, save_to: Path | None = None
) -> rich.tree.Tree:
    """Build (and optionally save as text) a tree with one branch per top-level key, ``order`` first."""
    tree = rich.tree.Tree("CONFIG", style="bold", guide_style="dim")
    keys = [k for k in order if k in cfg] + [k for k in cfg if k not in order]
    for key in keys:
        branch = tree.add(str(key), style="bold cyan")
        value = cfg[key]
        text = OmegaConf.to_yaml(value, resolve=True) if isinstance(value, DictConfig) else str(value)
        branch.add(rich.syntax.Syntax(text, "yaml", theme="ansi_dark"))
    if save_to is not None:
        console = rich.console.Console(record=True, width=120, file=open(save_to.with_suffix(".tmp"), "w"))  # noqa: SIM115
        console.print(tree)
        console.file.close()
        save_to.with_suffix(".tmp").replace(save_to)
    return tree
