import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.metrics.coco import coco_keypoint_ap
from vidpose.metrics.evaluate import to_coco
from vidpose.metrics.keypoints import COCO_SIGMAS
from vidpose.metrics.mot import TrackedFrame, mot_metrics, posetrack_map, voc_ap, weighted_oks_ap


def _box_frames(swap_at: int, n: int = 3):
    """Two people walking apart; the prediction swaps their ids from frame ``swap_at``."""
    gt, pred = [], []
    for t in range(n):
        boxes = np.array([[0 + t, 0, 10 + t, 20], [50 - t, 0, 60 - t, 20]], float)
        gt.append(TrackedFrame(track_ids=np.array([1, 2]), boxes=boxes))
        ids = np.array([2, 1]) if t >= swap_at else np.array([1, 2])
        pred.append(TrackedFrame(track_ids=ids, boxes=boxes + 0.5))
    return gt, pred


def test_mot_metrics_id_switch_hand_computed():
    gt, pred = _box_frames(swap_at=2)
    r = mot_metrics(gt, pred)
    # 6 GT boxes, all matched, 2 ID switches: MOTA = 1 - 2/6
    assert r["idsw"] == 2
    assert r["mota"] == pytest.approx(1 - 2 / 6)
    # best identity mapping keeps 4 of 6: IDF1 = 2*4 / (6 + 6)
    assert r["idf1"] == pytest.approx(8 / 12)
    assert r["precision"] == 1.0 and r["recall"] == 1.0
    gt, pred = _box_frames(swap_at=99)
    r = mot_metrics(gt, pred)
    assert r["idsw"] == 0 and r["mota"] == 1.0 and r["idf1"] == 1.0


def test_mot_metrics_max_distance_and_empty():
    g = [TrackedFrame(track_ids=np.array([1]), boxes=np.array([[0, 0, 10, 10.0]]))]
    # IoU 0.4 -> distance 0.6 > 0.5: a miss and a false positive
    p = [TrackedFrame(track_ids=np.array([7]), boxes=np.array([[0, 0, 4, 10.0]]))]
    r = mot_metrics(g, p)
    assert r["num_misses"] == 1 and r["num_false_positives"] == 1 and r["mota"] == -1.0
    p = [TrackedFrame(track_ids=np.array([7]), boxes=np.array([[0, 0, 6, 10.0]]))]  # IoU 0.6
    assert mot_metrics(g, p)["mota"] == 1.0
    empty = [TrackedFrame(track_ids=np.zeros(0, int), boxes=np.zeros((0, 4)))]
    r = mot_metrics(g, empty)
    assert r["mota"] == 0.0 and r["idf1"] == 0.0 and r["precision"] == 0.0 and r["recall"] == 0.0
    with pytest.raises(InputError, match="frames must be aligned"):
        mot_metrics(g, g + g)
    with pytest.raises(InputError, match="distance"):
        mot_metrics(g, g, distance="l2")


def test_mot_metrics_oks_with_id_switch():
    rng = np.random.default_rng(0)
    k = np.concatenate([rng.uniform(0, 100, (2, 17, 2)), np.full((2, 17, 1), 2.0)], -1)
    k[1, :, 0] += 300
    gt, pred = [], []
    for t in range(4):
        gt.append(TrackedFrame(track_ids=np.array([1, 2]), keypoints=k, areas=np.array([5000.0, 5000.0])))
        ids = np.array([5, 6]) if t < 2 else np.array([6, 5])
        pred.append(TrackedFrame(track_ids=ids, keypoints=k[:, :, :2] + 1.0))
    r = mot_metrics(gt, pred, distance="oks", sigmas=COCO_SIGMAS)
    assert r["idsw"] == 2 and r["mota"] == pytest.approx(1 - 2 / 8)
    with pytest.raises(InputError, match="sigmas"):
        mot_metrics(gt, pred, distance="oks")


def test_voc_ap_hand():
    assert voc_ap(np.array([0.5, 1.0]), np.array([1.0, 0.5])) == pytest.approx(0.75)


def test_posetrack_map_hand_computed():
    hb = np.array([[0, 0, 6, 8.0]])  # diagonal 10 -> head size 6 -> hit within 3 px
    gk = np.array([[[10, 10, 2], [20, 20, 2]]], float)
    gt = [TrackedFrame(track_ids=np.array([1]), keypoints=gk, head_boxes=hb) for _ in range(2)]
    p0 = np.array([[[11, 10, 0.9], [30, 20, 0.8]]])  # joint 0 hits, joint 1 misses
    p1 = np.array([[[10, 12, 0.7], [20, 21, 0.6]],  # both hit
                   [[500, 500, 0.95], [500, 500, 0.95]]])  # unmatched person: false positives
    pred = [TrackedFrame(track_ids=np.array([1]), keypoints=p0),
            TrackedFrame(track_ids=np.array([1, 2]), keypoints=p1)]
    r = posetrack_map(gt, pred)
    # joint 0: FP(.95) TP(.9) TP(.7), 2 GT -> AP = 0.5*2/3 + 0.5*2/3
    # joint 1: FP(.95) FP(.8) TP(.6) -> AP = 0.5 * 1/3
    np.testing.assert_allclose(r["per_joint"], [2 / 3, 1 / 6])
    assert r["mAP"] == pytest.approx(5 / 12)
    np.testing.assert_array_equal(r["num_gt"], [2, 2])


