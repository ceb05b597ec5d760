"""Score a prediction file against a ground-truth file; the engine behind ``vidpose eval``.

Formats are recognised by content, not by extension:

* COCO keypoints ground truth (object with ``images``/``annotations``/``categories``)
  + COCO keypoint results (list of ``{image_id, category_id, keypoints, score}``).
* vidpose synth ``annotations.json`` (``"format": "vidpose.synth/1"``) + vidpose
  ``poses.json`` (``"format": "vidpose.poses/1"``).
* ``.npz`` archives (zip content) holding ``pred`` and ``gt`` arrays (N, J, 3) in mm,
  in one file or split over two (gt file: ``gt``; pred file: ``pred``).

Predictions are matched to ground-truth people per frame greedily by OKS: the pair
with the highest OKS is taken first, then the next highest among the people still
free, and so on, as long as OKS > 0 (:func:`greedy_oks_match`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidpose.errors import InputError
from vidpose.io.hie import hie_frames
from vidpose.io.jsonfile import MAX_ABS, finite_number, read_json
from vidpose.metrics import pose3d, temporal
from vidpose.metrics.keypoints import oks_matrix, sigmas_for
from vidpose.metrics.mot import TrackedFrame, mot_metrics, occlusion_weights, weighted_oks_ap
from vidpose.skeletons import HIE14, SKELETONS

METRICS_COCO = ("oks_ap",)
METRICS_VIDEO = ("pck@0.2", "oks_ap", "w_ap", "jitter", "accel", "mota", "idf1", "idsw",
                 "precision", "recall")
METRICS_3D = ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve", "pck3d", "auc")


# --- loading --------------------------------------------------------------------------------

def _is_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def load_any(path: str | os.PathLike) -> tuple[str, object]:
    """Read ``path`` and name its format: coco_gt, coco_results, synth, hie, poses or npz."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder, expected a file")
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if _is_zip(p):
        try:
            with np.load(p, allow_pickle=False) as z:
                return "npz", {k: z[k] for k in z.files}
        except Exception as e:  # noqa: BLE001 - damaged zip/npy bytes raise many types (BadZipFile,
            # NotImplementedError for odd zip flags, SyntaxError from a broken .npy header, zlib errors ...)
            raise InputError(f"{p}: unreadable .npz archive ({type(e).__name__}: {e}); truncated?") from None
    d = read_json(p)  # not an .npz archive, so it must be JSON
    if isinstance(d, dict):
        fmt = d.get("format")
        if fmt == "vidpose.synth/1":
            return "synth", d
        if fmt == "vidpose.poses/1":
            return "poses", d
        if fmt is not None:
            raise InputError(f"{p}: unknown format {fmt!r} (expected vidpose.synth/1 or vidpose.poses/1)")
        if "annotations" in d and "images" in d:
            return "coco_gt", d
        if "annolist" in d:
            return "hie", d
    if isinstance(d, list) and all(isinstance(r, dict) and "image_id" in r for r in d):
        return "coco_results", d
    raise InputError(
        f"{p}: unknown format: not COCO keypoints ground truth, COCO results, "
        "vidpose synth annotations, HIE annotations (annolist), vidpose poses.json or .npz"
    )


def _has_bool(x, depth: int = 0) -> bool:
    if isinstance(x, bool):
        return True
    return isinstance(x, list) and depth < 4 and any(_has_bool(v, depth + 1) for v in x)


def _arr(x, where: str, shape: tuple) -> np.ndarray:
    if _has_bool(x):
        raise InputError(f"{where}: not a numeric array (true/false are not numbers)")
    try:
        raw = np.asarray(x)
        if raw.dtype.kind not in "fiuO":
            raise TypeError
        a = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{where}: not a numeric array") from None
    if a.shape != shape:
        raise InputError(f"{where}: expected shape {shape}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{where}: contains NaN or inf")
    if np.any(np.abs(a) > MAX_ABS):
        raise InputError(f"{where}: value of magnitude above {MAX_ABS:g} (corrupt file?)")
    return a


