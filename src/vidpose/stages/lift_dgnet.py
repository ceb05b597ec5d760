"""``vidpose run --lift dgnet``: DG-Net lifting of each tracked person's H36M-17 2D track to 3D.

The stage buffers frames until ``chunk`` of them have ``R // 2`` frames of
future context (R the model's receptive field), then lifts every track's run of
consecutive frames among them in one dense pass (:meth:`SequenceLifter.forward_valid`
over the run plus R // 2 frames of context each side; with test-time flip augmentation,
``methods.RUN_FLIP``) and passes them on; at
the end of the video it flushes the rest. Context missing because a track starts,
ends or has a gap is filled by repeating its first/last frame, exactly as
:meth:`SequenceLifter.lift` pads a whole track, so the result does not depend on
``chunk`` (tested). A person without a track id is lifted on its own frame.

The shipped lifter runs from its ONNX export with onnxruntime (:func:`load_lift_runner`), so a run
needs no PyTorch; a lifter checkpoint of the user's runs with PyTorch.

Input: the estimator's keypoints converted to H36M-17 with scores
(:func:`vidpose.skeletons.convert_with_scores`), normalised to the image
(VideoPose3D's convention) with the score as the confidence channel. Output:
``keypoints_3d`` (17, 3) in H36M-17, metres, pelvis at the origin, camera axes
(x right, y down, z forward); the convert stage maps it to the output skeleton.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from vidpose.errors import InputError
from vidpose.geometry import normalize_screen
from vidpose.skeletons import H36M17, convert_with_scores
from vidpose.stages.base import Stage
from vidpose.types import FramePoses


# Frames lifted per pass. The stage holds chunk + R // 2 frames (with their images, which the overlay
# needs later), so a small chunk keeps a run's memory low; the result does not depend on it (tested).
# On the sample clip (1768x994) a default run peaked at 921 MB with 4, 989 MB with 16 and 1,787 MB with
# 128 (and PyTorch), against 751 MB with blazepose-smooth (docs/lifting.md).
CHUNK = 8


def load_lift_runner(model: str = "dgnet"):
    """The lifter runner (:mod:`vidpose.models.runtime`) of ``--lift dgnet``'s ``model``: ``"dgnet"``, the
    shipped lifter's ONNX export (onnxruntime: no torch); an ``.onnx`` export of a lifter; or a lifter
    checkpoint (PyTorch). InputError naming the file when it is not an H36M-17 lifter."""
    from vidpose.models.runtime import OnnxLifter, TorchLifter

    if str(model) == "dgnet":
        from vidpose.methods import shipped_lifter_path

        path = shipped_lifter_path(".onnx")
        if not path.is_file():
            raise InputError(f"the shipped lifter {path} is missing from this installation")
        runner = OnnxLifter(path)
    elif str(model).endswith(".onnx"):
        runner = OnnxLifter(model)
    else:
        from vidpose.methods.dgnet import load_lifter

        return TorchLifter(load_lifter(model))  # checks the skeleton itself
    if runner.skeleton != H36M17.name:
        raise InputError(f"{runner.path}: a lifter for the {runner.skeleton} joints; --lift dgnet needs an "
                         f"{H36M17.name} lifter")
    return runner


class DGNetLift(Stage):
    """The lift stage of ``--lift dgnet`` (see the module docstring); ``model``: ``"dgnet"`` (shipped, run from
    its ONNX export) or a path (:func:`load_lift_runner`)."""

    name = "lift"
    input_skeleton = H36M17
    output_skeleton = H36M17

    def __init__(self, model: str = "dgnet", chunk: int = CHUNK, flip: bool | None = None) -> None:
        from vidpose.methods import RUN_FLIP

        try:
            self.model = load_lift_runner(model)
        except InputError as e:
            raise InputError(f"--lift dgnet: {e}") from None
        self.half = self.model.receptive_field // 2
        self.chunk = max(1, int(chunk))
        self.flip = RUN_FLIP if flip is None else bool(flip)  # test-time flip augmentation
        self.pending: deque[FramePoses] = deque()
        self.inputs: dict[object, dict[int, np.ndarray]] = {}  # track -> frame index -> (17, C) input
        self.size: tuple[float, float] | None = None

    def _input(self, frame: FramePoses, kp: np.ndarray) -> np.ndarray:
        if frame.image is not None:
            h, w = frame.image.shape[:2]
            self.size = (float(w), float(h))
        if self.size is None:
            raise InputError(f"--lift dgnet: frame {frame.index} has no image, so its size is unknown")
        w, h = self.size
        kp = np.asarray(kp, np.float64)
        if frame.skeleton.name != self.input_skeleton.name:
            kp = convert_with_scores(kp, frame.skeleton, self.input_skeleton)
        xy = normalize_screen(kp[:, :2], w, h)
        conf = np.clip(np.nan_to_num(kp[:, 2:3], nan=0.0), 0.0, 1.0)
        x = np.concatenate([xy, conf], 1) if self.model.in_channels == 3 else xy
        return np.nan_to_num(x).astype(np.float32)

    def process(self, frame: FramePoses) -> list[FramePoses]:
        for k, p in enumerate(frame.persons):
            self.inputs.setdefault(_key(frame, k), {})[frame.index] = self._input(frame, p.keypoints)
        self.pending.append(frame)
        if len(self.pending) < self.chunk + self.half:
            return []
        ready = [self.pending.popleft() for _ in range(self.chunk)]
        self._lift(ready)
        return ready

    def finish(self) -> list[FramePoses]:
        ready = list(self.pending)
        self.pending.clear()
        if ready:
            self._lift(ready)
        self.inputs.clear()
        return ready

    def _lift(self, frames: list[FramePoses]) -> None:
        h = self.half
        wanted: dict[object, list[int]] = {}
        for f in frames:
            for k in range(len(f.persons)):
                wanted.setdefault(_key(f, k), []).append(f.index)
        results: dict[tuple[object, int], np.ndarray] = {}
        for key, idx in wanted.items():
            track = self.inputs[key]
            for run in consecutive_runs(sorted(idx)):
                a, b = run[0], run[-1]
                left = [t for t in range(a - 1, a - h - 1, -1) if t in track]
                left = left[:_contiguous(left, a, -1)][::-1]
                right = [t for t in range(b + 1, b + h + 1) if t in track]
                right = right[:_contiguous(right, b, 1)]
                frames_in = left + list(range(a, b + 1)) + right
                x = np.stack([track[t] for t in frames_in])
                x = np.concatenate([np.repeat(x[:1], h - len(left), 0), x, np.repeat(x[-1:], h - len(right), 0)])
                y = self.model.lift_valid(x[None], self.flip)[0]
                y = y - y[:, :1]  # the pelvis exactly at the origin
                for t, pose in zip(range(a, b + 1), y):
                    results[(key, t)] = pose.astype(np.float64)
        for f in frames:
            for k, p in enumerate(f.persons):
                p.keypoints_3d = results[(_key(f, k), f.index)]
        # Forget inputs no later frame can use as left context.
        oldest = (self.pending[0].index if self.pending else frames[-1].index + 1) - h
        for key in list(self.inputs):
            track = self.inputs[key]
            for t in [t for t in track if t < oldest]:
                del track[t]
            if not track:
                del self.inputs[key]


def _key(frame: FramePoses, k: int) -> object:
    """The track a person's inputs belong to: its track id, or its own one-frame track without one."""
    p = frame.persons[k]
    return p.track_id if p.track_id is not None else ("untracked", frame.index, k)


def consecutive_runs(idx: list[int]) -> list[list[int]]:
    """Consecutive runs of sorted frame indices."""
    out: list[list[int]] = []
    for t in idx:
        if out and t == out[-1][-1] + 1:
            out[-1].append(t)
        else:
            out.append([t])
    return out


def _contiguous(ts: list[int], start: int, step: int) -> int:
    """How many of ``ts`` (ordered away from ``start``) follow ``start`` without a gap."""
    n = 0
    for t in ts:
        if t != start + step * (n + 1):
            break
        n += 1
    return n
