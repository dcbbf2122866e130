"""Every committed study under docs/results/ re-derives from its committed summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srlab.tables import build_results, collect_runs, load_spec

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
STUDIES = sorted(p.stem for p in RESULTS.glob("*.json"))


def _numbers(table: dict) -> list:
    """The table's numbers, without where the runs were read from."""
    return [(row["label"], row["sets"], row["efficiency"]) for row in table["rows"]]


@pytest.mark.skipif(
    not STUDIES, reason="no study committed under docs/results/ yet (tiny_attention: see its README)"
)
@pytest.mark.parametrize("name", STUDIES)
def test_committed_study_re_derives_from_its_summaries(name: str):
    committed = json.loads((RESULTS / f"{name}.json").read_text())
    runs = RESULTS / name / "runs"
    rebuilt = build_results(load_spec(name), collect_runs(runs), str(runs)).to_json()
    assert json.loads(json.dumps(_numbers(rebuilt))) == _numbers(committed)
