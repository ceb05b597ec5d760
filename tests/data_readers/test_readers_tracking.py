"""PoseTrack18 per-video JSON and HIE20 per-video JSON (PoseTrack17-like)."""

import json

import numpy as np
import pytest

from vidpose.data.readers import POSETRACK17_KEYPOINTS, read_hie, read_posetrack18
from vidpose.errors import InputError
from vidpose.skeletons import HIE14


def _pt_video(vid="000342", base=10003420000, frames=3, labeled=(True, False, True)):
    images = [
        {"id": base + i, "frame_id": base + i, "vid_id": vid, "nframes": frames, "is_labeled": labeled[i],
         "file_name": f"images/val/{vid}_mpii_test/{i:06d}.jpg"}
        for i in range(frames)
    ]
    # Listed out of order on purpose: frames are ordered by frame_id.
    images = images[::-1]
    kps = [0.0] * 51
    kps[0:3] = [100.0, 50.0, 1]
    kps[6:9] = [101.0, 20.0, 1]
    kps[9:12] = [77.0, 77.0, 0]
    anns = [
        {"id": 1, "image_id": base, "track_id": 0, "category_id": 1, "keypoints": kps,
         "bbox": [90.0, 10.0, 40.0, 120.0], "bbox_head": [95.0, 12.0, 10.0, 12.0], "scores": []},
        {"id": 2, "image_id": base, "track_id": 3, "category_id": 1, "keypoints": [0.0] * 51},
        {"id": 3, "image_id": base + 2, "track_id": 0, "category_id": 1, "keypoints": kps,
         "bbox": [91.0, 10.0, 40.0, 120.0]},
    ][: 3 if frames > 2 else 2]
    cats = [{"id": 1, "name": "person", "keypoints": list(POSETRACK17_KEYPOINTS), "skeleton": []}]
    return {"images": images, "annotations": anns, "categories": cats}


def test_read_posetrack18_dir_values(tmp_path):
    d = tmp_path / "annotations" / "val"
    d.mkdir(parents=True)
    (d / "000342_mpii_test.json").write_text(json.dumps(_pt_video()))
    (d / "000522_mpii_test.json").write_text(json.dumps(_pt_video("000522", 10005220000, 2, (True, True))))
    ds = read_posetrack18(d, tmp_path)
    assert ds.name == "posetrack18" and ds.skeleton == "posetrack17" and ds.keypoint_names == POSETRACK17_KEYPOINTS
    assert ds.sequences == {"000342": [0, 1], "000522": [2, 3]}  # unlabelled frame 1 of 000342 left out
    f0, f2 = ds.frames[0], ds.frames[1]
    assert f0.index == 0 and f2.index == 2 and f0.image_id == 10003420000
    assert f0.image == tmp_path / "images/val/000342_mpii_test/000000.jpg"
    a, b = f0.persons
    assert a.track_id == 0 and b.track_id == 3
    np.testing.assert_allclose(a.keypoints[0], [100, 50, 2])  # 1 -> 2
    np.testing.assert_allclose(a.keypoints[3], [0, 0, 0])  # unlabelled ear
    np.testing.assert_allclose(a.bbox, [90, 10, 130, 130])
    np.testing.assert_allclose(a.extra["head_box"], [95, 12, 105, 24])
    assert b.bbox is None and (b.keypoints == 0).all()
    np.testing.assert_allclose(f2.persons[0].bbox, [91, 10, 131, 130])

    full = read_posetrack18(d / "000342_mpii_test.json", tmp_path, labeled_only=False)
    assert full.sequences == {"000342": [0, 1, 2]} and full.frames[1].persons == []
    assert [f.extra["labeled"] for f in full.frames] == [True, False, True]


def test_posetrack18_ignore_regions_and_clips_over_every_frame(tmp_path):
    """The unannotated people's polygons are kept; the training loader keeps unlabelled frames so that a
    clip's neighbours are the video's, and a sequence that skips frames is refused by the clip objective."""
    from vidpose.data.loaders import DataConfig, load_dataset
    from vidpose.data.topdown import TopDownDataset
    from vidpose.objectives.clips import ClipDataset

    d = _pt_video()
    d["images"][-1]["ignore_regions_x"] = [[10, 20, 20], []]  # images are listed in reverse: the first frame
    d["images"][-1]["ignore_regions_y"] = [[5, 5, 30], []]
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "000342_mpii_test.json").write_text(json.dumps(d))
    ds = read_posetrack18(tmp_path / "val", tmp_path)
    (poly,) = ds.frames[0].extra["ignore_regions"]
    np.testing.assert_allclose(poly, [[10, 5], [20, 5], [20, 30]])
    with pytest.raises(InputError, match=r"sequence '000342' skips frames \(frame 0, then 2\)"):
        ClipDataset(TopDownDataset(ds, (64, 48)), 3)
    loaded = load_dataset(DataConfig(dataset="posetrack18", root=str(tmp_path), ann_file="{subset}"), "val")
    assert loaded.sequences == {"000342": [0, 1, 2]}
    ClipDataset(TopDownDataset(loaded, (64, 48)), 3)  # every frame: accepted


