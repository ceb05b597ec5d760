"""`vidpose bench dkd`: its scoring on tracks with known errors, and every row on a short rendered clip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vidpose.bench import SUITES, dkd


def _tracks(noise: float, t: int = 20, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = np.c_[rng.uniform(50, 150, 17), rng.uniform(20, 220, 17)]
    gt = np.stack([np.c_[base + [2.0 * i, 0.0], np.full(17, 2.0)] for i in range(t)])
    pred = gt[..., :2] + rng.normal(0.0, noise, (t, 17, 2))
    return [pred], [{"gt": gt}]


def test_score_of_exact_and_noisy_tracks():
    exact = dkd._score(*_tracks(0.0))
    assert exact["pck@0.2"] == 1.0 and exact["accel_error"] == pytest.approx(0.0, abs=1e-9)
    noisy = dkd._score(*_tracks(3.0))
    assert noisy["accel_error"] > 3.0 and noisy["mean_px_error"] > 2.0


def test_claims_read_the_rows():
    rows = [{"name": "large-per-frame", "pck@0.2": 0.80, "gflops_per_frame": 0.10, "fps": 30.0, "accel_error": 2.0},
            {"name": "dkd", "pck@0.2": 0.795, "gflops_per_frame": 0.015, "fps": 70.0, "accel_error": 1.0},
            {"name": "dkd-no-adversarial", "pck@0.2": 0.79, "gflops_per_frame": 0.015, "fps": 70.0, "accel_error": 1.5}]
    assert all(dkd.claims(rows).values())
    rows[1]["pck@0.2"] = 0.70
    assert not dkd.claims(rows)["dkd_within_1_pck_point_of_large"]


def test_every_row_on_a_rendered_clip(synth_root):
    """The suite's rows, on the 8 frames of one rendered validation clip (shipped checkpoints)."""
    from vidpose.data.synth import read_synth

    assert SUITES["dkd"] == "vidpose.bench.dkd"
    rows = dkd.evaluate(read_synth(synth_root, "val"), repeats=1)
    assert [r["name"] for r in rows] == list(dkd.ROWS)
    for r in rows:
        assert 0.0 <= r["pck@0.2"] <= 1.0 and math.isfinite(r["accel_error"]) and r["fps"] > 0
    by = {r["name"]: r for r in rows}
    assert by["dkd-no-reinit"]["initializer_frames"] == 1  # the track's first frame only
    assert by["dkd"]["gflops_per_frame"] < by["large-per-frame"]["gflops_per_frame"]
    heavy = by["dkd-from-blazepose-heavy"]
    assert 0.0 <= heavy["pck@0.2_vs_heavy"] <= 1.0 and heavy["heavy_fps"] > 0 and heavy["full_fps"] > 0


def test_agreement_of_two_run_folders(tmp_path):
    import json

    rng = np.random.default_rng(0)
    kp = np.c_[rng.uniform(0, 100, (17, 2)), np.ones(17)]
    for name, shift, secs in (("ref", 0.0, 4.0), ("same", 0.0, 1.0), ("off", 30.0, 2.0)):
        d = tmp_path / name
        d.mkdir()
        frames = [{"index": i, "persons": [{"keypoints": (kp + [shift, 0.0, 0.0]).tolist()}]} for i in range(3)]
        (d / "poses.json").write_text(json.dumps({"frames": frames}))
        (d / "run.json").write_text(json.dumps({"seconds": {"estimate": secs}}))
    same = dkd.agreement(tmp_path / "ref", tmp_path / "same")
    assert same["persons"] == 3 and same["pck@0.2"] == 1.0 and same["mean_px_error"] == 0.0
    off = dkd.agreement(tmp_path / "ref", tmp_path / "off")
    assert off["mean_px_error"] == pytest.approx(30.0) and off["estimate_s"] == 2.0 and off["reference_estimate_s"] == 4.0


def test_shipped_dkd_models_share_their_initializer_data_and_bench_clips():
    """The synth-single dkd-* models were trained on renderer-3 clips with simplebaseline (trained on
    renderer-3 synth-single too) as initializer, and the bench reads test clips of that renderer."""
    from pathlib import Path

    from vidpose.methods import pretrained_path
    from vidpose.models.checkpoint import read_checkpoint
    from vidpose.training.config import load_config

    base = read_checkpoint(pretrained_path("simplebaseline"), weights=False)
    assert base.method == "simplebaseline" and base.extra["data"]["generator"]["renderer"] == dkd.RENDERER
    for name in ("dkd", "dkd-no-adversarial", "dkd-small"):
        ck = read_checkpoint(pretrained_path(name), weights=False)
        assert ck.config["initializer"] == "simplebaseline"
        assert ck.extra["data"]["generator"] == base.extra["data"]["generator"]  # format, renderer, split
        assert f"renderer {dkd.RENDERER}" in ck.extra["trained_on"]
    config = Path(__file__).resolve().parents[2] / "configs" / "dkd_synth_single.toml"
    assert load_config(config).model.initializer == "simplebaseline"


def test_shipped_dkd_blazepose_heavy_was_distilled_on_renders_of_the_bench_renderer():
    """dkd-blazepose-heavy was distilled without labels on videos made by ``vidpose synth --video``;
    the annotations next to them name the renderer, which is the one of the bench's test clips."""
    from vidpose.methods import pretrained_path
    from vidpose.models.checkpoint import read_checkpoint

    ck = read_checkpoint(pretrained_path("dkd-blazepose-heavy"), weights=False)
    assert ck.config["initializer"] == "blazepose-heavy" and ck.extra["data"]["teacher"] == "blazepose-heavy"
    assert ck.extra["data"]["dataset"] == "videos"
    assert ck.extra["data"]["generator"] == {"format": "vidpose.synth/1", "renderer": dkd.RENDERER,
                                             "split": "synth-single"}
    assert f"renderer {dkd.RENDERER}" in ck.extra["trained_on"]
