"""The run key: a hash of everything that determines a job's result, so the same job is never trained twice.

Two jobs have the same key exactly when they would compute the same numbers: the same resolved config
(network preset and knobs, attention and K^l, data sets and patches, optimizer, schedule, loss,
evaluation protocol, seed, precision, devices, EMA, …), the same weights files by content (``weights``,
``init_from``), and the same result-relevant code (:func:`code_fingerprint`).

Left out (:data:`IGNORED`): where things are written or read on this machine (``paths``, ``data.root``),
logging and checkpoint cadence, run-dir and resume settings, validation cadence, the sparse-product
backend (the same arithmetic, checked against the reference), and settings that only change what is
measured or saved (``macs_input``, ``efficiency``, ``eval.save_images``).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

IGNORED = (
    "paths", "logger", "hydra", "group", "task_name", "resume", "ckpt_path", "reuse", "log_images",
    "macs_input", "efficiency", "optimized_metric", "hparams_search", "predict",
    "callbacks.model_checkpoint", "callbacks.periodic_checkpoint", "callbacks.lr_monitor",
    "callbacks.attention_panels", "callbacks.step_timer", "kernels.backend",
    "trainer.log_every_n_steps", "trainer.enable_progress_bar", "trainer.enable_model_summary",
    "trainer.num_sanity_val_steps", "trainer.val_check_interval", "trainer.check_val_every_n_epoch",
    "trainer.limit_val_batches", "trainer.default_root_dir",
    "data.root", "data.num_workers", "data.cache", "eval.save_images",
)  # fmt: skip
"""Config keys that never change a result (dotted; a missing key is skipped)."""
FILES = ("weights", "init_from")
"""Config keys naming weights files: the key uses the file's content hash, not its path."""
RESULT_CODE = ("srlab/nets", "srlab/attention", "srlab/lit", "srlab/data", "srlab/metrics", "srlab/inference",
               "srlab_kernels")  # fmt: skip
"""Source folders (relative to the repository) whose code can change a result."""
KEY_LENGTH = 16


def run_key(cfg: DictConfig, root: Path | None = None) -> str:
    """The run key of the job ``cfg`` (a composed job config, with or without its ``hydra`` node)."""
    cfg = cfg.copy()
    with open_dict(cfg):
        for key in IGNORED:
            parent, _, leaf = key.rpartition(".")
            node = OmegaConf.select(cfg, parent) if parent else cfg
            if isinstance(node, DictConfig) and leaf in node:
                del node[leaf]
        files = {key: _file_digest(cfg.get(key)) for key in FILES if key in cfg}
        for key in files:
            del cfg[key]
    content = {
        "config": OmegaConf.to_container(cfg, resolve=True),
        "files": files,
        "code": code_fingerprint(root or Path(__file__).resolve().parents[2]),
    }
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def _file_digest(path: Any) -> str | None:
    """sha256 of a weights file's bytes (its name and folder do not matter); None for no file."""
    if path in (None, ""):
        return None
    file = Path(str(path))
    if not file.is_file():
        return f"missing:{file.name}"
    digest = hashlib.sha256()
    with file.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def code_fingerprint(root: Path) -> str:
    """A hash of the result-relevant code under ``root`` (:data:`RESULT_CODE`).

    Python files count by their syntax tree without docstrings, so editing a comment or a docstring keeps
    the fingerprint (and finished runs stay reusable); any change to code, or to a CUDA source, changes it.
    """
    digest = hashlib.sha256()
    for folder in RESULT_CODE:
        base = root / folder
        for path in sorted(base.rglob("*")) if base.is_dir() else ():
            if path.suffix == ".py":
                digest.update(f"{path.relative_to(root)}\n{_code_of(path)}".encode())
            elif path.suffix in (".cu", ".cuh"):
                digest.update(f"{path.relative_to(root)}\n".encode() + path.read_bytes())
    return digest.hexdigest()[:KEY_LENGTH]


def _code_of(path: Path) -> str:
    """The syntax tree of a Python file with its docstrings removed, as text."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)
