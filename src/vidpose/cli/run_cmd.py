"""``vidpose run SOURCE --out DIR``: every RunConfig field is a flag."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """One flag per RunConfig field, so the CLI and the Python API take the same options."""
    from vidpose.methods import PRETRAINED
    from vidpose.pipeline import RunConfig
    from vidpose.skeletons import OUTPUT_SKELETONS
    from vidpose.stages import LIFTERS, REFINERS
    from vidpose.stages.estimate import BLAZEPOSE_MODELS

    defaults = RunConfig()
    helps = {
        "skeleton": "2D output skeleton: " + "; ".join(f"{k} ({v})" for k, v in OUTPUT_SKELETONS.items()),
        "model": f"BlazePose landmark model ({', '.join(BLAZEPOSE_MODELS)}), a shipped trained 2D model "
                 f"({', '.join(PRETRAINED)}; trained on synthetic people only, weak on real video) or a path "
                 "to a .safetensors checkpoint or .onnx export (run top-down with BlazePose's person detector)",
        "max_people": "most people estimated per frame",
        "detect_every": "run the person detector every N frames (and whenever someone is lost)",
        "detection_threshold": "person detector score threshold (default: the detector's own, blazepose 0.5, "
                               "bodydet 0.25)",
        "detector": "person detector: blazepose (MediaPipe's, anchored on the face) or bodydet (MoveNet "
                    "MultiPose: whole bodies, no face needed; see docs/bodydet.md)",
        "detector_size": "bodydet's input: the frame's longer side in pixels (a multiple of 32; larger finds "
                         "smaller people, at a cost)",
        "detector_tiles": "BlazePose's detector also looks at square tiles of a wide (or tall) frame, where "
                          "people look larger to it (2 tiles on 16:9; on the detector's schedule only)",
        "track_max_age": "frames a lost track is remembered before its id is retired",
        "min_track_frames": "a track is output only once it has a pose in this many frames, which drops the "
                            "brief poses made of a tree or someone's limbs (delay: N - 1 frames); default "
                            "3 for files and image folders, 1 (off) for webcams",
        "refine": "temporal refinement stages, in order: auto, none, or NAME[,NAME...] of: "
                  + "; ".join(f"{k} ({c.description})" for k, c in REFINERS.items()),
        "lift": "3D keypoints (metres, root-relative): auto (with BlazePose models dgnet-smooth for files, "
                "blazepose-smooth for files with --skeleton blazepose33, blazepose-online for live sources; "
                "else none) or "
                + "; ".join(f"{k} ({c.description})" for k, c in LIFTERS.items()),
        "lifter": "the lifter of --lift dgnet / dgnet-smooth: dgnet (the shipped one) or a lifter checkpoint "
                  "(.safetensors from vidpose train, e.g. runs/x/best.safetensors) or its .onnx export",
        "overlay": "write overlay.mp4",
        "overlay_size": "overlay.mp4's shorter side at most this many pixels; 0 keeps the video's size",
        "csv": "write poses.csv",
        "trc": "write OpenSim .trc marker files (one per track) from the 3D keypoints",
        "bvh": "write BVH files (one per track, H36M-17 joints, Y up, centimetres) from the 3D keypoints",
        "min_score": "keypoints below this score are not drawn on the overlay",
        "max_frames": "stop after this many frames",
        "fps": "frame rate to assume for image folders and single images",
        "threads": "inference threads",
        "quiet": "no progress bar",
        "report": "write report.html (timelines, jitter, 3D viewer, run details; see docs/report.md)",
    }
    for f in dataclasses.fields(RunConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=helps.get(f.name))
        else:
            typ = {"int": int, "float": float, "str": str}.get(
                str(f.type).replace(" | None", "").replace("'", ""), str
            )
            p.add_argument(flag, type=typ, default=default, help=f"{helps.get(f.name, '')} (default: {default})")
    p.add_argument("--no-lift", dest="lift", action="store_const", const="none", help="same as --lift none")


def config_from_args(args: argparse.Namespace):
    from vidpose.pipeline import RunConfig

    return RunConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(RunConfig)})


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="video file, image folder, image, or webcam index")
    p.add_argument("--out", required=True, help="output folder")
    add_run_flags(p)


def report_summary(report: dict, out: str) -> None:
    secs = ", ".join(f"{k} {v:.1f}s" for k, v in report["seconds"].items())
    print(
        f"vidpose: {report['frames']} frames, {report['frames_with_person']} with a person, "
        f"{len(report['track_ids'])} track ids, {report['fps']:.1f} frames/s ({secs}) -> {out}",
        file=sys.stderr,
    )
    if report.get("decode_error"):
        print(f"vidpose: warning: {report['source']}: {report['decode_error']}", file=sys.stderr)


# Known third-party noise, as (category, module regex matched at the start of the module
# that raises it). Empty today: `vidpose run`/`demo` with -W always show no warning from
# PyAV, LiteRT, PyTorch or onnxruntime on the sample clip. Add pairs here when one appears;
# never silence a whole category or vidpose's own warnings.
THIRD_PARTY_NOISE: list[tuple[type[Warning], str]] = []

# vidpose's own warnings that the summary line reports anyway (where decoding stopped).
REPORTED_IN_SUMMARY = r".*stopped at frame \d+"


@contextlib.contextmanager
def third_party_noise_filtered():
    """Show vidpose's own warnings (e.g. the libx264 -> MPEG-4 fallback); hide only the known
    third-party noise and the decode-stop warnings that :func:`report_summary` prints once."""
    import warnings

    with warnings.catch_warnings():
        for category, module in THIRD_PARTY_NOISE:
            warnings.filterwarnings("ignore", category=category, module=module)
        warnings.filterwarnings("ignore", message=REPORTED_IN_SUMMARY)
        yield


def main(args: argparse.Namespace) -> int:
    from vidpose.pipeline import run

    with third_party_noise_filtered():
        report = run(args.source, args.out, config_from_args(args))
    report_summary(report, args.out)
    return 0
