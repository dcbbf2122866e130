"""The run key ignores where and how a job logs, and changes with anything that changes its result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from srlab.config.compose import compose_config
from srlab.results.run_key import code_fingerprint, run_key

BASE = ["debug=fast"]


def key(*overrides: str) -> str:
    return run_key(compose_config([*BASE, *overrides]))


def test_paths_logging_and_run_dir_settings_do_not_change_the_key():
    base = key()
    for same in (["paths.log_dir=/elsewhere", "paths.data_dir=/data/x"], ["logger=csv"], ["logger=none"],
                 ["group=mine", "task_name=other"], ["ckpt_path=last", "resume=/some/run"], ["reuse=false"],
                 ["efficiency.repeats=3", "macs_input=[8,8]"], ["trainer.log_every_n_steps=7"],
                 ["callbacks.periodic_checkpoint.every_n_train_steps=5"], ["kernels=torch"]):  # fmt: skip
        assert key(*same) == base, same


@pytest.mark.parametrize(
    "changed",
    [
        ["seed=1"],
        ["window=16"],
        ["attn=pfa"],
        ["attn=topk"],
        ["keep=ratio", "keep.ratios=[1,0.5,0.5]"],
        ["ca_weight=0.1"],
        ["overlap=0.5"],
        ["model=swinir_light"],
        ["scale=3"],
        ["data.patch_size=32"],
        ["data.batch_size=4"],
        ["optimizer.lr=2e-4"],
        ["optimizer.name=adamw"],
        ["scheduler.gamma=0.25"],
        ["trainer.max_steps=5"],
        ["trainer.precision=bf16-mixed"],
        ["loss=mse"],
        ["eval.self_ensemble=true"],
        ["callbacks.ema.decay=0.99"],
        ["mode=test"],
    ],
    ids=lambda o: " ".join(o),
)
def test_any_result_relevant_value_changes_the_key(changed):
    assert key(*changed) != key()


def test_weights_files_count_by_content_not_by_path(tmp_path: Path):
    a, b, c = tmp_path / "a.pth", tmp_path / "sub" / "b.pth", tmp_path / "c.pth"
    b.parent.mkdir()
    a.write_bytes(b"weights one")
    b.write_bytes(b"weights one")
    c.write_bytes(b"weights two")
    assert key(f"init_from={a}") == key(f"init_from={b}") != key(f"init_from={c}")
    assert key(f"init_from={a}") != key()


def test_code_fingerprint_ignores_docstrings_but_not_code(tmp_path: Path):
    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "srlab" / "attention", tmp_path / "srlab" / "attention")
    base = code_fingerprint(tmp_path)
    dense = tmp_path / "srlab" / "attention" / "dense.py"
    text = dense.read_text()
    dense.write_text(text.replace('"""', '"""Edited: ', 1) + "\n# a comment\n")
    code_fingerprint.cache_clear()
    assert code_fingerprint(tmp_path) == base
    dense.write_text(text.replace("similarities=n, kept=n", "similarities=n, kept=n - 0"))
    code_fingerprint.cache_clear()
    assert code_fingerprint(tmp_path) != base