def _get(d: dict, key: str, where: str):
    if not isinstance(d, dict):
        raise InputError(f"{where}: expected an object")
    if key not in d:
        raise InputError(f"{where}: missing key {key!r}")
    return d[key]


@dataclass
class VideoPoses:
    """Per-frame people of one video file (GT or predictions), keyed by frame index."""

    path: str
    skeleton: str
    num_joints: int
    frames: dict[int, TrackedFrame] = field(default_factory=dict)
    occlusion: dict[int, np.ndarray] = field(default_factory=dict)  # GT only
    untracked: int = 0  # predictions with a null track_id


def _skeleton(d: dict, path: str) -> tuple[str, int]:
    sk = _get(d, "skeleton", path)
    name = _get(sk, "name", f"{path}: skeleton")
    if not isinstance(name, str) or not name:
        raise InputError(f"{path}: skeleton.name: expected a skeleton name, got {name!r:.40}")
    if name not in SKELETONS:
        raise InputError(f"{path}: skeleton.name: unknown skeleton {name!r:.40} (no OKS sigmas); "
                         f"known: {', '.join(SKELETONS)}")
    kps = _get(sk, "keypoints", f"{path}: skeleton")
    if not isinstance(kps, list) or not kps:
        raise InputError(f"{path}: skeleton.keypoints must be a non-empty list")
    if name in SKELETONS and SKELETONS[name].num_keypoints != len(kps):
        raise InputError(
            f"{path}: skeleton.keypoints lists {len(kps)} names but {name} has "
            f"{SKELETONS[name].num_keypoints}"
        )
    return str(name), len(kps)


def parse_video(d: dict, path: str, kind: str) -> VideoPoses:
    """Parse synth annotations (kind 'synth') or poses.json (kind 'poses') into VideoPoses."""
    name, j = _skeleton(d, path)
    out = VideoPoses(path=path, skeleton=name, num_joints=j)
    frames = _get(d, "frames", path)
    if not isinstance(frames, list):
        raise InputError(f"{path}: 'frames' must be a list")
    for fi, fr in enumerate(frames):
        where = f"{path}: frames[{fi}]"
        idx = _get(fr, "index", where)
        if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
            raise InputError(f"{where}.index: expected a non-negative integer, got {idx!r}")
        if idx in out.frames:
            raise InputError(f"{where}.index: frame {idx} appears twice")
        persons = _get(fr, "persons", where)
        if not isinstance(persons, list):
            raise InputError(f"{where}.persons: must be a list")
        ids, boxes, kps, extra, occ = [], [], [], [], []
        for pi, pe in enumerate(persons):
            pw = f"{where}.persons[{pi}]"
            tid = _get(pe, "track_id", pw)
            if tid is None and kind == "poses":
                # An untracked run writes null ids; give each person its own id that never
                # recurs, and refuse the metrics that need identities (see _video_metrics).
                out.untracked += 1
                tid = -out.untracked
            elif isinstance(tid, bool) or not isinstance(tid, int) or abs(tid) >= 2**62:
                raise InputError(f"{pw}.track_id: expected an integer, got {tid!r:.40}")
            box = _arr(_get(pe, "bbox", pw), f"{pw}.bbox", (4,))
            if box[2] < box[0] or box[3] < box[1]:
                raise InputError(f"{pw}.bbox: x2 < x1 or y2 < y1 (expected x1, y1, x2, y2)")
            kp = _get(pe, "keypoints", pw)
            if isinstance(kp, list) and len(kp) != j:
                raise InputError(f"{pw}.keypoints: {len(kp)} keypoints but skeleton {name} has {j}")
            kp = _arr(kp, f"{pw}.keypoints", (j, 3))
            k3 = pe.get("keypoints_3d")
            if k3 is not None:  # not scored here, but a damaged file is named rather than passed over
                _arr(k3, f"{pw}.keypoints_3d", (len(k3) if isinstance(k3, list) else -1, 3))
            if kind == "synth":
                if not np.all(np.isin(kp[:, 2], (0, 1, 2))):
                    raise InputError(f"{pw}.keypoints: visibility must be 0, 1 or 2")
                area = finite_number(_get(pe, "area", pw), f"{pw}.area")
                if area < 0:
                    raise InputError(f"{pw}.area: must be non-negative")
                extra.append(area)
                o = finite_number(pe.get("occlusion", 0.0), f"{pw}.occlusion")
                if not 0.0 <= o <= 1.0:
                    raise InputError(f"{pw}.occlusion: must lie in [0, 1], got {o}")
                occ.append(o)
            else:
                extra.append(finite_number(_get(pe, "score", pw), f"{pw}.score"))
            ids.append(tid)
            boxes.append(box)
            kps.append(kp)
        if len(set(ids)) != len(ids):
            raise InputError(f"{where}: duplicate track_id in one frame")
        k = len(ids)
        fp = TrackedFrame(
            track_ids=np.asarray(ids, dtype=np.int64),
            boxes=np.asarray(boxes, dtype=np.float64).reshape(k, 4),
            keypoints=np.asarray(kps, dtype=np.float64).reshape(k, j, 3),
        )
        if kind == "synth":
            fp.areas = np.asarray(extra, dtype=np.float64)
            out.occlusion[idx] = np.asarray(occ, dtype=np.float64)
        else:
            fp.scores = np.asarray(extra, dtype=np.float64)
        out.frames[idx] = fp
    return out


