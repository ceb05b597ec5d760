"""Issue 15 item 3: the CLI shows vidpose's own warnings (one line each) instead of hiding them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cli_procs import vidpose
from vidpose.cli import _show_warning
from vidpose.io.video import _pick_codec
from vidpose.errors import InputError


def test_project_warning_is_one_line_on_stderr(tmp_path):
    # 3D ground truth in metres: vidpose warns that 3DPCK thresholds are millimetres.
    rng = np.random.default_rng(0)
    gt = rng.uniform(-0.9, 0.9, (4, 17, 3))
    np.savez(tmp_path / "poses.npz", gt=gt, pred=gt + 0.01)
    r = vidpose("eval", "--gt", tmp_path / "poses.npz", "--metric", "pck3d")
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert [l for l in lines if "looks like metres" in l] == [
        "vidpose: warning: 3D ground truth spans less than 10 units: it looks like metres, but 3DPCK/AUC "
        "thresholds are millimetres (multiply by 1000)"]
    assert not any("warnings.warn" in l or "UserWarning" in l for l in lines), r.stderr


def test_third_party_warning_says_where_it_comes_from(capsys):
    _show_warning(UserWarning("something odd"), UserWarning, np.__file__, 12)
    assert capsys.readouterr().err == f"vidpose: warning: UserWarning from {np.__file__}:12: something odd\n"


def test_demo_does_not_silence_warnings(monkeypatch, capsys, tmp_path):
    """A warning raised inside the demo's pipeline reaches the user as one `vidpose: warning:` line
    (the sample clip itself raises none, so a stage is made to warn)."""
    from vidpose.cli import main
    from vidpose.stages.convert import ConvertStage

    real = ConvertStage.__call__

    def warning_call(self, frame):
        warnings.warn(f"test warning from frame {frame.index}", UserWarning)
        return real(self, frame)

    monkeypatch.setattr(ConvertStage, "__call__", warning_call)
    assert main(["demo", "--out", str(tmp_path / "demo"), "--max-frames", "2", "--no-overlay", "--no-report",
                 "--refine", "none", "--lift", "none", "--quiet"]) == 0
    lines = [l for l in capsys.readouterr().err.splitlines() if "test warning from frame" in l]
    assert lines and all(l.startswith("vidpose: warning: ") for l in lines), lines  # shown, one line each


def test_unknown_encoder_is_a_clear_error_and_other_failures_are_not_hidden():
    with pytest.raises(InputError, match="'no-such-codec' is not available"):
        _pick_codec("no-such-codec")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _pick_codec("mpeg4") == "mpeg4"  # present in every FFmpeg build: no warning
    with pytest.raises(TypeError):  # a programming error is not mistaken for a missing encoder
        _pick_codec(None)
