"""report.html: content, decimation, bad inputs, and vidpose run / vidpose report writing it."""

from __future__ import annotations

import json
import re

import pytest

from report_folders import write_output_folder
from vidpose import report
from vidpose.cli import main
from vidpose.errors import InputError


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="vidpose-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_page_is_self_contained_and_has_the_data(out_folder):
    path = report.write_report(out_folder)
    page = path.read_text()
    assert path == out_folder / "report.html"
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "") and "https://" not in page
    assert "<script src" not in page  # nothing loaded from elsewhere
    d = _data(page)
    assert [t["id"] for t in d["tracks"]] == [0, 1]
    t0, t1 = d["tracks"]
    assert t0["frames"] == 60 and t1["frames"] == 40 and sum(t1["presence"]) == 40
    assert set(t0["angles"]) == {"left knee", "right knee", "left elbow", "right elbow", "left hip", "right hip"}
    # A straight-ish elbow: shoulder (0.18,-0.5), elbow (0.22,-0.22), wrist (0.24,0.02) -> about 178 degrees
    assert 170 < t0["angles"]["left elbow"][0] <= 180
    assert t0["median_speed"] == pytest.approx(30 * 150 * 0 + 30, rel=0.05)  # the person drifts 30 px/s
    assert t0["jitter_px_median"] is not None and t0["jitter_px_median"] < 5
    assert len(d["view3d"]["frames"]) == 60 and d["view3d"]["frames"][0]["p"][0]["id"] == 0
    assert d["run"]["seconds"]["estimate"] == 3.0 and d["overlay"] is None


def test_long_videos_are_decimated(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "MAX_TIMELINE_POINTS", 20)
    monkeypatch.setattr(report, "MAX_3D_FRAMES", 10)
    folder = write_output_folder(tmp_path / "o", n=100)
    d = _data(report.write_report(folder).read_text())
    assert d["timeline_stride"] == 5 and len(d["time"]) == 20 and len(d["tracks"][0]["presence"]) == 20
    assert d["view3d"]["stride"] == 10 and len(d["view3d"]["frames"]) == 10
    assert d["tracks"][0]["frames"] == 100  # statistics on every frame


def test_without_3d_and_without_run_json(tmp_path):
    folder = write_output_folder(tmp_path / "o", with_3d=False)
    (folder / "run.json").unlink()
    (folder / "overlay.mp4").write_bytes(b"")
    d = _data(report.write_report(folder).read_text())
    assert d["view3d"] is None and d["run"] is None and d["overlay"] == "overlay.mp4"