def parse_hie(d: dict, path: str) -> VideoPoses:
    """One HIE video's annotations (layout and checks: ``vidpose.io.hie``) as ground truth in the
    ``hie14`` skeleton. Frame index = position in ``annolist``. Visibility: ``is_visible`` 0 -> 2,
    1 (labelled, occluded) -> 1, -1 or absent -> 0. Box: the file's, else the labelled joints'
    extent (zeros with none). Area (OKS): the box's. Occlusion (the w_AP weight's): the fraction
    of a person's labelled joints marked occluded."""
    j = HIE14.num_keypoints
    out = VideoPoses(path=path, skeleton=HIE14.name, num_joints=j)
    for fi, frame in enumerate(hie_frames(d, path)):
        boxes, occ = [], []
        for person in frame.persons:
            kp = person.keypoints
            lab = kp[:, 2] > 0
            if person.bbox is not None:
                box = person.bbox
            elif lab.any():
                box = np.r_[kp[lab, :2].min(0), kp[lab, :2].max(0)]
            else:
                box = np.zeros(4)
            boxes.append(box)
            occ.append(float((kp[lab, 2] == 1).mean()) if lab.any() else 0.0)
        k = len(frame.persons)
        bx = np.asarray(boxes, np.float64).reshape(k, 4)
        out.frames[fi] = TrackedFrame(
            track_ids=np.asarray([p.track_id for p in frame.persons], np.int64), boxes=bx,
            keypoints=np.asarray([p.keypoints for p in frame.persons], np.float64).reshape(k, j, 3),
            areas=(bx[:, 2] - bx[:, 0]) * (bx[:, 3] - bx[:, 1]))
        out.occlusion[fi] = np.asarray(occ, np.float64)
    return out


def to_skeleton(video: VideoPoses, skeleton: str) -> VideoPoses:
    """Predictions converted to another skeleton (scores too), e.g. coco17 poses.json to hie14."""
    from vidpose.skeletons import convert_with_scores, get_skeleton

    if video.skeleton == skeleton:
        return video
    try:
        out = VideoPoses(path=video.path, skeleton=skeleton, num_joints=get_skeleton(skeleton).num_keypoints,
                         untracked=video.untracked)
        for i, f in video.frames.items():
            kp = convert_with_scores(f.keypoints, video.skeleton, skeleton) if len(f) else \
                np.zeros((0, out.num_joints, 3))
            out.frames[i] = TrackedFrame(track_ids=f.track_ids, boxes=f.boxes, keypoints=kp, scores=f.scores)
    except ValueError as e:
        raise InputError(f"{video.path}: {e}") from None
    return out


