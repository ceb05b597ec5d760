"""`vidpose bench batch`: the suite's rows and keys (on 2 tiny clips; the numbers are in docs/report.md)."""

from __future__ import annotations

import pytest

from vidpose.bench import SUITES, format_table, run_suite


@pytest.mark.slow
def test_bench_batch_rows(monkeypatch):
    pytest.importorskip("ray", reason="the batch extra (ray) is not installed")
    from vidpose.bench import batch

    assert SUITES["batch"] == "vidpose.bench.batch"
    monkeypatch.setattr(batch, "QUICK", (2, 6))
    result = run_suite("batch", quick=True)
    rows = {r["name"]: r for r in result["rows"]}
    assert list(rows) == ["sequential", "batch"]
    for r in rows.values():
        assert r["seconds"] > 0 and r["videos_per_min"] == pytest.approx(2 / r["seconds"] * 60)
    assert rows["sequential"]["ratio"] == 1.0
    assert rows["batch"]["ratio"] == pytest.approx(rows["batch"]["videos_per_min"] / rows["sequential"]["videos_per_min"])
    assert 0 < rows["batch"]["ray_start_s"] < rows["batch"]["seconds"]
    assert result["videos"] == 2 and result["frames_per_video"] == 6
    assert "videos_per_min" in format_table(result)
