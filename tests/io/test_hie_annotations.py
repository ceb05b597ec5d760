"""vidpose.io.hie: the one HIE layout parser, behind both ``read_hie`` (datasets) and ``parse_hie`` (``vidpose eval``).

Every check is run through both users on a small HIE file written here: each must refuse it
with an InputError naming the file, the exact place in it and the fault.
"""

import copy
import json
import re

import numpy as np
import pytest

from vidpose.data.readers import read_hie
from vidpose.errors import InputError
from vidpose.io.hie import hie_frames
from vidpose.metrics.evaluate import load_any, parse_hie


def _pt(k, x, y, v):
    return {"id": [k], "x": [x], "y": [y], "is_visible": [v]}


def _video():
    return {"annolist": [
        {"image": [{"name": "000001.jpg"}], "annorect": [
            {"x1": [10.0], "y1": [20.0], "x2": [110.0], "y2": [220.0], "track_id": [4],
             "annopoints": [{"point": [_pt(0, 50.0, 30.0, 0), _pt(1, 55.0, 60.0, 1), _pt(13, 99.0, 99.0, -1)]}]},
            # no box: eval takes the labelled joints' extent
            {"track_id": [7], "annopoints": [{"point": [_pt(2, 300.0, 40.0, 0.0), _pt(5, 340.0, 90, 1),
                                                        _pt(6, 320.0, 70.0, 1.0)]}]},  # flags as floats pass
            {"track_id": 9},  # bare values are accepted; nobody labelled, no box
        ]},
        {"image": [{"name": "000002.jpg"}]},  # no annorect: an empty frame
        {"image": {"name": "000003.jpg"}, "annorect": [
            {"track_id": [4], "x1": 1, "y1": 2, "x2": 3, "y2": 4, "annopoints": {"point": [_pt(3, 2.0, 3.0, 0)]}}]},
    ]}