def _empty(j: int) -> TrackedFrame:
    return TrackedFrame(track_ids=np.zeros(0, np.int64), boxes=np.zeros((0, 4)),
                      keypoints=np.zeros((0, j, 3)), scores=np.zeros(0))


# --- matching -------------------------------------------------------------------------------

def greedy_oks_match(o: np.ndarray) -> list[tuple[int, int]]:
    """Greedy one-to-one matching on an OKS matrix (P, G): highest OKS first, OKS > 0 only.
    Returns (pred index, gt index) pairs."""
    o = np.asarray(o, dtype=np.float64)
    pairs = []
    if o.size == 0:
        return pairs
    flat = np.argsort(-o, axis=None, kind="stable")
    used_p, used_g = set(), set()
    for f in flat:
        p, g = divmod(int(f), o.shape[1])
        if o[p, g] <= 0:
            break
        if p in used_p or g in used_g:
            continue
        pairs.append((p, g))
        used_p.add(p)
        used_g.add(g)
    return pairs


# --- video (synth vs poses) metrics ---------------------------------------------------------

def _video_metrics(gt: VideoPoses, pred: VideoPoses, metrics: list[str]) -> dict:
    if pred.skeleton != gt.skeleton or pred.num_joints != gt.num_joints:
        raise InputError(
            f"{pred.path}: skeleton {pred.skeleton} ({pred.num_joints} keypoints) does not match "
            f"ground truth {gt.path}: {gt.skeleton} ({gt.num_joints} keypoints)"
        )
    extra = sorted(set(pred.frames) - set(gt.frames))
    if extra:
        raise InputError(
            f"{pred.path}: predictions for frames not in the ground truth {gt.path}: "
            f"{extra[:20]}{' ...' if len(extra) > 20 else ''}"
        )
    needs_ids = [m for m in metrics if m in ("jitter", "mota", "idf1", "idsw", "precision", "recall")]
    if needs_ids and pred.untracked:
        raise InputError(
            f"{pred.path}: {pred.untracked} person(s) have a null track_id; "
            f"{', '.join(needs_ids)} need tracked predictions"
        )
    sigmas = sigmas_for(gt.skeleton)
    idx = sorted(gt.frames)
    g_list = [gt.frames[i] for i in idx]
    p_list = [pred.frames.get(i, _empty(gt.num_joints)) for i in idx]
    for g in g_list:
        g.weights = None
    out: dict[str, float] = {}
    mot = None
    matches = None

    def get_matches():
        nonlocal matches
        if matches is None:
            matches = []
            for g, p in zip(g_list, p_list):
                if len(g) and len(p):
                    matches.append(greedy_oks_match(oks_matrix(p.keypoints, g.keypoints, g.areas, sigmas)))
                else:
                    matches.append([])
        return matches

    for m in metrics:
        if m.startswith("pck@"):
            out[m] = _video_pck(g_list, p_list, get_matches(), _alpha(m))
        elif m == "oks_ap":
            from vidpose.metrics.coco import coco_keypoint_ap

            gt_d, res = to_coco(idx, g_list, p_list)
            r = coco_keypoint_ap(gt_d, res, sigmas=sigmas)
            out.update({k: v for k, v in r.items() if k != "stats"})
        elif m == "w_ap":
            for i, g in zip(idx, g_list):
                g.weights = occlusion_weights(gt.occlusion[i]) if len(g) else np.zeros(0)
            r = weighted_oks_ap(g_list, p_list, sigmas)
            out["w_AP"] = r["w_AP"]
        elif m == "jitter":
            out["jitter"] = _video_jitter(idx, p_list, gt.num_joints)
        elif m == "accel":
            out["accel"] = _video_accel(idx, g_list, p_list, get_matches(), gt.num_joints)
        elif m in ("mota", "idf1", "idsw", "precision", "recall"):
            if mot is None:  # one motmetrics accumulation serves all five
                mot = mot_metrics(g_list, p_list, distance="oks", max_distance=0.5, sigmas=sigmas)
            out[m] = mot[m]
    return out


