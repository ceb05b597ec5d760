"""Dataset names of a training config's ``[data] dataset`` mapped to loader functions.

Each loader takes the :class:`DataConfig` and a subset name and returns a
:class:`~vidpose.data.annotations.PoseDataset`. Readers are imported inside the
loader, so a missing reader only matters for the dataset that needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vidpose.data.annotations import PoseDataset
from vidpose.errors import InputError


@dataclass
class DataConfig:
    """Which dataset to train and validate on (the ``[data]`` section; see LOADERS)."""

    dataset: str = "synth-single"  # synth-single | synth-crowd | coco | mpii | lsp | ...
    root: str = ""  # dataset folder; relative paths below are resolved against it
    train_subset: str = "train"
    val_subset: str = "val"  # "" = no validation
    # Annotation file and image folder for the file-based datasets; "{subset}" is
    # replaced by the subset name (e.g. person_keypoints_{subset}.json).
    ann_file: str = ""
    image_root: str = ""
    max_samples: int = 0  # cap on training samples (0 = all)
    max_val_samples: int = 0  # cap on validation samples (0 = all)
    # Distillation: a model whose predictions replace the labels (shipped name or
    # checkpoint path); "" = train on the dataset's labels.
    teacher: str = ""
    clip_length: int = 1  # frames per sample for the clip objectives (odd; the centre frame is scored)
    camera_file: str = ""  # h36m: camera-parameters.json (vidpose.data.readers.h36m_cameras)
    cameras: tuple[int, ...] = ()  # mpi-inf-3dhp: training cameras (empty: MPI_INF_3DHP_TRAIN_CAMERAS)


def _path(cfg: DataConfig, template: str, subset: str, key: str) -> Path:
    if not template:
        raise InputError(f"config: data.{key} must be set for dataset {cfg.dataset!r}")
    p = Path(template.replace("{subset}", subset)).expanduser()
    if not p.is_absolute() and cfg.root:
        p = Path(cfg.root).expanduser() / p
    return p


def _root(cfg: DataConfig) -> Path:
    if not cfg.root:
        raise InputError(f"config: data.root must be set for dataset {cfg.dataset!r}")
    return Path(cfg.root).expanduser()


def _synth(cfg: DataConfig, subset: str) -> PoseDataset:
    from vidpose.data.synth import read_synth

    return read_synth(_root(cfg), subset)


def _coco(cfg: DataConfig, subset: str) -> PoseDataset:
    from vidpose.data.readers import read_coco

    return read_coco(_path(cfg, cfg.ann_file, subset, "ann_file"), _path(cfg, cfg.image_root or ".", subset, "image_root"))


def _zero_based(ds: PoseDataset) -> PoseDataset:
    """MATLAB datasets store 1-based pixel coordinates; vidpose's crops and every other dataset use
    0-based pixel centres. Labelled keypoints, boxes, MPII's centres and head boxes move by -1."""
    import numpy as np

    for frame in ds.frames:
        for p in frame.persons:
            kp = np.array(p.keypoints, np.float64)
            lab = kp[:, 2] > 0
            kp[lab, :2] -= 1.0
            p.keypoints = kp
            if p.bbox is not None:
                p.bbox = np.asarray(p.bbox, np.float64) - 1.0
            for key in ("center", "head_box"):
                if p.extra.get(key) is not None:
                    p.extra[key] = np.asarray(p.extra[key], np.float64) - 1.0
    return ds


