"""The run pipeline: decode -> detect/estimate -> track -> refine -> lift -> write.

A :class:`Stage` takes one :class:`~vidpose.types.FramePoses` and returns the
frames it is ready to pass on (none while it buffers, several when it
catches up); ``finish()`` flushes what it still holds at the end of the video.
That one shape fits per-frame stages (estimation, tracking) and stages that
need future frames (backward flow refinement, temporal lifting) alike, and the
runner times each stage on its own. A new stage is a class with ``name``,
``process`` and ``finish``, added to the list :func:`build_stages` returns.

Decoding runs in a background thread with a bounded queue, so the decoder and
the models overlap on two cores while memory stays bounded.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vidpose.errors import InputError
from vidpose.skeletons import Skeleton, convert, convert_with_scores, get_skeleton
from vidpose.types import FramePoses


@dataclass
class RunConfig:
    """Every field is also a ``vidpose run`` flag (``max_people`` -> ``--max-people``)."""

    skeleton: str = "coco17"  # output 2D skeleton: coco17 | blazepose33 | h36m17
    model: str = "full"  # BlazePose landmark model: lite | full | heavy
    max_people: int = 4
    detect_every: int = 5  # run the person detector every N frames (and whenever someone is lost)
    detection_threshold: float = 0.5
    track_max_age: int = 30  # frames a lost track is remembered
    lift: bool = True  # write 3D keypoints (BlazePose world landmarks, metres, hip-centred)
    overlay: bool = True
    csv: bool = True
    trc: bool = False
    min_score: float = 0.3  # keypoints below this are not drawn on the overlay
    max_frames: int | None = None
    fps: float | None = None  # frame rate for image folders / images
    threads: int = 2
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.skeleton not in ("coco17", "blazepose33", "h36m17"):
            raise InputError(f"--skeleton must be blazepose33, coco17 or h36m17, got {self.skeleton!r}")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputError(f"--max-frames must be >= 1, got {self.max_frames}")


class Stage:
    """Base class: a per-frame stage overrides ``__call__``; a buffering one overrides process/finish."""

    name = "stage"

    def __call__(self, frame: FramePoses) -> None:
        raise NotImplementedError

    def process(self, frame: FramePoses) -> list[FramePoses]:
        self(frame)
        return [frame]

    def finish(self) -> list[FramePoses]:
        return []


class EstimateStage(Stage):
    """Detection + single-person pose per ROI (top-down), via a frame backend."""

    name = "estimate"

    def __init__(self, backend):
        self.backend = backend

    def __call__(self, frame: FramePoses) -> None:
        frame.persons = self.backend(frame.image)
        frame.skeleton = self.backend.skeleton


class TrackStage(Stage):
    name = "track"

    def __init__(self, skeleton: str, max_age: int):
        from vidpose.tracking import PoseTracker, TrackerConfig

        self.tracker = PoseTracker(skeleton, TrackerConfig(max_age=max_age))

    def __call__(self, frame: FramePoses) -> None:
        self.tracker.update(frame.index, frame.persons, frame.image)


class ConvertStage(Stage):
    """Converts 2D (and 3D) keypoints to the output skeleton."""

    name = "convert"

    def __init__(self, dst: Skeleton, lift: bool):
        self.dst, self.lift = dst, lift

    def __call__(self, frame: FramePoses) -> None:
        src = frame.skeleton
        for p in frame.persons:
            if src.name != self.dst.name:
                p.keypoints = convert_with_scores(p.keypoints, src, self.dst)
                if p.keypoints_3d is not None:
                    p.keypoints_3d = convert(p.keypoints_3d, src, self.dst)
            if not self.lift:
                p.keypoints_3d = None
            p.heatmaps = None  # not written; free the memory
        frame.skeleton = self.dst


def build_stages(config: RunConfig, quiet: bool = False) -> list[Stage]:
    from vidpose.backends.blazepose import BlazePose, BlazePoseConfig

    backend = BlazePose(
        BlazePoseConfig(
            model=config.model, max_people=config.max_people, detect_every=config.detect_every,
            detection_threshold=config.detection_threshold, threads=config.threads,
        ),
        quiet=quiet,
    )
    return [
        EstimateStage(backend),
        TrackStage(backend.skeleton.name, config.track_max_age),
        ConvertStage(get_skeleton(config.skeleton), config.lift),
    ]


def frame_dict(frame: FramePoses) -> dict:
    """One entry of poses.json["frames"]."""
    from vidpose.io.poses import person_dict

    persons = sorted(frame.persons, key=lambda p: (p.track_id is None, p.track_id))
    return {
        "index": frame.index,
        "time": round(frame.time, 6),
        "persons": [person_dict(p.track_id, p.bbox, p.score, p.keypoints, p.keypoints_3d) for p in persons],
    }


# --- running ---------------------------------------------------------------------------------


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, dt: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + dt


_END = object()


def _decode_thread(source, q: queue.Queue, max_frames: int | None, timings: Timings, stop: threading.Event) -> None:
    try:
        it = iter(source)
        n = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                fr = next(it)
            except StopIteration:
                break
            timings.add("decode", time.perf_counter() - t0)
            q.put(fr)
            n += 1
            if max_frames is not None and n >= max_frames:
                break
        q.put(_END)
    except BaseException as e:  # handed to the consumer, re-raised there
        q.put(e)


class PoseRun:
    """One pass over a source: iterate to get finished :class:`FramePoses`, in order.

    ``info`` describes the source; ``timings`` has per-stage seconds;
    ``decode_error`` says where decoding stopped early, if it did.
    """

    def __init__(self, source, config: RunConfig | None = None, stages: list[Stage] | None = None):
        from vidpose.io.video import open_source

        self.config = config or RunConfig()
        self.source = open_source(source, fps=self.config.fps)
        self.info = self.source.info
        try:
            self.stages = stages if stages is not None else build_stages(self.config, quiet=self.config.quiet)
        except BaseException:
            self.source.close()
            raise
        self.timings = Timings()
        self.frames = 0

    @property
    def decode_error(self) -> str | None:
        return self.source.decode_error

    @property
    def model_files(self) -> dict[str, Path]:
        for s in self.stages:
            if isinstance(s, EstimateStage):
                return dict(getattr(s.backend, "model_files", {}))
        return {}

    def __iter__(self) -> Iterator[FramePoses]:
        q: queue.Queue = queue.Queue(maxsize=8)
        stop = threading.Event()
        th = threading.Thread(
            target=_decode_thread, args=(self.source, q, self.config.max_frames, self.timings, stop), daemon=True
        )
        th.start()
        skeleton = get_skeleton("blazepose33")
        try:
            while True:
                item = q.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                fp = FramePoses(item.index, item.time, item.image, skeleton)
                yield from self._through(0, [fp])
            yield from self._flush()
        finally:
            stop.set()
            while th.is_alive():  # unblock a producer waiting on a full queue
                try:
                    q.get_nowait()
                except queue.Empty:
                    th.join(0.05)
            self.source.close()

    def _through(self, start: int, frames: list[FramePoses]) -> Iterator[FramePoses]:
        for stage in self.stages[start:]:
            out: list[FramePoses] = []
            t0 = time.perf_counter()
            for f in frames:
                out.extend(stage.process(f))
            self.timings.add(stage.name, time.perf_counter() - t0)
            frames = out
            if not frames:
                return
        for f in frames:
            self.frames += 1
            yield f

    def _flush(self) -> Iterator[FramePoses]:
        for i, stage in enumerate(self.stages):
            t0 = time.perf_counter()
            rest = stage.finish()
            self.timings.add(stage.name, time.perf_counter() - t0)
            if rest:
                yield from self._through(i + 1, rest)


# --- the whole job: vidpose run ---------------------------------------------------------------


class OverlayThread:
    """Draws and encodes the overlay video in a background thread (bounded queue).

    Encoding H.264 at full resolution costs about as much as the pose models;
    on its own thread it overlaps with them (PyAV releases the GIL while encoding).
    """

    def __init__(self, path: Path, info, skeleton: Skeleton, min_score: float, timings: Timings):
        from vidpose.io.video import VideoWriter

        self.writer = VideoWriter(path, info.fps, info.width, info.height)
        self.skeleton, self.min_score, self.timings = skeleton, min_score, timings
        self.q: queue.Queue = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def _work(self) -> None:
        from vidpose.viz import draw_poses

        while True:
            item = self.q.get()
            if item is _END:
                return
            if self.error is not None:
                continue  # drain after a failure
            image, persons, t = item
            t0 = time.perf_counter()
            try:
                self.writer.write(draw_poses(image, persons, self.skeleton, self.min_score), time=t)
            except BaseException as e:
                self.error = e
            self.timings.add("overlay", time.perf_counter() - t0)

    def put(self, image, persons: list[dict], t: float) -> None:
        if self.error is not None:
            raise self.error
        self.q.put((image, persons, t))

    def close(self) -> None:
        self.q.put(_END)
        self.thread.join()
        if self.error is not None:
            self.writer.abort()
            raise self.error
        self.writer.close()

    def abort(self) -> None:
        self.error = self.error or RuntimeError("aborted")
        self.q.put(_END)
        self.thread.join()
        self.writer.abort()


def make_staging_dir(out_dir: Path) -> Path:
    """Create ``out_dir`` and a hidden staging folder inside it (proving it is writable).

    Every output is written into the staging folder first and moved into
    ``out_dir`` only when all of them are complete, so a failure at any point
    (the overlay encoder, the disk) leaves no new file, partial or complete.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".vidpose-run-", dir=out_dir))
    except OSError as e:
        raise InputError(f"cannot write to output directory {out_dir}: {e.strerror or e}") from None