def _alpha(m: str) -> float:
    try:
        a = float(m.split("@", 1)[1])
    except ValueError:
        raise InputError(f"metric {m!r}: expected pck@ALPHA with a number, e.g. pck@0.2") from None
    if not (math.isfinite(a) and a > 0):
        raise InputError(f"metric {m!r}: alpha must be positive")
    return a


def _video_pck(g_list, p_list, matches, alpha: float) -> float:
    """PCK over every visible (v = 2) GT joint; normaliser max(w, h) of the GT person box.
    Joints of GT people with no matched prediction count as wrong."""
    correct = 0
    total = 0
    for g, p, mt in zip(g_list, p_list, matches):
        vis = g.keypoints[:, :, 2] == 2 if len(g) else np.zeros((0, 0), bool)
        total += int(vis.sum())
        for pi, gi in mt:
            b = g.boxes[gi]
            norm = max(b[2] - b[0], b[3] - b[1])
            d = np.linalg.norm(p.keypoints[pi, :, :2] - g.keypoints[gi, :, :2], axis=-1)
            correct += int(((d <= alpha * norm) & vis[gi]).sum())
    return correct / total if total else 0.0


def _video_jitter(idx, p_list, j: int) -> float:
    """Jitter of each predicted track over consecutive frame indices, pooled over tracks."""
    t0, t1 = idx[0], idx[-1]
    tracks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i, p in zip(idx, p_list):
        for k, tid in enumerate(p.track_ids.tolist()):
            if tid not in tracks:
                tracks[tid] = (np.zeros((t1 - t0 + 1, j, 2)), np.zeros(t1 - t0 + 1, bool))
            x, v = tracks[tid]
            x[i - t0] = p.keypoints[k, :, :2]
            v[i - t0] = True
    s = n = 0
    for x, v in tracks.values():
        a, b = temporal.jitter_sum(x, v)
        s, n = s + a, n + b
    return s / n if n else 0.0


def _video_accel(idx, g_list, p_list, matches, j: int) -> float:
    """Acceleration error per GT track, using the prediction matched to it in each frame;
    a joint counts where it is labelled (v > 0) and matched in all three frames."""
    t0, t1 = idx[0], idx[-1]
    n_t = t1 - t0 + 1
    tracks: dict[int, list[np.ndarray]] = {}
    for i, g, p, mt in zip(idx, g_list, p_list, matches):
        for pi, gi in mt:
            tid = int(g.track_ids[gi])
            if tid not in tracks:
                tracks[tid] = [np.zeros((n_t, j, 2)), np.zeros((n_t, j, 2)), np.zeros((n_t, j), bool)]
            xp, xg, v = tracks[tid]
            xp[i - t0] = p.keypoints[pi, :, :2]
            xg[i - t0] = g.keypoints[gi, :, :2]
            v[i - t0] = g.keypoints[gi, :, 2] > 0
    s = n = 0
    for xp, xg, v in tracks.values():
        a, b = temporal.accel_error_sum(xp, xg, v)
        s, n = s + a, n + b
    return s / n if n else 0.0


def to_coco(idx: list[int], g_list: list[TrackedFrame], p_list: list[TrackedFrame]) -> tuple[dict, list]:
    """COCO keypoints GT dict and results list from aligned frames (image id = frame index)."""
    from vidpose.metrics.coco import keypoint_coco_dicts

    g_img = [i for i, g in zip(idx, g_list) for _ in range(len(g))]
    p_img = [i for i, p in zip(idx, p_list) for _ in range(len(p))]
    return keypoint_coco_dicts(
        idx, g_img,
        [k for g in g_list for k in g.keypoints], [b for g in g_list for b in g.boxes],
        [a for g in g_list for a in g.areas],
        p_img, [k for p in p_list for k in p.keypoints], [s for p in p_list for s in p.scores],
    )


