"""Fuzzing the synth annotations reader (``vidpose.data.synth.read_synth`` / ``read_clip``,
``annotations.json`` written by ``vidpose synth``). See fuzzlib.py for the property."""

import numpy as np
from hypothesis import given, note, settings

from fuzzlib import FUZZ, check_dataset, expect_clean, json_case, workdir
from vidpose.data.synth import read_synth
from vidpose.skeletons import COCO17

RNG = np.random.default_rng(4)


def _synth(t=3):
    frames = []
    for f in range(t):
        persons = []
        for k in range(2):
            xy = RNG.uniform(10, 240, (17, 2)).round(1)
            v = RNG.choice([0, 1, 2], 17).astype(float)
            xy[v == 0] = 0
            persons.append({
                "track_id": k, "bbox": [5.0, 6.0, 200.0, 250.0], "area": 1500.0, "occlusion": 0.25,
                "keypoints": np.c_[xy, v].tolist(), "keypoints_3d": RNG.normal(0, 1, (17, 3)).round(3).tolist(),
                "h36m_2d": RNG.uniform(0, 256, (17, 2)).round(1).tolist(),
                "h36m_3d": RNG.normal(0, 1, (17, 3)).round(3).tolist(),
            })
        frames.append({"index": f, "time": f / 30, "persons": persons})
    return {
        "format": "vidpose.synth/1", "split": "synth-single", "subset": "test", "clip": "test_00000", "seed": 0,
        "video": {"width": 256, "height": 256, "fps": 30.0, "num_frames": t, "frames": "frames/{:06d}.jpg"},
        "skeleton": {"name": "coco17", "keypoints": list(COCO17.keypoints)},
        "camera": {"intrinsics": [[300.0, 0.0, 128.0], [0.0, 300.0, 128.0], [0.0, 0.0, 1.0]]},
        "frames": frames,
    }


@settings(FUZZ)
@given(case=json_case(_synth()))
def test_fuzz_read_synth(case):
    data, edits = case
    note(edits)
    with workdir() as d:
        p = d / "synth-single" / "test" / "test_00000" / "annotations.json"
        p.parent.mkdir(parents=True)
        p.write_bytes(data)
        ds = expect_clean(lambda: read_synth(d / "synth-single", "test"), p)
        if ds is not None:
            check_dataset(ds, zero_unlabelled=False)
