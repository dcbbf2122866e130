"""matplotlib, imported on first use so ``import srlab`` never needs it, and figure export to PNG."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError that says how to install it (it is in srlab's ``dev`` extra)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("srlab.viz draws with matplotlib: pip install matplotlib (or srlab[dev])") from err
    return plt


def save_figure(fig: Figure, folder: str | os.PathLike[str], name: str, dpi: int = 120) -> Path:
    """Write ``fig`` as ``<folder>/<name>.png`` (folder created) and return the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path
