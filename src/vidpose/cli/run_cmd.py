"""``vidpose run SOURCE --out DIR``: every RunConfig field is a flag."""

from __future__ import annotations

import argparse
import dataclasses
import sys


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """One flag per RunConfig field, so the CLI and the Python API take the same options."""
    from vidpose.pipeline import RunConfig

    defaults = RunConfig()
    helps = {
        "skeleton": "2D output skeleton: coco17 (default), blazepose33, h36m17",
        "model": "BlazePose landmark model: lite, full (default), heavy",
        "max_people": "most people estimated per frame",
        "detect_every": "run the person detector every N frames (and whenever someone is lost)",
        "detection_threshold": "person detector score threshold",
        "track_max_age": "frames a lost track is remembered before its id is retired",
        "lift": "write 3D keypoints (metres, root-relative)",
        "overlay": "write overlay.mp4",
        "csv": "write poses.csv",
        "trc": "write OpenSim .trc marker files (one per track) from the 3D keypoints",
        "min_score": "keypoints below this score are not drawn on the overlay",
        "max_frames": "stop after this many frames",
        "fps": "frame rate to assume for image folders and single images",
        "threads": "inference threads",
        "quiet": "no progress bar",
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


def main(args: argparse.Namespace) -> int:
    import warnings

    from vidpose.pipeline import run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reported in the summary below instead
        report = run(args.source, args.out, config_from_args(args))
    report_summary(report, args.out)
    return 0