def _mpii(cfg: DataConfig, subset: str) -> PoseDataset:
    """MPII: HRNet's JSON (train.json / valid.json; ``{subset}`` "val" finds valid.json too) or the
    official ``mpii_human_pose_v1_u12_1.mat`` (train: its img_train images; it has no val half). The
    person box is MPII's own: centre +- 100 * scale (scale = height / 200 px). Coordinates 0-based."""
    import numpy as np

    from vidpose.data.readers import read_mpii_json, read_mpii_mat

    ann = _path(cfg, cfg.ann_file, subset, "ann_file")
    if subset == "val" and not ann.exists() and "{subset}" in cfg.ann_file:
        valid = _path(cfg, cfg.ann_file, "valid", "ann_file")
        ann = valid if valid.exists() else ann
    images = _path(cfg, cfg.image_root or ".", subset, "image_root")
    if ann.suffix.lower() == ".mat":
        if subset not in ("train", "test"):
            raise InputError(f"{ann}: the official MPII .mat has train and (unlabelled) test images only, no "
                             f"{subset!r} half; validate with HRNet's valid.json or set data.val_subset = \"\"")
        ds = read_mpii_mat(ann, images)
        want = subset == "train"
        ds.frames = [f for f in ds.frames if f.persons and bool(f.persons[0].extra.get("img_train")) == want]
    else:
        ds = read_mpii_json(ann, images)
    _zero_based(ds)
    for frame in ds.frames:
        for p in frame.persons:
            c, s = p.extra.get("center"), p.extra.get("scale")
            if p.bbox is None and c is not None and s is not None and s > 0:
                c = np.asarray(c, np.float64)
                p.bbox = np.concatenate([c - 100.0 * s, c + 100.0 * s])
    return ds


def _lsp(cfg: DataConfig, subset: str) -> PoseDataset:
    """LSP: one joints.mat for all 2000 images; by the dataset's convention the first
    1000 are for training and the last 1000 for testing (subset "train" / "test").
    LSP-extended (10000 images) is training data only: every subset name gives all of it."""
    from vidpose.data.readers import read_lsp

    ds = _zero_based(read_lsp(_path(cfg, cfg.ann_file, subset, "ann_file"),
                              _path(cfg, cfg.image_root or ".", subset, "image_root")))
    if ds.name == "lspet":
        if subset not in ("train", "all"):
            raise InputError(
                f"config: data subset {subset!r}: LSP-extended is training data only (no held-out images); "
                "validate on LSP's test half or set data.val_subset = \"\""
            )
        return ds
    half = len(ds.frames) // 2
    if subset == "train":
        ds.frames = ds.frames[:half]
    elif subset == "test":
        ds.frames = ds.frames[half:]
    elif subset != "all":
        raise InputError(f"config: data subset {subset!r} for lsp must be train, test or all (LSP has no val half)")
    return ds


def _posetrack(cfg: DataConfig, subset: str) -> PoseDataset:
    """PoseTrack18: ann_file is one JSON or a folder of them (e.g. annotations/{subset})."""
    from vidpose.data.readers import read_posetrack18

    # Every frame, labelled or not (extra["labeled"]): clip objectives need a video's true neighbours, and
    # PoseTrack's val/test videos are labelled every 4th frame; person crops come from labelled frames only.
    return read_posetrack18(_path(cfg, cfg.ann_file, subset, "ann_file"), _path(cfg, cfg.image_root or ".", subset, "image_root"),
                            labeled_only=False)


def _hie(cfg: DataConfig, subset: str) -> PoseDataset:
    from vidpose.data.readers import read_hie

    return read_hie(_path(cfg, cfg.ann_file, subset, "ann_file"), _path(cfg, cfg.image_root or ".", subset, "image_root"))


def _by_train_flag(ds: PoseDataset, subset: str, name: str) -> PoseDataset:
    """Keep the frames of the official train or test half (persons' ``extra["train"]``)."""
    if subset not in ("train", "test"):
        raise InputError(f"config: data subset {subset!r} for {name} must be train or test ({name} has no val half)")
    want = subset == "train"
    keep = [i for i, f in enumerate(ds.frames) if f.persons and bool(f.persons[0].extra.get("train")) == want]
    new_index = {old: new for new, old in enumerate(keep)}
    ds.frames = [ds.frames[i] for i in keep]
    # the clips of the kept half, renumbered (clip objectives: DKD, Flowing ConvNets)
    seqs = {seq: [new_index[i] for i in idx if i in new_index] for seq, idx in ds.sequences.items()}
    ds.sequences = {seq: idx for seq, idx in seqs.items() if idx}
    return ds