def test_a_coco_file_with_other_17_names_is_not_coco17(tmp_path):
    from vidpose.data.readers import read_coco

    gt = {"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [1, 1, 2] * 17,
                           "bbox": [0, 0, 5, 5], "area": 25, "iscrowd": 0}],
          "categories": [{"id": 1, "name": "person", "keypoints": list(POSETRACK17_KEYPOINTS)}]}
    (tmp_path / "pt.json").write_text(json.dumps(gt))
    ds = read_coco(tmp_path / "pt.json", tmp_path)
    assert ds.skeleton != "coco17" and ds.keypoint_names == POSETRACK17_KEYPOINTS


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d["annotations"][0].pop("track_id"), r"annotations\[0\]\.track_id: missing"),
        (lambda d: d["annotations"][2].__setitem__("keypoints", [0.0] * 45), r"annotations\[2\]\.keypoints: expected 51"),
        (lambda d: d["annotations"][0]["keypoints"].__setitem__(1, float("nan")), r"annotations\[0\]\.keypoints: non-finite"),
        (lambda d: d["annotations"][0].__setitem__("bbox_head", [1, 2, -3, 4]), r"annotations\[0\]\.bbox_head: negative"),
        (lambda d: d["annotations"][1].__setitem__("image_id", 5), r"annotations\[1\]\.image_id: 5 is not an id"),
        (lambda d: d["images"][0].pop("file_name"), r"images\[0\]\.file_name: missing"),
    ],
)
def test_read_posetrack18_malformed(tmp_path, mutate, match):
    d = _pt_video()
    mutate(d)
    p = tmp_path / "000342_mpii_test.json"
    p.write_text(json.dumps(d))
    with pytest.raises(InputError, match=match) as e:
        read_posetrack18(p, tmp_path)
    assert str(p) in str(e.value)


def _hie_point(k, x, y, v):
    return {"id": [k], "x": [x], "y": [y], "is_visible": [v]}


def _hie_video():
    return {"annolist": [
        {"image": [{"name": "000001.jpg"}], "annorect": [
            {"x1": [10.0], "y1": [20.0], "x2": [110.0], "y2": [220.0], "track_id": [4],
             "annopoints": [{"point": [_hie_point(0, 50.0, 30.0, 0), _hie_point(1, 55.0, 60.0, 1),
                                       _hie_point(13, 99.0, 99.0, -1)]}]},
            {"track_id": [7], "annopoints": []},
        ]},
        {"image": [{"name": "000002.jpg"}], "annorect": []},
    ]}


def test_read_hie_values(tmp_path):
    d = tmp_path / "labels"
    d.mkdir()
    (d / "17.json").write_text(json.dumps(_hie_video()))
    ds = read_hie(d, tmp_path / "images")
    assert ds.skeleton == "hie14" and ds.keypoint_names == HIE14.keypoints and ds.name == "hie"
    assert ds.sequences == {"17": [0, 1]} and ds.frames[1].persons == []
    f = ds.frames[0]
    assert f.image == tmp_path / "images" / "17" / "000001.jpg" and f.image_id == "17/000001.jpg"
    a, b = f.persons
    assert a.track_id == 4 and b.track_id == 7 and b.bbox is None and (b.keypoints == 0).all()
    np.testing.assert_allclose(a.bbox, [10, 20, 110, 220])
    np.testing.assert_allclose(a.keypoints[0], [50, 30, 2])  # 0 visible -> 2
    np.testing.assert_allclose(a.keypoints[1], [55, 60, 1])  # 1 invisible -> 1
    np.testing.assert_allclose(a.keypoints[13], [0, 0, 0])  # -1 unlabelled -> 0
    assert (a.keypoints[2:13] == 0).all()


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda r: r["annopoints"][0]["point"].append(_hie_point(14, 1.0, 1.0, 0)), r"point\[3\]\.id: joint id 14"),
        (lambda r: r["annopoints"][0]["point"][0].__setitem__("is_visible", [2]), r"point\[0\]\.is_visible: expected 0, 1 or -1"),
        (lambda r: r["annopoints"][0]["point"][1].pop("x"), r"point\[1\]\.x: missing"),
        (lambda r: r["annopoints"][0]["point"][1].__setitem__("y", [float("nan")]), r"point\[1\]\.y: non-finite"),
        (lambda r: r.pop("y2"), r"annorect\[0\]\.x1/y1/x2/y2: box is missing"),
        (lambda r: r.pop("track_id"), r"annorect\[0\]\.track_id: missing"),
    ],
)
def test_read_hie_malformed(tmp_path, mutate, match):
    v = _hie_video()
    mutate(v["annolist"][0]["annorect"][0])
    p = tmp_path / "3.json"
    p.write_text(json.dumps(v))
    with pytest.raises(InputError, match=match) as e:
        read_hie(p, tmp_path)
    assert str(p) in str(e.value) and "annolist[0].annorect[0]" in str(e.value)
