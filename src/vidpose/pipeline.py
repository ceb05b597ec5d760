"""The run pipeline: decode -> estimate -> track -> [refine] -> [lift] -> convert -> write.

The stages live in :mod:`vidpose.stages`; this module composes them
(:func:`build_stages`), runs them (:class:`PoseRun`) and writes the outputs
(:func:`run`). Estimate is BlazePose (``--model lite|full|heavy``) or a trained 2D
model run top-down (``--model clnet``, a checkpoint or an ONNX export); refine and
lift are picked from the registries of :mod:`vidpose.stages` (``--refine``,
``--lift``).

A stage takes one :class:`~vidpose.types.FramePoses` and returns the frames it
is ready to pass on (none while it buffers, several when it catches up);
``finish()`` flushes what it still holds at the end of the video. The runner
times each stage on its own.

Decoding runs in a background thread with a bounded queue, so the decoder and
the models overlap on two cores while memory stays bounded; for files, the
stages after tracking run on a thread of their own too (:class:`PoseRun`).
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
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

from vidpose.backends.blazepose import DETECTOR_THRESHOLDS
from vidpose.errors import InputError
from vidpose.skeletons import OUTPUT_SKELETONS, Skeleton, conversion_matrix, get_skeleton
from vidpose.stages import (
    CHECKPOINT_LIFTERS,
    LIFTERS,
    REFINERS,
    ConvertStage,
    EstimateStage,
    RefineStage,
    Stage,
    TrackStage,
    build_estimator,
    model_choice,
    parse_lift,
    parse_refine,
    plan,
)
from vidpose.types import FramePoses
from vidpose.version import __version__


@dataclass
class RunConfig:
    """Every field is also a ``vidpose run`` flag (``max_people`` -> ``--max-people``)."""

    skeleton: str = "coco17"  # output 2D skeleton: a key of vidpose.skeletons.OUTPUT_SKELETONS
    model: str = "full"  # lite | full | heavy (BlazePose), a shipped trained model, or a .safetensors/.onnx path
    max_people: int = 4
    detect_every: int = 5  # run the person detector every N frames (and whenever someone is lost)
    detection_threshold: float | None = None  # None: the detector's own default (blazepose 0.5, bodydet 0.25)
    detector: str = "blazepose"  # person detector: blazepose (face-anchored) | bodydet (MoveNet MultiPose, whole body)
    detector_size: int = 256  # bodydet: the frame's longer side in the detector's input (a multiple of 32)
    detector_tiles: bool = True  # blazepose: also detect on square tiles of a wide or tall frame
    track_max_age: int = 30  # frames a lost track is remembered
    # a track must have a pose in this many frames to be output (2 frames of delay at 3); None: 3 for
    # files and image folders, 1 (off, no delay) for live sources (stages/track.py)
    min_track_frames: int | None = None
    refine: str = "auto"  # temporal refinement: auto | none | NAME[,NAME...] from vidpose.stages.REFINERS
    lift: str = "auto"  # 3D: auto (stages.AUTO_LIFT for BlazePose models, else none) | none | a key of LIFTERS
    lifter: str = "dgnet"  # the lifter of --lift dgnet / dgnet-smooth: the shipped one, or a .safetensors/.onnx path
    overlay: bool = True
    overlay_size: int = 720  # the overlay's shorter side at most this many pixels (0: the video's size)
    csv: bool = True
    trc: bool = False
    bvh: bool = False  # one BVH file per track from the 3D keypoints (as H36M-17)
    min_score: float = 0.3  # keypoints below this are not drawn on the overlay
    max_frames: int | None = None
    fps: float | None = None  # frame rate for image folders / images
    threads: int = 2
    quiet: bool = False
    report: bool = True  # write report.html (files and image folders; not webcams); not in the fps figure

    def __post_init__(self) -> None:
        self._check_types()
        if self.skeleton not in OUTPUT_SKELETONS:
            raise InputError(f"--skeleton must be one of {', '.join(OUTPUT_SKELETONS)}, got {self.skeleton!r}")
        if self.overlay_size < 0 or (0 < self.overlay_size < 16):
            raise InputError(f"--overlay-size must be 0 (the video's size) or >= 16 pixels, got {self.overlay_size}")
        for flag, value in (("max-frames", self.max_frames), ("min-track-frames", self.min_track_frames)):
            if value is not None and value < 1:
                raise InputError(f"--{flag} must be >= 1, got {value}")
        if self.detector not in DETECTOR_THRESHOLDS:
            raise InputError(f"--detector must be one of {', '.join(DETECTOR_THRESHOLDS)}, got {self.detector!r}")
        if self.detector_size < 32 or self.detector_size % 32:
            raise InputError(f"--detector-size must be a positive multiple of 32, got {self.detector_size}")
        for flag, value, low in (("max-people", self.max_people, 1), ("detect-every", self.detect_every, 1),
                                 ("track-max-age", self.track_max_age, 0), ("threads", self.threads, 1)):
            if value < low:
                raise InputError(f"--{flag} must be an integer >= {low}, got {value!r}")
        for flag, value in (("detection-threshold", self.detection_threshold), ("min-score", self.min_score)):
            if value is not None and not 0.0 <= value <= 1.0:  # NaN fails too
                raise InputError(f"--{flag} must be a number in [0, 1], got {value!r}")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise InputError(f"--fps must be a positive number, got {self.fps!r}")
        if isinstance(self.lift, bool):  # the former boolean field: True = what the model gives, False = none
            self.lift = "auto" if self.lift else "none"
        parse_refine(self.refine)
        parse_lift(self.lift)
        choice = model_choice(self.model)  # unknown names and missing files fail here, before any output
        lift = plan(self.refine, self.lift, choice, skeleton=self.skeleton)["lift"]  # stages the model cannot feed fail here
        if self.lifter != "dgnet":
            if lift not in CHECKPOINT_LIFTERS:
                raise InputError(f"--lifter {self.lifter}: a lifter runs in --lift dgnet or dgnet-smooth, but the "
                                 f"lift stage here is {lift!r} (--lift {self.lift})")
            lp = Path(self.lifter).expanduser()
            if not lp.is_file():
                raise InputError(f"--lifter {self.lifter}: expected a lifter checkpoint (.safetensors, from vidpose "
                                 "train) or its .onnx export (vidpose export), and no such file")
            if lp.suffix not in (".safetensors", ".onnx"):
                raise InputError(f"--lifter {self.lifter}: expected a .safetensors or .onnx file")
        for flag in ("trc", "bvh"):
            if getattr(self, flag) and lift == "none":
                raise InputError(
                    f"--{flag} writes the 3D keypoints, but no lift stage runs (--lift {self.lift}, --model {self.model}); "
                    f"use --lift dgnet, or a BlazePose --model with --lift blazepose, or drop --{flag}"
                )

    def _check_types(self) -> None:
        """Each field's type (the Python API passes them unchecked): a bad one is an InputError naming
        the flag and the keyword, not a TypeError further in."""
        def bad(name: str, want: str, value) -> InputError:
            return InputError(f"--{name.replace('_', '-')} ({name}=) must be {want}, got {value!r:.60}")

        def is_bool(v) -> bool:
            return isinstance(v, bool) or type(v).__name__ == "bool_"

        def is_int(v) -> bool:
            return isinstance(v, numbers.Integral) and not is_bool(v)

        def is_real(v) -> bool:
            return isinstance(v, numbers.Real) and not is_bool(v)

        for name in ("model", "lifter"):  # a path may come as a Path
            if isinstance(getattr(self, name), os.PathLike):
                setattr(self, name, os.fspath(getattr(self, name)))
        for name in ("skeleton", "model", "detector", "refine", "lifter"):
            if not isinstance(getattr(self, name), str):
                raise bad(name, "a string", getattr(self, name))
        if not isinstance(self.lift, str) and not is_bool(self.lift):  # a bool: the former field (below)
            raise bad("lift", "a string", self.lift)
        for name in ("max_people", "detect_every", "track_max_age", "threads", "detector_size", "overlay_size"):
            if not is_int(getattr(self, name)):
                raise bad(name, "an integer", getattr(self, name))
        if self.min_track_frames is not None and not is_int(self.min_track_frames):
            raise bad("min_track_frames", "an integer (or None: 3 for files, 1 for live sources)", self.min_track_frames)
        if self.max_frames is not None and not is_int(self.max_frames):
            raise bad("max_frames", "an integer (or None: every frame)", self.max_frames)
        for name in ("detector_tiles", "overlay", "csv", "trc", "bvh", "quiet", "report"):
            if not is_bool(getattr(self, name)):
                raise bad(name, "True or False", getattr(self, name))
        if not is_real(self.min_score):
            raise bad("min_score", "a number in [0, 1]", self.min_score)
        for name in ("detection_threshold", "fps"):
            v = getattr(self, name)
            if v is not None and not is_real(v):
                raise bad(name, "a number (or None: the default)", v)


# ``min_track_frames`` when not given: a file can wait 2 frames for a track to prove itself, a live
# source gets every pose at once.
MIN_TRACK_FRAMES = {"offline": 3, "online": 1}


def min_track_frames(config: RunConfig, live: bool) -> int:
    """The track stage's ``min_frames`` for ``config`` (its own, or the default for the source)."""
    if config.min_track_frames is not None:
        return config.min_track_frames
    return MIN_TRACK_FRAMES["online" if live else "offline"]