# --- 3D -------------------------------------------------------------------------------------

def _npz_array(d: dict, key: str, path: str) -> np.ndarray:
    if key not in d:
        raise InputError(f"{path}: missing array {key!r} (has: {', '.join(sorted(d)) or 'none'})")
    a = d[key]
    if a.dtype.kind not in "fiu":
        raise InputError(f"{path}: array {key!r} is not numeric (dtype {a.dtype})")
    a = a.astype(np.float64)
    if a.ndim != 3 or a.shape[2] != 3:
        raise InputError(f"{path}: array {key!r} must have shape (N, J, 3), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{path}: array {key!r} contains NaN or inf")
    if np.any(np.abs(a) > MAX_ABS):
        raise InputError(f"{path}: array {key!r} has values of magnitude above {MAX_ABS:g} (corrupt file?)")
    name = _npz_skeleton(d, path)
    if name is not None and name in ROOT_JOINT_COUNTS and ROOT_JOINT_COUNTS[name] != a.shape[1]:
        raise InputError(
            f"{path}: array {key!r} has {a.shape[1]} joints but skeleton {name} has {ROOT_JOINT_COUNTS[name]}"
        )
    return a


# The root (pelvis) of each 3D joint layout, for the default root alignment (MPJPE
# protocol #1): vidpose's skeletons' own (``Skeleton.root``; several joints = their mean,
# the hip midpoint of skeletons without a pelvis joint), plus two layout names of files.
ROOT_JOINTS: dict[str, tuple[int, ...]] = {
    **{name: sk.root for name, sk in SKELETONS.items()},
    "h36m": (0,),             # VideoPose3D's own layout name for h36m17
    "mpi_inf_3dhp28": (4,),   # pelvis of MPI-INF-3DHP's 28 joints
}
ROOT_JOINT_COUNTS = {**{name: sk.num_keypoints for name, sk in SKELETONS.items()}, "h36m": 17, "mpi_inf_3dhp28": 28}


def _npz_skeleton(d: dict, path: str) -> str | None:
    if "skeleton" not in d:
        return None
    a = d["skeleton"]
    if a.dtype.kind != "U" or a.size != 1:
        raise InputError(f"{path}: array 'skeleton' must be one string (e.g. 'h36m17'), got dtype {a.dtype} "
                         f"shape {a.shape}")
    return str(a.reshape(()))


def resolve_root(root_joint, num_joints: int, skeleton: str | None, path: str) -> tuple[tuple[int, ...] | None, str]:
    """The joints to subtract for ``root_joint`` ("auto", None/"none", or an index) and a sentence saying so.

    "auto" (the default) is the skeleton's root: the pelvis (or the hip midpoint) of the
    skeleton named in the .npz, or joint 0 when none is named (the pelvis in the
    VideoPose3D layouts h36m17 and humaneva15).
    """
    if root_joint is None or (isinstance(root_joint, str) and root_joint.lower() == "none"):
        return None, "3D poses scored as given (no root alignment: --root-joint none)"
    if isinstance(root_joint, str) and root_joint.lower() == "auto":
        if skeleton is None:
            return (0,), ("3D poses root-aligned at joint 0 (no skeleton named in the .npz; joint 0 is the pelvis "
                          "in h36m17 and humaneva15; --root-joint N picks another, --root-joint none scores raw poses)")
        if skeleton not in ROOT_JOINTS:
            raise InputError(
                f"{path}: skeleton {skeleton!r} has no known root joint; pass --root-joint N (the pelvis index) "
                f"or --root-joint none (known: {', '.join(ROOT_JOINTS)})"
            )
        if ROOT_JOINT_COUNTS[skeleton] != num_joints:
            raise InputError(f"{path}: skeleton {skeleton} has {ROOT_JOINT_COUNTS[skeleton]} joints, the arrays have {num_joints}")
        r = ROOT_JOINTS[skeleton]
        what = f"joint {r[0]} (pelvis)" if len(r) == 1 else f"the mean of joints {r[0]} and {r[1]} (hips)"
        return r, f"3D poses root-aligned at {what} of {skeleton} (--root-joint none scores raw poses)"
    if isinstance(root_joint, str):
        try:
            root_joint = int(root_joint)
        except ValueError:
            raise InputError(f"root_joint: expected a joint index, 'auto' or 'none', got {root_joint!r}") from None
    if isinstance(root_joint, bool) or not isinstance(root_joint, (int, np.integer)):
        raise InputError(f"root_joint: expected a joint index, 'auto' or 'none', got {root_joint!r}")
    if not 0 <= root_joint < num_joints:
        raise InputError(f"root_joint: {root_joint} out of range 0..{num_joints - 1}")
    return (int(root_joint),), f"3D poses root-aligned at joint {int(root_joint)} (--root-joint {int(root_joint)})"


