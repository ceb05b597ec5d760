"""Unlabelled clips: self-supervised objectives that read no labels.

The data are the clips of :mod:`vidpose.objectives.clips` without keypoints or
targets (``images`` (T, 3, H, W) and the crop ``affine`` only; the person box
comes from the dataset's box, so a detector's boxes on any video do as well).
The model's own ``loss(outputs)`` is the objective (contrastive, reconstruction
...); the best checkpoint is the one with the lowest loss on held-out clips
(``val_loss``), since no label exists to score it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vidpose.errors import InputError
from vidpose.objectives.base import Objective, mean_loss
from vidpose.objectives.clips import ClipDataset
from vidpose.objectives.heatmaps import crop_dataset, crop_identity

try:
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover
    _TorchDataset = object  # type: ignore[assignment,misc]


class UnlabelledClipObjective(Objective):
    select = "val_loss"
    higher_is_better = False
    metric_keys = ("val_loss",)

    def dataset(self, subset: str, train: bool) -> ClipDataset:
        m = self.model
        crops = crop_dataset(self.cfg, subset, m.cfg.input_size, None, m.cfg.num_keypoints, train)
        return ClipDataset(crops, self.cfg.data.clip_length, labels=False)

    def loss(self, net, batch):
        return self.model.loss(net(batch["images"]))

    def validate(self, model, loader) -> dict[str, float]:
        return {"val_loss": mean_loss(self, model, loader)}

    def data_identity(self) -> dict[str, Any]:
        ident = crop_identity(self.train_data.crops)
        ident.pop("labels_sha256")  # no label is read; the frames are the data
        return {"dataset": self.cfg.data.dataset, "subset": self.cfg.data.train_subset,
                "clip_length": self.cfg.data.clip_length, **ident}


# --- contrastive self-supervision: per-frame person crops held in memory --------------------------

@dataclass
class FrameCrops:
    """Per-frame person crops of a video dataset, decoded once and kept in memory.

    ``images`` (N, H, W, 3) uint8 RGB; ``affines`` (N, 2, 3) crop <- image; ``keypoints`` (N, J, 3)
    image pixels and ``keypoints_3d`` (N, J, 3) camera metres where the source has labels (else None);
    ``tracks``: index arrays into N, each the consecutive frames of one person (a clip never crosses
    two tracks, so "same clip" means same person and same appearance); ``track_sources``: the
    sequence (or video file) name of each track."""

    images: np.ndarray
    affines: np.ndarray
    keypoints: np.ndarray | None
    keypoints_3d: np.ndarray | None
    tracks: list[np.ndarray]
    name: str
    mean: np.ndarray
    std: np.ndarray
    track_sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    def select_sources(self, names) -> "FrameCrops":
        """The crops of the tracks whose source is in ``names`` (tracks renumbered)."""
        names = set(names)
        keep = [t for t, src in zip(self.tracks, self.track_sources) if src in names]
        idx = np.concatenate(keep) if keep else np.zeros(0, np.int64)
        tracks, n = [], 0
        for t in keep:
            tracks.append(np.arange(n, n + len(t)))
            n += len(t)
        return self._take(idx, tracks, [src for src in self.track_sources if src in names])

    def head(self, n: int) -> "FrameCrops":
        """The first ``n`` crops (``data.max_val_samples``), tracks cut to them."""
        if not n or n >= len(self):
            return self
        tracks = [t[t < n] for t in self.tracks]
        keep = [k for k, t in enumerate(tracks) if len(t)]
        return self._take(np.arange(n), [tracks[k] for k in keep],
                          [self.track_sources[k] for k in keep] if self.track_sources else [])

    def _take(self, idx: np.ndarray, tracks: list[np.ndarray], sources: list[str]) -> "FrameCrops":
        """The crops ``idx``, with their tracks (indices into the result) and sources."""
        pick = (lambda a: None if a is None else a[idx])
        return FrameCrops(self.images[idx], self.affines[idx], pick(self.keypoints), pick(self.keypoints_3d),
                          tracks, self.name, self.mean, self.std, sources)

    def normalised(self, index) -> np.ndarray:
        """Crops ``index`` as (..., 3, H, W) float32, normalised like every vidpose model input."""
        from vidpose.io.images import normalize_rgb

        return normalize_rgb(self.images[index], self.mean, self.std)

    def identity(self) -> dict[str, Any]:
        h = hashlib.sha256(np.ascontiguousarray(self.images).tobytes())
        return {"name": self.name, "frames": len(self), "tracks": len(self.tracks), "crops_sha256": h.hexdigest()}


_CROPS: dict[tuple, FrameCrops] = {}  # one decode per (source, subset, size) and process: benches train many probes


def frame_crops(data_cfg, subset: str, input_size: tuple[int, int]) -> FrameCrops:
    """The per-frame person crops of ``subset`` of the configured dataset: a labelled video dataset's
    persons, or with ``data.dataset = "videos"`` (:mod:`vidpose.data.videos`) the run pipeline's person
    detector's box in every frame of the videos under ``data.root/<subset>/``."""
    from vidpose.data.loaders import load_dataset

    key = (data_cfg.dataset, str(data_cfg.root), data_cfg.ann_file, data_cfg.image_root, subset, tuple(input_size))
    if key not in _CROPS:
        _CROPS[key] = dataset_crops(load_dataset(data_cfg, subset), tuple(input_size))
    return _CROPS[key]


