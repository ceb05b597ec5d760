"""vidpose batch: 6 short clips (one corrupt) with 2 Ray workers; kill half way and resume; bad inputs."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time

import pytest

from vidpose import batch
from vidpose.cli import main
from vidpose.errors import InputError, VidposeError

RUN = ["--model", "lite", "--no-overlay", "--no-report", "--refine", "none", "--max-frames", "10", "--quiet"]
CLIPS = [f"clip{k}.mp4" for k in range(5)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Five 10-frame 480x270 clips cut from the sample clip (two real people), and a corrupt one."""
    import av
    import cv2

    from vidpose import store

    folder = tmp_path_factory.mktemp("clips")
    frames = []
    with av.open(str(store.path("sample-sports2d", quiet=True))) as src:
        for f in src.decode(video=0):
            frames.append(cv2.resize(f.to_ndarray(format="rgb24"), (480, 270), interpolation=cv2.INTER_AREA))
            if len(frames) == 10:
                break
    for name in CLIPS:
        with av.open(str(folder / name), "w") as c:
            s = c.add_stream("libx264", rate=30)
            s.width, s.height, s.pix_fmt = 480, 270, "yuv420p"
            for im in frames:
                for p in s.encode(av.VideoFrame.from_ndarray(im, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    return folder


def _csv(out):
    with open(out / "batch.csv", newline="") as f:
        return {row["video"].rsplit("/", 1)[-1]: row for row in csv.DictReader(f)}



@pytest.mark.slow
def test_six_clips_two_workers(clips, tmp_path, capsys):
    pytest.importorskip("ray", reason="the batch extra (ray) is not installed")
    out = tmp_path / "out"
    rc = main(["batch", str(clips), "--out", str(out), "--workers", "2", *RUN])
    err = capsys.readouterr().err
    assert rc == 1  # one video failed
    assert "6 videos: 5 done, 0 skipped, 1 failed" in err
    assert [l for l in err.splitlines() if l.startswith("vidpose: failed: ")] == [
        l for l in err.splitlines() if "corrupt.mp4: not a readable video" in l and l.startswith("vidpose: failed: ")]
    assert any(l.startswith("vidpose: failed: ") for l in err.splitlines())  # each failure named on stderr
    rows = _csv(out)
    with open(out / "batch.csv", newline="") as f:
        assert next(csv.reader(f)) == ["video", "status", "error", "frames", "persons", "seconds"]
    assert set(rows) == {*CLIPS, "corrupt.mp4"}
    bad = rows["corrupt.mp4"]
    assert bad["status"] == "failed" and "corrupt.mp4: not a readable video" in bad["error"]
    assert bad["frames"] == "" and bad["persons"] == ""
    for name in CLIPS:
        r = rows[name]
        assert r["status"] == "done" and r["error"] == "" and r["frames"] == "10" and int(r["persons"]) >= 1
        assert float(r["seconds"]) > 0
        run = json.loads((out / name[:-4] / "run.json").read_text())
        assert run["frames"] == 10 and run["source"] == str(clips / name)
        assert len(run["track_ids"]) == int(r["persons"])
        assert (out / name[:-4] / "poses.json").is_file()
    assert sorted(p.name for p in out.iterdir()) == sorted(["batch.csv", *(n[:-4] for n in CLIPS)])


@pytest.mark.slow
def test_killed_half_way_and_restarted(clips, tmp_path):
    pytest.importorskip("ray", reason="the batch extra (ray) is not installed")
    out = tmp_path / "out"
    args = [sys.executable, "-m", "vidpose.cli", "batch", str(clips), "--out", str(out), "--workers", "2", *RUN]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("*/run.json")):
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline, "no video finished in 120 s"
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 143, err
    assert "interrupted (SIGTERM)" in err
    assert not list(out.glob(".*")), "hidden leftovers after the kill"
    finished = {d.name: (d / "run.json").stat().st_mtime_ns for d in out.iterdir() if (d / "run.json").is_file()}
    assert 1 <= len(finished) < 5, f"not half way: {sorted(finished)}"
    for d in out.iterdir():  # what is there is complete
        if d.is_dir():
            assert (d / "run.json").is_file() and (d / "poses.json").is_file()

    assert main(["batch", str(clips), "--out", str(out), "--workers", "2", *RUN]) == 1
    rows = _csv(out)
    for name in CLIPS:
        stem = name[:-4]
        if stem in finished:
            assert rows[name]["status"] == "skipped" and rows[name]["frames"] == "10"
            assert (out / stem / "run.json").stat().st_mtime_ns == finished[stem]  # not redone
        else:
            assert rows[name]["status"] == "done"
    assert rows["corrupt.mp4"]["status"] == "failed"
    assert sum(r["status"] == "skipped" for r in rows.values()) == len(finished)


def test_a_finished_folder_is_verified(tmp_path):
    video = tmp_path / "a.mp4"
    video.write_bytes(b"x")
    d = tmp_path / "a"
    d.mkdir()
    (d / "poses.json").write_text("{}")
    run = {"source": str(video), "frames": 3, "outputs": ["poses.json", "run.json"], "track_ids": [0]}
    (d / "run.json").write_text(json.dumps(run))
    assert batch.finished(d, video)["frames"] == 3
    assert batch.finished(d, tmp_path / "other.mp4") is None  # another video's output
    (d / "poses.json").unlink()
    assert batch.finished(d, video) is None  # an output is missing
    (d / "poses.json").write_text("{}")
    (d / "run.json").write_text('{"source": ')
    assert batch.finished(d, video) is None  # truncated run.json


def test_output_names_and_inputs(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a, b, c = tmp_path / "x" / "clip.mp4", tmp_path / "y" / "clip.mp4", tmp_path / "x" / "other.mov"
    for f in (a, b, c):
        f.write_bytes(b"")
    (tmp_path / "x" / "notes.txt").write_text("")
    vids = batch.expand_inputs([str(tmp_path / "x"), str(b), str(a)])
    assert vids == [a, c, b]  # the folder's videos (not notes.txt), duplicates once
    names = batch.output_names(vids)
    assert names[1] == "other" and names[0] != names[2] and names[0].startswith("clip-")
    assert batch.output_names(vids) == names  # the same on a restart
    with pytest.raises(InputError, match="missing.mp4: no such file or folder"):
        batch.expand_inputs([str(a), str(tmp_path / "missing.mp4")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="empty: folder has no video files"):
        batch.expand_inputs([str(empty)])


def test_bad_options_and_out_fail_before_ray(tmp_path, capsys):
    v = tmp_path / "v.mp4"
    v.write_bytes(b"")
    assert main(["batch", str(v), "--out", str(tmp_path / "o"), "--model", "nonesuch"]) == 1
    assert "nonesuch" in capsys.readouterr().err
    (tmp_path / "f").write_text("")
    with pytest.raises(InputError, match="f: exists and is not a folder"):
        batch.run_batch([str(v)], tmp_path / "f")
    with pytest.raises(InputError, match="--workers must be >= 1"):
        batch.run_batch([str(v)], tmp_path / "o", workers=0)
    assert main(["batch", str(v), "--out", str(tmp_path / "o3"), "--max-people", "0"]) == 1
    assert "--max-people must be an integer >= 1, got 0" in capsys.readouterr().err
    # a cluster address that nobody answers fails at once, before any output (port 1: refused)
    with pytest.raises(InputError, match=r"--address 127.0.0.1:1: no Ray cluster answered"):
        batch.run_batch([str(v)], tmp_path / "o4", address="127.0.0.1:1")
    with pytest.raises(InputError, match=r"--address nohost: expected HOST:PORT"):
        batch.run_batch([str(v)], tmp_path / "o4", address="nohost")
    assert not (tmp_path / "o3").exists() and not (tmp_path / "o4").exists()


def test_without_ray_a_clear_message(tmp_path, monkeypatch, capsys):
    v = tmp_path / "v.mp4"
    v.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    with pytest.raises(VidposeError, match=r"pip install 'vidpose\[batch\]'"):
        batch.run_batch([str(v)], tmp_path / "o")
    assert main(["batch", str(v), "--out", str(tmp_path / "o2")]) == 1
    assert "vidpose batch needs Ray: pip install 'vidpose[batch]'" in capsys.readouterr().err