def _write(tmp_path, data, name="vid07.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def test_records_of_a_valid_file(tmp_path):
    frames = hie_frames(_video(), "vid07.json")
    assert [f.image for f in frames] == ["000001.jpg", "000002.jpg", "000003.jpg"]
    assert [[p.track_id for p in f.persons] for f in frames] == [[4, 7, 9], [], [4]]
    a, b, c = frames[0].persons
    np.testing.assert_array_equal(a.bbox, [10, 20, 110, 220])
    assert b.bbox is None and c.bbox is None and frames[2].persons[0].bbox.tolist() == [1, 2, 3, 4]
    assert a.keypoints.shape == (14, 3)
    np.testing.assert_array_equal(a.keypoints[[0, 1, 13]], [[50, 30, 2], [55, 60, 1], [0, 0, 0]])  # 0->2, 1->1, -1->0
    assert not a.keypoints[2:13].any() and not c.keypoints.any()
    np.testing.assert_array_equal(frames[2].persons[0].keypoints[3], [2, 3, 2])


def test_reader_and_eval_read_the_same_people(tmp_path):
    p = _write(tmp_path, _video())
    ds = read_hie(p, tmp_path / "images")
    kind, d = load_any(p)
    assert kind == "hie"
    gt = parse_hie(d, str(p))
    assert ds.sequences == {"vid07": [0, 1, 2]} and sorted(gt.frames) == [0, 1, 2]
    assert ds.frames[2].image == tmp_path / "images" / "vid07" / "000003.jpg"
    for fa, i in zip(ds.frames, range(3)):
        tf = gt.frames[i]
        assert [p.track_id for p in fa.persons] == tf.track_ids.tolist()
        for k, person in enumerate(fa.persons):
            np.testing.assert_array_equal(person.keypoints, tf.keypoints[k])
            if person.bbox is not None:
                np.testing.assert_array_equal(person.bbox, tf.boxes[k])
    # eval's own part: a box from the labelled joints when none is given, its area, the occluded fraction
    f0 = gt.frames[0]
    np.testing.assert_array_equal(f0.boxes[1], [300, 40, 340, 90])
    np.testing.assert_array_equal(f0.boxes[2], [0, 0, 0, 0])
    np.testing.assert_allclose(f0.areas, [100 * 200, 40 * 50, 0])
    np.testing.assert_allclose(gt.occlusion[0], [0.5, 2 / 3, 0.0])
    assert len(gt.frames[1]) == 0 and gt.occlusion[1].shape == (0,)


def _set(path, value):
    def edit(d):
        *head, last = path
        for k in head:
            d = d[k]
        d[last] = value
    return edit


def _drop(path):
    def edit(d):
        *head, last = path
        for k in head:
            d = d[k]
        del d[last]
    return edit


R0 = ("annolist", 0, "annorect", 0)
P = (*R0, "annopoints", 0, "point")

# (edit of the valid file, exact place, fault)
CASES = [
    (_drop(("annolist",)), "annolist", "missing"),
    (_set(("annolist",), {"image": []}), "annolist", "expected a list, got dict"),
    (_set(("annolist", 1), [1, 2]), "annolist[1]", "expected an object, got list"),
    (_drop(("annolist", 1, "image")), "annolist[1].image", "missing"),
    (_set(("annolist", 1, "image"), [{"name": "a.jpg"}, {"name": "b.jpg"}]), "annolist[1].image",
     "expected a one-element list, got 2 elements"),
    (_set(("annolist", 1, "image"), [{}]), "annolist[1].image[0].name", "missing"),
    (_set(("annolist", 1, "image"), [{"name": ""}]), "annolist[1].image[0].name", "expected a non-empty file name"),
    (_set(("annolist", 1, "image"), [{"name": 7}]), "annolist[1].image[0].name", "expected a non-empty file name"),
    (_set(("annolist", 1, "annorect"), {"track_id": [1]}), "annolist[1].annorect", "expected a list, got dict"),
    (_set(("annolist", 0, "annorect", 2), "person"), "annolist[0].annorect[2]", "expected an object, got str"),
    (_drop((*R0, "track_id")), "annolist[0].annorect[0].track_id", "missing"),
    (_set((*R0, "track_id"), [4.5]), "annolist[0].annorect[0].track_id", "expected an integer"),
    (_set((*R0, "track_id"), [4.0]), "annolist[0].annorect[0].track_id", "expected an integer"),
    (_set((*R0, "track_id"), [True]), "annolist[0].annorect[0].track_id", "expected an integer"),
    (_set((*R0, "track_id"), ["4"]), "annolist[0].annorect[0].track_id", "expected an integer"),
    (_set((*R0, "track_id"), [2**63]), "annolist[0].annorect[0].track_id", "expected an integer"),
    (_set((*R0, "track_id"), [4, 5]), "annolist[0].annorect[0].track_id", "expected a one-element list, got 2"),
    (_set(("annolist", 0, "annorect", 1, "track_id"), [4]), "annolist[0].annorect[1].track_id",
     r"track id 4 appears twice in this frame \(also annorect\[0\]\)"),
    (_drop((*R0, "y2")), "annolist[0].annorect[0].x1/y1/x2/y2", r"box is missing some corners \(y2\)"),
    (_set((*R0, "x2"), [5.0]), "annolist[0].annorect[0].x1/y1/x2/y2", "x2 < x1 or y2 < y1"),
    (_set((*R0, "y1"), [500.0]), "annolist[0].annorect[0].x1/y1/x2/y2", "x2 < x1 or y2 < y1"),
    (_set((*R0, "x1"), [float("nan")]), "annolist[0].annorect[0].x1", "non-finite value"),
    (_set((*R0, "y1"), ["20"]), "annolist[0].annorect[0].y1", "expected a number, got '20'"),
    (_set((*R0, "x2"), [[110.0]]), "annolist[0].annorect[0].x2", "expected a number"),
    (_set((*R0, "annopoints"), [{"points": []}]), "annolist[0].annorect[0].annopoints[0].point", "missing"),
    (_set((*R0, "annopoints"), [[]]), "annolist[0].annorect[0].annopoints[0]", "expected an object, got list"),
    (_set((*R0, "annopoints", 0, "point"), {"id": [0]}), "annolist[0].annorect[0].annopoints[0].point",
     "expected a list, got dict"),
    (_set((*P, 1), 3), "annolist[0].annorect[0].annopoints[0].point[1]", "expected an object, got int"),
    (_set((*P, 2, "id"), [14]), "annolist[0].annorect[0].annopoints[0].point[2].id", "joint id 14 outside 0..13"),
    (_set((*P, 2, "id"), [-1]), "annolist[0].annorect[0].annopoints[0].point[2].id", "joint id -1 outside 0..13"),
    (_set((*P, 2, "id"), [0]), "annolist[0].annorect[0].annopoints[0].point[2].id",
     r"joint id 0 appears twice \(first at annolist\[0\]\.annorect\[0\]\.annopoints\[0\]\.point\[0\]\)"),
    (_set((*P, 2, "id"), [2.0]), "annolist[0].annorect[0].annopoints[0].point[2].id", "expected an integer"),
    (_set((*P, 2, "id"), ["2"]), "annolist[0].annorect[0].annopoints[0].point[2].id", "expected an integer"),
    (_drop((*P, 1, "id")), "annolist[0].annorect[0].annopoints[0].point[1].id", "missing"),
    (_drop((*P, 1, "x")), "annolist[0].annorect[0].annopoints[0].point[1].x", "missing"),
    (_drop((*P, 2, "y")), "annolist[0].annorect[0].annopoints[0].point[2].y", "missing"),  # unlabelled still needs x, y
    (_set((*P, 1, "y"), [float("inf")]), "annolist[0].annorect[0].annopoints[0].point[1].y", "non-finite value"),
    (_set((*P, 1, "x"), [1e13]), "annolist[0].annorect[0].annopoints[0].point[1].x", "expected a finite number of magnitude at most 1e\\+12"),
    (_set((*P, 1, "x"), [False]), "annolist[0].annorect[0].annopoints[0].point[1].x", "expected a number, got False"),
    (_set((*P, 1, "x"), [None]), "annolist[0].annorect[0].annopoints[0].point[1].x", "expected a number, got None"),
    (_set((*P, 1, "x"), []), "annolist[0].annorect[0].annopoints[0].point[1].x",
     "expected a one-element list, got 0 elements"),
    (_drop((*P, 0, "is_visible")), "annolist[0].annorect[0].annopoints[0].point[0].is_visible", "missing"),
    (_set((*P, 0, "is_visible"), [2]), "annolist[0].annorect[0].annopoints[0].point[0].is_visible",
     "expected 0, 1 or -1, got 2"),
    (_set((*P, 0, "is_visible"), [True]), "annolist[0].annorect[0].annopoints[0].point[0].is_visible",
     "expected 0, 1 or -1, got True"),
    (_set((*P, 0, "is_visible"), ["0"]), "annolist[0].annorect[0].annopoints[0].point[0].is_visible",
     "expected 0, 1 or -1, got '0'"),
    (_set((*P, 0, "is_visible"), [0.5]), "annolist[0].annorect[0].annopoints[0].point[0].is_visible",
     "expected 0, 1 or -1, got 0.5"),
]


def _as_eval(p):
    kind, d = load_any(p)
    return parse_hie(d, str(p))


@pytest.mark.parametrize("user", [lambda p: read_hie(p, p.parent / "images"), _as_eval], ids=["read_hie", "parse_hie"])
@pytest.mark.parametrize("edit, place, fault", CASES, ids=[f"{c[1]}: {c[2][:30]}" for c in CASES])
def test_every_fault_names_file_place_and_fault(tmp_path, user, edit, place, fault):
    data = copy.deepcopy(_video())
    edit(data)
    p = _write(tmp_path, data)
    if user is _as_eval and "annolist" not in data:  # eval recognises an HIE file by its annolist
        with pytest.raises(InputError, match="unknown format"):
            user(p)
        return
    with pytest.raises(InputError) as e:
        user(p)
    assert re.match(re.escape(f"{p}: {place}: ") + fault, str(e.value)), str(e.value)


def test_not_an_object_at_all():
    with pytest.raises(InputError, match=r"^x\.json: expected an HIE annotation object \(with an annolist\), got list$"):
        hie_frames([], "x.json")
