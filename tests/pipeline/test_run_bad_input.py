"""`vidpose run` on bad input: a clear message naming the input, a non-zero exit, no partial outputs."""

import json

import pytest

from vidpose.cli import main


def run_cli(capsys, *args):
    rc = main(["run", *map(str, args), "--quiet"])
    return rc, capsys.readouterr().err


def test_missing_file(tmp_path, capsys):
    rc, err = run_cli(capsys, tmp_path / "nope.mp4", "--out", tmp_path / "out")
    assert rc == 1 and "nope.mp4" in err and "no such file" in err
    assert not (tmp_path / "out").exists()


def test_text_file_named_mp4(tmp_path, capsys):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 20)
    rc, err = run_cli(capsys, bad, "--out", tmp_path / "out")
    assert rc == 1 and "notes.mp4" in err
    assert not (tmp_path / "out").exists()


def test_zero_frame_video(make_video, tmp_path, capsys):
    empty = make_video("empty.mp4", n=0, start=True)
    rc, err = run_cli(capsys, empty, "--out", tmp_path / "out")
    assert rc == 1 and "empty.mp4" in err and "frame" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_unwritable_output_dir(make_video, tmp_path, capsys):
    clip = make_video("clip.mp4", n=3)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, err = run_cli(capsys, clip, "--out", blocker / "out")
    assert rc == 1 and "cannot write to output directory" in err and str(blocker / "out") in err


@pytest.mark.slow
def test_video_without_people_gives_valid_empty_output(make_video, tmp_path, capsys):
    clip = make_video("squares.mp4", n=12, width=160, height=120)
    out = tmp_path / "out"
    rc, err = run_cli(capsys, clip, "--out", out)
    assert rc == 0, err
    poses = json.loads((out / "poses.json").read_text())
    assert len(poses["frames"]) == 12 and all(f["persons"] == [] for f in poses["frames"])
    assert sorted(p.name for p in out.iterdir()) == ["overlay.mp4", "poses.csv", "poses.json", "report.html", "run.json"]
    assert json.loads((out / "run.json").read_text())["frames_with_person"] == 0


@pytest.mark.slow
def test_truncated_video_decodes_what_it_can_and_says_where_it_stopped(make_video, tmp_path, capsys):
    clip = make_video("long.mp4", n=90, width=160, height=120, faststart=True)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    rc, err = run_cli(capsys, cut, "--out", out)
    assert rc == 0, err
    report = json.loads((out / "run.json").read_text())
    assert 0 < report["frames"] < 90
    assert report["decode_error"] and "stopped" in report["decode_error"]
    assert "warning" in err and "cut.mp4" in err


def test_bad_option_values(tmp_path, capsys):
    rc, err = run_cli(capsys, tmp_path / "x.mp4", "--out", tmp_path, "--skeleton", "smpl")
    assert rc == 1 and "--skeleton" in err
    with pytest.raises(SystemExit):
        main(["run", "x.mp4"])  # --out is required


@pytest.mark.slow
def test_failure_while_finishing_leaves_no_outputs(make_video, tmp_path, monkeypatch):
    """poses.json may already be complete when the last writer fails: still nothing is left."""
    from vidpose.io.poses import TrcWriter
    from vidpose.pipeline import RunConfig, run

    clip = make_video("squares.mp4", n=5, width=160, height=120)
    out = tmp_path / "out"

    def broken_close(self):
        raise OSError("disk full")

    monkeypatch.setattr(TrcWriter, "close", broken_close)
    with pytest.raises(OSError, match="disk full"):
        run(clip, out, RunConfig(trc=True, quiet=True))
    assert not out.exists()  # not even the folder the run created