def _frames_from_coco(gt, res):
    by_img = {im["id"]: i for i, im in enumerate(gt["images"])}
    g_list = [[] for _ in by_img]
    p_list = [[] for _ in by_img]
    for a in gt["annotations"]:
        g_list[by_img[a["image_id"]]].append(a)
    for r in res:
        p_list[by_img[r["image_id"]]].append(r)
    gf, pf = [], []
    for ga, pa in zip(g_list, p_list):
        gf.append(TrackedFrame(
            track_ids=np.arange(len(ga)),
            boxes=np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                            for a in ga]).reshape(-1, 4),
            keypoints=np.array([a["keypoints"] for a in ga]).reshape(len(ga), 17, 3),
            areas=np.array([a["area"] for a in ga])))
        pf.append(TrackedFrame(track_ids=np.arange(len(pa)),
                             keypoints=np.array([r["keypoints"] for r in pa]).reshape(len(pa), 17, 3),
                             scores=np.array([r["score"] for r in pa])))
    return gf, pf


@pytest.mark.parametrize("seed", [0, 5])
def test_w_ap_with_unit_weights_equals_pycocotools_ap(seed, coco_pair):
    from vidpose.metrics.coco import coco_keypoint_ap

    rng = np.random.default_rng(seed)
    gt, res = coco_pair(rng, num_images=5)
    # one GT without labelled joints: COCO ignores it (and detections matched to it)
    a = gt["annotations"][0]
    a["keypoints"] = [0.0] * 51
    a["num_keypoints"] = 0
    gf, pf = _frames_from_coco(gt, res)
    ours = weighted_oks_ap(gf, pf, COCO_SIGMAS)
    ref = coco_keypoint_ap(gt, res)
    assert ours["w_AP"] == pytest.approx(ref["AP"], abs=1e-12)
    assert ours["w_AP50"] == pytest.approx(ref["AP50"], abs=1e-12)
    assert ours["w_AP75"] == pytest.approx(ref["AP75"], abs=1e-12)


def test_w_ap_weights_hand_computed():
    rng = np.random.default_rng(0)
    k = np.concatenate([rng.uniform(0, 100, (3, 17, 2)), np.full((3, 17, 1), 2.0)], -1)
    k[1, :, 0] += 300
    k[2, :, 0] += 600
    g = TrackedFrame(track_ids=np.arange(3), keypoints=k, areas=np.full(3, 4000.0))
    p = TrackedFrame(track_ids=np.array([0]), keypoints=k[:1], scores=np.array([0.9]))
    # unit weights: recall 1/3 at precision 1 -> 34 of 101 recall points
    assert weighted_oks_ap([g], [p], COCO_SIGMAS)["w_AP"] == pytest.approx(34 / 101)
    g.weights = np.array([4.0, 1.0, 1.0])
    # the found person weighs 4 of 6: recall 2/3 -> 67 of 101 points
    assert weighted_oks_ap([g], [p], COCO_SIGMAS)["w_AP"] == pytest.approx(67 / 101)
    g.weights = np.array([-1.0, 1.0, 1.0])
    with pytest.raises(InputError, match="weights"):
        weighted_oks_ap([g], [p], COCO_SIGMAS)
    g.weights = None
    with pytest.raises(InputError, match="scores"):
        weighted_oks_ap([g], [TrackedFrame(track_ids=np.array([0]), keypoints=k[:1])], COCO_SIGMAS)


def test_to_coco_roundtrip_matches_frames(coco_pair):
    gt, res = coco_pair(np.random.default_rng(4), num_images=2)
    gf, pf = _frames_from_coco(gt, res)
    g2, r2 = to_coco([0, 1], gf, pf)
    assert len(g2["annotations"]) == len(gt["annotations"]) and len(r2) == len(res)
    pos = {im["id"]: i for i, im in enumerate(gt["images"])}  # to_coco's image id = the frame's position
    key = lambda a: (a["image_id"], list(a["keypoints"]))  # noqa: E731
    for a, b in zip(sorted(gt["annotations"], key=lambda a: (pos[a["image_id"]], list(a["keypoints"]))),
                    sorted(g2["annotations"], key=key)):
        assert b["image_id"] == pos[a["image_id"]]
        np.testing.assert_allclose(b["bbox"], a["bbox"])
        np.testing.assert_allclose(b["area"], a["area"])
        np.testing.assert_allclose(b["keypoints"], a["keypoints"])
    for a, b in zip(sorted(res, key=lambda r: (pos[r["image_id"]], r["score"])), sorted(r2, key=lambda r: (r["image_id"], r["score"]))):
        assert b["image_id"] == pos[a["image_id"]] and b["score"] == pytest.approx(a["score"])
        np.testing.assert_allclose(b["keypoints"], a["keypoints"])
    # and pycocotools scores the round trip exactly as the original
    assert coco_keypoint_ap(g2, r2)["stats"] == coco_keypoint_ap(gt, res)["stats"]