def build_stages(config: RunConfig, quiet: bool = False, live: bool = False) -> list[Stage]:
    """estimate -> track -> refine stages (in order) -> lift -> convert, for ``config``.

    The estimate stage's ``info`` describes the model and, under ``stages``, which
    stages run and which ``auto`` skipped because the model cannot feed them (and why);
    run.json reports both (:attr:`PoseRun.model_info`).
    """
    choice = model_choice(config.model)
    p = plan(config.refine, config.lift, choice, live=live, skeleton=config.skeleton)
    backend, info = build_estimator(config, choice, keep_heatmaps=p["keep_heatmaps"], quiet=quiet)
    native = backend.skeleton
    dst = get_skeleton(config.skeleton)
    lift = LIFTERS[p["lift"]]
    if p["lift"] in CHECKPOINT_LIFTERS:
        lifter = lift.build(config.lifter)  # "dgnet" (shipped) or a lifter trained with vidpose train
    else:
        lifter = lift.build() if lift.build is not None else None
    try:
        conversion_matrix(native, dst)
    except ValueError as e:
        raise InputError(f"--skeleton {config.skeleton} with --model {config.model}: {e}") from None
    refiners = [REFINERS[n].build() for n in p["refine"]]
    min_frames = min_track_frames(config, live)
    if refiners and isinstance(refiners[-1], RefineStage):
        refiners[-1].release_heatmaps = True
    stages: list[Stage] = [
        EstimateStage(backend, keep_world="world_landmarks" in lift.needs, info=info),
        TrackStage(native.name, config.track_max_age, min_frames),
        *refiners,
        *([lifter] if lifter is not None else []),
        ConvertStage(dst, lifter.output_skeleton if lifter is not None else None),
    ]
    ran = [{"stage": "estimate", "choice": config.model},
           {"stage": "track", "min_track_frames": min_frames}]
    ran += [{"stage": "refine", "choice": n} for n in p["refine"]]
    ran += [{"stage": "lift", "choice": p["lift"]}] if lifter is not None else []
    ran += [{"stage": "convert", "choice": dst.name}]
    stages[0].info["stages"] = {"ran": ran, "skipped": p["skipped"]}
    return stages


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

    Decoding runs on a background thread; with ``stage_thread`` (the default) the stages after
    tracking (refine, lift, convert) run on another one, overlapping the models, except for live
    sources, whose results are wanted as each frame comes in. The output is the same either way.
    """

    def __init__(self, source, config: RunConfig | None = None, stages: list[Stage] | None = None,
                 live: bool | None = None, stage_thread: bool = True):
        from vidpose.io.video import open_source

        self.config = config or RunConfig()
        self.source = open_source(source, fps=self.config.fps)
        self.info = self.source.info
        # live: results are wanted as each frame arrives (webcams; vidpose.stream), so the
        # refinement chosen by "auto" must not wait for future frames
        self.live = (self.info.codec == "webcam") if live is None else bool(live)
        try:
            self.stages = stages if stages is not None else build_stages(self.config, quiet=self.config.quiet,
                                                                         live=self.live)
        except BaseException:
            self.source.close()
            raise
        temporal = [s.name for s in self.stages if isinstance(s, RefineStage)]
        if temporal and self.info.num_frames == 1 and self.config.refine != "auto":
            warnings.warn(f"{self.info.path}: one image, so --refine {','.join(temporal)} has no neighbouring "
                          "frames to use and changes nothing", stacklevel=2)
        self.timings = Timings()
        self.frames = 0
        # the stages after tracking run on their own thread (files; see _split)
        self.stage_thread = bool(stage_thread)

    @property
    def decode_error(self) -> str | None:
        return self.source.decode_error

    @property
    def model_files(self) -> dict[str, Path]:
        for s in self.stages:
            if isinstance(s, EstimateStage):
                return dict(getattr(s.backend, "model_files", {}))
        return {}

    @property
    def skeleton_3d(self) -> Skeleton | None:
        """The skeleton of the written 3D keypoints: ``--skeleton``'s, or the lifter's own where
        that cannot be converted to it (H36M-17 3D with COCO-17 2D); None without a lift stage."""
        for s in self.stages:
            if isinstance(s, ConvertStage):
                return s.dst_3d
        return None

    @property
    def model_info(self) -> dict:
        """The estimator (model, kind, skeleton ...) and ``stages``: which ran, which were skipped and why."""
        for s in self.stages:
            if isinstance(s, EstimateStage):
                return dict(s.info)
        return {}

    def __iter__(self) -> Iterator[FramePoses]:
        q: queue.Queue = queue.Queue(maxsize=8)
        stop = threading.Event()
        th = threading.Thread(
            target=_decode_thread, args=(self.source, q, self.config.max_frames, self.timings, stop), daemon=True
        )
        th.start()
        skeleton = get_skeleton("blazepose33")

        def decoded() -> Iterator[FramePoses]:
            while True:
                item = q.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield FramePoses(item.index, item.time, item.image, skeleton, gray=item.gray)

        split = self._split()
        try:
            if split is None:
                for fp in decoded():
                    yield from self._through(0, [fp])
                yield from self._flush(0)
            else:
                yield from self._pipelined(decoded(), split)
        finally:
            stop.set()
            while th.is_alive():  # unblock a producer waiting on a full queue
                try:
                    q.get_nowait()
                except queue.Empty:
                    th.join(0.05)
            self.source.close()
            for s in self.stages:  # worker threads of the estimator (people's landmark calls side by side)
                if isinstance(s, EstimateStage):
                    s.close()

    def _split(self) -> int | None:
        """Where the stage thread takes over (the first stage after estimate and track), or None to run
        every stage on the calling thread: for live sources (a result is wanted as soon as its frame is
        in, not after the next one) or when ``stage_thread`` is off or nothing follows tracking."""
        if not self.stage_thread or self.live:
            return None
        split = next((i for i, s in enumerate(self.stages) if s.name not in ("estimate", "track")), None)
        return split if split not in (None, 0) else None

    def _pipelined(self, frames: Iterator[FramePoses], split: int) -> Iterator[FramePoses]:
        """Estimate and track on this thread, the later stages (refine, lift, convert) on a stage
        thread, so that their Python and NumPy work overlaps the models' (which release the GIL).
        Frames keep their order; each stage keeps running on one thread only."""
        handoff: queue.Queue = queue.Queue(maxsize=4)
        done: queue.Queue = queue.Queue()  # bounded in effect: drained after every frame handed off
        stop = threading.Event()

        def tail() -> None:
            try:
                while not stop.is_set():
                    batch = handoff.get()
                    if batch is _END:
                        for f in self._finished(split, len(self.stages)):
                            done.put(f)
                        break
                    for f in self._run_stages(split, len(self.stages), batch):
                        done.put(f)
                done.put(_END)
            except BaseException as e:  # handed to the consumer, re-raised there
                done.put(e)

        def ready(block: bool) -> Iterator[FramePoses]:
            while True:
                try:
                    item = done.get(block=block)
                except queue.Empty:
                    return
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                self.frames += 1
                yield item

        def hand(item) -> Iterator[FramePoses]:
            while True:
                try:
                    handoff.put(item, timeout=0.1)
                    return
                except queue.Full:
                    if not worker.is_alive():  # it failed: its error is in ``done``
                        yield from ready(block=False)
                        raise RuntimeError("the stage thread stopped without a result")

        worker = threading.Thread(target=tail, name="vidpose-stages", daemon=True)
        worker.start()
        try:
            for fp in frames:
                out = self._run_stages(0, split, [fp])
                if out:
                    yield from hand(out)
                yield from ready(block=False)
            out = list(self._finished(0, split))
            if out:
                yield from hand(out)
            yield from hand(_END)
            yield from ready(block=True)
        finally:
            stop.set()
            while worker.is_alive():  # unblock a stage thread waiting on a full hand-off queue
                try:
                    handoff.put_nowait(_END)
                except queue.Full:
                    pass
                worker.join(0.05)

    def _run_stages(self, start: int, end: int, frames: list[FramePoses]) -> list[FramePoses]:
        """Stages start..end-1 on ``frames``: the frames the last of them passes on."""
        for stage in self.stages[start:end]:
            out: list[FramePoses] = []
            t0 = time.perf_counter()
            for f in frames:
                out.extend(stage.process(f))
            self.timings.add(stage.name, time.perf_counter() - t0)
            frames = out
            if not frames:
                break
        return frames

    def _through(self, start: int, frames: list[FramePoses]) -> Iterator[FramePoses]:
        for f in self._run_stages(start, len(self.stages), frames):
            self.frames += 1
            yield f

    def _finished(self, start: int, end: int) -> Iterator[FramePoses]:
        """The end of the video for stages start..end-1: what each still holds, through the rest of them."""
        for i in range(start, end):
            stage = self.stages[i]
            t0 = time.perf_counter()
            rest = stage.finish()
            self.timings.add(stage.name, time.perf_counter() - t0)
            if rest:
                yield from self._run_stages(i + 1, end, rest)

    def _flush(self, start: int) -> Iterator[FramePoses]:
        for f in self._finished(start, len(self.stages)):
            self.frames += 1
            yield f


# --- the whole job: vidpose run ---------------------------------------------------------------


class OverlayThread:
    """Draws and encodes the overlay video in a background thread (bounded queue).

    The overlay is drawn on the frame shrunk to ``max_size`` (shorter side, 720 by
    default: ``--overlay-size``) and encoded with x264's ``ultrafast`` preset: at full
    1080p size with ``veryfast`` it cost about as much as the pose models and, on 2
    cores, took a third of the run's frame rate. RGB is converted to YUV by OpenCV
    (``VideoWriter(fast_colour=True)``), not by the encoder's swscale. On its own
    thread it overlaps with the models (OpenCV and PyAV release the GIL while
    resizing and encoding).
    """

    PRESET = "ultrafast"

    def __init__(self, path: Path, info, skeleton: Skeleton, min_score: float, timings: Timings,
                 max_size: int | None = 720):
        from vidpose.io.video import VideoWriter
        from vidpose.viz import overlay_size

        self.max_size = max_size
        w, h = overlay_size(info.width, info.height, max_size)
        self.writer = VideoWriter(path, info.fps, w, h, preset=self.PRESET, fast_colour=True)
        self.skeleton, self.min_score, self.timings = skeleton, min_score, timings
        self.q: queue.Queue = queue.Queue(maxsize=8)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def _work(self) -> None:
        from vidpose.viz import draw_overlay

        while True:
            item = self.q.get()
            if item is _END:
                return
            if self.error is not None:
                continue  # drain after a failure
            image, persons, t = item
            t0 = time.perf_counter()
            try:
                self.writer.write(draw_overlay(image, persons, self.skeleton, self.min_score, self.max_size), time=t)
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


def make_staging_dir(out_dir: Path) -> tuple[Path, list[Path]]:
    """Create ``out_dir`` and a hidden staging folder inside it (proving it is writable).

    Every output is written into the staging folder first and moved into
    ``out_dir`` only when all of them are complete, so a failure at any point
    (the overlay encoder, the disk) leaves no new file, partial or complete.
    Returns the staging folder and the folders this call created (deepest
    first), which a failed run removes again (:func:`remove_created`).
    """
    created = [p for p in (out_dir, *out_dir.parents) if not p.exists()]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".vidpose-run-", dir=out_dir)), created
    except OSError as e:
        remove_created(created)
        raise InputError(f"cannot write to output directory {out_dir}: {e.strerror or e}") from None


def remove_created(folders: list[Path]) -> None:
    """Remove the folders a run created, deepest first, where they are (still) empty."""
    for d in folders:
        try:
            d.rmdir()
        except OSError:
            pass


def run(source, out_dir: str | os.PathLike, config: RunConfig | None = None,
        stages: list[Stage] | None = None) -> dict:
    """``vidpose run``: estimate poses in ``source`` and write the outputs into ``out_dir``.

    Returns the content of run.json. All files appear only when the run has
    succeeded; on any error none of them is left behind. ``stages``: already
    built stages for ``config`` (:func:`build_stages`; benchmarks load the models
    outside the timed run), else they are built here.
    """
    from vidpose import store
    from vidpose.io.atomic import atomic_write_text
    from vidpose.io.bvh import BvhWriter
    from vidpose.io.poses import PosesCsvWriter, PosesJsonWriter, TrcWriter
    from vidpose.progress import Progress

    config = config or RunConfig()
    out = Path(out_dir)
    t_start = time.perf_counter()
    pr = PoseRun(source, config, stages=stages)  # a bad source fails here, before anything is created
    try:
        _check_targets(out, ["poses.json", "run.json", *(["poses.csv"] if config.csv else []),
                             *(["overlay.mp4"] if config.overlay else []), *(["report.html"] if config.report else [])])
        stage, created = make_staging_dir(out)
    except BaseException:
        pr.source.close()
        raise
    info = pr.info
    skeleton = get_skeleton(config.skeleton)
    total = info.num_frames if config.max_frames is None else min(config.max_frames, info.num_frames or config.max_frames)
    progress = Progress(total, "frames", enabled=not config.quiet)
    track_ids: set[int] = set()
    frames_with_person = 0
    writers: list = []  # each has write_frame(frame_dict), close() and abort()
    overlay = None
    try:
        skeleton_3d = pr.skeleton_3d  # the 3D's own skeleton where --skeleton cannot hold it
        writers.append(PosesJsonWriter(stage / "poses.json", skeleton, skeleton_3d))
        if config.csv:
            writers.append(PosesCsvWriter(stage / "poses.csv", skeleton, skeleton_3d))
        if config.trc:
            writers.append(TrcWriter(stage, "poses", skeleton_3d or skeleton, info.fps))
        if config.bvh:
            writers.append(BvhWriter(stage, "poses", skeleton_3d or skeleton, info.fps))
        if config.overlay:
            overlay = OverlayThread(stage / "overlay.mp4", info, skeleton, config.min_score, pr.timings,
                                    config.overlay_size)
        for fp in pr:
            fd = frame_dict(fp)
            t0 = time.perf_counter()
            for w in writers:
                w.write_frame(fd)
            pr.timings.add("write", time.perf_counter() - t0)
            if overlay is not None:
                overlay.put(fp.image, fd["persons"], fp.time)
            fp.image = fp.gray = None
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
        wall = time.perf_counter() - t_start
        model_info = pr.model_info
        report = {
            "vidpose_version": __version__,
            "source": str(info.path),
            "config": asdict(config),
            "model": {k: v for k, v in model_info.items() if k != "stages"},
            "models": {
                k: {"file": str(v), "sha256": store.sha256_file(v)} for k, v in pr.model_files.items()
            },
            "stages": model_info.get("stages"),
            "video": {"width": info.width, "height": info.height, "fps": info.fps, "rotation": info.rotation},
            "frames": pr.frames,
            "frames_with_person": frames_with_person,
            "track_ids": sorted(track_ids),
            # poses of tracks shorter than --min-track-frames, not written (stages/track.py)
            "short_track_poses_dropped": sum(s.dropped for s in pr.stages if isinstance(s, TrackStage)),
            "seconds": {k: round(v, 4) for k, v in pr.timings.seconds.items()},
            "wall_seconds": round(wall, 3),
            "fps": round(pr.frames / wall, 3) if wall > 0 else None,
            "decode_error": pr.decode_error,
            "outputs": sorted(p.name for p in stage.iterdir()) + ["run.json"],
        }
        if config.report and info.codec != "webcam":  # after `wall`: not in the fps figure
            from vidpose.report import write_report

            t0 = time.perf_counter()
            write_report(stage, run=report)
            report["report_seconds"] = round(time.perf_counter() - t0, 3)
            report["outputs"] = sorted(p.name for p in stage.iterdir()) + ["run.json"]
        atomic_write_text(stage / "run.json", json.dumps(report, indent=2) + "\n")
        # Everything is complete: move it into place (renames within one folder), once every
        # target is known to be replaceable, so that a failure leaves no mixed set behind.
        done = sorted(stage.iterdir(), key=lambda p: p.name == "run.json")
        _check_targets(out, [p.name for p in done])
        stale = _previous_outputs(out) - {p.name for p in done}
        for p in done:
            os.replace(p, out / p.name)
        for name in sorted(stale):  # a previous run's files this run did not remake (its 2nd track's .trc, ...)
            with contextlib.suppress(FileNotFoundError):
                (out / name).unlink()
        stage.rmdir()
    except BaseException:
        progress.close()
        for w in writers:
            w.abort()
        if overlay is not None:
            overlay.abort()
        shutil.rmtree(stage, ignore_errors=True)
        remove_created(created)  # a failed run leaves no empty output folder behind either
        raise
    if pr.decode_error:
        warnings.warn(f"{info.path}: {pr.decode_error}; outputs cover the {pr.frames} frames decoded", stacklevel=2)
    return report


def _previous_outputs(out: Path) -> set[str]:
    """The files a previous ``vidpose run`` into ``out`` wrote (its run.json's ``outputs``; plain names
    only, files only), so that a new run into the same folder does not leave them beside its own."""
    try:
        prev = json.loads((out / "run.json").read_text(encoding="utf-8"))
        names = prev["outputs"] if isinstance(prev, dict) else []
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    if not isinstance(names, list):
        return set()
    return {n for n in names if isinstance(n, str) and n == Path(n).name and n not in ("", ".", "..")
            and (out / n).is_file()}


def _check_targets(out: Path, names: list[str]) -> None:
    """An output about to be replaced must not be a folder (os.replace cannot put a file there)."""
    for name in names:
        if (out / name).is_dir():
            raise InputError(f"{out / name}: exists and is a folder, where vidpose run writes its {name}; "
                             "move it away or choose another --out (nothing was written)")


__all__ = ["RunConfig", "Stage", "PoseRun", "build_stages", "frame_dict", "run"]
