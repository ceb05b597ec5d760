"""``vidpose eval`` on HIE files: HIE annotations (annolist) vs poses.json, w_AP and the others."""

import json

import numpy as np
import pytest

from vidpose.cli import main
from vidpose.metrics.evaluate import evaluate
from vidpose.skeletons import COCO17, HIE14, convert


def _hie_person(tid, kp, occluded=()):
    pts = [{"id": [k], "x": [float(x)], "y": [float(y)], "is_visible": [1 if k in occluded else 0]}
           for k, (x, y) in enumerate(kp)]
    x1, y1 = kp.min(0) - 5
    x2, y2 = kp.max(0) + 5
    return {"x1": [float(x1)], "y1": [float(y1)], "x2": [float(x2)], "y2": [float(y2)], "track_id": [tid],
            "annopoints": [{"point": pts}]}


def _files(tmp_path, occluded=(), frames=6, seed=0):
    """An HIE ground truth of 3 people and a coco17 poses.json near it (noisy, one person missed now and then)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 60, (3, 17, 2)) + np.array([[100, 100], [300, 120], [500, 90]])[:, None]
    ann, pred = [], []
    for f in range(frames):
        coco = base + 3 * f
        hie = convert(np.concatenate([coco, np.ones((3, 17, 1))], -1), COCO17, HIE14)[..., :2]
        ann.append({"image": [{"name": f"{f + 1:06d}.jpg"}],
                    "annorect": [_hie_person(t, hie[t], occluded if t == 1 else ()) for t in range(3)]})
        persons = []
        for t in range(3):
            if (f + t) % 4 == 3:
                continue  # a miss
            kp = coco[t] + rng.normal(0, 2 + 2 * t, (17, 2))
            persons.append({"track_id": t, "bbox": [*kp.min(0), *kp.max(0)], "score": 0.9 - 0.1 * t,
                            "keypoints": np.c_[kp, np.full(17, 0.8)].tolist()})
        pred.append({"index": f, "time": f / 30, "persons": persons})
    gt = tmp_path / "video01.json"
    gt.write_text(json.dumps({"annolist": ann}))
    pp = tmp_path / "poses.json"
    pp.write_text(json.dumps({"format": "vidpose.poses/1", "frames": pred,
                              "skeleton": {"name": "coco17", "keypoints": list(COCO17.keypoints)}}))
    return gt, pp


def test_w_ap_on_hie_with_unit_weights_equals_pycocotools_ap(tmp_path):
    gt, pred = _files(tmp_path)  # nobody occluded: every weight is 1
    r = evaluate(gt, pred, ["w_ap", "oks_ap"])
    assert 0.05 < r["AP"] < 1.0
    assert r["w_AP"] == pytest.approx(r["AP"], abs=1e-12)


def test_occluded_joints_weigh_their_person_up(tmp_path):
    plain = evaluate(*_files(tmp_path), ["w_ap", "oks_ap"])
    (tmp_path / "b").mkdir()
    occl = evaluate(*_files(tmp_path / "b", occluded=tuple(range(7))), ["w_ap", "oks_ap"])
    # Person 1 (the middle one, noisier than person 0) now counts more: w_AP moves, AP ignores weights.
    assert occl["w_AP"] != pytest.approx(plain["w_AP"])
    assert occl["AP"] == pytest.approx(plain["AP"])
    # ... by exactly the weights 1 + occlusion: 7 of person 1's 14 joints invisible -> 1.5, the others 1
    from vidpose.metrics.evaluate import parse_hie, parse_video, to_skeleton
    from vidpose.metrics.keypoints import sigmas_for
    from vidpose.metrics.mot import weighted_oks_ap

    gt_path, pred_path = tmp_path / "b" / "video01.json", tmp_path / "b" / "poses.json"
    gt = parse_hie(json.loads(gt_path.read_text()), str(gt_path))
    pred = to_skeleton(parse_video(json.loads(pred_path.read_text()), str(pred_path), "poses"), gt.skeleton)
    idx = sorted(gt.frames)
    assert all(np.array_equal(gt.occlusion[i], [0.0, 0.5, 0.0]) for i in idx)
    g_list = [gt.frames[i] for i in idx]
    for g in g_list:
        g.weights = np.array([1.0, 1.5, 1.0])
    want = weighted_oks_ap(g_list, [pred.frames[i] for i in idx], sigmas_for(gt.skeleton))["w_AP"]
    assert occl["w_AP"] == pytest.approx(want, abs=1e-12)


def test_vidpose_eval_metric_w_ap_on_hie_files(tmp_path):
    gt, pred = _files(tmp_path)
    out = tmp_path / "scores.json"
    assert main(["eval", "--gt", str(gt), "--pred", str(pred), "--metric", "w_ap,idf1,idsw", "--json", str(out)]) == 0
    scores = json.loads(out.read_text())["metrics"]
    assert set(scores) == {"w_AP", "idf1", "idsw"} and scores["idsw"] == 0 and 0 < scores["w_AP"] < 1


def test_a_bad_hie_point_is_named(tmp_path):
    gt, pred = _files(tmp_path)
    d = json.loads(gt.read_text())
    d["annolist"][2]["annorect"][0]["annopoints"][0]["point"][3]["is_visible"] = [5]
    gt.write_text(json.dumps(d))
    from vidpose.errors import InputError

    with pytest.raises(InputError, match=r"annolist\[2\]\.annorect\[0\]\.annopoints\[0\]\.point\[3\]\.is_visible"):
        evaluate(gt, pred, ["w_ap"])
