"""The overlay is drawn on a shrunk frame (issue 14): its size, where the poses land, and vidpose run's video."""

from __future__ import annotations

import av
import numpy as np
import pytest

from vidpose.errors import InputError
from vidpose.skeletons import COCO17
from vidpose.viz import draw_overlay, draw_poses, overlay_size


def test_overlay_size_caps_the_shorter_side_with_even_sizes():
    assert overlay_size(1768, 994, 720) == (1280, 720)
    assert overlay_size(1920, 1080, 720) == (1280, 720)
    assert overlay_size(1080, 1920, 720) == (720, 1280)  # portrait: the width is the shorter side
    assert overlay_size(640, 360, 720) == (640, 360)  # small videos keep their size
    assert overlay_size(1768, 994, 0) == (1768, 994) and overlay_size(1768, 994, None) == (1768, 994)
    w, h = overlay_size(1001, 999, 500)
    assert w % 2 == 0 and h % 2 == 0


def _person(x0: float, y0: float) -> dict:
    kp = [[x0 + 10 * (j % 4), y0 + 12 * j, 0.9] for j in range(17)]
    return {"track_id": 1, "bbox": [x0 - 5, y0 - 5, x0 + 45, y0 + 210], "score": 0.9, "keypoints": kp}


def test_draw_overlay_draws_full_size_coordinates_on_the_shrunk_frame():
    image = np.zeros((1440, 2560, 3), np.uint8)
    person = _person(1000, 600)
    out = draw_overlay(image, [person], COCO17, max_size=720)
    assert out.shape == (720, 1280, 3)
    ys, xs = np.nonzero(out.any(axis=2))
    # everything drawn lies around the person's half-size position
    assert 480 <= xs.min() and xs.max() <= 560 and 270 <= ys.min() and ys.max() <= 420  # incl. the id label
    # the same as drawing the half-size pose on the half-size frame
    half = {**person, "bbox": [v / 2 for v in person["bbox"]],
            "keypoints": [[x / 2, y / 2, s] for x, y, s in person["keypoints"]]}
    np.testing.assert_array_equal(out, draw_poses(np.zeros((720, 1280, 3), np.uint8), [half], COCO17))
    assert image.max() == 0  # the input is not modified


def test_draw_overlay_full_size_and_bad_input():
    image = np.zeros((100, 120, 3), np.uint8)
    np.testing.assert_array_equal(draw_overlay(image, [_person(10, 5)], COCO17, max_size=0),
                                  draw_poses(image, [_person(10, 5)], COCO17))
    with pytest.raises(InputError):
        draw_overlay(image.astype(np.float32), [], COCO17)


def test_run_config_checks_overlay_size():
    from vidpose.pipeline import RunConfig

    assert RunConfig().overlay_size == 720
    with pytest.raises(InputError, match="--overlay-size"):
        RunConfig(overlay_size=-1)


@pytest.mark.slow
@pytest.mark.parametrize("size, expected", [(None, (1280, 720)), (0, (1768, 994))])
def test_vidpose_run_writes_the_overlay_at_its_size(tmp_path, size, expected):
    from vidpose import store
    from vidpose.cli import main

    clip = store.path("sample-sports2d", quiet=True)
    argv = ["run", str(clip), "--out", str(tmp_path), "--max-frames", "6", "--quiet", "--refine", "none"]
    if size is not None:
        argv += ["--overlay-size", str(size)]
    assert main(argv) == 0
    with av.open(str(tmp_path / "overlay.mp4")) as c:
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height) == expected
        assert sum(1 for _ in c.decode(s)) == 6
