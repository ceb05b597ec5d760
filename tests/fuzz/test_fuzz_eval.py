"""Fuzzing `vidpose eval`'s inputs: COCO GT + results, synth annotations + poses.json, 3D .npz.

Either file of a pair is damaged (content edits and/or bytes). The property: an
``InputError`` naming one of the two files, or scores that are all finite and in
their range (no NaN AP, no PCK above 1, no negative MPJPE): never a traceback,
never a silently wrong score. See fuzzlib.py.
"""

import io
import math

import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st

from fuzzlib import FUZZ, damaged_bytes, dumps, edited_tree, expect_clean, json_case, workdir
from vidpose.metrics.evaluate import METRICS_3D, evaluate
from vidpose.skeletons import COCO17

RNG = np.random.default_rng(3)
UNIT = ("AP", "AP50", "AP75", "APM", "APL", "AR", "w_AP", "pck@0.2", "precision", "recall", "idf1", "pck3d", "auc")


def check_scores(r: dict) -> None:
    assert r, "no score returned"
    for k, v in r.items():
        assert isinstance(v, (int, float)) and not isinstance(v, bool), f"{k}: {v!r}"
        assert math.isfinite(v), f"{k} = {v}: a non-finite score"
        if k in ("AP", "AP50", "AP75", "APM", "APL", "AR"):
            assert v == -1.0 or 0.0 <= v <= 1.0, f"{k} = {v}"
        elif k in UNIT:
            assert 0.0 <= v <= 1.0, f"{k} = {v}"
        elif k == "mota":
            assert v <= 1.0, f"mota = {v}"
        else:  # errors, jitter, counts
            assert v >= 0.0, f"{k} = {v}"


def _person(j=17):
    c = RNG.uniform(80, 400, 2)
    xy = (c + RNG.normal(0, 30, (j, 2))).round(1)
    v = RNG.choice([0, 1, 2], j, p=[0.15, 0.15, 0.7]).astype(float)
    xy[v == 0] = 0
    return xy, v


def _coco():
    images, anns, res = [], [], []
    for i in range(2):
        images.append({"id": 100 + i, "width": 640, "height": 480, "file_name": f"{i}.jpg"})
        for _ in range(2):
            xy, v = _person()
            lab = xy[v > 0]
            x0, y0 = lab.min(0)
            x1, y1 = lab.max(0)
            anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": 1, "iscrowd": 0,
                         "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
                         "area": float((x1 - x0) * (y1 - y0) * 0.6), "keypoints": np.c_[xy, v].ravel().tolist(),
                         "num_keypoints": int((v > 0).sum())})
            res.append({"image_id": 100 + i, "category_id": 1, "score": float(RNG.uniform(0.2, 1)),
                        "keypoints": np.c_[xy + RNG.normal(0, 4, xy.shape), np.ones(17)].round(2).ravel().tolist()})
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}, res


COCO_GT, COCO_RES = _coco()


def _synth_and_poses(t=4):
    frames, pframes = [], []
    base = [_person()[0] + [0, 0], _person()[0] + [300, 0]]
    for f in range(t):
        persons, preds = [], []
        for k in range(2):
            xy = (base[k] + f * np.array([2.0, 1.0])).round(1)
            v = np.full(17, 2.0)
            v[k * 3] = 1
            x0, y0 = xy.min(0)
            x1, y1 = xy.max(0)
            persons.append({"track_id": 5 + k, "bbox": [float(x0), float(y0), float(x1), float(y1)],
                            "area": float((x1 - x0) * (y1 - y0)), "keypoints": np.c_[xy, v].tolist(),
                            "occlusion": 0.25 * k})
            preds.append({"track_id": 1 + k, "bbox": [float(x0), float(y0), float(x1), float(y1)],
                          "score": 0.9, "keypoints": np.c_[xy + 1.5, np.full(17, 0.8)].round(2).tolist()})
        frames.append({"index": f, "persons": persons})
        pframes.append({"index": f, "persons": preds})
    sk = {"name": "coco17", "keypoints": list(COCO17.keypoints)}
    synth = {"format": "vidpose.synth/1", "skeleton": sk, "frames": frames}
    poses = {"format": "vidpose.poses/1", "skeleton": sk, "frames": pframes}
    return synth, poses


SYNTH, POSES = _synth_and_poses()
VIDEO_METRICS = ["pck@0.2", "oks_ap", "w_ap", "jitter", "accel", "mota", "idf1", "idsw", "precision", "recall"]


@st.composite
def json_pair(draw, gt, pred):
    """(gt bytes, pred bytes, edits): one or both of the files damaged."""
    which = draw(st.sampled_from(["gt", "pred", "both"]))
    g = draw(json_case(gt)) if which in ("gt", "both") else (dumps(gt), [])
    p = draw(json_case(pred)) if which in ("pred", "both") else (dumps(pred), [])
    return g[0], p[0], [("gt", g[1]), ("pred", p[1])]


def _check_eval_pair(case, metrics, gt_name, pred_name, **kw):
    g, p, edits = case
    note(edits)
    with workdir() as d:
        gp, pp = d / gt_name, d / pred_name
        gp.write_bytes(g)
        pp.write_bytes(p)
        r = expect_clean(lambda: evaluate(gp, pp, metrics, **kw), [gp, pp])
        if r is not None:
            check_scores(r)


@FUZZ
@given(case=json_pair(COCO_GT, COCO_RES))
def test_fuzz_eval_coco(case):
    _check_eval_pair(case, ["oks_ap"], "person_keypoints_gt.json", "results.json")


@FUZZ
@given(case=json_pair(SYNTH, POSES))
def test_fuzz_eval_synth_vs_poses(case):
    _check_eval_pair(case, VIDEO_METRICS, "annotations.json", "poses.json")


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


GT3 = RNG.normal(0, 400, (5, 17, 3)).round(1)
BASE3 = {"gt": GT3, "pred": (GT3 + RNG.normal(0, 30, GT3.shape)).round(1), "skeleton": np.array("h36m17")}


@st.composite
def npz_case(draw):
    tree, edits = draw(edited_tree(BASE3, json=False, max_edits=3))
    arrays = {k: v for k, v in tree.items() if isinstance(v, np.ndarray) or isinstance(v, (int, float, str))}
    data, op = draw(damaged_bytes(_npz(**arrays), text=False))
    root = draw(st.sampled_from(["auto", None, 0, 14]))
    return data, edits + [op], root


@FUZZ
@given(case=npz_case())
def test_fuzz_eval_npz_3d(case):
    data, edits, root = case
    note(edits)
    with workdir() as d:
        p = d / "poses_3d.npz"
        p.write_bytes(data)
        r = expect_clean(lambda: evaluate(p, None, list(METRICS_3D), root_joint=root), [p])
        if r is not None:
            check_scores(r)