def _penn_action(cfg: DataConfig, subset: str) -> PoseDataset:
    from vidpose.data.readers import read_penn_action

    return _by_train_flag(_zero_based(read_penn_action(_root(cfg))), subset, "penn_action")


def _jhmdb(cfg: DataConfig, subset: str) -> PoseDataset:
    """JHMDB split 1 (``root`` holds joint_positions/ and the split files)."""
    from vidpose.data.readers import read_jhmdb

    return _by_train_flag(_zero_based(read_jhmdb(_root(cfg), 1)), subset, "jhmdb")


def _videos(cfg: DataConfig, subset: str) -> PoseDataset:
    """Unlabelled videos under ``root/<subset>/`` (person boxes from BlazePose's detector; label-free
    objectives only: set ``data.teacher``)."""
    from vidpose.data.videos import read_video_folder
    from vidpose.skeletons import COCO17

    return read_video_folder(_root(cfg) / subset, tuple(COCO17.keypoints))


LOADERS: dict[str, Callable[[DataConfig, str], PoseDataset]] = {
    "synth-single": _synth,
    "synth-crowd": _synth,
    "coco": _coco,
    "mpii": _mpii,
    "lsp": _lsp,
    "posetrack18": _posetrack,
    "hie": _hie,
    "penn_action": _penn_action,
    "jhmdb": _jhmdb,
    "videos": _videos,
}


def describe_source(cfg: DataConfig, subset: str) -> str:
    """The file or folder a subset is read from, for messages (both, for a mix that reads both)."""
    folder = str(Path(cfg.root) / subset) if cfg.root else "(data.root unset)"
    if cfg.ann_file:
        ann = str(_path(cfg, cfg.ann_file, subset, "ann_file"))
        return f"{folder} + {ann}" if "+" in cfg.dataset and cfg.root else ann
    return folder


def describe_data(cfg: DataConfig, subset: str) -> dict:
    """What made the data, where the files say so: for the synthetic splits the generator's
    annotation format, renderer version and split name (from the first clip's annotations; a
    ``videos`` folder made by ``vidpose synth --video`` keeps them next to each video)."""
    if not (cfg.dataset.startswith("synth") or cfg.dataset == "videos"):
        return {}
    from vidpose.io.jsonfile import read_json

    clips = sorted((_root(cfg) / subset).glob("*/annotations.json"))
    if not clips:
        return {}
    head = read_json(clips[0])
    if not isinstance(head, dict):
        raise InputError(f"{clips[0]}: top level must be an object")
    return {"generator": {k: head.get(k) for k in ("format", "renderer", "split")}}


def load_dataset(cfg: DataConfig, subset: str) -> PoseDataset:
    """The PoseDataset for ``subset`` of the configured dataset."""
    try:
        loader = LOADERS[cfg.dataset]
    except KeyError:
        raise InputError(f"config: data.dataset {cfg.dataset!r} is unknown; known: {', '.join(LOADERS)}") from None
    return loader(cfg, subset)


# --- 3D sequences (2D -> 3D lifting) ---------------------------------------------------------

HUMANEVA_ACTIONS = ("Walk", "Jog", "Box")  # VideoPose3D's HumanEva-I protocol: action names starting so
MPI_INF_3DHP_TRAIN_CAMERAS = (0, 1, 2, 4, 5, 6, 7, 8)  # the 8 training cameras of the usual protocol (VNect)
MPI_INF_3DHP_TRAIN_RESOLUTION = (2048, 2048)  # (width, height) of every training camera
MPI_INF_3DHP_TEST_RESOLUTION = {"TS5": (1920, 1080), "TS6": (1920, 1080)}  # TS1-TS4: 2048 x 2048 (studio)