def test_a_failed_run_leaves_no_output_folder_it_created(make_video, tmp_path):
    """The output folders a run had to create are removed again when it fails; a folder that
    existed before is kept (empty of new files)."""
    from vidpose.pipeline import RunConfig, Stage, run

    class Breaks(Stage):
        name = "breaks"

        def __call__(self, frame):
            if frame.index == 3:
                raise RuntimeError("a stage failed")

    video = make_video("v.mp4", n=10)
    out = tmp_path / "new" / "deeper" / "out"
    with pytest.raises(RuntimeError, match="a stage failed"):
        run(video, out, RunConfig(overlay=False, quiet=True), stages=[Breaks()])
    assert not (tmp_path / "new").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(RuntimeError):
        run(video, kept, RunConfig(overlay=False, quiet=True), stages=[Breaks()])
    assert kept.is_dir() and list(kept.iterdir()) == []


@pytest.mark.parametrize("flag, value, message", [
    ("--threads", "0", "--threads must be an integer >= 1, got 0"),
    ("--max-people", "0", "--max-people must be an integer >= 1, got 0"),
    ("--detect-every", "0", "--detect-every must be an integer >= 1, got 0"),
    ("--track-max-age", "-1", "--track-max-age must be an integer >= 0, got -1"),
    ("--detection-threshold", "nan", "--detection-threshold must be a number in [0, 1], got nan"),
    ("--detection-threshold", "2", "--detection-threshold must be a number in [0, 1], got 2.0"),
    ("--min-score", "5", "--min-score must be a number in [0, 1], got 5.0"),
    ("--fps", "-1", "--fps must be a positive number, got -1.0"),
    ("--fps", "nan", "--fps must be a positive number, got nan"),
])
def test_bad_option_values_are_named_before_anything_runs(make_video, tmp_path, capsys, flag, value, message):
    clip = make_video("clip.mp4", n=3)
    rc, err = run_cli(capsys, clip, "--out", tmp_path / "out", flag, value)
    assert rc == 1 and message in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["overlay.mp4", "poses_track0.trc"])
def test_an_output_name_taken_by_a_folder_fails_with_nothing_written(clip, tmp_path, capsys, name):
    """overlay.mp4 is checked before the run; a track's .trc, named only at the end, before anything is
    moved in: either way no mixed set of old and new outputs is left."""
    out = tmp_path / "out"
    (out / name).mkdir(parents=True)
    rc, err = run_cli(capsys, clip, "--out", out, "--trc", "--lift", "blazepose", "--refine", "none",
                      "--max-frames", "2")
    assert rc == 1 and f"{out / name}: exists and is a folder" in err
    assert sorted(p.name for p in out.iterdir()) == [name]


def test_a_temporal_refinement_named_for_one_image_says_it_changes_nothing(tmp_path):
    import cv2
    import numpy as np

    from vidpose.pipeline import PoseRun, RunConfig

    img = tmp_path / "one.png"
    cv2.imwrite(str(img), np.full((64, 64, 3), 128, np.uint8))
    with pytest.warns(UserWarning, match=r"one.png: one image, so --refine butterworth has no neighbouring frames"):
        pr = PoseRun(img, RunConfig(refine="butterworth", lift="none", overlay=False, quiet=True))
    assert len(list(pr)) == 1


def test_a_second_run_into_the_same_folder_leaves_only_its_own_outputs(clip, tmp_path, capsys):
    """The first run's files that the second does not make (its overlay, csv, report) are removed, as its
    run.json listed them; a file vidpose did not write stays."""
    out = tmp_path / "out"
    assert run_cli(capsys, clip, "--out", out, "--refine", "none", "--lift", "none", "--max-frames", "2")[0] == 0
    first = json.loads((out / "run.json").read_text())["outputs"]
    assert {"overlay.mp4", "poses.csv", "report.html"} <= set(first)
    (out / "notes.txt").write_text("mine")
    assert run_cli(capsys, clip, "--out", out, "--refine", "none", "--lift", "none", "--max-frames", "2",
                   "--no-overlay", "--no-csv", "--no-report")[0] == 0
    second = json.loads((out / "run.json").read_text())["outputs"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*second, "notes.txt"])
