import contextlib
import io
import json

import numpy as np
import pytest

from vidpose.cli import main as cli_main
from vidpose.errors import InputError
from vidpose.metrics.evaluate import evaluate, greedy_oks_match
from vidpose.skeletons import COCO17

T = 6  # frames


def make_synth(num_frames=T):
    """Synth annotations: two people moving at constant velocity, far apart.

    Person 0 has its left ear (3) occluded (v=1); person 1 has its right ankle (16)
    outside the image (v=0); every other joint is visible (v=2).
    """
    rng = np.random.default_rng(0)
    base = [np.c_[rng.uniform(0, 100, 17), rng.uniform(0, 200, 17)] + [50, 50],
            np.c_[rng.uniform(0, 100, 17), rng.uniform(0, 200, 17)] + [400, 60]]
    vel = [np.array([2.0, 1.0]), np.array([-1.5, 0.5])]
    frames = []
    for t in range(num_frames):
        persons = []
        for p in range(2):
            xy = base[p] + t * vel[p]
            v = np.full(17, 2.0)
            if p == 0:
                v[3] = 1
            else:
                v[16] = 0
            x0, y0 = xy.min(0)
            x1, y1 = xy.max(0)
            persons.append({
                "track_id": 10 + p, "bbox": [x0, y0, x1, y1], "area": float((x1 - x0) * (y1 - y0)),
                "keypoints": np.c_[xy, v].tolist(), "keypoints_3d": np.ones((17, 3)).tolist(),
                "h36m_2d": np.ones((17, 2)).tolist(), "h36m_3d": np.ones((17, 3)).tolist(),
                "occlusion": 0.1 if p == 0 else 0.5,
            })
        frames.append({"index": t, "time": t / 25, "persons": persons})
    return {
        "format": "vidpose.synth/1", "split": "synth-crowd", "subset": "val", "clip": "c0", "seed": 0,
        "video": {"width": 640, "height": 480, "fps": 25.0, "num_frames": num_frames, "frames": "frames/{:06d}.jpg"},
        "skeleton": {"name": "coco17", "keypoints": list(COCO17.keypoints), "links": [list(l) for l in COCO17.links]},
        "camera": {"intrinsics": [[500, 0, 320], [0, 500, 240], [0, 0, 1]],
                   "extrinsics": [{"R": np.eye(3).tolist(), "t": [0, 0, 0]}] * num_frames},
        "frames": frames,
    }


def poses_from(synth):
    """A poses.json predicting the ground truth exactly (scores 0.9)."""
    frames = []
    for f in synth["frames"]:
        frames.append({"index": f["index"], "time": f["time"], "persons": [
            {"track_id": p["track_id"], "bbox": p["bbox"], "score": 0.9,
             "keypoints": [[x, y, 0.9] for x, y, _ in p["keypoints"]], "keypoints_3d": None}
            for p in f["persons"]]})
    return {"format": "vidpose.poses/1",
            "video": {"path": "clip.mp4", "width": 640, "height": 480, "fps": 25.0, "num_frames": len(frames)},
            "skeleton": synth["skeleton"], "frames": frames}


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(json.dumps(obj))
    return p


ALL = ["pck@0.2", "oks_ap", "w_ap", "jitter", "accel", "mota", "idf1", "idsw"]


def test_perfect_prediction(tmp_path):
    s = make_synth()
    pr = poses_from(s)
    # occlusion weights and scores whose weight sums differ by an ulp between frame order
    # and score order: perfect predictions must still reach recall 1 (w_AP exactly 1)
    occ = [[0.4065, 0.91], [0.0431, 0.8227], [0.4154, 0.8298], [0.01, 0.365], [0.0786, 0.6526], [0.2738, 0.7027]]
    sc = [[0.9719, 0.5634], [0.9324, 0.5297], [0.6904, 0.7149], [0.7444, 0.9882], [0.8878, 0.6544], [0.6349, 0.9316]]
    for t in range(T):
        for k in range(2):
            s["frames"][t]["persons"][k]["occlusion"] = occ[t][k]
            pr["frames"][t]["persons"][k]["score"] = sc[t][k]
    r = evaluate(write(tmp_path, "gt.json", s), write(tmp_path, "pred.json", pr), ALL)
    assert r["pck@0.2"] == 1.0
    assert r["AP"] == pytest.approx(1.0) and r["w_AP"] == pytest.approx(1.0)
    assert r["jitter"] == pytest.approx(0.0, abs=1e-9) and r["accel"] == pytest.approx(0.0, abs=1e-9)
    assert r["mota"] == 1.0 and r["idf1"] == 1.0 and r["idsw"] == 0