def dataset_crops(pose, input_size: tuple[int, int]) -> FrameCrops:
    """Crops of every labelled person of a PoseDataset with sequences, each with its own box (padding 1.25)."""
    from vidpose.data.topdown import TopDownDataset

    td = TopDownDataset(pose, input_size, codec=None, train=False)
    if not pose.sequences:
        raise InputError(f"dataset {pose.name}: no sequences; self-supervision from video needs video datasets "
                         "(e.g. synth-single, or data.dataset = \"videos\" for a folder of videos)")
    by_frame: dict[int, list[int]] = {}
    for k, it in enumerate(td.items):
        by_frame.setdefault(it.frame, []).append(k)
    order, tracks, sources = [], [], []
    for seq_name, idx in sorted(pose.sequences.items()):
        per_track: dict[Any, list[tuple[int, int]]] = {}  # track id -> (position in the sequence, item)
        for pos, fi in enumerate(idx):
            for k in by_frame.get(fi, []):
                tid = pose.frames[fi].persons[td.items[k].person].track_id
                per_track.setdefault(("untracked", k) if tid is None else tid, []).append((pos, k))
        for seq in per_track.values():
            cuts = [i for i in range(1, len(seq)) if seq[i][0] != seq[i - 1][0] + 1]  # the person was missing
            for lo, hi in zip([0, *cuts], [*cuts, len(seq)]):
                tracks.append(np.arange(len(order), len(order) + hi - lo))
                sources.append(seq_name)
                order += [k for _, k in seq[lo:hi]]
    imgs, affs, kps, k3 = [], [], [], []
    has_3d, labelled = True, False
    for k in order:
        crop, _, m, _ = td.crop(k)
        it = td.items[k]
        person = pose.frames[it.frame].persons[it.person]
        imgs.append(crop)
        affs.append(m)
        kps.append(np.asarray(person.keypoints, np.float64))
        labelled = labelled or not person.extra.get("box_only")  # a detector's box on unlabelled video
        has_3d = has_3d and person.keypoints_3d is not None
        k3.append(None if person.keypoints_3d is None else np.asarray(person.keypoints_3d, np.float64))
    if not order:
        raise InputError(f"dataset {pose.name}: no usable person ({td.summary()})")
    return FrameCrops(np.stack(imgs), np.stack(affs), np.stack(kps) if labelled else None,
                      np.stack(k3) if has_3d and labelled else None, tracks, pose.name, td.mean, td.std, sources)


class FrameClipDataset(_TorchDataset):
    """Clips of ``length`` frames, ``stride`` frames apart, of one person track of :class:`FrameCrops`.

    A sample: ``images`` (T, 3, H, W) normalised; ``times`` (T,) frame offsets from the first frame;
    ``track`` the track's index (clips of one track share the appearance). Training draws flip the
    whole clip horizontally (one draw per clip and epoch, so the clip stays one appearance)."""

    def __init__(self, crops: FrameCrops, length: int, stride: int, train: bool, seed: int = 0,
                 max_samples: int = 0) -> None:
        if length < 2:
            raise InputError(f"config: data.clip_length must be >= 2 for contrastive clips, got {length}")
        if stride < 1:
            raise InputError(f"config: model.frame_stride must be >= 1, got {stride}")
        self.crops, self.length, self.stride, self.train, self.seed = crops, int(length), int(stride), train, seed
        span = (self.length - 1) * self.stride
        self.starts = [(ti, int(t[0]) + s) for ti, t in enumerate(crops.tracks) for s in range(len(t) - span)]
        if not self.starts:
            longest = max((len(t) for t in crops.tracks), default=0)
            raise InputError(f"{crops.name}: no track spans {span + 1} frames (clip_length {length} x frame_stride "
                             f"{stride}); the longest has {longest}")
        if max_samples and len(self.starts) > max_samples:  # data.max_samples: evenly spread over the tracks
            keep = np.linspace(0, len(self.starts) - 1, int(max_samples)).round().astype(int)
            self.starts = [self.starts[k] for k in keep]
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.starts)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def summary(self) -> str:
        return (f"{len(self.starts)} clips of {self.length} frames (stride {self.stride}) from {len(self.crops)} "
                f"person crops in {len(self.crops.tracks)} tracks of {self.crops.name}")

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        track, first = self.starts[index]
        idx = first + self.stride * np.arange(self.length)
        x = self.crops.normalised(idx)
        if self.train and np.random.default_rng([self.seed, self.epoch, index]).uniform() < 0.5:
            x = x[..., ::-1]
        return {"images": torch.from_numpy(np.ascontiguousarray(x)),
                "times": torch.from_numpy(self.stride * np.arange(self.length)),
                "track": torch.tensor(track)}


