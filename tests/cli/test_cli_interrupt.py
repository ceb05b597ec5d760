"""Issue 15 item 2: SIGINT/SIGTERM during ``vidpose run`` and ``vidpose synth``.

The command is started in its own process on real input; the test waits until
it is working (the run's staging folder exists and holds partial files; the
synth clip's temporary folder exists), sends the signal and checks the exit
code (128 + signal: 130 for SIGINT, 143 for SIGTERM) and that no partial file
is left.
"""

from __future__ import annotations

import json
import signal

import pytest

from cli_procs import files_under, noisy_video, start, wait_for

SIGNALS = [pytest.param(signal.SIGINT, 130, id="SIGINT"), pytest.param(signal.SIGTERM, 143, id="SIGTERM")]


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", SIGNALS)
def test_run_interrupted_leaves_no_outputs(tmp_path, sig, code):
    clip = noisy_video(tmp_path / "noise.mp4", n=900, width=160, height=120)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("there before\n")
    p = start("run", clip, "--out", out, "--quiet")

    def working():  # frames are flowing into the staging folder's partial files
        try:
            stages = [d for d in out.glob(".vidpose-run-*") if d.is_dir()]
            return any(f.stat().st_size > 1000 for d in stages for f in d.iterdir())
        except FileNotFoundError:  # a partial file renamed or removed while we looked
            return False

    wait_for(working, p, what="the run's first frames")
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == code, err
    assert "Traceback" not in err
    assert f"vidpose: interrupted ({sig.name})" in err
    assert files_under(out) == ["keep.txt"]


@pytest.mark.parametrize("sig, code", SIGNALS)
def test_synth_interrupted_leaves_no_partial_clip(tmp_path, sig, code):
    out = tmp_path / "out"
    p = start("synth", "--split", "synth-single", "--subset", "train", "--clips", "20", "--frames", "40",
              "--renderer", "2", "--out", out)
    subset = out / "synth-single" / "train"
    # Let one clip finish, then stop the command in the middle of the next one.
    wait_for(lambda: list(subset.glob(".train_00001.*.tmp/frames/*.jpg")), p, what="the second clip's frames")
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == code, err
    assert "Traceback" not in err
    assert f"vidpose: interrupted ({sig.name})" in err
    left = files_under(subset)
    assert not [f for f in left if f.startswith(".")], left  # no temporary clip folder
    # What remains are whole clips: their annotations and every frame they list.
    clips = sorted({f.split("/")[0] for f in left})
    assert clips == ["train_00000"]
    ann = json.loads((subset / "train_00000" / "annotations.json").read_text())
    assert len(ann["frames"]) == 40
    assert len(list((subset / "train_00000" / "frames").glob("*.jpg"))) == 40
