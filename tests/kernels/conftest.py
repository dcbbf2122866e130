"""``SRLAB_HIDE_CUPY=1`` makes ``import cupy`` fail in the kernel tests, as on a machine without CuPy.

With ``PATH`` also stripped of ``nvcc`` this reproduces a laptop without a CUDA toolkit: the suite must pass,
skipping only the compile tests, each with its reason.
"""

from __future__ import annotations

import importlib.abc
import os
import sys


class _HideCupy(importlib.abc.MetaPathFinder):
    """Refuses ``cupy`` and its submodules before any other finder can load them."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "cupy" or name.startswith(("cupy.", "cupyx", "cupy_backends")):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by SRLAB_HIDE_CUPY)", name=name)
        return None


if os.environ.get("SRLAB_HIDE_CUPY", "0") not in ("", "0"):
    sys.meta_path.insert(0, _HideCupy())
    for loaded in [m for m in sys.modules if m == "cupy" or m.startswith("cupy.")]:
        del sys.modules[loaded]
