"""Top-down person crops for training and validating single-person pose models.

Every labelled person of a :class:`~vidpose.data.annotations.PoseDataset` becomes one
sample: an affine crop of its frame around the person box, the keypoints
moved into crop pixels, and training targets from the model's codec.

Box: the annotation bbox, or the tight box around the labelled keypoints when
there is none; its aspect ratio is widened to the input's W/H, then it is
scaled by ``AugConfig.padding`` (1.25) so limbs near the box edge keep context.

Augmentation (train only): scale jitter, centre shift, rotation with a
probability, horizontal flip with left/right swap. Each sample draws its
random numbers from ``numpy.random.default_rng([seed, epoch, index])``, so a
sample is the same whatever the worker, process or order it is loaded in.

Pixel convention: integer coordinates are pixel centres (OpenCV's). The crop
maps the box centre to ((W-1)/2, (H-1)/2), so a flip is ``x -> W-1-x`` and is
exactly a mirror of the crop array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from vidpose.data.annotations import PoseDataset
from vidpose.errors import InputError
from vidpose.geometry import apply_affine, box_to_center_size, image_to_crop_affine, warp_crop

try:  # torch is an optional dependency of vidpose (the `train` extra)
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover - without torch, a plain base class
    _TorchDataset = object  # type: ignore[assignment,misc]


@dataclass
class AugConfig:
    """Crop and augmentation settings (the ``[aug]`` section of a training config)."""

    padding: float = 1.25  # box enlargement, train and val
    scale: float = 0.25  # train: box size times U(1 - scale, 1 + scale)
    shift: float = 0.0  # train: centre moved by U(-shift, shift) times box size
    rotation: float = 40.0  # train: degrees, U(-rotation, rotation) ...
    rotation_prob: float = 0.6  # ... applied with this probability
    flip: bool = True  # train: horizontal flip with left/right swap ...
    flip_prob: float = 0.5  # ... with this probability

    def validate(self, where: str = "aug") -> None:
        checks = [
            ("padding", self.padding > 0), ("scale", 0 <= self.scale < 1),
            ("shift", 0 <= self.shift < 1), ("rotation", 0 <= self.rotation <= 180),
            ("rotation_prob", 0 <= self.rotation_prob <= 1), ("flip_prob", 0 <= self.flip_prob <= 1),
        ]
        for key, ok in checks:
            if not ok:
                raise InputError(f"{where}.{key}: value {getattr(self, key)!r} is out of range")


class Codec(Protocol):
    def encode(self, keypoints: np.ndarray) -> dict[str, np.ndarray]: ...


# --- geometry -------------------------------------------------------------------------------

def person_box(keypoints: np.ndarray, bbox: np.ndarray | None) -> np.ndarray | None:
    """Box ``(4,)`` x1, y1, x2, y2 from the bbox, else from the labelled keypoints; None if none."""
    if bbox is not None:
        b = np.asarray(bbox, dtype=np.float64).reshape(-1)
        if b.shape == (4,) and np.all(np.isfinite(b)) and b[2] > b[0] and b[3] > b[1]:
            return b
    kp = np.asarray(keypoints, dtype=np.float64)
    lab = kp[:, 2] > 0
    if not lab.any():
        return None
    xy = kp[lab, :2]
    return np.concatenate([xy.min(0), xy.max(0)])


def crop_affine(center: np.ndarray, size: np.ndarray, rotation_deg: float, out_size: tuple[int, int],
                flip: bool = False) -> np.ndarray:
    """The ``(2, 3)`` affine crop <- image (:func:`vidpose.geometry.image_to_crop_affine`,
    pixel-centre convention).

    ``center``/``size`` (w, h) in image pixels; ``rotation_deg`` turns the person
    counter-clockwise in the crop; ``out_size`` (H, W). With ``flip`` the crop
    is mirrored (x -> W-1-x).
    """
    return image_to_crop_affine(center, size, np.deg2rad(rotation_deg), out_size, pixel_centres=True, flip=flip)


def flip_permutation_for(dataset: PoseDataset) -> np.ndarray:
    """Left/right swap permutation ``(J,)``: from vidpose.skeletons when the skeleton is known,
    else from ``left_*``/``right_*`` keypoint names."""
    from vidpose.skeletons import SKELETONS

    sk = SKELETONS.get(dataset.skeleton)
    if sk is not None and sk.num_keypoints == len(dataset.keypoint_names):
        return sk.flip_permutation()
    names = list(dataset.keypoint_names)
    index = {n: i for i, n in enumerate(names)}
    perm = np.arange(len(names))
    for i, n in enumerate(names):
        for a, b in (("left_", "right_"), ("right_", "left_"), ("l_", "r_"), ("r_", "l_")):
            if n.startswith(a) and b + n[len(a):] in index:
                perm[i] = index[b + n[len(a):]]
    return perm


# --- dataset --------------------------------------------------------------------------------

@dataclass
class _Item:
    frame: int
    person: int
    center: np.ndarray  # (2,)
    size: np.ndarray  # (2,) w, h including padding


class TopDownDataset(_TorchDataset):
    """Person crops of a :class:`PoseDataset` as a torch Dataset.

    A sample is a dict: ``image`` (3, H, W) float32 normalised RGB; ``targets``
    (dict of tensors from ``codec.encode``; empty without a codec); ``keypoints``
    (J, 3) float32 in crop pixels (visibility 0 when outside the crop; after a
    flip, left/right already swapped); ``image_keypoints`` (J, 3) float64, the
    annotation in image pixels; ``affine`` (2, 3) float64 crop <- image;
    ``meta`` dict(frame, person, flipped).

    Persons without a labelled keypoint (unless there is no codec and the person is a box
    without keypoints, ``extra["box_only"]``: a detector's box on unlabelled video, which
    label-free objectives crop),
    COCO crowd regions and persons whose box is smaller than a pixel are excluded; ``excluded`` counts them by reason and :meth:`summary` says so.
    """

    def __init__(self, dataset: PoseDataset, input_size: tuple[int, int] = (256, 192),
                 codec: Codec | None = None, train: bool = False, aug: AugConfig | None = None,
                 flip_perm: Sequence[int] | None = None, seed: int = 0, *,
                 max_samples: int = 0, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None) -> None:
        self.dataset = dataset
        self.input_size = (int(input_size[0]), int(input_size[1]))
        if min(self.input_size) < 1:
            raise InputError(f"input_size: must be positive (H, W), got {input_size}")
        self.codec = codec
        self.train = bool(train)
        self.aug = aug or AugConfig()
        self.aug.validate()
        self.seed = int(seed)
        if self.seed < 0:
            raise InputError(f"seed: must be >= 0, got {seed}")
        self.epoch = 0
        if mean is None or std is None:
            from vidpose.io.images import IMAGENET_MEAN, IMAGENET_STD

            mean = IMAGENET_MEAN if mean is None else mean
            std = IMAGENET_STD if std is None else std
        self.mean = np.asarray(mean, np.float32).reshape(3)
        self.std = np.asarray(std, np.float32).reshape(3)
        nj = len(dataset.keypoint_names)
        perm = flip_permutation_for(dataset) if flip_perm is None else np.asarray(flip_perm, np.int64)
        if perm.shape != (nj,) or sorted(perm.tolist()) != list(range(nj)):
            raise InputError(f"flip_perm: not a permutation of {nj} keypoints: {perm.tolist()}")
        self.flip_perm = perm
        self.num_keypoints = nj

        aspect = self.input_size[1] / self.input_size[0]
        self.items: list[_Item] = []
        self.excluded = {"no_labelled_keypoints": 0, "crowd": 0, "degenerate_box": 0}
        for fi, frame in enumerate(dataset.frames):
            for pi, person in enumerate(frame.persons):
                kp = np.asarray(person.keypoints, dtype=np.float64)
                if kp.ndim != 2 or kp.shape != (nj, 3):
                    raise InputError(
                        f"dataset {dataset.name}: frame {fi} ({frame.image}) person {pi}: keypoints "
                        f"shape {kp.shape}, expected ({nj}, 3)"
                    )
                if not (kp[:, 2] > 0).any() and not (codec is None and person.extra.get("box_only")):
                    self.excluded["no_labelled_keypoints"] += 1
                    continue
                if person.extra.get("iscrowd"):  # a COCO crowd region is not one person
                    self.excluded["crowd"] += 1
                    continue
                box = person_box(kp, person.bbox)
                center, size = box_to_center_size(box, aspect, self.aug.padding)
                if not (np.all(np.isfinite(size)) and size.min() >= 1.0):
                    self.excluded["degenerate_box"] += 1
                    continue
                self.items.append(_Item(fi, pi, center, size))
        if max_samples and max_samples > 0:
            self.items = self.items[: int(max_samples)]

    # -- bookkeeping --

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of ``epoch`` (call before each epoch's loader)."""
        self.epoch = int(epoch)

    def summary(self) -> str:
        ex = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in self.excluded.items() if n)
        return (f"{self.dataset.name}: {len(self.items)} person crops from {len(self.dataset.frames)} frames"
                + (f"; excluded {sum(self.excluded.values())} persons ({ex})" if ex else ""))

    # -- sampling --

    def _augment(self, index: int, center: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, bool]:
        a = self.aug
        rng = np.random.default_rng([self.seed, self.epoch, index])
        # Always draw every number, so changing one probability does not shift the others.
        u = rng.uniform(-1.0, 1.0, size=4)
        p = rng.uniform(0.0, 1.0, size=2)
        size = size * (1.0 + a.scale * u[0])
        center = center + a.shift * size * u[1:3]
        rot = a.rotation * u[3] if p[0] < a.rotation_prob else 0.0
        flip = bool(a.flip and p[1] < a.flip_prob)
        return center, size, float(rot), flip

    def crop(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """The crop of sample ``index``: image (H, W, 3) uint8 RGB, keypoints (J, 3) in crop
        pixels, affine (2, 3) crop <- image, flipped."""
        it = self.items[index]
        frame = self.dataset.frames[it.frame]
        person = frame.persons[it.person]
        center, size, rot, flip = it.center, it.size, 0.0, False
        if self.train:
            center, size, rot, flip = self._augment(index, center, size)
        m = crop_affine(center, size, rot, self.input_size, flip)
        img = read_image(frame, it.frame)
        out_h, out_w = self.input_size
        crop = warp_crop(img, m, self.input_size)
        kp = np.asarray(person.keypoints, dtype=np.float64).copy()
        kp[:, :2] = apply_affine(m, kp[:, :2])
        if flip:
            kp = kp[self.flip_perm]
        x, y = kp[:, 0], kp[:, 1]
        inside = (x >= 0) & (x <= out_w - 1) & (y >= 0) & (y <= out_h - 1)
        kp[~inside, 2] = 0
        return crop, kp, m, flip

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        if not 0 <= index < len(self.items):
            raise IndexError(index)
        crop, kp, m, flip = self.crop(index)
        x = (crop.astype(np.float32) / 255.0 - self.mean) / self.std
        image = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))
        targets: dict[str, Any] = {}
        if self.codec is not None:
            enc = self.codec.encode(kp.astype(np.float32))
            targets = {k: torch.as_tensor(np.asarray(v)) for k, v in enc.items()}
        it = self.items[index]
        orig = np.asarray(self.dataset.frames[it.frame].persons[it.person].keypoints, np.float64)
        return {
            "image": image,
            "targets": targets,
            "keypoints": torch.from_numpy(kp.astype(np.float32)),
            "image_keypoints": torch.from_numpy(orig.copy()),
            "affine": torch.from_numpy(m),
            "meta": {"frame": it.frame, "person": it.person, "flipped": flip},
        }


def read_image(frame, frame_index: int = 0) -> np.ndarray:
    """Read a frame's image file as (H, W, 3) uint8 RGB; InputError naming the file on failure."""
    import cv2

    if frame.image is None:
        raise InputError(
            f"frame {frame_index} has no image file (video {frame.video}); top-down training reads "
            "frames from image files; extract the frames first"
        )
    path = Path(frame.image)
    if not path.is_file():
        raise InputError(f"{path}: image file not found (frame {frame_index})")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{path}: cannot decode image (frame {frame_index})")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
