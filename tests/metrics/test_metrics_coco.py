import contextlib
import io
import json

import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.metrics.coco import coco_keypoint_ap
from vidpose.metrics.keypoints import sigmas_for


def pycocotools_stats(gt_path, res_path, sigmas=None):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(str(gt_path))
        ev = COCOeval(cg, cg.loadRes(str(res_path)), iouType="keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = sigmas
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def test_equals_pycocotools_on_files(tmp_path, coco_pair):
    gt, res = coco_pair(np.random.default_rng(0))
    gp, rp = tmp_path / "gt.json", tmp_path / "res.json"
    gp.write_text(json.dumps(gt))
    rp.write_text(json.dumps(res))
    ours = coco_keypoint_ap(gp, rp)
    ref = pycocotools_stats(gp, rp)
    assert ours["stats"] == [float(x) for x in ref]
    assert (ours["AP"], ours["AP50"], ours["AP75"], ours["APM"], ours["APL"], ours["AR"]) == tuple(
        float(ref[i]) for i in (0, 1, 2, 3, 4, 5))
    assert 0.0 < ours["AP"] < 1.0
    # the dict / list form gives the same and does not modify the caller's objects
    before = json.dumps(gt)
    assert coco_keypoint_ap(gt, res)["stats"] == ours["stats"]
    assert json.dumps(gt) == before


def test_custom_sigmas_hie14(tmp_path, coco_pair):
    gt, res = coco_pair(np.random.default_rng(3), num_joints=14)
    gp, rp = tmp_path / "gt.json", tmp_path / "res.json"
    gp.write_text(json.dumps(gt))
    rp.write_text(json.dumps(res))
    s = sigmas_for("hie14")
    ours = coco_keypoint_ap(gp, rp, sigmas=s)
    assert ours["stats"] == [float(x) for x in pycocotools_stats(gp, rp, s)]
    assert 0.0 < ours["AP"] < 1.0
    # larger sigmas make every OKS larger: AP cannot drop
    assert coco_keypoint_ap(gp, rp, sigmas=2 * s)["AP"] >= ours["AP"]
    with pytest.raises(InputError, match="pass sigmas"):
        coco_keypoint_ap(gp, rp)


def test_perfect_and_empty_results(coco_pair):
    gt, _ = coco_pair(np.random.default_rng(1), per_image=2)
    perfect = [{"image_id": a["image_id"], "category_id": 1, "score": 1.0, "keypoints": a["keypoints"]}
               for a in gt["annotations"]]
    assert coco_keypoint_ap(gt, perfect)["AP"] == pytest.approx(1.0)
    empty = coco_keypoint_ap(gt, [])
    assert all(empty[k] == 0.0 for k in ("AP", "AP50", "AP75", "APM", "APL", "AR"))


def test_bad_inputs(tmp_path, coco_pair):
    gt, res = coco_pair(np.random.default_rng(2), num_images=2)
    with pytest.raises(InputError, match=r"image ids not in the ground truth: \[7, 9\]"):
        coco_keypoint_ap(gt, res + [dict(res[0], image_id=9), dict(res[0], image_id=7)])
    bad = json.loads(json.dumps(gt))
    del bad["annotations"][1]["num_keypoints"]
    with pytest.raises(InputError, match=r"annotations\[1\]: missing key 'num_keypoints'"):
        coco_keypoint_ap(bad, res)
    with pytest.raises(InputError, match="keypoints: 16 keypoints, expected 17"):
        coco_keypoint_ap(gt, [dict(res[0], keypoints=res[0]["keypoints"][:48])])
    with pytest.raises(InputError, match="NaN"):
        coco_keypoint_ap(gt, [dict(res[0], keypoints=[float("nan")] * 51)])
    with pytest.raises(InputError, match="category_id"):
        coco_keypoint_ap(gt, [dict(res[0], category_id=5)])
    p = tmp_path / "trunc.json"
    p.write_text(json.dumps(gt)[:100])
    with pytest.raises(InputError, match="trunc.json: not valid JSON"):
        coco_keypoint_ap(p, res)
    with pytest.raises(InputError, match="missing.json: cannot read"):
        coco_keypoint_ap(tmp_path / "missing.json", res)
