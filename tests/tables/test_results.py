"""Every committed study under docs/results/ re-derives from its committed summaries (JSON and Markdown)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srlab.tables import build_results, collect_runs, load_spec, render
from srlab.tables.build import format_table

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
STUDIES = sorted(p.stem for p in RESULTS.glob("*.json"))


def _numbers(table: dict) -> list:
    """The table's numbers, without where the runs were read from."""
    return [(row["label"], row["sets"], row["efficiency"], row.get("lam")) for row in table["rows"]]


@pytest.mark.skipif(
    not STUDIES, reason="no study committed under docs/results/ yet (tiny_attention: see its README)"
)
@pytest.mark.parametrize("name", STUDIES)
def test_committed_study_re_derives_from_its_summaries(name: str):
    committed = json.loads((RESULTS / f"{name}.json").read_text())
    runs = RESULTS / name / "runs"
    with_lam = "lam" in committed["rows"][0]
    result = build_results(load_spec(name), collect_runs(runs), committed["source"], lam=with_lam)
    assert json.loads(json.dumps(_numbers(result.to_json()))) == json.loads(json.dumps(_numbers(committed)))
    page = (RESULTS / f"{name}.md").read_text()
    assert render(format_table(result), "md") in page  # the page's table is the rendered one, not edited
