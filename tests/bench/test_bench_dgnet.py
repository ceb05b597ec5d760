"""Bench suite dgnet and the shipped lifter: quick rows (unique names, the metrics), the shipped
checkpoint's provenance (recorded command -> same config hash), size, and a shipped-model lift."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

from vidpose.bench import SUITES, dgnet
from vidpose.methods import PRETRAINED
from vidpose.methods.dgnet import load_lifter, shipped_path
from vidpose.models.checkpoint import read_checkpoint

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]
KEYS = ("mpjpe_mm", "p_mpjpe_mm", "mpjve_mm", "params_m", "frames_per_s")


def _shipped() -> list[Path]:
    return [p for m, stem in dgnet.METHODS for f in dgnet.FIELDS
            if (p := dgnet.weight_path(dgnet.weight_stem(stem, f))).is_file()]


def test_registered():
    assert SUITES["dgnet"] == "vidpose.bench.dgnet"
    assert shipped_path() == dgnet.weight_path("dgnet_synth3_pairs") and shipped_path().is_file()
    assert "dgnet" not in PRETRAINED  # PRETRAINED lists 2D models for --model (see docs/lifting.md)


def test_score_of_a_perfect_and_a_shifted_prediction():
    g = [np.random.default_rng(0).normal(size=(5, 17, 3))]
    assert dgnet.score(g, g) == {"mpjpe_mm": 0.0, "p_mpjpe_mm": pytest.approx(0.0, abs=1e-6), "mpjve_mm": 0.0}
    s = dgnet.score([g[0] + np.array([0.01, 0, 0])], g)
    assert s["mpjpe_mm"] == pytest.approx(10.0) and s["mpjve_mm"] == pytest.approx(0.0)


def test_video_scores_bone_cv():
    rng = np.random.default_rng(1)
    g = rng.normal(size=(6, 17, 3))
    assert dgnet._bone_cv([g[:1].repeat(6, 0)]) == pytest.approx(0.0, abs=1e-12)  # rigid: lengths constant
    assert dgnet._bone_cv([g]) > 0.1
    s = dgnet._video_scores([2.0 * g], [g])  # a scaled copy: Procrustes removes the scale
    assert s["p_mpjpe_mm"] == pytest.approx(0.0, abs=1e-6) and s["mpjve_mm"] == pytest.approx(0.0, abs=1e-6)


def test_part_b_runs_on_every_test_clip():
    from vidpose.data.synth.generate import get_split

    assert dgnet.VIDEO_CLIPS == get_split("synth-single").clips["test"]
    assert inspect.signature(dgnet.run).parameters["video_clips"].default == dgnet.VIDEO_CLIPS


@pytest.mark.slow  # BlazePose on two rendered test videos (the bench itself runs all 24): about 2 minutes
def test_quick_suite_rows():
    res = dgnet.run(quick=True, video_clips=2)
    names = [r["name"] for r in res["rows"]]
    assert res["suite"] == "dgnet" and len(names) == len(set(names)) == 2 * len(_shipped()) + 5
    assert "dgnet-f27" in names and "dgnet-f27-noisy" in names
    assert names[-5:] == ["lift=blazepose", "lift=dgnet", "lift=blazepose-smooth", "lift=blazepose-online",
                          "lift=dgnet-smooth"]
    for r in res["rows"][:-5]:
        assert all(isinstance(r[k], float) and r[k] > 0 for k in KEYS), r
        assert r["p_mpjpe_mm"] <= r["mpjpe_mm"]
    for r in res["rows"][-5:]:
        assert all(isinstance(r[k], float) and r[k] > 0 for k in ("p_mpjpe_mm", "mpjve_mm", "bone_cv")), r
    assert isinstance(res["video_target"]["holds"], bool) and res["video_lifter"] == shipped_path().name
    assert isinstance(res["video_dgnet_vs_default"]["holds"], bool)
    assert isinstance(res["video_dgnet_smooth_vs_default"]["holds"], bool)
    # The low-pass moves the 3D far less from frame to frame than the per-frame landmarks.
    for name in ("lift=blazepose-smooth", "lift=blazepose-online", "lift=dgnet-smooth"):
        assert by_name(res)[name]["mpjve_mm"] < 0.7 * by_name(res)["lift=blazepose"]["mpjve_mm"]
    by = {r["name"]: r for r in res["rows"]}
    assert by["dgnet-f27-noisy"]["mpjpe_mm"] > by["dgnet-f27"]["mpjpe_mm"] * 0.9  # noise does not help
    assert all(isinstance(v["holds"], bool) for v in res["claims"].values())


def by_name(res: dict) -> dict:
    return {r["name"]: r for r in res["rows"]}


def test_shipped_lifter_provenance_and_size():
    from vidpose.bench.clnet import recorded_config

    for p in _shipped():
        ck = read_checkpoint(p)
        extra = ck.extra
        assert extra["dtype"] == "float16" and all(v.dtype == torch.float16 for v in ck.state.values() if v.is_floating_point())
        cfg = recorded_config(extra["command"], REPO)
        assert cfg.sha256() == extra["config_sha256"], p.name
        assert extra["data"]["dataset"] == "mocap+synth-3d" and extra["data"]["subset"] == "train"
        assert p.stat().st_size < 2_000_000
    assert sum(p.stat().st_size for p in _shipped()) < 5_000_000


def test_shipped_run_lifter_provenance():
    """The lifter of --lift dgnet: dgnet_synth3 (renderer-3 synth-3d) fine-tuned with BlazePose's 2D of
    rendered videos, both by the commands they record."""
    from vidpose.bench.clnet import recorded_config

    extra = read_checkpoint(shipped_path()).extra
    assert "configs/dgnet_synth3_pairs.toml" in extra["command"] and "data.ann_file=" in extra["command"]
    cfg = recorded_config(extra["command"], REPO)
    assert cfg.sha256() == extra["config_sha256"]
    assert extra["data"]["dataset"] == "synth-3d+lift-pairs" and extra["data"]["subset"] == "train"
    assert extra["trained_on"].startswith("synth-3d train clips made by renderer 3") and "lift pairs" in extra["trained_on"]
    assert extra["data"]["sequences"] == 250 + 454  # synth-3d train clips + BlazePose runs of 360 rendered videos
    # Its starting point is the previous shipped lifter, still in the package with its own provenance.
    init = REPO / cfg.run.init_from
    assert init == dgnet.weight_path("dgnet_synth3") and init.is_file()
    ex0 = read_checkpoint(init).extra
    assert "configs/dgnet_synth3.toml" in ex0["command"] and "--renderer 3" not in ex0["command"]
    assert recorded_config(ex0["command"], REPO).sha256() == ex0["config_sha256"]
    assert ex0["data"]["dataset"] == "synth-3d" and ex0["data"]["sequences"] == 250
    assert shipped_path().stat().st_size < 2_000_000


def test_shipped_lifter_lifts_short_and_low_confidence_tracks():
    model = load_lifter("dgnet")
    assert model.method == "dgnet" and model.cfg.receptive_field == 27
    rng = np.random.default_rng(0)
    xy = rng.uniform(-0.2, 0.2, (5, 17, 2)).astype(np.float32)  # 5 frames: shorter than 27
    conf = np.ones((5, 17, 1), np.float32)
    y = model.lift(np.concatenate([xy, conf], -1))
    assert y.shape == (5, 17, 3) and torch.isfinite(y).all() and torch.allclose(y[:, 0], torch.zeros(5, 3), atol=0.05)
    conf[:, 13] = 0.0  # the left wrist unseen: still a finite pose
    assert torch.isfinite(model.lift(np.concatenate([xy, conf], -1))).all()