def test_bump_hand_computed(tmp_path):
    s = make_synth()
    pr = poses_from(s)
    pr["frames"][2]["persons"][0]["keypoints"][0][1] += 50.0  # nose of person 0, frame 2
    r = evaluate(write(tmp_path, "gt.json", s), write(tmp_path, "pred.json", pr), ALL)
    # bbox height ~200 px -> threshold ~40 px < 50: one of T*32 visible joints wrong
    assert r["pck@0.2"] == pytest.approx(1 - 1 / (T * 32))
    # second differences 50, -100, 50 around frame 2
    assert r["jitter"] == pytest.approx(200 / ((T - 2) * 34))
    # accel counts labelled joints only: person 1's right ankle (v=0) is left out
    assert r["accel"] == pytest.approx(200 / ((T - 2) * 33))
    assert r["mota"] == 1.0 and r["idsw"] == 0


def test_id_switch_and_missing_frame(tmp_path):
    s = make_synth()
    pr = poses_from(s)
    for f in pr["frames"][3:]:
        a, b = f["persons"]
        a["track_id"], b["track_id"] = b["track_id"], a["track_id"]
    del pr["frames"][1]  # a GT frame with no prediction: both people missed
    r = evaluate(write(tmp_path, "gt.json", s), write(tmp_path, "pred.json", pr), ["mota", "idsw", "recall", "pck@0.2"])
    assert r["idsw"] == 2
    assert r["mota"] == pytest.approx(1 - (2 + 2) / (2 * T))
    assert r["recall"] == pytest.approx((2 * T - 2) / (2 * T))
    assert r["pck@0.2"] == pytest.approx((T - 1) / T)


