"""`vidpose bench flowing`: its scoring functions on tracks with known errors, and the quick suite's rows."""

from __future__ import annotations

import numpy as np
import pytest

from vidpose.bench import flowing
from vidpose.skeletons import COCO17


def _track(t=30, noise=0.0, shift=0, seed=0):
    rng = np.random.default_rng(seed)
    base = np.c_[rng.uniform(100, 200, 17), rng.uniform(50, 250, 17)]
    gt = np.stack([np.c_[base + [3.0 * i, 0.0], np.full(17, 2.0)] for i in range(t)])
    pred = np.stack([gt[max(0, min(t - 1, i - shift)), :, :2] for i in range(t)]) + rng.normal(0, noise, (t, 17, 2))
    return {"gt": gt, "pred": pred, "valid": np.ones(t, bool), "height": np.full(t, 200.0)}


def test_scores_of_a_perfect_and_a_lagging_track():
    s = flowing.score_tracks([_track()])
    assert s["pck@0.2"] == 1.0 and s["mean_px_error"] == pytest.approx(0.0, abs=1e-9)
    assert s["jitter_pct"] == pytest.approx(0.0, abs=1e-9) and s["lr_swap_frames"] == 0 and s["lag_frames"] == 0
    assert flowing.score_tracks([_track(shift=2)])["lag_frames"] == 2
    noisy = flowing.score_tracks([_track(noise=2.0)])
    assert noisy["jitter_pct"] > 1.0 and noisy["accel_error"] > 1.0


def test_swapped_frames_are_counted():
    t = _track()
    perm = COCO17.flip_permutation()
    for i in (4, 5):
        t["pred"][i] = t["pred"][i][perm]
    assert flowing.score_tracks([t])["lr_swap_frames"] == 2


def test_swap_detector_without_ground_truth():
    t = _track()
    perm = COCO17.flip_permutation()
    frames = []
    for i, kp in enumerate(t["pred"]):
        k = kp[perm] if i == 10 else kp
        frames.append({"index": i, "persons": [{"track_id": 0, "keypoints": np.c_[k, np.full(17, 0.9)].tolist()}]})
    swaps, jitter = flowing.swap_frames_without_gt({"frames": frames})
    assert swaps == 2 and jitter > 0  # a swapped frame flips the assignment twice: into it and out of it


def test_model_rows_are_defined_with_their_training():
    assert list(flowing.MODEL_ROWS) == ["direct-regression", "flow-input", "heatmap", "fusion", "fusion+pool-nowarp",
                                        "fusion+flow-n1", "fusion+flow-n3", "fusion+flow-n7"]
    for row, (sets, start) in flowing.MODEL_ROWS.items():
        assert start in ("", "fusion")
        if start:
            assert "model.train_pooling_only=true" in sets


@pytest.mark.slow
def test_quick_suite():
    r = flowing.run(quick=True, plan={"synth-single": 2, "synth-crowd": 1})
    names = [x["name"] for x in r["rows"]]
    assert len(names) == len(set(names))
    want = [n + s for s in ("", "@crowd") for n in flowing.REFINE_ROWS] + ["raw@sample", "default@sample"]
    assert names[-len(want):] == want and names[:len(flowing.MODEL_ROWS)] == list(flowing.MODEL_ROWS)
    for row in r["rows"]:
        if row["name"] in flowing.REFINE_ROWS:
            assert {"pck@0.2", "mean_px_error", "jitter_pct", "accel_error", "lr_swap_frames", "lag_frames",
                    "fps"} <= set(row)
            assert 0.0 <= row["pck@0.2"] <= 1.0
        elif row["name"] in flowing.MODEL_ROWS and "missing" not in row:
            assert {"pck@0.2", "mean_px_error", "accel_error", "cpu_ms"} <= set(row)
    by = {x["name"]: x for x in r["rows"]}
    assert by["flow-offline"]["jitter_pct"] < by["raw"]["jitter_pct"]


@pytest.mark.slow
def test_refine_runs_match_separate_runs(tmp_path):
    """One BlazePose pass feeding every refinement gives each the frames of its own run."""
    import json

    from vidpose.data.synth.generate import generate_split

    generate_split("synth-crowd", tmp_path, "test", clips=1, frames=12, seed=0)
    clip = str(tmp_path / "synth-crowd" / "test" / "test_00000" / "frames")
    runs = flowing.refine_runs(clip, fps=30.0)
    assert list(runs) == list(flowing.REFINE_ROWS)
    for name in ("raw", "butterworth", "flow-offline"):
        alone, _ = flowing._run(clip, name, fps=30.0)
        assert alone["frames"] and any(f["persons"] for f in alone["frames"])
        assert json.dumps(runs[name][0]["frames"]) == json.dumps(alone["frames"]), name
        assert runs[name][1] > 0
    # the refinements really differ from the raw output
    assert json.dumps(runs["flow-offline"][0]["frames"]) != json.dumps(runs["raw"][0]["frames"])


@pytest.mark.parametrize("row", list(flowing.MODEL_ROWS))
def test_shipped_model_rows_record_what_made_them(row):
    """Each shipped flowing checkpoint loads as the variant its row names, and re-reading its recorded
    training command gives the config hash it records."""
    from pathlib import Path

    from vidpose.bench.clnet import recorded_config
    from vidpose.methods import load, weights_dir
    from vidpose.models.checkpoint import read_checkpoint

    path = weights_dir() / f"{flowing.weight_stem(row)}.safetensors"
    assert path.is_file() and path.stat().st_size < 2**20
    extra = read_checkpoint(path, weights=False).extra
    cfg = recorded_config(extra["command"], Path(__file__).resolve().parents[2])
    assert cfg.sha256() == extra["config_sha256"]
    model = load(path)
    assert model.cfg == cfg.model and model.cfg.clip_length == cfg.data.clip_length
    sets, start = flowing.MODEL_ROWS[row]
    assert all(f"--set {s}" in extra["command"] for s in sets)
    assert ("run.init_from=" in extra["command"]) == bool(start)
    # trained on the renderer whose test clips the bench's model rows read
    assert extra["data"]["generator"]["renderer"] == flowing.MODEL_RENDERER
    assert f"renderer {flowing.MODEL_RENDERER}" in extra["trained_on"]
