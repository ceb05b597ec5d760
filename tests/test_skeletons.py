import numpy as np
import pytest

from vidpose.skeletons import (
    BLAZEPOSE33,
    COCO17,
    H36M17,
    HIE14,
    SKELETONS,
    conversion_matrix,
    convert,
    convert_with_scores,
    get_skeleton,
)


@pytest.mark.parametrize("sk", list(SKELETONS.values()), ids=list(SKELETONS))
def test_skeleton_tables_are_consistent(sk):
    assert len(set(sk.keypoints)) == sk.num_keypoints
    perm = sk.flip_permutation()
    assert np.array_equal(perm[perm], np.arange(sk.num_keypoints))  # an involution
    for a, b in sk.flip_pairs:
        na, nb = sk.keypoints[a], sk.keypoints[b]
        assert na.replace("left", "right") == nb or na.replace("mouth_left", "mouth_right") == nb
    # every joint is linked to something
    linked = {i for l in sk.links for i in l}
    assert linked == set(range(sk.num_keypoints))


def test_counts():
    assert (BLAZEPOSE33.num_keypoints, COCO17.num_keypoints, H36M17.num_keypoints, HIE14.num_keypoints) == (33, 17, 17, 14)


def test_blazepose_to_coco_picks_joints_by_name():
    kp = np.arange(33 * 2, dtype=float).reshape(33, 2)
    out = convert(kp, "blazepose33", "coco17")
    for i, name in enumerate(COCO17.keypoints):
        assert np.array_equal(out[i], kp[BLAZEPOSE33.index(name)])


def test_coco_to_h36m_derived_joints():
    kp = np.random.default_rng(0).normal(size=(5, 17, 3))
    out = convert(kp, "coco17", "h36m17")
    c = COCO17.index
    pelvis = (kp[:, c("left_hip")] + kp[:, c("right_hip")]) / 2
    thorax = (kp[:, c("left_shoulder")] + kp[:, c("right_shoulder")]) / 2
    assert np.allclose(out[:, H36M17.index("pelvis")], pelvis)
    assert np.allclose(out[:, H36M17.index("thorax")], thorax)
    assert np.allclose(out[:, H36M17.index("spine")], (pelvis + thorax) / 2)
    assert np.allclose(out[:, H36M17.index("right_knee")], kp[:, c("right_knee")])


def test_composed_conversion_equals_two_steps():
    kp = np.random.default_rng(1).normal(size=(33, 3))
    direct = convert(kp, "blazepose33", "h36m17")
    two = convert(convert(kp, "blazepose33", "coco17"), "coco17", "h36m17")
    assert np.allclose(direct, two)
    assert conversion_matrix("blazepose33", "hie14").shape == (14, 33)


def test_scores_take_the_minimum_of_the_sources():
    kp = np.zeros((17, 3))
    kp[:, 2] = 0.9
    kp[COCO17.index("left_hip"), 2] = 0.2
    out = convert_with_scores(kp, "coco17", "h36m17")
    assert out[H36M17.index("pelvis"), 2] == pytest.approx(0.2)
    assert out[H36M17.index("right_hip"), 2] == pytest.approx(0.9)


def test_bad_conversions_are_named():
    with pytest.raises(ValueError, match="h36m17 to coco17"):
        conversion_matrix("h36m17", "coco17")
    with pytest.raises(ValueError, match="has 33"):
        convert(np.zeros((17, 2)), "blazepose33", "coco17")
    with pytest.raises(ValueError, match="unknown skeleton"):
        get_skeleton("smpl24")
