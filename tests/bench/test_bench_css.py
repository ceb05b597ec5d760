"""vidpose bench css: row and column names, on a tiny quick run (one train and one test clip, one probe step
on the shipped css-disentangled encoder)."""

from __future__ import annotations

import math


def test_css_bench_rows_and_columns(tmp_path, monkeypatch):
    import vidpose.bench.css as bench
    from vidpose.bench import run_suite

    monkeypatch.setenv("VIDPOSE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(bench, "QUICK_TRAIN_CLIPS", 1)
    monkeypatch.setattr(bench, "QUICK_TEST_CLIPS", 1)
    monkeypatch.setattr(bench, "QUICK_PROBE", ("optim.epochs=1", "model.epoch_samples=16", "optim.batch_size=16"))
    monkeypatch.setattr(bench, "ROWS", ("css-disentangled",))  # the shipped encoder, frozen
    result = run_suite("css", quick=True)
    assert [r["name"] for r in result["rows"]] == ["css-disentangled"] and not result["missing_weights"]
    assert list(result["rows"][0]) == ["name", "mpjpe_mm@1%", "mpjpe_mm@5%", "mpjpe_mm@10%", "mpjpe_mm@100%",
                                       "pck@0.2@1%", "pck@0.2@5%", "pck@0.2@10%", "pck@0.2@100%"]
    row = result["rows"][0]
    assert all(math.isfinite(v) and v > 0 for k, v in row.items() if k.startswith("mpjpe"))
    assert all(0.0 <= v <= 1.0 for k, v in row.items() if k.startswith("pck"))
    assert bench.weight_stem("css-disentangled") == "css_disentangled"
    assert bench.weight_stem("contrastive-full-latent") == "css_contrastive_full_latent"


def test_shipped_encoders_name_the_bench_renderer():
    """Each shipped css encoder was pretrained on the renderer whose clips the bench probes and scores on,
    and records the command that made it."""
    import vidpose.bench.css as bench
    from vidpose.models.checkpoint import read_checkpoint

    for row, sets in bench.PRETRAIN_ROWS.items():
        path = bench.weight_path(row)
        assert path.is_file(), f"{path.name}: missing"
        extra = read_checkpoint(path, weights=False).extra
        assert extra["data"]["generator"]["renderer"] == bench.RENDERER, path.name
        assert f"--renderer {bench.RENDERER}" in extra["trained_on"], path.name
        assert all(f"--set {s}" in extra["command"] for s in sets), path.name