class ContrastiveClipObjective(UnlabelledClipObjective):
    """Self-supervision on clips of per-frame person crops (:class:`FrameClipDataset`); the model's
    ``loss(outputs)`` gets ``model(images)``'s outputs with the batch's ``times`` attached.

    ``data.clip_length`` frames per clip, ``model.frame_stride`` apart; the data are a video dataset's
    persons or, with ``data.dataset = "videos"``, any folder of videos (``data.root/<subset>/``)."""

    def dataset(self, subset: str, train: bool) -> FrameClipDataset:
        m = self.model
        crops = frame_crops(self.cfg.data, subset, m.cfg.input_size)
        d = self.cfg.data
        return FrameClipDataset(crops, d.clip_length, m.cfg.frame_stride, train, self.cfg.run.seed,
                                d.max_samples if train else d.max_val_samples)

    def loss(self, net, batch):
        return self.model.loss(net(batch["images"]), batch["times"])

    def data_identity(self) -> dict[str, Any]:
        return {**self.source_identity(), "clip_length": self.cfg.data.clip_length,
                **self.train_data.crops.identity()}


# --- the contrastive terms (torch) -------------------------------------------------------------------

def info_nce(z, times, window: int, temperature: float, negatives: str = "batch"):
    """Multi-positive InfoNCE over the frames of a batch of clips.

    ``z`` (B, T, D) embeddings (L2-normalised here), ``times`` (B, T) frame numbers. For each frame i,
    the positives are the other frames of its clip with 0 < |t_i - t_j| <= ``window``; the negatives
    are the frames of its own clip further apart, and with ``negatives = "batch"`` every frame of
    the other clips as well (``"clip"``: only its own clip, so appearance does not help):
    ``L_i = -mean_{p in P(i)} log(exp(s_ip / tau) / sum_{j != i} exp(s_ij / tau))``, averaged over
    the frames that have a positive. Returns a scalar tensor."""
    import torch
    import torch.nn.functional as F

    b, t, _ = z.shape
    f = F.normalize(z.reshape(b * t, -1), dim=-1)
    logits = f @ f.T / temperature
    eye = torch.eye(b * t, dtype=torch.bool, device=z.device)
    clip = torch.arange(b, device=z.device).repeat_interleave(t)
    excluded = eye if negatives == "batch" else eye | (clip[:, None] != clip[None, :])
    logits = logits.masked_fill(excluded, float("-inf"))
    tt = times.reshape(-1).to(z.device)
    dt = (tt[:, None] - tt[None, :]).abs()
    pos = (clip[:, None] == clip[None, :]) & (dt <= window) & ~eye
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    n_pos = pos.sum(1)
    has = n_pos > 0
    per = -(log_prob.masked_fill(~pos, 0.0)).sum(1)[has] / n_pos[has]
    return per.mean() if has.any() else z.sum() * 0.0


def gradual_ranking(z, times, margin: float):
    """Similarity falls gradually with temporal distance: for each anchor frame and each pair of its
    clip's frames at distances d1 < d2, a hinge ``max(0, s(d2) - s(d1) + margin * (d2 - d1) / T)``
    on the cosine similarities s (``T`` the clip's time span), so a frame further away is less
    similar by a margin that grows with the gap. ``z`` (B, T, D), ``times`` (B, T)."""
    import torch.nn.functional as F

    f = F.normalize(z, dim=-1)
    sim = f @ f.transpose(1, 2)  # (B, T, T)
    tt = times.to(z.device).float()
    dist = (tt[:, :, None] - tt[:, None, :]).abs()  # (B, T, T): anchor, other
    span = dist.amax(dim=(1, 2)).clamp(min=1.0)[:, None, None, None]
    gap = dist[:, :, None, :] - dist[:, :, :, None]  # (B, anchor, j1, j2): d(j2) - d(j1)
    valid = (gap > 0) & (dist[:, :, :, None] > 0)
    hinge = F.relu(sim[:, :, None, :] - sim[:, :, :, None] + margin * gap / span)
    return hinge[valid].mean() if valid.any() else z.sum() * 0.0