def test_bad_inputs_name_the_input_and_the_fault(tmp_path, capsys):
    with pytest.raises(InputError, match=r"missing.*no such output folder"):
        report.write_report(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="file: not a folder"):
        report.write_report(tmp_path / "file")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 1
    assert "empty: no poses.json in this folder" in capsys.readouterr().err
    assert not (empty / "report.html").exists()
    bad = write_output_folder(tmp_path / "bad")
    (bad / "poses.json").write_text('{"format": "vidpose.poses/1", "frames": [')
    with pytest.raises(InputError, match="poses.json: not valid JSON"):
        report.write_report(bad)
    bad2 = write_output_folder(tmp_path / "bad2")
    (bad2 / "run.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="run.json: must be a JSON object"):
        report.write_report(bad2)
    assert not (bad / "report.html").exists() and not (bad2 / "report.html").exists()


def test_report_command(out_folder, tmp_path, capsys):
    assert main(["report", str(out_folder), "--output", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").stat().st_size > 10_000
    assert "r.html" in capsys.readouterr().err


@pytest.mark.slow  # the real BlazePose models
def test_vidpose_run_writes_the_report_outside_the_fps_figure(make_video, tmp_path):
    clip = make_video("clip.mp4", n=6)
    out = tmp_path / "run"
    assert main(["run", str(clip), "--out", str(out), "--quiet", "--model", "lite", "--no-overlay"]) == 0
    run = json.loads((out / "run.json").read_text())
    assert (out / "report.html").is_file() and "report.html" in run["outputs"]
    assert run["report_seconds"] > 0 and "report" not in run["seconds"]
    assert run["fps"] == pytest.approx(run["frames"] / run["wall_seconds"], rel=0.01)
    assert not [p for p in out.iterdir() if p.name.startswith(".vidpose-run-")]
    out2 = tmp_path / "run2"
    assert main(["run", str(clip), "--out", str(out2), "--quiet", "--model", "lite", "--no-overlay",
                 "--no-report"]) == 0
    run2 = json.loads((out2 / "run.json").read_text())
    assert not (out2 / "report.html").exists() and "report_seconds" not in run2


def test_text_from_the_files_cannot_break_out_of_the_page(tmp_path):
    folder = write_output_folder(tmp_path / "o")
    run = json.loads((folder / "run.json").read_text())
    run["source"] = "</script><script>alert(1)</script><!--"
    run["fps"] = float("nan")  # Python's json writes NaN; the page must still be valid JSON
    (folder / "run.json").write_text(json.dumps(run))
    page = report.write_report(folder).read_text()
    assert "<script>alert" not in page and page.count("</script>") == 2
    d = _data(page)
    assert d["run"]["source"] == "</script><script>alert(1)</script><!--" and d["run"]["fps"] is None


def test_many_tracks_keep_the_page_small_and_the_timelines_aligned(tmp_path, monkeypatch):
    """A track's timelines cover its own span (from timeline sample ``start``): 40 short tracks over a long
    video cost about what 2 long ones do, and each series still sits at its own frames."""
    monkeypatch.setattr(report, "MAX_TIMELINE_POINTS", 50)
    folder = write_output_folder(tmp_path / "o", n=400)
    poses = json.loads((folder / "poses.json").read_text())
    for f in poses["frames"]:
        for p in f["persons"]:
            p["track_id"] = p["track_id"] * 100 + f["index"] // 20  # a new id every 20 frames
    (folder / "poses.json").write_text(json.dumps(poses))
    d = _data(report.write_report(folder).read_text())
    assert d["timeline_stride"] == 8 and len(d["tracks"]) > 30
    for t in d["tracks"]:
        first = min(f["index"] for f in poses["frames"] for p in f["persons"] if p["track_id"] == t["id"])
        assert t["start"] == -(-first // 8) and len(t["presence"]) <= 20 // 8 + 1
        assert all(v == 1 for v in t["presence"])  # every sample of a track's span is one of its frames


def test_a_placeholder_in_a_file_name_stays_text(tmp_path):
    folder = write_output_folder(tmp_path / "o")
    poses = json.loads((folder / "poses.json").read_text())
    poses["video"]["path"] = "/clips/a%DATA%b%JS%.mp4"
    (folder / "poses.json").write_text(json.dumps(poses))
    page = report.write_report(folder).read_text()
    assert "<title>vidpose report: a%DATA%b%JS%.mp4</title>" in page and page.count('id="vidpose-data"') == 1


def test_report_command_joins_the_folders_outputs_and_names_bad_fields(out_folder, tmp_path, capsys):
    folder = write_output_folder(tmp_path / "o")
    run = json.loads((folder / "run.json").read_text())
    run["outputs"] = ["poses.json", "run.json"]
    (folder / "run.json").write_text(json.dumps(run))
    assert main(["report", str(folder)]) == 0
    assert json.loads((folder / "run.json").read_text())["outputs"] == ["poses.json", "report.html", "run.json"]
    (tmp_path / "dir.html").mkdir()
    assert main(["report", str(folder), "--output", str(tmp_path / "dir.html")]) == 1
    assert "--output " + str(tmp_path / "dir.html") + ": is a folder" in capsys.readouterr().err
    poses = json.loads((folder / "poses.json").read_text())
    poses["frames"][3]["time"] = None
    (folder / "poses.json").write_text(json.dumps(poses))
    (folder / "report.html").unlink()
    assert main(["report", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "poses.json: " in err and "internal error" not in err and not (folder / "report.html").exists()
