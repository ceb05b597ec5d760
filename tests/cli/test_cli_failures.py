"""Issue 15 item 1: any failure of any command -> one line on stderr naming the file, exit 1, no partial outputs.

Every test runs ``vidpose`` in its own process on real files. A full disk is
the process's file-size limit (RLIMIT_FSIZE): writing past it fails with
EFBIG, the way writing to a full disk fails with ENOSPC (works as root too,
where read-only folders do not stop anyone).
"""

from __future__ import annotations

import json

import pytest

from cli_procs import files_under, noisy_video, vidpose


def one_error_line(err: str) -> str:
    lines = [l for l in err.splitlines() if l.strip()]
    assert "Traceback" not in err, err
    errors = [l for l in lines if l.startswith("vidpose: error: ")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.mark.slow
def test_run_disk_full_while_writing(tmp_path):
    clip = noisy_video(tmp_path / "noise.mp4", n=20)
    out = tmp_path / "out"
    r = vidpose("run", clip, "--out", out, "--quiet", file_size_limit=64 * 1024)
    assert r.returncode == 1, r.stderr
    line = one_error_line(r.stderr)
    assert "overlay.mp4" in line and "File too large" in line and str(out) in line
    assert files_under(out) == []  # not even the hidden staging folder


@pytest.mark.slow
def test_run_disk_full_in_the_json_writer(tmp_path):
    # Without the overlay, the first file to outgrow the limit is poses.csv or poses.json.
    clip = noisy_video(tmp_path / "noise.mp4", n=20)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("a file that was there before\n")
    r = vidpose("run", clip, "--out", out, "--quiet", "--no-overlay", "--no-csv", file_size_limit=600)
    assert r.returncode == 1, r.stderr
    line = one_error_line(r.stderr)
    assert "poses.json" in line and "File too large" in line
    assert files_under(out) == ["keep.txt"]


def test_run_output_under_a_regular_file(tmp_path):
    clip = noisy_video(tmp_path / "noise.mp4", n=2)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = vidpose("run", clip, "--out", blocker / "out", "--quiet")
    assert r.returncode == 1
    assert str(blocker / "out") in one_error_line(r.stderr)


def test_synth_output_under_a_regular_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = vidpose("synth", "--split", "synth-single", "--subset", "train", "--clips", "1", "--frames", "2",
                "--renderer", "2", "--out", blocker / "out")
    assert r.returncode == 1
    line = one_error_line(r.stderr)
    assert str(blocker / "out") in line and "Not a directory" in line


def test_synth_disk_full(tmp_path):
    out = tmp_path / "out"
    r = vidpose("synth", "--split", "synth-single", "--subset", "train", "--clips", "2", "--frames", "3",
                "--renderer", "2", "--out", out, file_size_limit=8 * 1024)
    assert r.returncode == 1, r.stderr
    line = one_error_line(r.stderr)
    assert "File too large" in line and str(out) in line
    # The clip being written is removed whole; nothing else was complete.
    assert [f for f in files_under(out) if f.endswith(".jpg") or f.endswith(".json")] == []
    assert not [f for f in files_under(out) if "/." in "/" + f]  # no hidden temporary folder


def _eval_inputs(tmp_path):
    gt = {"images": [{"id": 1, "width": 100, "height": 100}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 900.0,
                           "bbox": [10, 10, 30, 30], "num_keypoints": 17,
                           "keypoints": [v for k in range(17) for v in (20 + k, 20 + k, 2)]}],
          "categories": [{"id": 1, "name": "person"}]}
    pred = [{"image_id": 1, "category_id": 1, "score": 0.9,
             "keypoints": [v for k in range(17) for v in (20 + k, 21 + k, 1)]}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    return tmp_path / "gt.json", tmp_path / "pred.json"


def test_eval_json_output_under_a_regular_file(tmp_path):
    gt, pred = _eval_inputs(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = vidpose("eval", "--gt", gt, "--pred", pred, "--metric", "oks_ap", "--json", blocker / "scores.json")
    assert r.returncode == 1
    line = one_error_line(r.stderr)
    assert str(blocker / "scores.json") in line
    assert files_under(tmp_path) == ["file", "gt.json", "pred.json"]


def test_eval_json_output_disk_full(tmp_path):
    gt, pred = _eval_inputs(tmp_path)
    r = vidpose("eval", "--gt", gt, "--pred", pred, "--metric", "oks_ap", "--json", tmp_path / "scores.json",
                file_size_limit=16)
    assert r.returncode == 1, r.stderr
    line = one_error_line(r.stderr)
    assert str(tmp_path / "scores.json") in line and "File too large" in line
    assert files_under(tmp_path) == ["gt.json", "pred.json"]


def test_unreadable_input_is_one_line(tmp_path):
    gt, _ = _eval_inputs(tmp_path)
    (tmp_path / "folder.json").mkdir()  # a folder where a file is expected
    r = vidpose("eval", "--gt", gt, "--pred", tmp_path / "folder.json", "--metric", "oks_ap")
    assert r.returncode == 1
    assert "folder.json" in one_error_line(r.stderr)