def _synth_3d(cfg: DataConfig, subset: str):
    """synth-3d (annotations only): each track's run as a *world-frame* H36M-17 sequence (z up; the
    rendered camera's extrinsics undone), so the sequence objective sees it through random virtual
    cameras like the mocap; runs without extrinsics stay camera-frame (their own 2D)."""
    import numpy as np

    from vidpose.data.synth import read_synth_3d

    out = read_synth_3d(_root(cfg), subset)
    for s in out:
        cp = s.camera_params or {}
        if "R" in cp and "t" in cp:  # camera = R world + t  ->  world = R^T (camera - t)
            s.joints_3d = np.einsum("tba,tjb->tja", cp["R"], s.joints_3d - cp["t"][:, None, :])
            s.extra.update({"frame": "world", "up": (0.0, 0.0, 1.0)})
    return out


def _mocap_synth_3d(cfg: DataConfig, subset: str):
    """The lifters' training mix: the mocap clips of ``subset`` and synth-3d's ``subset`` (data.root),
    both world-frame. The held-out clips agree (``MOCAP_TEST_CLIPS``/``MOCAP_VAL_CLIPS`` are synth's
    ``HELD_OUT``), so neither half trains on a motion the other tests on."""
    if subset not in ("train", "val", "test"):
        raise InputError(f"config: data subset {subset!r} for mocap+synth-3d must be train, val or test")
    return _mocap(cfg, subset) + _synth_3d(cfg, subset)


def _lift_pairs(cfg: DataConfig, subset: str):
    """A detector's 2D paired with 3D ground truth (``data.ann_file``: a lift-pairs ``.npz`` per subset,
    ``{subset}`` replaced; :mod:`vidpose.data.readers.lift_pairs`): camera-frame sequences whose 2D
    and confidences are the detector's."""
    from vidpose.data.readers.lift_pairs import read_lift_pairs

    return read_lift_pairs(_path(cfg, cfg.ann_file, subset, "ann_file"))


def _synth_3d_lift_pairs(cfg: DataConfig, subset: str):
    """synth-3d's ``subset`` (data.root, world-frame, seen through random virtual cameras) and a
    detector's 2D of rendered videos with their 3D (data.ann_file, see :func:`_lift_pairs`)."""
    return _synth_3d(cfg, subset) + _lift_pairs(cfg, subset)


def _h36m(cfg: DataConfig, subset: str):
    """Human3.6M in VideoPose3D's npz layout: ann_file = data_3d_h36m.npz, image_root = its 2D
    detections npz (data_2d_h36m_*.npz), camera_file = camera-parameters.json; subsets train
    (S1, S5-S8) and test (S9, S11)."""
    from vidpose.data.readers.videopose3d import H36M_TEST_SUBJECTS, H36M_TRAIN_SUBJECTS, read_h36m_npz

    if subset not in ("train", "test"):
        raise InputError(f"config: data subset {subset!r} for h36m must be train or test (S1,S5-S8 / S9,S11)")
    want = H36M_TRAIN_SUBJECTS if subset == "train" else H36M_TEST_SUBJECTS
    seqs = read_h36m_npz(_path(cfg, cfg.ann_file, subset, "ann_file"),
                         _path(cfg, cfg.image_root, subset, "image_root") if cfg.image_root else None)
    seqs = [s for s in seqs if s.subject in want]
    if cfg.camera_file:  # camera-frame 3D and image sizes (with 2D), or world-frame sequences (without)
        from vidpose.data.readers.h36m_cameras import read_h36m_cameras, with_h36m_cameras

        path = _path(cfg, cfg.camera_file, subset, "camera_file")
        seqs = with_h36m_cameras(seqs, read_h36m_cameras(path), path)
    return seqs