def test_oks_ap_equals_pycocotools_on_noisy_prediction(tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    s = make_synth()
    pr = poses_from(s)
    rng = np.random.default_rng(1)
    for f in pr["frames"]:
        for p in f["persons"]:
            p["score"] = float(rng.uniform())
            p["keypoints"] = (np.array(p["keypoints"]) + np.c_[rng.normal(0, 6, (17, 2)), np.zeros(17)]).tolist()
    r = evaluate(write(tmp_path, "gt.json", s), write(tmp_path, "pred.json", pr), ["oks_ap"])
    # independent conversion straight into pycocotools
    anns, res = [], []
    for f in s["frames"]:
        for p in f["persons"]:
            x0, y0, x1, y1 = p["bbox"]
            kp = np.array(p["keypoints"])
            anns.append({"id": len(anns) + 1, "image_id": f["index"], "category_id": 1, "iscrowd": 0,
                         "bbox": [x0, y0, x1 - x0, y1 - y0], "area": p["area"], "keypoints": kp.ravel().tolist(),
                         "num_keypoints": int((kp[:, 2] > 0).sum())})
    for f in pr["frames"]:
        for p in f["persons"]:
            res.append({"image_id": f["index"], "category_id": 1, "score": p["score"],
                        "keypoints": np.array(p["keypoints"]).ravel().tolist()})
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = {"images": [{"id": f["index"]} for f in s["frames"]], "annotations": anns,
                      "categories": [{"id": 1, "name": "person"}]}
        cg.createIndex()
        ev = COCOeval(cg, cg.loadRes(res), iouType="keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    for i, k in enumerate(["AP", "AP50", "AP75", "APM", "APL", "AR"]):
        assert r[k] == float(ev.stats[i])
    assert 0 < r["AP"] < 1


def test_empty_predictions_score_zero(tmp_path):
    s = make_synth()
    pr = poses_from(s)
    pr["frames"] = []
    r = evaluate(write(tmp_path, "gt.json", s), write(tmp_path, "pred.json", pr), ALL)
    assert r["pck@0.2"] == 0.0 and r["AP"] == 0.0 and r["w_AP"] == 0.0
    assert r["mota"] == 0.0 and r["idf1"] == 0.0 and r["idsw"] == 0
    assert r["jitter"] == 0.0 and r["accel"] == 0.0


def expect_input_error(tmp_path, mutate, match, gt_mutate=None):
    s = make_synth()
    pr = poses_from(s)
    mutate(pr)
    if gt_mutate:
        gt_mutate(s)
    gp, pp = write(tmp_path, "gt.json", s), write(tmp_path, "pred.json", pr)
    with pytest.raises(InputError, match=match):
        evaluate(gp, pp, ["pck@0.2"])


def test_bad_video_inputs(tmp_path):
    def extra_frame(pr):
        pr["frames"].append({"index": 99, "time": 4.0, "persons": []})
    expect_input_error(tmp_path, extra_frame, r"pred.json: predictions for frames not in the ground truth .*gt.json: \[99\]")

    def short_kp(pr):
        pr["frames"][1]["persons"][0]["keypoints"].pop()
    expect_input_error(tmp_path, short_kp, r"pred.json: frames\[1\].persons\[0\].keypoints: 16 keypoints but skeleton coco17 has 17")

    def nan_kp(pr):
        pr["frames"][0]["persons"][1]["keypoints"][2][0] = float("nan")
    expect_input_error(tmp_path, nan_kp, r"frames\[0\].persons\[1\].keypoints: contains NaN")

    def no_bbox(pr):
        del pr["frames"][2]["persons"][0]["bbox"]
    expect_input_error(tmp_path, no_bbox, r"pred.json: frames\[2\].persons\[0\]: missing key 'bbox'")

    def gt_no_area(s):
        del s["frames"][0]["persons"][0]["area"]
    expect_input_error(tmp_path, lambda pr: None, r"gt.json: frames\[0\].persons\[0\]: missing key 'area'", gt_no_area)

    def bad_vis(s):
        s["frames"][0]["persons"][0]["keypoints"][0][2] = 3
    expect_input_error(tmp_path, lambda pr: None, "visibility must be 0, 1 or 2", bad_vis)

    def other_skeleton(pr):
        pr["skeleton"] = {"name": "hie14", "keypoints": ["k"] * 14, "links": []}
    expect_input_error(tmp_path, other_skeleton, "keypoints: 17 keypoints but skeleton hie14 has 14")

    def wrong_count(pr):
        pr["skeleton"]["keypoints"] = pr["skeleton"]["keypoints"][:15]
    expect_input_error(tmp_path, wrong_count, "skeleton.keypoints lists 15 names but coco17 has 17")

    def dup(pr):
        pr["frames"].append(dict(pr["frames"][0]))
    expect_input_error(tmp_path, dup, r"frame 0 appears twice")


def test_bad_files_and_metrics(tmp_path):
    s = make_synth()
    gp = write(tmp_path, "gt.json", s)
    pp = write(tmp_path, "pred.json", poses_from(s))
    trunc = tmp_path / "trunc.json"
    trunc.write_text(pp.read_text()[:200])
    with pytest.raises(InputError, match="trunc.json: not valid JSON"):
        evaluate(gp, trunc, ["pck@0.2"])
    with pytest.raises(InputError, match="odd.json: unknown format"):
        evaluate(gp, write(tmp_path, "odd.json", {"hello": 1}), ["pck@0.2"])
    with pytest.raises(InputError, match="unknown format 'vidpose.x/9'"):
        evaluate(gp, write(tmp_path, "x.json", {"format": "vidpose.x/9"}), ["pck@0.2"])
    with pytest.raises(InputError, match="metric 'mpjpe' is not available"):
        evaluate(gp, pp, ["mpjpe"])
    with pytest.raises(InputError, match="nothere.json: no such file"):
        evaluate(tmp_path / "nothere.json", pp, ["pck@0.2"])
    with pytest.raises(InputError, match="predictions must be poses.json"):
        evaluate(gp, gp, ["pck@0.2"])


def test_greedy_oks_match():
    o = np.array([[0.9, 0.8], [0.95, 0.1], [0.0, 0.0]])
    # highest first: (1, 0) at 0.95, then pred 0 takes gt 1 at 0.8; pred 2 has OKS 0
    assert greedy_oks_match(o) == [(1, 0), (0, 1)]
    assert greedy_oks_match(np.zeros((0, 3))) == []


# --- 3D .npz --------------------------------------------------------------------------------

def test_npz_one_and_two_files(tmp_path):
    rng = np.random.default_rng(0)
    gt = rng.integers(-300, 300, (5, 17, 3)).astype(float)  # integers: the 5 mm offset stays exact
    pred = gt + np.array([3.0, 4.0, 0.0])
    one = tmp_path / "both.npz"
    np.savez(one, pred=pred, gt=gt)
    r = evaluate(one, None, ["mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck3d", "auc"], root_joint=None)
    assert r["mpjpe"] == pytest.approx(5.0)
    assert r["p_mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert r["mpjve"] == pytest.approx(0.0, abs=1e-9)
    assert r["pck3d"] == 1.0
    assert r["auc"] == pytest.approx(29 / 31)  # error 5 mm counts below 10, 15, ..., 150 mm
    np.savez(tmp_path / "g.npz", gt=gt)
    np.savez(tmp_path / "p.npz", pred=pred)
    r2 = evaluate(tmp_path / "g.npz", tmp_path / "p.npz", ["mpjpe"], root_joint="none")
    assert r2["mpjpe"] == pytest.approx(5.0)
    # root alignment (the default, and any explicit joint) removes the constant offset
    assert evaluate(one, None, ["mpjpe"], root_joint=0)["mpjpe"] == pytest.approx(0.0, abs=1e-9)
    assert evaluate(one, None, ["mpjpe"])["mpjpe"] == pytest.approx(0.0, abs=1e-9)


def test_npz_bad_inputs(tmp_path):
    gt = np.zeros((4, 17, 3))
    np.savez(tmp_path / "nogt.npz", pred=gt)
    with pytest.raises(InputError, match="nogt.npz: missing array 'gt'"):
        evaluate(tmp_path / "nogt.npz", None, ["mpjpe"])
    np.savez(tmp_path / "shape.npz", pred=np.zeros((4, 16, 3)), gt=gt)
    with pytest.raises(InputError, match="does not match"):
        evaluate(tmp_path / "shape.npz", None, ["mpjpe"])
    np.savez(tmp_path / "two.npz", pred=np.zeros((4, 17, 2)), gt=gt)
    with pytest.raises(InputError, match=r"'pred' must have shape \(N, J, 3\)"):
        evaluate(tmp_path / "two.npz", None, ["mpjpe"])
    bad = gt.copy()
    bad[1, 2, 0] = np.nan
    np.savez(tmp_path / "nan.npz", pred=bad, gt=gt)
    with pytest.raises(InputError, match="nan.npz: array 'pred' contains NaN"):
        evaluate(tmp_path / "nan.npz", None, ["mpjpe"])
    np.savez(tmp_path / "sk.npz", pred=np.zeros((4, 14, 3)), gt=np.zeros((4, 14, 3)), skeleton="h36m17")
    with pytest.raises(InputError, match="14 joints but skeleton h36m17 has 17"):
        evaluate(tmp_path / "sk.npz", None, ["mpjpe"])
    full = tmp_path / "full.npz"
    np.savez(full, pred=gt, gt=gt)
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(full.read_bytes()[:300])
    with pytest.raises(InputError, match="trunc.npz: unreadable .npz"):
        evaluate(trunc, None, ["mpjpe"])
    with pytest.raises(InputError, match="metric 'pck@0.2' is not available"):
        evaluate(full, None, ["pck@0.2"])
    np.savez(tmp_path / "empty.npz", pred=np.zeros((0, 17, 3)), gt=gt)
    with pytest.raises(InputError, match=r"empty.npz: 'pred' shape \(0, 17, 3\) does not match"):
        evaluate(tmp_path / "empty.npz", None, ["mpjpe", "pck3d"])  # never a perfect 0 mm


# --- CLI ------------------------------------------------------------------------------------

def test_cli_table_and_json(tmp_path, capsys):
    s = make_synth()
    gp, pp = write(tmp_path, "gt.json", s), write(tmp_path, "pred.json", poses_from(s))
    out = tmp_path / "scores.json"
    rc = cli_main(["eval", "--gt", str(gp), "--pred", str(pp), "--metric", "pck@0.2,mota,idsw", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "pck@0.2" in text and "mota" in text and "1.0000" in text
    doc = json.loads(out.read_text())
    assert doc == {"metrics": {"pck@0.2": 1.0, "mota": 1.0, "idsw": 0}, "gt": str(gp), "pred": str(pp)}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_cli_coco_equals_pycocotools(tmp_path, capsys, coco_pair):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt, res = coco_pair(np.random.default_rng(7))
    gp, rp = write(tmp_path, "person_keypoints.json", gt), write(tmp_path, "results.json", res)
    out = tmp_path / "s.json"
    assert cli_main(["eval", "--gt", str(gp), "--pred", str(rp), "--metric", "oks_ap", "--json", str(out)]) == 0
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(str(gp))
        ev = COCOeval(cg, cg.loadRes(str(rp)), iouType="keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    m = json.loads(out.read_text())["metrics"]
    assert [m[k] for k in ("AP", "AP50", "AP75", "APM", "APL", "AR")] == [float(x) for x in ev.stats[:6]]
    assert "AP50" in capsys.readouterr().out


def test_cli_bad_input_exit_code(tmp_path, capsys):
    s = make_synth()
    pr = poses_from(s)
    pr["frames"][0]["persons"][0]["keypoints"] = pr["frames"][0]["persons"][0]["keypoints"][:10]
    gp, pp = write(tmp_path, "gt.json", s), write(tmp_path, "pred.json", pr)
    out = tmp_path / "s.json"
    assert cli_main(["eval", "--gt", str(gp), "--pred", str(pp), "--metric", "pck@0.2", "--json", str(out)]) == 1
    err = capsys.readouterr().err
    assert "vidpose: error:" in err and "pred.json" in err and "keypoints" in err
    assert not out.exists()


def test_cli_coco_custom_skeleton(tmp_path, coco_pair, capsys):
    from vidpose.metrics.coco import coco_keypoint_ap
    from vidpose.metrics.keypoints import sigmas_for

    gt, res = coco_pair(np.random.default_rng(8), num_joints=14)
    gp, rp = write(tmp_path, "hie.json", gt), write(tmp_path, "res.json", res)
    assert cli_main(["eval", "--gt", str(gp), "--pred", str(rp), "--metric", "oks_ap"]) == 1
    assert "pass sigmas" in capsys.readouterr().err
    r = evaluate(gp, rp, ["oks_ap"], skeleton="hie14")
    assert r["AP"] == coco_keypoint_ap(gt, res, sigmas=sigmas_for("hie14"))["AP"]


def test_options_and_inputs_that_do_not_fit_are_named(tmp_path, coco_pair):
    gt, res = coco_pair(np.random.default_rng(8), num_joints=17)
    gp, rp = write(tmp_path, "coco.json", gt), write(tmp_path, "res.json", res)
    with pytest.raises(InputError, match="--skeleton must be one of .*, got 'nonsense'"):
        evaluate(gp, rp, ["oks_ap"], skeleton="nonsense")
    with pytest.raises(InputError, match=r"--skeleton blazepose33 has 33 keypoints but .*coco.json has 17"):
        evaluate(gp, rp, ["oks_ap"], skeleton="blazepose33")
    s = make_synth()
    pr = poses_from(s)
    sp, pp = write(tmp_path, "gt.json", s), write(tmp_path, "pred.json", pr)
    with pytest.raises(InputError, match="--skeleton picks the OKS sigmas of COCO keypoint files; .*gt.json is a synth"):
        evaluate(sp, pp, ["pck@0.2"], skeleton="coco17")
    with pytest.raises(InputError, match="--root-joint applies to 3D .npz poses only"):
        evaluate(sp, pp, ["pck@0.2"], root_joint=3)
    assert evaluate(sp, pp, "pck@0.2, jitter") == evaluate(sp, pp, ["pck@0.2", "jitter"])  # as on the command line
    with pytest.raises(InputError, match=r"gt.json: predictions are missing \(--pred\)"):
        evaluate(sp, None, ["pck@0.2"])
    with pytest.raises(InputError, match=r": is a folder, expected a file"):
        evaluate(sp, tmp_path, ["pck@0.2"])
    pr["frames"][0]["persons"][0]["keypoints_3d"] = [[0.0, float("nan"), 0.0]] * 17
    bad = tmp_path / "nan3d.json"
    bad.write_text(json.dumps(pr))  # json writes NaN, as a careless tool would
    with pytest.raises(InputError, match=r"nan3d.json: frames\[0\].persons\[0\].keypoints_3d: contains NaN or inf"):
        evaluate(sp, bad, ["pck@0.2"])


def test_untracked_predictions(tmp_path):
    s = make_synth()
    pr = poses_from(s)
    for f in pr["frames"]:
        for p in f["persons"]:
            p["track_id"] = None
    gp, pp = write(tmp_path, "gt.json", s), write(tmp_path, "pred.json", pr)
    r = evaluate(gp, pp, ["pck@0.2", "accel", "oks_ap"])  # identity-free metrics still work
    assert r["pck@0.2"] == 1.0 and r["AP"] == pytest.approx(1.0)
    with pytest.raises(InputError, match="pred.json: 12 person.* null track_id; mota need"):
        evaluate(gp, pp, ["mota"])
