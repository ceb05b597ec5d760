"""The Python API; it mirrors ``vidpose run`` (same options as :class:`RunConfig`)."""

from __future__ import annotations

from vidpose.pipeline import PoseRun, RunConfig, frame_dict


def _config(options: dict) -> RunConfig:
    import dataclasses

    from vidpose.errors import InputError

    known = {f.name for f in dataclasses.fields(RunConfig)} - set(FILE_OPTIONS)
    unknown = sorted(set(options) - known - set(FILE_OPTIONS))
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    asked = sorted(k for k in FILE_OPTIONS if k in options and options[k] not in (False, None, FILE_OPTIONS[k]))
    if asked:
        import warnings

        warnings.warn(f"option(s) {', '.join(asked)} choose `vidpose run`'s output files; vidpose.estimate and "
                      "vidpose.stream write no files, so they are ignored", stacklevel=3)
    options = {k: v for k, v in options.items() if k not in FILE_OPTIONS}
    options.setdefault("quiet", True)
    return RunConfig(**options, overlay=False, csv=False, report=False)


# RunConfig fields that only choose `vidpose run`'s files, with their defaults: the Python API ignores them.
FILE_OPTIONS = {"overlay": True, "overlay_size": 720, "csv": True, "trc": False, "bvh": False, "report": True}


class PoseStream:
    """What :func:`stream` returns: iterate it for one dict per frame, as soon as each is ready.

    After the last frame, ``decode_error`` is None when the whole source was
    decoded, or says where and why decoding stopped early (a truncated or
    damaged file), as ``run.json``'s ``decode_error`` does. ``info`` describes
    the source. One pass only; ``close()`` (or ``with``) releases the source if
    you stop early.
    """

    def __init__(self, source, config: RunConfig):
        self._run = PoseRun(source, config, live=True)  # a bad source fails here, at the call
        self._frames = iter(self._run)

    @property
    def info(self):
        return self._run.info

    @property
    def decode_error(self) -> str | None:
        return self._run.decode_error

    def __iter__(self) -> "PoseStream":
        return self

    def __next__(self) -> dict:
        return frame_dict(next(self._frames))

    def close(self) -> None:
        self._frames.close()
        self._run.source.close()

    def __enter__(self) -> "PoseStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def stream(source, **options) -> PoseStream:
    """Yield one dict per frame, as in ``poses.json["frames"]``; then ``.decode_error`` says if decoding stopped early."""
    return PoseStream(source, _config(options))


def estimate(source, **options) -> dict:
    """Run the pipeline on ``source`` and return what ``vidpose run`` writes to poses.json.

    One key more than poses.json: ``decode_error``, None when the whole source
    was decoded, else where and why decoding stopped (the frames cover what was
    decoded up to there), as in ``run.json``.
    """
    from vidpose.errors import InputError
    from vidpose.io.poses import POSES_FORMAT, skeleton_3d_entry, skeleton_dict
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
        **skeleton_3d_entry(get_skeleton(cfg.skeleton), pr.skeleton_3d),
        "frames": frames,
        "decode_error": pr.decode_error,
    }