def _humaneva(cfg: DataConfig, subset: str):
    """HumanEva-I in VideoPose3D's npz layout and protocol: ann_file = data_3d_humaneva15.npz,
    image_root = a 2D npz of the same layout (data_2d_humaneva15_gt.npz or a detector's); subsets
    train (Train/S1-S3) and test (Validate/S1-S3), actions Walk, Jog and Box (``HUMANEVA_ACTIONS``),
    15 joints (skeleton humaneva15). The files have no cameras: each sequence's camera is fitted to its
    2D and 3D (:func:`~vidpose.data.readers.videopose3d.with_fitted_cameras`), giving camera-frame 3D."""
    from vidpose.data.readers.videopose3d import (HUMANEVA_TEST_SUBJECTS, HUMANEVA_TRAIN_SUBJECTS, read_humaneva_npz,
                                                  with_fitted_cameras)

    if subset not in ("train", "test"):
        raise InputError(f"config: data subset {subset!r} for humaneva must be train or test "
                         "(Train/S1-S3 / Validate/S1-S3)")
    if not cfg.image_root:
        raise InputError("config: data.image_root must name HumanEva-I's 2D npz (e.g. data_2d_humaneva15_gt.npz) "
                         "for dataset 'humaneva': the cameras are fitted to it")
    want = HUMANEVA_TRAIN_SUBJECTS if subset == "train" else HUMANEVA_TEST_SUBJECTS
    p2 = _path(cfg, cfg.image_root, subset, "image_root")
    seqs = read_humaneva_npz(_path(cfg, cfg.ann_file, subset, "ann_file"), p2)
    seqs = [s for s in seqs if s.subject in want and s.action.startswith(HUMANEVA_ACTIONS)]
    if not seqs:
        raise InputError(f"{p2}: no {subset} sequences (subjects {', '.join(want)}, actions "
                         f"{', '.join(HUMANEVA_ACTIONS)}) with 2D")
    out = with_fitted_cameras(seqs, p2)
    for s in out:
        s.extra["skeleton"] = "humaneva15"
    return out


def _valid_runs(s, valid) -> list:
    """The runs of consecutive valid frames of a test sequence, each its own sequence (``action`` =
    ``frames<first>-<last>``, 0-based; ``extra["first_frame"]``)."""
    import numpy as np

    from vidpose.data.annotations import Sequence3D

    edges = np.flatnonzero(np.diff(np.r_[0, valid.astype(np.int8), 0]))
    out = []
    for a, b in zip(edges[::2], edges[1::2]):
        out.append(Sequence3D(subject=s.subject, action=f"frames{a}-{b - 1}", camera=s.camera,
                              joints_3d=s.joints_3d[a:b], joints_2d=s.joints_2d[a:b], fps=s.fps,
                              camera_params=s.camera_params, extra={**s.extra, "first_frame": int(a)}))
    return out


def _mpi_inf_3dhp(cfg: DataConfig, subset: str):
    """MPI-INF-3DHP (root = the folder with S1..S8 and mpi_inf_3dhp_test_set) in its usual protocol:
    train = S1-S8 (every Seq) through the cameras ``data.cameras`` (default
    ``MPI_INF_3DHP_TRAIN_CAMERAS``), ``annot3``; test = TS1-TS6, valid frames only (each run of
    consecutive valid frames a sequence), ``univ_annot3`` as the official evaluation scores. The 17
    test joints (skeleton mpi_inf_3dhp17, root = pelvis, joint 14); millimetres -> metres."""
    from vidpose.data.readers.mpi_inf_3dhp import read_mpi_inf_3dhp, read_mpi_inf_3dhp_test

    if subset == "train":
        seqs = read_mpi_inf_3dhp(_root(cfg), cameras=cfg.cameras or MPI_INF_3DHP_TRAIN_CAMERAS, joints_17=True)
        for s in seqs:
            s.camera_params = dict(zip(("width", "height"), map(float, MPI_INF_3DHP_TRAIN_RESOLUTION)))
    elif subset == "test":
        seqs = []
        for s in read_mpi_inf_3dhp_test(_root(cfg), universal=True):
            w, h = MPI_INF_3DHP_TEST_RESOLUTION.get(s.subject, MPI_INF_3DHP_TRAIN_RESOLUTION)
            s.camera_params = {"width": float(w), "height": float(h)}
            seqs += _valid_runs(s, s.extra["valid"])
    else:
        raise InputError(f"config: data subset {subset!r} for mpi-inf-3dhp must be train or test (S1-S8 / TS1-TS6)")
    for s in seqs:
        s.joints_3d = s.joints_3d / 1000.0
        s.extra["skeleton"] = "mpi_inf_3dhp17"
    return seqs