def _metrics_3d(gt: np.ndarray, pred: np.ndarray, gt_path: str, pred_path: str, metrics: list[str],
                root: tuple[int, ...] | None) -> dict:
    # 3D metrics are errors: a missing prediction must not score as a perfect one,
    # so every ground-truth frame needs a prediction (an empty 'pred' is refused).
    if pred.shape != gt.shape:
        raise InputError(f"{pred_path}: 'pred' shape {pred.shape} does not match {gt_path}: 'gt' shape {gt.shape}")
    if root is not None:
        idx = list(root)
        gt = gt - gt[:, idx].mean(axis=1, keepdims=True)
        pred = pred - pred[:, idx].mean(axis=1, keepdims=True)
    fns = {"mpjpe": pose3d.mpjpe, "p_mpjpe": pose3d.p_mpjpe, "n_mpjpe": pose3d.n_mpjpe,
           "pck3d": pose3d.pck3d, "auc": pose3d.auc}
    out = {}
    for m in metrics:
        if m == "mpjve":
            if pred.shape[0] < 2:
                raise InputError(f"{pred_path}: mpjve needs at least 2 frames, got {pred.shape[0]}")
            out[m] = pose3d.mpjve(pred, gt)
        else:
            out[m] = fns[m](pred, gt)
    return out


# --- entry point ----------------------------------------------------------------------------

def _check_metrics(metrics: list[str], allowed: tuple[str, ...], what: str) -> list[str]:
    if not metrics:
        raise InputError("metrics: no metric requested")
    for m in metrics:
        ok = m in allowed or (m.startswith("pck@") and "pck@0.2" in allowed)
        if not ok:
            raise InputError(f"metric {m!r} is not available for {what}; choose from {', '.join(allowed)}")
    return list(metrics)


