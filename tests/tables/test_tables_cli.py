"""``srlab table run``: the command and jobs it launches (``--dry-run``), rows by label or position."""

from __future__ import annotations

from pathlib import Path

from srlab.cli import main
from srlab.tables import load_spec
from srlab.tables.cli import launch_command

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "tables" / "tiny_table.yaml"


def test_run_launches_the_chosen_rows_times_seeds_as_one_multirun(capsys):
    assert (
        main(["table", "run", str(SPEC), "--rows", "M = 8, top-k", "--seeds", "2", "--dry-run", "debug=fast"])
        == 0
    )
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "debug=fast attn=topk window=8 seed=0",
        "debug=fast attn=topk window=8 seed=1",
    ]
    assert "2 jobs (rows × seeds)" in captured.err and " -m hydra/sweeper=table " in captured.err
    cmd = launch_command(load_spec("hat_ocab_cab"), ["✓ OCAB ✗ CAB", 3], 3, ["protocol=proxy"])
    assert cmd[2:] == ["-m", "experiment=hat_ocab_cab", f"hydra.sweeper.table={load_spec('hat_ocab_cab').path}",
                       "hydra.sweeper.rows=[1,3]", "hydra.sweeper.seeds=3", "protocol=proxy"]  # fmt: skip
