"""The console of a job: one line per message, srlab's MACs instead of "Total FLOPs: 0", noise only in the log."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from srlab.logging.console import ConsoleNoise

ROOT = Path(__file__).resolve().parents[2]
# A log message on the console: Hydra's "[time][logger][LEVEL] - text" or Lightning's own "LEVEL: text".
MESSAGE = re.compile(
    r"^(?:\[\d{4}-\d\d-\d\d [\d:,]+\]\[[\w.]+\]\[[A-Z]+\] - |(?:DEBUG|INFO|WARNING|ERROR): )(.*)$"
)


def test_debug_fast_console_has_each_message_once_and_srlab_macs(tmp_path: Path, data_dir: Path):
    job = tmp_path / "job"
    env = {**os.environ, "WANDB_MODE": "offline"}
    cmd = [sys.executable, str(ROOT / "run.py"), "debug=fast", "logger=csv", "reuse=false", f"paths.data_dir={data_dir}",
           f"hydra.run.dir={job}"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = proc.stdout + proc.stderr
    messages = [m.group(1) for line in console.splitlines() if (m := MESSAGE.match(line))]
    assert len(messages) >= 5, console[-3000:]
    repeated = [text for text, n in Counter(messages).items() if n > 1]
    assert not repeated, f"printed more than once: {repeated}"
    assert "total flops" not in console.lower() and "💡" not in console
    assert re.search(r"G MACs per forward at LR 32×32", console)
    log_file = (job / "train.log").read_text()  # the run dir keeps every message, noise included
    assert all(text in log_file for text in messages)
    assert (
        "💡 Tip" in log_file
    )  # Lightning 2.6 advertises LitLogger when none is used: dropped from the console only


def test_console_noise_filter_drops_only_the_listed_messages():
    def record(name: str, message: str) -> logging.LogRecord:
        return logging.LogRecord(name, logging.INFO, __file__, 1, message, None, None)

    noise = ConsoleNoise()
    assert not noise.filter(record("lightning.pytorch.utilities.rank_zero", "💡 Tip: try litlogger"))
    assert not noise.filter(record("py.warnings", "x.py:21: `isinstance(treespec, LeafSpec)` is deprecated"))
    assert noise.filter(record("srlab", "💡 Tip: srlab's own messages are never dropped"))
    assert noise.filter(record("py.warnings", "x.py:3: UserWarning: something else"))
