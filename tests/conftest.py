"""Suite-wide settings: W&B offline and quiet, GPU tests skipped without CUDA, a data root per module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root for the ``run.py`` tests of one module (the sample photos are written there once)."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def plainusr_weights() -> Path:
    """The official PlainUSR weights (``$SRLAB_PLAINUSR_WEIGHTS``, else ``../shared/weights/plainusr`` beside
    the checkout, as ``tests/nets/fingerprints.py`` finds them); the test is skipped when they are absent."""
    default = Path(__file__).resolve().parents[1] / "../shared/weights/plainusr"
    folder = Path(os.environ.get("SRLAB_PLAINUSR_WEIGHTS") or default).resolve()
    if not folder.is_dir():
        pytest.skip(f"official PlainUSR weights not found at {folder} (the shared/ folder beside the repo)")
    return folder
