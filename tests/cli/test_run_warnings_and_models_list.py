"""`vidpose run` shows vidpose's warnings (issue 15 item 3) and `vidpose models list` shows the trained models."""

import inspect
import subprocess
import sys
import warnings

import pytest

from vidpose.cli import main


def test_run_does_not_silence_warnings():
    from vidpose.cli import run_cmd

    assert "simplefilter" not in inspect.getsource(run_cmd)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with run_cmd.third_party_noise_filtered():
            warnings.warn("libx264 is not available in this PyAV build; writing MPEG-4 Part 2 video", UserWarning)
            warnings.warn("x.mp4: stopped at frame 41 (t=1.367s): truncated", RuntimeWarning)
    # vidpose's own warning passes; the decode stop is printed once by the summary instead
    assert [str(w.message) for w in caught] == [
        "libx264 is not available in this PyAV build; writing MPEG-4 Part 2 video"]
    for category, module in run_cmd.THIRD_PARTY_NOISE:  # every filter names a category and a foreign module
        assert issubclass(category, Warning) and not module.startswith("vidpose")


@pytest.mark.slow
def test_truncated_video_is_reported_once(make_video, tmp_path):
    clip = make_video("long.mp4", n=90, width=160, height=120, faststart=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    r = subprocess.run([sys.executable, "-m", "vidpose.cli", "run", str(cut), "--out", str(tmp_path / "out"),
                        "--quiet", "--no-overlay"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stderr.splitlines() if "stopped at frame" in l]
    assert len(lines) == 1 and lines[0].startswith("vidpose: warning: ") and "cut.mp4" in lines[0], r.stderr


def test_models_list_shows_the_trained_models(capsys):
    from vidpose.methods import PRETRAINED

    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "vidpose run VIDEO --model NAME" in out
    for name in PRETRAINED:
        line = next(l for l in out.splitlines() if l.startswith(name + " "))
        assert "shipped" in line and "trained on: synth-single" in line
    assert "note: trained on synthetic people only: weak on real video" in out
    lifter = next(l for l in out.splitlines() if l.startswith("dgnet "))
    assert "shipped" in lifter and "trained on: synth-3d train clips made by renderer 3" in lifter
    assert "--lift dgnet --skeleton h36m17" in out