# DeepMimic mocap (vidpose.data.mocap): clips held out of training. "test" is the bench's
# (vidpose bench dgnet), "val" picks best.safetensors; "train" never contains either (tested).
# The same clips as the synthetic generator's HELD_OUT (vidpose.data.synth; tested), so a lifter
# trained on mocap + synth-3d never saw the motions of the synth-single test videos either.
MOCAP_TEST_CLIPS = ("dance_b", "getup_faceup", "spinkick")
MOCAP_VAL_CLIPS = ("kick", "roll")
MOCAP_FPS = 30.0
MOCAP_MIN_SECONDS = 8.0  # shorter clips are extended: looping ones repeat, the others play back and forth


def mocap_clips(subset: str) -> tuple[str, ...]:
    """The DeepMimic clip names of a mocap subset: train, val, test, or trainval (train + val)."""
    from vidpose.data.mocap import CLIP_NAMES

    held = set(MOCAP_TEST_CLIPS) | set(MOCAP_VAL_CLIPS)
    subsets = {"train": tuple(c for c in CLIP_NAMES if c not in held), "val": MOCAP_VAL_CLIPS,
               "test": MOCAP_TEST_CLIPS,
               "trainval": tuple(c for c in CLIP_NAMES if c not in MOCAP_TEST_CLIPS)}
    if subset not in subsets:
        raise InputError(f"config: data subset {subset!r} for mocap must be one of {', '.join(subsets)}")
    return subsets[subset]


def _mocap(cfg: DataConfig, subset: str):
    """World-frame H36M-17 sequences (z up, metres) of the DeepMimic clips, at 30 fps, each at least
    8 s long; training clips also mirrored (left and right swapped). No 2D: the sequence objective
    sees them through virtual cameras."""
    import numpy as np

    from vidpose.data.annotations import Sequence3D
    from vidpose.data.mocap import clip_keypoints, load_clip
    from vidpose.skeletons import H36M17

    out = []
    for name in mocap_clips(subset):
        n = max(int(np.floor(load_clip(name).duration * MOCAP_FPS)) + 1, int(MOCAP_MIN_SECONDS * MOCAP_FPS))
        j3 = clip_keypoints(name, MOCAP_FPS, "h36m17", num_frames=n)
        variants = [("", j3)]
        if subset in ("train", "trainval"):
            mirrored = j3[:, H36M17.flip_permutation()] * np.array([1.0, -1.0, 1.0])  # reflect Y (left)
            variants.append(("mirrored", mirrored))
        for tag, joints in variants:
            out.append(Sequence3D(subject=name, action=tag or "original", camera=None, joints_3d=joints,
                                  fps=MOCAP_FPS, extra={"frame": "world", "up": (0.0, 0.0, 1.0)}))
    return out


SEQUENCE_LOADERS: dict[str, Callable[[DataConfig, str], list]] = {
    "synth-3d": _synth_3d,
    "h36m": _h36m,
    "humaneva": _humaneva,
    "mpi-inf-3dhp": _mpi_inf_3dhp,
    "mocap": _mocap,
    "mocap+synth-3d": _mocap_synth_3d,
    "lift-pairs": _lift_pairs,
    "synth-3d+lift-pairs": _synth_3d_lift_pairs,
}


def load_sequences(cfg: DataConfig, subset: str) -> list:
    """The 3D sequences (:class:`~vidpose.data.annotations.Sequence3D`) of ``subset`` of the configured dataset."""
    try:
        loader = SEQUENCE_LOADERS[cfg.dataset]
    except KeyError:
        raise InputError(f"config: data.dataset {cfg.dataset!r} has no 3D sequences; known: "
                         f"{', '.join(SEQUENCE_LOADERS)}") from None
    return loader(cfg, subset)
