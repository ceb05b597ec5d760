"""The estimate stage (detection + per-person 2D pose) and the choice of estimator (``--model``).

``--model`` names a BlazePose landmark model (``lite``, ``full``, ``heavy``: the
BlazePose backend), a shipped trained model (``vidpose.methods.PRETRAINED``) or a
path to a ``.safetensors`` checkpoint or an ``.onnx`` export (the top-down
backend, with BlazePose's person detector). The trained model is loaded here and
handed to the backend, which never imports the model code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vidpose.backends.blazepose import LANDMARK_MODELS
from vidpose.errors import InputError
from vidpose.skeletons import COCO17, Skeleton
from vidpose.stages.base import Stage
from vidpose.types import FramePoses

BLAZEPOSE_MODELS = tuple(LANDMARK_MODELS)  # lite, full, heavy
BLAZEPOSE_OUTPUTS = frozenset({"heatmaps", "blazepose_heatmaps", "world_landmarks"})
TRAINED_OUTPUTS = frozenset({"heatmaps"})

# Skeleton of a trained model by its number of keypoints (the training data's order).
SKELETON_BY_KEYPOINTS: dict[int, Skeleton] = {17: COCO17}


@dataclass
class ModelChoice:
    """What ``--model`` names, resolved without loading anything."""

    spec: str
    kind: str  # "blazepose" | "checkpoint" | "onnx"
    path: Path | None = None
    provides: frozenset[str] = field(default_factory=frozenset)  # keys of stages.base.OUTPUTS

    @property
    def is_blazepose(self) -> bool:
        return self.kind == "blazepose"


def model_choice(spec: str) -> ModelChoice:
    """Classify ``--model``; InputError naming it when it is none of the accepted kinds."""
    from vidpose.methods import PRETRAINED, is_checkpoint_spec, resolve

    spec = str(spec)
    if spec in BLAZEPOSE_MODELS:
        return ModelChoice(spec, "blazepose", None, BLAZEPOSE_OUTPUTS)
    if not is_checkpoint_spec(spec):
        raise InputError(
            f"--model {spec!r}: not a BlazePose model ({', '.join(BLAZEPOSE_MODELS)}), a shipped trained model "
            f"({', '.join(PRETRAINED)}) or a path to a .safetensors checkpoint or .onnx export"
        )
    try:
        path = resolve(spec)
    except InputError as e:
        raise InputError(f"--model: {e}") from None
    if not path.is_file():
        raise InputError(f"--model {spec!r}: {path} is not a file")
    kind = "onnx" if path.suffix.lower() == ".onnx" else "checkpoint"
    return ModelChoice(spec, kind, path, TRAINED_OUTPUTS)


def skeleton_for(num_keypoints: int, spec: str) -> Skeleton:
    sk = SKELETON_BY_KEYPOINTS.get(int(num_keypoints))
    if sk is None:
        known = ", ".join(f"{k} ({s.name})" for k, s in SKELETON_BY_KEYPOINTS.items())
        raise InputError(
            f"--model {spec!r}: the model has {num_keypoints} keypoints; vidpose run knows the skeleton of "
            f"models with {known} keypoints"
        )
    return sk


class EstimateStage(Stage):
    """Detection + single-person pose per person (top-down), via a frame backend.

    A backend's 3D keypoints (BlazePose's world landmarks) are kept for a lift stage
    (``person.extra["world_landmarks"]``) only when ``keep_world``; ``keypoints_3d``
    is left for the lift stage to fill.
    """

    name = "estimate"

    def __init__(self, backend, keep_world: bool = False, info: dict | None = None):
        self.backend, self.keep_world = backend, keep_world
        self.info = info or {}

    def close(self) -> None:
        """Release what the backend holds beyond the run (threads), if it has a ``close``."""
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()

    def __call__(self, frame: FramePoses) -> None:
        persons = self.backend(frame.image)
        for p in persons:
            if p.keypoints_3d is not None and self.keep_world:
                p.extra["world_landmarks"] = p.keypoints_3d
            p.keypoints_3d = None
        frame.persons = persons
        frame.skeleton = self.backend.skeleton


def build_estimator(config, choice: ModelChoice, keep_heatmaps: bool, quiet: bool = False):
    """The backend for ``choice`` and a description of it for run.json.

    ``config`` is the run's RunConfig (max_people, detect_every, detection_threshold, detector, threads).
    """
    from vidpose.backends.blazepose import BlazePose, BlazePoseConfig, person_detector

    if choice.is_blazepose:
        backend = BlazePose(
            BlazePoseConfig(
                model=choice.spec, max_people=config.max_people, detect_every=config.detect_every,
                detection_threshold=config.detection_threshold, threads=config.threads,
                keep_heatmaps=keep_heatmaps, detector=config.detector, detector_size=config.detector_size,
                detector_tiles=config.detector_tiles,
            ),
            quiet=quiet,
        )
        info = {"model": choice.spec, "kind": "blazepose", "backend": "blazepose", "skeleton": "blazepose33",
                "detector": config.detector}
        return backend, info

    from vidpose.backends.topdown import TopDown, TopDownConfig
    from vidpose.methods import load
    from vidpose.models.runtime import as_runner

    # .safetensors -> PyTorch, .onnx -> onnxruntime. PyTorch runs one thread: the crops are
    # small, and its thread pool competes with the decoder and overlay threads (40 frames of
    # the sample clip on a busy 2-core machine: estimate 1.1 s with 1 thread, 10 s with 2).
    model = load(choice.path)
    if not hasattr(model, "codec") or not hasattr(model.cfg, "input_size"):
        raise InputError(f"--model {choice.path}: a {getattr(model, 'method', '?')} model is not a 2D keypoint "
                         "model; vidpose run takes BlazePose or a top-down 2D model (lifters go in --lift)")
    if getattr(model.cfg, "clip_length", 1) != 1:
        raise InputError(f"--model {choice.path}: this {model.method} model takes clips of {model.cfg.clip_length} "
                         "frames; vidpose run runs single-frame models (its temporal refinement is --refine)")
    runner = as_runner(model, threads=1)
    skeleton = skeleton_for(runner.cfg.num_keypoints, choice.spec)
    cfg = TopDownConfig(max_people=config.max_people, detect_every=config.detect_every, keep_heatmaps=keep_heatmaps)
    detector = person_detector(config.detector, config.detection_threshold, config.detector_size, config.threads,
                               quiet=quiet, tiles=config.detector_tiles)
    backend = TopDown(runner, detector, skeleton, cfg, model_file=choice.path)
    extra = runner.extra or {}
    info = {
        "model": choice.spec, "kind": choice.kind, "backend": "topdown", "method": runner.method,
        "file": str(choice.path), "input_size": list(runner.cfg.input_size), "detector": config.detector,
        "skeleton": skeleton.name, "skeleton_from": f"{runner.cfg.num_keypoints} keypoints",
        "trained_on": extra.get("trained_on"),
    }
    return backend, info
