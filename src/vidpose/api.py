"""The Python API; it mirrors ``vidpose run`` (same options as :class:`RunConfig`)."""

from __future__ import annotations

from collections.abc import Iterator

from vidpose.pipeline import PoseRun, RunConfig, frame_dict


def _config(options: dict) -> RunConfig:
    import dataclasses

    from vidpose.errors import InputError

    known = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    options.setdefault("quiet", True)
    return RunConfig(**options)


def stream(source, **options) -> Iterator[dict]:
    """Yield one dict per frame, as in ``poses.json["frames"]``, as soon as it is ready."""
    pr = PoseRun(source, _config(options))
    for fp in pr:
        yield frame_dict(fp)


def estimate(source, **options) -> dict:
    """Run the pipeline on ``source`` and return what ``vidpose run`` writes to poses.json."""
    from vidpose.errors import InputError
    from vidpose.io.poses import POSES_FORMAT, skeleton_dict
    from vidpose.skeletons import get_skeleton

    cfg = _config(options)
    pr = PoseRun(source, cfg)
    frames = [frame_dict(fp) for fp in pr]
    if not frames:
        raise InputError(f"{pr.info.path}: no frames could be decoded")
    info = pr.info
    return {
        "format": POSES_FORMAT,
        "video": {"path": str(info.path), "width": info.width, "height": info.height, "fps": info.fps,
                  "num_frames": len(frames)},
        "skeleton": skeleton_dict(get_skeleton(cfg.skeleton)),
        "frames": frames,
    }
