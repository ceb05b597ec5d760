"""The crowd bench's scoring: clips merged into one video, AP on occluded joints only, and person recall
on the sample clip against the people counted by eye (tests/data/sample_people.json)."""

import json
from pathlib import Path

import numpy as np
import pytest

from vidpose.bench.crowd import LABELS, _centre, merge_clips, occluded_only, sample_scores, score

DATA = Path(__file__).resolve().parents[1] / "data" / "sample_people.json"


def _clip(shift: float, frames: int = 4) -> tuple[dict, dict]:
    rng = np.random.default_rng(int(shift))
    skel = {"name": "coco17", "keypoints": [f"k{i}" for i in range(17)]}
    base = rng.uniform(20, 120, (2, 17, 2)) + np.array([[0, 0], [200, 0]])[:, None] + shift
    gt, pred = {"format": "vidpose.synth/1", "skeleton": skel, "frames": []}, {"format": "vidpose.poses/1",
                                                                            "skeleton": skel, "frames": []}
    for f in range(frames):
        vis = np.full(17, 2.0)
        vis[:5] = 1  # the head is occluded
        gp = [{"track_id": t, "bbox": [*base[t].min(0), *base[t].max(0)], "area": 5000.0, "occlusion": 0.3,
               "keypoints": np.c_[base[t], vis].tolist()} for t in range(2)]
        pp = [{"track_id": t, "bbox": [*base[t].min(0), *base[t].max(0)], "score": 0.9,
               "keypoints": np.c_[base[t] + (3.0 if t else 0.5), np.full(17, 0.9)].tolist()} for t in range(2)]
        gt["frames"].append({"index": f, "time": f / 30, "persons": gp})
        pred["frames"].append({"index": f, "time": f / 30, "persons": pp})
    return gt, pred


def test_clips_merge_into_one_video_and_occluded_joints_are_scored_alone():
    (g1, p1), (g2, p2) = _clip(0), _clip(50)
    gt, pred = merge_clips([g1, g2], [p1, p2])
    assert len(gt["frames"]) == 8 and len({f["index"] for f in gt["frames"]}) == 8
    assert {q["track_id"] for f in gt["frames"] for q in f["persons"]} == {0, 1, 100000, 100001}
    occ = occluded_only(gt)
    assert all(np.asarray(q["keypoints"])[5:, 2].max() == 0 for f in occ["frames"] for q in f["persons"])
    r = score(gt, pred)
    assert r["person_recall"] == pytest.approx(1.0) and r["id_switches"] == 0 and r["idf1"] == pytest.approx(1.0)
    assert 0 < r["oks_ap"] < 1 and r["ap_occluded"] > 0


def test_sample_labels_are_committed_and_scored():
    assert LABELS == DATA and DATA.is_file()
    labels = json.loads(DATA.read_text())
    assert labels["num_frames"] == 230 and [p["name"] for p in labels["people"]] == ["man", "woman"]
    # A prediction that finds the man in every frame and the woman only in frame 100, plus a stray box.
    frames = []
    for f in range(230):
        mx, my = _centre(labels["people"][0], f)
        persons = [{"track_id": 0, "bbox": [mx - 60, my - 150, mx + 60, my + 150]}]
        if f == 100:
            persons += [{"track_id": 5, "bbox": [900, 540, 1100, 920]}, {"track_id": 9, "bbox": [0, 0, 20, 20]}]
        frames.append({"index": f, "persons": persons})
    r = sample_scores({"frames": frames}, labels)
    assert r["person_frames"] == 230 + 166
    assert r["person_recall"] == pytest.approx((230 + 1) / 396)
    assert r["false_positives"] == 1 and r["ids_man"] == 1 and r["ids_woman"] == 1
    assert r["frames_all_found"] == 230 - 166 + 1
