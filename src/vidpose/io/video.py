"""Video input and output with PyAV (FFmpeg).

Reading: :func:`open_source` accepts a video file, a folder of images, a single
image, or a webcam index and returns a :class:`FrameSource`. Iterating it
yields :class:`Frame` objects whose ``image`` is an ``(H, W, 3)`` uint8 RGB
array, already turned upright, and whose ``time`` is the real presentation
time in seconds relative to the first frame (variable frame rate is honoured).

Decoding is streaming: one frame at a time, nothing kept per frame, so memory
does not grow with the length of the video.

Rotation: phone videos store the picture sideways plus a *display matrix*
saying how to turn it for display. FFmpeg exposes the matrix on every decoded
frame as side data; PyAV reads it as ``VideoFrame.rotation`` (counter-clockwise
degrees). Old FFmpeg builds instead put a ``rotate`` tag (clockwise degrees) in
the stream metadata; both are read. :attr:`VideoInfo.rotation` is the
*clockwise* rotation applied to make frames upright (0, 90, 180 or 270, the
convention of the ``rotate`` tag), and width/height are those after rotation.

Damaged files: a truncated or corrupted video is decoded as far as possible;
then iteration stops, :attr:`FrameSource.decode_error` says where and why, and
a warning is issued. Only a video with no decodable frame at all raises.

Writing: :class:`VideoWriter` writes H.264 MP4 (yuv420p) atomically.

Webcams are read with OpenCV's ``cv2.VideoCapture`` (PyAV's device input
differs per operating system); they are not covered by the test suite.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import re
import time as _time
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np

from vidpose.errors import InputError, OutputError
from vidpose.io.atomic import atomic_path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts")
DEFAULT_IMAGE_FPS = 30.0


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a source before decoding it all.

    ``width``/``height`` are after rotation; ``num_frames`` is None when the
    container does not declare a frame count (webcam, Matroska ...).
    """

    path: str
    width: int
    height: int
    fps: float
    num_frames: int | None
    rotation: int = 0
    codec: str = ""


@dataclass
class Frame:
    """One decoded frame: ``image`` is (H, W, 3) uint8 RGB, ``time`` in seconds; ``gray`` (H, W) uint8
    is the decoder's own luma plane (Y of an 8-bit YUV video, upright like ``image``) when there is
    one, which grey-image consumers (the optical flow) use instead of converting ``image``."""

    index: int
    time: float
    image: np.ndarray
    gray: np.ndarray | None = None


class FrameSource:
    """An iterable of :class:`Frame`; close it (or use ``with``) when done.

    Subclasses implement ``_frames()``. Iterating again starts from the first
    frame (files are reopened); webcams continue live.
    """

    info: VideoInfo
    decode_error: str | None = None

    def __iter__(self) -> Iterator[Frame]:
        return self._frames()

    def _frames(self) -> Iterator[Frame]:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release the file or device. Safe to call more than once."""

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        if self.info.num_frames is None:
            raise TypeError(f"{self.info.path}: the number of frames is not known in advance")
        return self.info.num_frames


# --- helpers ---------------------------------------------------------------------------------


_LUMA_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"})


def _luma(frame) -> np.ndarray | None:
    """A view of an 8-bit YUV frame's Y plane (H, W), or None for other pixel formats."""
    if frame.format.name not in _LUMA_FORMATS:
        return None
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:frame.height, :frame.width]