def evaluate(gt_path: str | os.PathLike, pred_path: str | os.PathLike | None, metrics: list[str],
             root_joint: int | str | None = "auto", skeleton: str | None = None,
             notes: list[str] | None = None) -> dict:
    """Score ``pred_path`` against ``gt_path``; returns {metric name: value}.

    ``pred_path`` may be None (or equal ``gt_path``) for one .npz holding both arrays.
    ``root_joint`` (3D only): "auto" (default) subtracts the skeleton's root (pelvis)
    from both before scoring, as MPJPE's protocol #1 does (:func:`resolve_root`); an
    index subtracts that joint; None or "none" scores the poses as given.
    ``skeleton`` (COCO files only) picks the OKS sigmas (:func:`sigmas_for`); default COCO's.
    ``notes``, when given, receives sentences describing conventions applied (the root).
    """
    if isinstance(metrics, str):  # "pck@0.2,oks_ap", as on the command line
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    gt_path = str(gt_path)
    no_pred = pred_path is None
    pred_path = gt_path if pred_path is None else str(pred_path)
    gk, gd = load_any(gt_path)
    if no_pred and gk != "npz":
        raise InputError(f"{gt_path}: predictions are missing (--pred); only an .npz holding both 'gt' and "
                         "'pred' needs none")
    if skeleton is not None and gk != "coco_gt":
        raise InputError(f"--skeleton picks the OKS sigmas of COCO keypoint files; {gt_path} is a "
                         f"{gk.replace('_', ' ')} file, whose skeleton is read from the file")
    if root_joint not in ("auto", None) and gk != "npz":
        raise InputError(f"--root-joint applies to 3D .npz poses only; {gt_path} is a {gk.replace('_', ' ')} file")
    pk, pd = (gk, gd) if pred_path == gt_path else load_any(pred_path)
    if gk == "npz":
        if pk != "npz":
            raise InputError(f"{pred_path}: ground truth {gt_path} is .npz, predictions must be too")
        ms = _check_metrics(metrics, METRICS_3D, "3D .npz poses")
        g3, p3 = _npz_array(gd, "gt", gt_path), _npz_array(pd, "pred", pred_path)
        names = {n for n in (_npz_skeleton(gd, gt_path), _npz_skeleton(pd, pred_path)) if n is not None}
        if len(names) > 1:
            raise InputError(f"{pred_path}: skeleton {sorted(names)} differs between {gt_path} and {pred_path}")
        root, note = resolve_root(root_joint, g3.shape[1], names.pop() if names else None, gt_path)
        if notes is not None:
            notes.append(note)
        return _metrics_3d(g3, p3, gt_path, pred_path, ms, root)
    if gk == "coco_gt":
        if pk != "coco_results":
            raise InputError(f"{pred_path}: ground truth is COCO keypoints, predictions must be COCO results")
        ms = _check_metrics(metrics, METRICS_COCO, "COCO keypoints")
        from vidpose.metrics.coco import coco_keypoint_ap

        sigmas = None
        if skeleton:
            if skeleton not in SKELETONS:
                raise InputError(f"--skeleton must be one of {', '.join(SKELETONS)}, got {skeleton!r}")
            cats = [c for c in gd.get("categories", []) if isinstance(c, dict) and "keypoints" in c]
            anns = [a for a in gd.get("annotations", []) if isinstance(a, dict) and isinstance(a.get("keypoints"), list)]
            have = len(cats[0]["keypoints"]) if cats else None
            if have is None and anns:
                have = len(anns[0]["keypoints"]) // 3
            try:
                sigmas = sigmas_for(skeleton)
            except InputError as e:
                raise InputError(f"--skeleton {skeleton}: {str(e).removeprefix('sigmas_for: ')}") from None
            if have is not None and have != len(sigmas):
                raise InputError(f"--skeleton {skeleton} has {len(sigmas)} keypoints but {gt_path} has {have}")
        r = coco_keypoint_ap(gt_path, pred_path, sigmas=sigmas)
        return {k: v for k, v in r.items() if k != "stats"} if ms else {}
    if gk == "synth":
        if pk != "poses":
            raise InputError(f"{pred_path}: ground truth is vidpose synth annotations, predictions must be poses.json")
        ms = _check_metrics(metrics, METRICS_VIDEO, "synth annotations vs poses.json")
        return _video_metrics(parse_video(gd, gt_path, "synth"), parse_video(pd, pred_path, "poses"), ms)
    if gk == "hie":
        if pk != "poses":
            raise InputError(f"{pred_path}: ground truth is HIE annotations, predictions must be poses.json")
        ms = _check_metrics(metrics, METRICS_VIDEO, "HIE annotations vs poses.json")
        gt = parse_hie(gd, gt_path)
        return _video_metrics(gt, to_skeleton(parse_video(pd, pred_path, "poses"), gt.skeleton), ms)
    raise InputError(f"{gt_path}: a {gk.replace('_', ' ')} file cannot be the ground truth")
