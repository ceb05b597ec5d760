"""Bad stage and model choices through the real command (a subprocess): one clear line, exit 1, no files."""

import subprocess
import sys

import pytest


def vidpose_run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "vidpose.cli", "run", *map(str, args), "--quiet"],
                          capture_output=True, text=True, timeout=timeout)


def expect_clean_failure(r, out, *needles):
    assert r.returncode == 1, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("vidpose: error: "), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in r.stderr
    assert not out.exists()  # nothing written, not even the output folder


@pytest.mark.parametrize("args, needles", [
    (["--refine", "flowing"], ["--refine 'flowing'", "unknown stage", "none"]),
    (["--refine", "none,none"], ["--refine 'none,none'", "'none' cannot be combined"]),
    (["--lift", "nosuch"], ["--lift 'nosuch'", "auto, none, blazepose, blazepose-online, blazepose-smooth, dgnet"]),
    (["--model", "clnet", "--lift", "blazepose"], ["--lift blazepose needs BlazePose's world landmarks", "'clnet'"]),
    (["--model", "clnet", "--trc"], ["--trc writes the 3D keypoints", "no lift stage"]),
    (["--model", "clnet", "--skeleton", "blazepose33"], ["--skeleton blazepose33", "coco17"]),
    (["--model", "nosuchmodel"], ["--model 'nosuchmodel'", "lite, full, heavy", "clnet"]),
    (["--skeleton", "smpl"], ["--skeleton", "coco17, blazepose33, h36m17"]),
])
def test_bad_stage_or_model_choice(clip, tmp_path, args, needles):
    out = tmp_path / "out"
    expect_clean_failure(vidpose_run(clip, "--out", out, *args), out, *needles)


def test_bad_model_paths(clip, tmp_path):
    missing = tmp_path / "weights" / "nope.safetensors"
    r = vidpose_run(clip, "--out", tmp_path / "o1", "--model", missing)
    expect_clean_failure(r, tmp_path / "o1", str(missing), "not found")
    text = tmp_path / "notes.safetensors"
    text.write_text("not a checkpoint\n" * 10)
    expect_clean_failure(vidpose_run(clip, "--out", tmp_path / "o2", "--model", text), tmp_path / "o2", str(text))
    onnx = tmp_path / "broken.onnx"
    onnx.write_bytes(b"\x08\x07garbage" * 50)
    expect_clean_failure(vidpose_run(clip, "--out", tmp_path / "o3", "--model", onnx), tmp_path / "o3", str(onnx),
                  "ONNX")


def test_models_vidpose_run_cannot_run(clip, tmp_path):
    """A clip model (temporal Flowing ConvNets) and a lifter are refused as --model, naming the file."""
    from vidpose.methods import weights_dir

    clip_model = weights_dir() / "flowing_fusion_flow_n3.safetensors"
    expect_clean_failure(vidpose_run(clip, "--out", tmp_path / "a", "--model", clip_model), tmp_path / "a",
                         str(clip_model), "takes clips of 7 frames")
    lifter = weights_dir() / "dgnet_mocap.safetensors"
    expect_clean_failure(vidpose_run(clip, "--out", tmp_path / "b", "--model", lifter), tmp_path / "b",
                         str(lifter), "not a 2D keypoint model", "--lift")


def test_a_single_frame_flowing_model_runs(clip, tmp_path):
    """The single-frame Flowing ConvNets checkpoints run top-down in vidpose run like the other 2D models."""
    import json

    from vidpose.methods import weights_dir

    out = tmp_path / "out"
    r = vidpose_run(clip, "--out", out, "--model", weights_dir() / "flowing_heatmap.safetensors",
                    "--max-frames", "10", "--no-overlay")
    assert r.returncode == 0, r.stderr
    report = json.loads((out / "run.json").read_text())
    assert report["model"]["method"] == "flowing" and report["frames"] == 10
    poses = json.loads((out / "poses.json").read_text())
    assert any(f["persons"] for f in poses["frames"])
