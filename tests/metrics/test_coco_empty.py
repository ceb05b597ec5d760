"""COCO AP on empty input: the documented difference from pycocotools (docs/metrics.md).

pycocotools returns -1 for every stat when the ground truth has no annotation and
cannot load an empty result list at all; vidpose returns 0.0 for both. Everything
else is pycocotools' own number, including its -1 when GT exists but none is usable.
"""

import contextlib
import io
import json

import numpy as np
import pytest

from vidpose.metrics.coco import REPORTED, coco_keypoint_ap
from vidpose.metrics.evaluate import evaluate


def _pycocotools(gt: dict, res: list) -> list[float]:
    """pycocotools' stats; an empty result list is given as an empty detection set."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = json.loads(json.dumps(gt))
        cg.createIndex()
        if res:
            cd = cg.loadRes(json.loads(json.dumps(res)))
        else:
            cd = COCO()
            cd.dataset = {"images": gt["images"], "annotations": [], "categories": gt["categories"]}
            cd.createIndex()
        ev = COCOeval(cg, cd, iouType="keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(x) for x in ev.stats]


def test_pycocotools_cannot_load_an_empty_result_list(coco_pair):
    from pycocotools.coco import COCO

    gt, _ = coco_pair(np.random.default_rng(0))
    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = gt
        cg.createIndex()
        with pytest.raises(IndexError):
            cg.loadRes([])


def test_empty_results_give_zero_like_an_empty_detection_set(coco_pair):
    gt, _ = coco_pair(np.random.default_rng(0))
    ours = coco_keypoint_ap(gt, [])
    assert ours["stats"] == [0.0] * 10
    assert all(ours[k] == 0.0 for k in REPORTED)
    # pycocotools, handed an empty detection set, agrees
    assert _pycocotools(gt, []) == [0.0] * 10


def test_empty_ground_truth_gives_zero_where_pycocotools_gives_minus_one(coco_pair, tmp_path):
    gt, res = coco_pair(np.random.default_rng(1))
    gt["annotations"] = []
    assert _pycocotools(gt, res) == [-1.0] * 10  # pycocotools: "no ground truth"
    ours = coco_keypoint_ap(gt, res)
    assert ours["stats"] == [0.0] * 10 and all(ours[k] == 0.0 for k in REPORTED)
    # the same through `vidpose eval`'s engine, from files
    gp, rp = tmp_path / "gt.json", tmp_path / "res.json"
    gp.write_text(json.dumps(gt))
    rp.write_text(json.dumps(res))
    assert evaluate(gp, rp, ["oks_ap"]) == {k: 0.0 for k in REPORTED}


def test_minus_one_is_kept_when_gt_exists_but_is_unusable(coco_pair):
    """GT present but every person has no labelled joint: pycocotools ignores them all and
    reports -1; vidpose passes that through (only *empty* input is mapped to 0.0)."""
    gt, res = coco_pair(np.random.default_rng(2))
    for a in gt["annotations"]:
        a["keypoints"] = [0.0] * len(a["keypoints"])
        a["num_keypoints"] = 0
    ref = _pycocotools(gt, res)
    assert ref[0] == -1.0
    assert coco_keypoint_ap(gt, res)["stats"] == ref
