"""The notebooks: stored without outputs, parameters in one tagged top cell, and each one runs top to bottom in
fast mode (``CI=true``, as the notebook runner sets it) and writes its figures as PNG."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FIGURES = {
    "attention_focus": ["context", "attention_init", "kept_tokens", "attention_trained", "effective_keys"],
    "ablation_explorer": ["psnr_tradeoffs", "sr_crops"],
    "kernels": ["bench_cpu-smoke-xeon-2threads"],
}
PRIVATE = re.compile(r"\bsrlab[\w.]*\._\w|from srlab[\w.]* import[^\n]*\b_\w")  # srlab's private names


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def test_every_notebook_is_listed():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_is_stored_clean_with_one_parameters_cell_and_a_fast_mode(name):
    nb = _read(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), f"{name}: strip the outputs"
    tagged = [i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [0], f"{name}: the first code cell, and only it, must be tagged `parameters`"
    assert all(re.fullmatch(r"(#.*|[A-Z_]+ = .+|)", line) for line in code[0].source.splitlines())
    source = "\n".join(c.source for c in code)
    assert 'os.environ.get("CI") == "true"' in source
    assert not PRIVATE.search(source), f"{name}: uses a private srlab name: {PRIVATE.search(source)[0]}"
    assert "OUT_DIR" in code[0].source


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_runs_in_fast_mode_and_writes_its_figures(name, tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("WANDB_MODE", "offline")
    nb = _read(name)
    out = tmp_path / "figures"
    parameters = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source += f"\nOUT_DIR = {str(out)!r}"  # what papermill's injected-parameters cell does
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    for figure in FIGURES[name]:
        path = out / f"{figure}.png"
        assert path.is_file(), f"{name} did not write {path.name}"
        width, height = Image.open(path).size
        assert width > 300 and height > 200