def run(source, out_dir: str | os.PathLike, config: RunConfig | None = None) -> dict:
    """``vidpose run``: estimate poses in ``source`` and write the outputs into ``out_dir``.

    Returns the content of run.json. All files appear only when the run has
    succeeded; on any error none of them is left behind.
    """
    from vidpose import __version__, store
    from vidpose.io.atomic import atomic_write_text
    from vidpose.io.poses import PosesCsvWriter, PosesJsonWriter, TrcWriter
    from vidpose.progress import Progress

    config = config or RunConfig()
    out = Path(out_dir)
    t_start = time.perf_counter()
    pr = PoseRun(source, config)  # a bad source fails here, before anything is created
    try:
        stage = make_staging_dir(out)
    except BaseException:
        pr.source.close()
        raise
    info = pr.info
    skeleton = get_skeleton(config.skeleton)
    total = info.num_frames if config.max_frames is None else min(config.max_frames, info.num_frames or config.max_frames)
    progress = Progress(total, "frames", enabled=not config.quiet)
    track_ids: set[int] = set()
    frames_with_person = 0
    writers: list = []
    trc = overlay = None
    try:
        writers.append(PosesJsonWriter(stage / "poses.json", skeleton))
        if config.csv:
            writers.append(PosesCsvWriter(stage / "poses.csv", skeleton))
        trc = TrcWriter(stage, "poses", skeleton, info.fps) if config.trc else None
        if config.overlay:
            overlay = OverlayThread(stage / "overlay.mp4", info, skeleton, config.min_score, pr.timings)
        for fp in pr:
            fd = frame_dict(fp)
            t0 = time.perf_counter()
            for w in writers:
                w.write_frame(fd)
            if trc is not None:
                trc.write_frame(fd)
            pr.timings.add("write", time.perf_counter() - t0)
            if overlay is not None:
                overlay.put(fp.image, fd["persons"], fp.time)
            fp.image = None
            track_ids.update(p["track_id"] for p in fd["persons"])
            frames_with_person += bool(fd["persons"])
            progress.update()
        progress.close()
        if pr.frames == 0:
            raise InputError(f"{info.path}: no frames could be decoded")
        writers[0].video = {
            "path": str(info.path), "width": info.width, "height": info.height,
            "fps": info.fps, "num_frames": pr.frames,
        }
        for w in writers:
            w.close()
        if overlay is not None:
            overlay.close()
        if trc is not None:
            trc.close()
        wall = time.perf_counter() - t_start
        report = {
            "vidpose_version": __version__,
            "source": str(info.path),
            "config": asdict(config),
            "models": {
                k: {"file": str(v), "sha256": store.sha256_file(v)} for k, v in pr.model_files.items()
            },
            "video": {"width": info.width, "height": info.height, "fps": info.fps, "rotation": info.rotation},
            "frames": pr.frames,
            "frames_with_person": frames_with_person,
            "track_ids": sorted(track_ids),
            "seconds": {k: round(v, 4) for k, v in pr.timings.seconds.items()},
            "wall_seconds": round(wall, 3),
            "fps": round(pr.frames / wall, 3) if wall > 0 else None,
            "decode_error": pr.decode_error,
            "outputs": sorted(p.name for p in stage.iterdir()) + ["run.json"],
        }
        atomic_write_text(stage / "run.json", json.dumps(report, indent=2) + "\n")
        # Everything is complete: move it into place (renames within one folder).
        for p in sorted(stage.iterdir(), key=lambda p: p.name == "run.json"):
            os.replace(p, out / p.name)
        stage.rmdir()
    except BaseException:
        progress.close()
        for w in writers:
            w.abort()
        if overlay is not None:
            overlay.abort()
        if trc is not None:
            trc.abort()
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if pr.decode_error:
        warnings.warn(f"{info.path}: {pr.decode_error}; outputs cover the {pr.frames} frames decoded", stacklevel=2)
    return report


__all__ = ["RunConfig", "Stage", "PoseRun", "build_stages", "frame_dict", "run"]