def rotate_upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn an (H, W, C) image clockwise by ``rotation`` degrees (a multiple of 90)."""
    k = (rotation // 90) % 4
    if k == 0:
        return image
    # np.rot90 turns counter-clockwise for positive k; copy so callers get a
    # C-contiguous array (OpenCV drawing needs one).
    return np.ascontiguousarray(np.rot90(image, k=-k))


def rotation_from_display(ccw_degrees: float | None, rotate_tag: str | None = None) -> int:
    """Clockwise degrees (0/90/180/270) to make a frame upright.

    ``ccw_degrees`` is FFmpeg's display-matrix angle (``VideoFrame.rotation``,
    counter-clockwise); ``rotate_tag`` the legacy clockwise ``rotate`` metadata,
    used when the matrix is absent or zero.
    """
    cw = 0.0
    if ccw_degrees:
        cw = -float(ccw_degrees)
    elif rotate_tag:
        try:
            cw = float(rotate_tag)
        except ValueError:
            cw = 0.0
    # Only quarter turns occur in practice; snap to the nearest one.
    return int(round(cw / 90.0)) % 4 * 90


def _natural_key(name: str) -> list:
    # "img2" before "img10": compare digit runs as numbers.
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name.lower())]


def _check_fps(fps: float | None, what: str) -> float | None:
    if fps is None:
        return None
    try:
        f = float(fps)
    except (TypeError, ValueError):
        raise InputError(f"{what}: fps must be a number, got {fps!r}") from None
    if not (math.isfinite(f) and f > 0):
        raise InputError(f"{what}: fps must be a positive number, got {fps!r}")
    return f


def _read_image(path: Path) -> np.ndarray:
    import cv2

    # np.fromfile + imdecode also works for non-ASCII paths, where cv2.imread fails.
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as e:
        raise InputError(f"{path}: cannot read image file ({e.strerror or e})") from None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise InputError(f"{path}: not a readable image (corrupt or unsupported format)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


# --- video files -----------------------------------------------------------------------------


class _VideoFileSource(FrameSource):
    def __init__(self, path: Path, fps: float | None) -> None:
        self.path = path
        self.decode_error = None
        self._fps_hint = fps
        self._container = None
        # Open and decode the first frame now: bad files fail at open time and
        # the rotation (known only from a decoded frame's side data) fills info.
        self._pending = self._start()
        container, stream, _, first = self._pending
        self.info = self._make_info(container, stream, first)

    def _open(self):
        name = str(self.path)
        try:
            container = av.open(name, mode="r")
        except av.error.FFmpegError as e:
            raise InputError(f"{name}: not a readable video ({_reason(e)})") from None
        except (OSError, ValueError) as e:
            raise InputError(f"{name}: cannot open ({e})") from None
        if not container.streams.video:
            container.close()
            raise InputError(f"{name}: contains no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads: several times faster
        return container, stream

    def _start(self):
        container, stream = self._open()
        self._container = container
        state = {"error": None}
        gen = self._decode(container, stream, state)
        first = next(gen, None)
        if first is None:
            container.close()
            self._container = None
            why = f" ({state['error']})" if state["error"] else ""
            raise InputError(f"{self.path}: contains no decodable frames{why}")
        return container, stream, (gen, state), first

    @staticmethod
    def _decode(container, stream, state) -> Iterator["av.VideoFrame"]:
        # Stop at the first decoder/demuxer error and keep what came before:
        # a truncated recording is still worth analysing up to the damage.
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    yield frame
        except av.error.FFmpegError as e:
            state["error"] = _reason(e)

    def _make_info(self, container, stream, first) -> VideoInfo:
        rot = rotation_from_display(first.rotation, stream.metadata.get("rotate"))
        w, h = first.width, first.height
        if rot in (90, 270):
            w, h = h, w
        fps = None
        for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
            if rate:
                fps = float(rate)
                break
        if fps is None:
            fps = self._fps_hint or DEFAULT_IMAGE_FPS
        elif self._fps_hint is not None and abs(self._fps_hint - fps) > 1e-6:
            warnings.warn(f"{self.path}: --fps {self._fps_hint:g} is not used: the video declares {fps:g} frames/s "
                          "(--fps sets the rate of image folders, images and webcams, and of videos that declare "
                          "none)", stacklevel=2)
        return VideoInfo(
            path=str(self.path), width=w, height=h, fps=fps,
            num_frames=stream.frames or None, rotation=rot, codec=stream.codec_context.name,
        )

    def _declared_duration(self, container, stream) -> float | None:
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if container.duration:
            return container.duration / av.time_base
        return None

    def _frames(self) -> Iterator[Frame]:
        if self._pending is None:
            self._pending = self._start()
        container, stream, (gen, state), first = self._pending
        self._pending = None
        self.decode_error = None
        info = self.info
        tb = stream.time_base
        first_pts = first.pts
        n = 0
        t = 0.0
        try:
            frame = first
            while frame is not None:
                if frame.pts is not None and first_pts is not None and tb is not None:
                    t = float((frame.pts - first_pts) * tb)
                else:
                    t = n / info.fps
                image = frame.to_ndarray(format="rgb24")
                # to_ndarray is a view into FFmpeg's buffer, strided when a row is
                # padded (e.g. width 66). Copy once into a C-contiguous array that
                # numpy owns: OpenCV needs contiguity, and a kept image must not
                # pin the decoder's frame pool.
                image = rotate_upright(image, info.rotation) if info.rotation else np.array(image, order="C")
                gray = _luma(frame)
                if gray is not None:
                    gray = rotate_upright(gray, info.rotation) if info.rotation else np.array(gray, order="C")
                yield Frame(index=n, time=t, image=image, gray=gray)
                n += 1
                frame = next(gen, None)
            self._check_complete(container, stream, state["error"], n, t)
        finally:
            container.close()
            if self._container is container:
                self._container = None

    def _check_complete(self, container, stream, error: str | None, n: int, last_t: float) -> None:
        at = f"stopped at frame {n} (t={last_t + 1.0 / self.info.fps:.3f}s)"
        msg = None
        if error:
            msg = f"{at}: {error}"
        elif stream.frames and n < stream.frames:
            msg = f"{at}: decoded {n} of the {stream.frames} frames the container declares (truncated file?)"
        else:
            # No frame count (Matroska, MPEG-TS ...): compare with the duration,
            # with slack since durations are rounded and VFR makes fps approximate.
            dur = self._declared_duration(container, stream)
            if dur and not stream.frames:
                expected = dur * self.info.fps
                if n < 0.9 * expected - 2:
                    msg = (f"{at}: the video ends at {last_t:.3f}s but the container declares "
                           f"{dur:.3f}s (truncated file?)")
        if msg:
            self.decode_error = msg
            warnings.warn(f"{self.path}: {msg}", RuntimeWarning, stacklevel=3)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self._pending = None


def _reason(e: BaseException) -> str:
    # FFmpegError's str() repeats the filename; the strerror alone reads better.
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


# --- images ----------------------------------------------------------------------------------


class _ImageSource(FrameSource):
    def __init__(self, path: Path, fps: float | None) -> None:
        self.path = path
        self.decode_error = None
        if path.is_dir():
            try:
                names = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
            except OSError as e:
                raise InputError(f"{path}: cannot list folder ({e.strerror or e})") from None
            if not names:
                raise InputError(
                    f"{path}: folder contains no images ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)})"
                )
            self.files = sorted(names, key=lambda p: _natural_key(p.name))
        else:
            self.files = [path]
        first = _read_image(self.files[0])
        h, w = first.shape[:2]
        self.info = VideoInfo(
            path=str(path), width=w, height=h, fps=fps or DEFAULT_IMAGE_FPS,
            num_frames=len(self.files), rotation=0, codec="image",
        )

    def _frames(self) -> Iterator[Frame]:
        for i, f in enumerate(self.files):
            img = _read_image(f)
            if img.shape[:2] != (self.info.height, self.info.width):
                raise InputError(
                    f"{f}: image is {img.shape[1]}x{img.shape[0]} but the first image of "
                    f"{self.path} is {self.info.width}x{self.info.height}; all must have one size"
                )
            yield Frame(index=i, time=i / self.info.fps, image=img)


# --- webcam ----------------------------------------------------------------------------------


class _WebcamSource(FrameSource):
    """A live camera via OpenCV. ``time`` is wall-clock seconds since the first frame."""

    def __init__(self, index: int, fps: float | None) -> None:
        import cv2

        self.decode_error = None
        self._cap = cv2.VideoCapture(index)
        ok, bgr = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok:
            self._cap.release()
            raise InputError(f"webcam {index}: cannot be opened or delivers no frames")
        self._first = bgr
        cam_fps = self._cap.get(cv2.CAP_PROP_FPS)
        h, w = bgr.shape[:2]
        self.info = VideoInfo(
            path=f"webcam:{index}", width=w, height=h,
            fps=fps or (cam_fps if cam_fps and cam_fps > 0 else DEFAULT_IMAGE_FPS),
            num_frames=None, rotation=0, codec="webcam",
        )

    def _frames(self) -> Iterator[Frame]:
        import cv2

        t0 = _time.monotonic()
        i = 0
        while self._cap is not None:
            if self._first is not None:
                bgr, self._first = self._first, None
            else:
                ok, bgr = self._cap.read()
                if not ok:
                    return
            yield Frame(index=i, time=_time.monotonic() - t0, image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            i += 1

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


# --- entry point -----------------------------------------------------------------------------


def _webcam_index(index: int) -> int:
    """A webcam index OpenCV can be asked for: a negative or huge one crashes or overflows inside it."""
    if not 0 <= index < 10_000:
        raise InputError(f"webcam index must be between 0 and 9999, got {index}")
    return index


def open_source(source: str | os.PathLike | int, fps: float | None = None) -> FrameSource:
    """Open a video file, image folder, single image or webcam index for reading.

    ``fps`` sets the frame rate of image folders/single images (default 30)
    and webcams, and is the fallback for a video stream that declares none;
    a video's timestamps always come from the file itself.
    A string of digits that is not an existing path is a webcam index.
    Raises :class:`InputError` naming the source and the fault.
    """
    if isinstance(source, bool) or not isinstance(source, (str, os.PathLike, numbers.Integral)):
        shape = getattr(source, "shape", None)  # an array's repr would be pages long
        what = f"{type(source).__name__} of shape {tuple(shape)}" if shape is not None else f"{source!r:.60}"
        raise InputError(f"source must be a path (video file, image folder, image) or a webcam index, got {what}")
    fps = _check_fps(fps, str(source))
    if isinstance(source, numbers.Integral):
        return _WebcamSource(_webcam_index(int(source)), fps)
    if isinstance(source, str) and source.strip().isdigit() and not os.path.exists(source):
        return _WebcamSource(_webcam_index(int(source)), fps)
    try:
        path = Path(source)
    except TypeError:
        raise InputError(f"source must be a path or a webcam index, got {source!r}") from None
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_dir() or path.suffix.lower() in IMAGE_EXTENSIONS:
        return _ImageSource(path, fps)
    return _VideoFileSource(path, fps)


# --- writing ---------------------------------------------------------------------------------


def _pick_codec(codec: str) -> str:
    """``codec`` if this FFmpeg build can encode it; libx264 falls back to mpeg4."""
    try:
        av.Codec(codec, "w")
        return codec
    except ValueError:  # PyAV's UnknownCodecError (a ValueError): this build has no such encoder
        if codec == "libx264":
            warnings.warn("libx264 is not available in this PyAV build; writing MPEG-4 Part 2 video",
                          RuntimeWarning, stacklevel=3)
            return _pick_codec("mpeg4")
        raise InputError(f"video codec {codec!r} is not available in this PyAV/FFmpeg build") from None


class VideoWriter:
    """Write RGB frames to an H.264 MP4 (yuv420p), atomically.

    Frames go to a temporary file beside ``path`` that is renamed onto it by
    :meth:`close`; on an exception inside a ``with`` block (or :meth:`abort`)
    the temporary file is removed and nothing is left behind.

    yuv420p needs even dimensions: an odd ``width``/``height`` is padded by one
    pixel on the right/bottom (repeating the last column/row), so the file is
    then one pixel larger than the frames given.

    ``write(image, time)``: ``time`` in seconds sets the frame's timestamp
    (variable frame rate); without it frames are spaced ``1/fps`` apart.

    ``fast_colour``: convert RGB to YUV 4:2:0 with OpenCV's vectorised converter
    (BT.601, limited range, as libswscale's default; its chroma comes out about one
    level off swscale's, luma the same to a fraction of a level). At 720p with x264
    ``ultrafast`` it cuts the encoding's CPU time by a fifth (6.5 -> 5.2 ms a frame);
    the overlay uses it. Off by default, so files made before it (the synthetic
    videos) keep their bytes.
    """

    # 1/30000 s is exact for 24, 25, 30, 60 and the NTSC rates (30000/1001 ...)
    # and stays within MPEG-4 Part 2's 16-bit time-base limit.
    TIME_BASE = Fraction(1, 30000)

    def __init__(self, path: str | os.PathLike, fps: float, width: int, height: int,
                 codec: str = "libx264", crf: int = 23, preset: str = "veryfast", fast_colour: bool = False) -> None:
        self.path = Path(path)
        self.fast_colour = fast_colour
        fps = _check_fps(fps, str(self.path))
        if fps is None:
            raise InputError(f"{self.path}: fps is required")
        if not (isinstance(width, (int, np.integer)) and isinstance(height, (int, np.integer))
                and width > 0 and height > 0):
            raise InputError(f"{self.path}: width and height must be positive integers, got {width}x{height}")
        self.fps = fps
        self.width, self.height = int(width), int(height)
        self._enc_w, self._enc_h = self.width + self.width % 2, self.height + self.height % 2
        self.codec = _pick_codec(codec)
        self._frames_written = 0
        self._last_pts: int | None = None
        self._step = max(1, round(1.0 / (fps * self.TIME_BASE)))
        self._stack = contextlib.ExitStack()
        self._container = None
        try:
            tmp = self._stack.enter_context(atomic_path(self.path))
            # faststart puts the index first: playable while streaming, and a
            # cut-off copy still decodes up to the cut.
            options = {"movflags": "+faststart"} if self.path.suffix.lower() in (".mp4", ".mov", ".m4v") else {}
            self._container = av.open(str(tmp), mode="w", options=options)
            rate = Fraction(fps).limit_denominator(1001)
            stream = self._container.add_stream(self.codec, rate=rate)
            stream.width, stream.height = self._enc_w, self._enc_h
            stream.pix_fmt = "yuv420p"
            stream.time_base = self.TIME_BASE
            stream.codec_context.time_base = self.TIME_BASE
            if self.codec == "libx264":
                stream.options = {"crf": str(int(crf)), "preset": preset}
            else:
                # No CRF: pick a bit rate for decent quality (~0.2 bit per pixel).
                stream.bit_rate = int(max(200_000, self._enc_w * self._enc_h * fps * 0.2))
            self._stream = stream
        except (FileNotFoundError, OutputError) as e:
            self._fail()
            if isinstance(e, FileNotFoundError) or isinstance(e.__cause__, FileNotFoundError):
                raise InputError(f"{self.path}: the output folder does not exist") from None
            raise
        except (av.error.FFmpegError, ValueError, OSError) as e:
            self._fail()
            raise InputError(f"{self.path}: cannot create video ({_reason(e)})") from None

    @property
    def frames_written(self) -> int:
        return self._frames_written

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        """Append one (height, width, 3) uint8 RGB frame, shown at ``time`` seconds if given."""
        if self._container is None:
            raise InputError(f"{self.path}: writer is closed")
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.shape != (self.height, self.width, 3):
            raise InputError(
                f"{self.path}: frame must be a ({self.height}, {self.width}, 3) uint8 RGB array, "
                f"got {image.shape} {image.dtype}"
            )
        if time is None:
            pts = 0 if self._last_pts is None else self._last_pts + self._step
        else:
            if not math.isfinite(time):
                raise InputError(f"{self.path}: frame time must be finite, got {time}")
            pts = round(time / self.TIME_BASE)
            if self._last_pts is not None and pts <= self._last_pts:
                raise InputError(
                    f"{self.path}: frame times must increase; {time:.6f}s is not after "
                    f"{float(self._last_pts * self.TIME_BASE):.6f}s"
                )
        if (self._enc_h, self._enc_w) != image.shape[:2]:
            image = np.pad(image, ((0, self._enc_h - self.height), (0, self._enc_w - self.width), (0, 0)),
                           mode="edge")
        if self.fast_colour:
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420), format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = pts
        frame.time_base = self.TIME_BASE
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (av.error.FFmpegError, OSError) as e:
            self._fail()
            raise OutputError(f"{self.path}: cannot write video ({_reason(e)})") from e
        self._last_pts = pts
        self._frames_written += 1

    def close(self) -> None:
        """Flush the encoder and move the file into place. Safe to call more than once."""
        if self._container is None:
            return
        if self._frames_written == 0:
            self._fail()
            raise InputError(f"{self.path}: no frames were written; no video saved")
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            self._container = None
        except (av.error.FFmpegError, OSError) as e:
            self._fail()
            raise OutputError(f"{self.path}: cannot write video ({_reason(e)})") from e
        except BaseException:
            self._fail()
            raise
        self._stack.close()  # renames the temporary file onto self.path

    def abort(self) -> None:
        """Discard everything written; ``path`` is left untouched."""
        self._fail()

    def _fail(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None
        err = RuntimeError("video writing aborted")
        # Passing an exception makes atomic_path delete the temporary file.
        with contextlib.suppress(RuntimeError):
            self._stack.__exit__(RuntimeError, err, None)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._fail()
