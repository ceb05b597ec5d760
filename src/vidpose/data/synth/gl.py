"""Triangle rasteriser for renderer 3: moderngl on an EGL context (Mesa's llvmpipe on a CPU).

One draw call per frame renders every person's mesh into four buffers at once:
colour (Lambert shading under an ambient + directional light, garment
patterns), a per-pixel ID (``slot * IDS_PER_PERSON + region + 1``, 0 for the
background), the camera-space position of the surface point seen at each
pixel in the *next* frame, and its depth now. The next-frame position is the
perspective-correct interpolation of the triangle's next-frame vertices, i.e.
the same surface point (same barycentric coordinates) one frame later; its
projection minus the pixel centre is the exact optical flow of the mesh.

Needs the system libraries ``libegl1 libegl-mesa0 libgl1-mesa-dri`` (Debian
names) and the Python package ``moderngl``; :func:`available` says whether they work.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

IDS_PER_PERSON = 32

_VS = """
#version 330
uniform vec4 u_proj_x;   // clip.x = dot(u_proj_x, vec4(p, 1))
uniform vec4 u_proj_y;
uniform vec4 u_proj_z;
uniform mat3 u_R;        // world -> camera (OpenCV: x right, y down, z forward): R p + t
uniform vec3 u_t;
uniform mat3 u_R_next;   // the next frame's camera
uniform vec3 u_t_next;
in vec3 in_pos;          // world coordinates, metres
in vec3 in_next;         // the same vertex in the next frame, world coordinates
in vec3 in_normal;       // world
in vec3 in_col_a;
in vec3 in_col_b;
in vec2 in_pat;          // pattern (0 plain, 1 stripes, 2 checks), period (metres)
in vec3 in_rest;         // rest-pose position: patterns stick to the body
in uint in_id;
out vec3 v_next;
out vec3 v_normal;
out vec3 v_pos;
flat out vec3 v_col_a;
flat out vec3 v_col_b;
flat out vec2 v_pat;
out vec3 v_rest;
flat out uint v_id;
void main() {
    vec3 pc = u_R * in_pos + u_t;
    vec4 p = vec4(pc, 1.0);
    gl_Position = vec4(dot(u_proj_x, p), dot(u_proj_y, p), dot(u_proj_z, p), pc.z);
    v_next = u_R_next * in_next + u_t_next; v_normal = u_R * in_normal; v_pos = pc;
    v_col_a = in_col_a; v_col_b = in_col_b; v_pat = in_pat; v_rest = in_rest; v_id = in_id;
}
"""

_FS = """
#version 330
#define WITH_NEXT 1
uniform vec3 u_light_dir;   // direction the light travels, camera coordinates
uniform vec3 u_light_col;
uniform float u_ambient;
in vec3 v_next;
in vec3 v_normal;
in vec3 v_pos;
flat in vec3 v_col_a;
flat in vec3 v_col_b;
flat in vec2 v_pat;
in vec3 v_rest;
flat in uint v_id;
layout(location = 0) out vec4 f_colour;
layout(location = 1) out uint f_id;
layout(location = 2) out float f_depth;
#if WITH_NEXT
layout(location = 3) out vec4 f_next;
#endif
void main() {
    vec3 n = normalize(v_normal);
    if (dot(n, v_pos) > 0.0) n = -n;  // seen from behind (thin parts): light the side we see
    float lambert = max(dot(n, -u_light_dir), 0.0);
    vec3 albedo = v_col_a;
    if (v_pat.x > 0.5) {
        float a = floor(v_rest.z / v_pat.y);
        if (v_pat.x > 1.5) a += floor((v_rest.x + v_rest.y) / v_pat.y);
        if (mod(a, 2.0) > 0.5) albedo = v_col_b;
    }
    // a little rim darkening where the surface turns away from the camera
    float facing = abs(dot(n, normalize(-v_pos)));
    vec3 c = albedo * (u_ambient + (1.0 - u_ambient) * lambert * u_light_col) * (0.75 + 0.25 * facing);
    f_colour = vec4(clamp(c, 0.0, 1.0), 1.0);
    f_id = v_id;
    f_depth = v_pos.z;
#if WITH_NEXT
    f_next = vec4(v_next, 1.0);
#endif
}
"""

NEAR, FAR = 0.05, 500.0


@functools.lru_cache(maxsize=1)
def available() -> tuple[bool, str]:
    """(True, renderer name) when an EGL context can be made, else (False, why)."""
    try:
        import moderngl
    except ImportError:
        return False, "the Python package moderngl is not installed (pip install 'vidpose[synth]')"
    try:
        ctx = moderngl.create_standalone_context(backend="egl")
    except Exception as e:  # the EGL libraries are missing or unusable
        return False, (f"no EGL context ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                       "install the Debian packages libegl1 libegl-mesa0 libgl1-mesa-dri")
    name = ctx.info.get("GL_RENDERER", "?")
    ctx.release()
    return True, name


@dataclass
class GLFrame:
    colour: np.ndarray  # (H, W, 3) uint8 BGR, background pixels 0
    ids: np.ndarray  # (H, W) uint32
    next_pos: np.ndarray | None  # (H, W, 3) float32 next-frame camera position of the visible surface
    depth: np.ndarray  # (H, W) float32 camera z of the visible surface (0 on the background)


class MeshRenderer:
    """Renders triangle meshes at ``width`` x ``height`` with pinhole intrinsics ``K``."""

    def __init__(self, width: int, height: int) -> None:
        from vidpose.errors import VidposeError

        ok, why = available()
        if not ok:
            raise VidposeError(f"--renderer 3 needs OpenGL through EGL: {why}")
        import moderngl

        self.width, self.height = int(width), int(height)
        self.ctx = moderngl.create_standalone_context(backend="egl")
        ctx = self.ctx
        # Two programs: with the next-frame output (flow) and without (cheaper).
        self.progs = {True: ctx.program(vertex_shader=_VS, fragment_shader=_FS),
                      False: ctx.program(vertex_shader=_VS, fragment_shader=_FS.replace("#define WITH_NEXT 1",
                                                                                        "#define WITH_NEXT 0"))}
        # Closed meshes: back faces are never seen. The projection puts image row 0 at
        # the framebuffer's first row (no flip when reading), which mirrors the
        # winding: Anny's front faces are clockwise there.
        ctx.enable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.front_face = "cw"
        size = (self.width, self.height)
        self.rb_colour = ctx.renderbuffer(size, 4, dtype="f1")
        self.rb_id = ctx.renderbuffer(size, 1, dtype="u4")
        self.rb_z = ctx.renderbuffer(size, 1, dtype="f4")
        self.rb_next = ctx.renderbuffer(size, 4, dtype="f4")
        self.rb_depth = ctx.depth_renderbuffer(size)
        self.fbo = ctx.framebuffer([self.rb_colour, self.rb_id, self.rb_z, self.rb_next], self.rb_depth)
        self._static = None
        self._vao = None
        self._dyn = None
        self._ibo = None

    def set_scene(self, faces: list[np.ndarray], col_a: list[np.ndarray], col_b: list[np.ndarray],
                  pattern: list[np.ndarray], rest: list[np.ndarray], ids: list[np.ndarray],
                  faces_low: list[np.ndarray] | None = None) -> None:
        """Per-person constant data: faces (F, 3) int, colours (V, 3) 0..1 RGB, pattern (V, 2), rest (V, 3), ids (V,);
        ``faces_low``: an optional low-detail triangle list per person (see :meth:`render`'s ``low``)."""
        self.release_scene()
        ctx = self.ctx
        offs = np.cumsum([0] + [len(r) for r in rest])
        self.num_vertices = int(offs[-1])
        lists = [f.astype(np.int32) + o for f, o in zip(faces, offs[:-1])]
        if faces_low is not None:
            lists += [f.astype(np.int32) + o for f, o in zip(faces_low, offs[:-1])]
        sizes = np.array([3 * len(f) for f in lists])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        n = len(faces)
        self._ranges = [(int(starts[k]), int(sizes[k])) for k in range(n)]  # (first index, count) per person
        self._ranges_low = [(int(starts[n + k]), int(sizes[n + k])) for k in range(n)] if faces_low is not None else None
        idx = np.concatenate(lists).astype(np.int32)
        st = np.concatenate([np.concatenate([a, b, p, r], 1) for a, b, p, r in zip(col_a, col_b, pattern, rest)]).astype("f4")
        self._static = ctx.buffer(st.tobytes())
        self._idbuf = ctx.buffer(np.concatenate(ids).astype("u4").tobytes())
        self._ibo = ctx.buffer(idx.tobytes())
        self._dyn = ctx.buffer(reserve=self.num_vertices * 9 * 4)
        dyn = {True: (self._dyn, "3f 3f 3f", "in_pos", "in_next", "in_normal"),
               False: (self._dyn, "3f 12x 3f", "in_pos", "in_normal")}  # in_next is unused there
        self._vao = {k: ctx.vertex_array(prog, [
            dyn[k],
            (self._static, "3f 3f 2f 3f", "in_col_a", "in_col_b", "in_pat", "in_rest"),
            (self._idbuf, "u", "in_id"),
        ], self._ibo) for k, prog in self.progs.items()}

    def release_scene(self) -> None:
        for b in (*(self._vao or {}).values(), self._dyn, self._static, self._ibo, getattr(self, "_idbuf", None)):
            if b is not None:
                b.release()
        self._vao = self._dyn = self._static = self._ibo = self._idbuf = None

    def render(self, K: np.ndarray, R: np.ndarray, t: np.ndarray, R_next: np.ndarray, t_next: np.ndarray,
               pos: np.ndarray, nxt: np.ndarray | None, normals: np.ndarray,
               light_dir: np.ndarray, light_col: np.ndarray, ambient: float, want_next: bool,
               low: list[bool] | None = None) -> GLFrame:
        """Draw the scene's vertices at world positions ``pos`` (N, 3) seen by the camera ``R``, ``t``
        (world -> camera); ``nxt`` the same vertices in the next frame (camera ``R_next``, ``t_next``),
        ``normals`` world unit normals; ``light_dir`` in camera coordinates; ``low[k]``: draw
        person ``k`` with its low-detail triangles."""
        import moderngl

        W, H = self.width, self.height
        fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
        prog = self.progs[bool(want_next)]
        prog["u_proj_x"].value = (2 * fx / W, 0.0, 2 * cx / W - 1, 0.0)
        prog["u_proj_y"].value = (0.0, 2 * fy / H, 2 * cy / H - 1, 0.0)  # framebuffer row r = image row r
        a, b = (FAR + NEAR) / (FAR - NEAR), -2 * FAR * NEAR / (FAR - NEAR)
        prog["u_proj_z"].value = (0.0, 0.0, a, b)
        prog["u_R"].value = tuple(np.asarray(R, np.float64).T.reshape(-1))  # GLSL matrices are column-major
        prog["u_t"].value = tuple(np.asarray(t, np.float64))
        if want_next:
            prog["u_R_next"].value = tuple(np.asarray(R_next, np.float64).T.reshape(-1))
            prog["u_t_next"].value = tuple(np.asarray(t_next, np.float64))
        ld = np.asarray(light_dir, np.float64)
        prog["u_light_dir"].value = tuple(ld / np.linalg.norm(ld))
        prog["u_light_col"].value = tuple(float(c) for c in light_col)
        prog["u_ambient"].value = float(ambient)
        dyn = np.concatenate([pos, pos if nxt is None else nxt, normals], 1).astype("f4", copy=False)
        self._dyn.write(dyn.tobytes())
        fbo = self.fbo
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        vao = self._vao[bool(want_next)]
        for k, (first, count) in enumerate(self._ranges):
            if low is not None and low[k] and self._ranges_low is not None:
                first, count = self._ranges_low[k]
            vao.render(moderngl.TRIANGLES, vertices=count, first=first)
        col = cv2.cvtColor(np.frombuffer(fbo.read(components=4, attachment=0), np.uint8).reshape(H, W, 4),
                           cv2.COLOR_RGBA2BGR)
        ids = np.frombuffer(fbo.read(components=1, attachment=1, dtype="u4"), np.uint32).reshape(H, W)
        z = np.frombuffer(fbo.read(components=1, attachment=2, dtype="f4"), np.float32).reshape(H, W)
        nx = None
        if want_next:
            nx = np.frombuffer(fbo.read(components=3, attachment=3, dtype="f4"), np.float32).reshape(H, W, 3)
        return GLFrame(col, ids, nx, z)

    def release(self) -> None:
        self.release_scene()
        self.fbo.release()
        for rb in (self.rb_colour, self.rb_id, self.rb_z, self.rb_next, self.rb_depth):
            rb.release()
        for prog in self.progs.values():
            prog.release()
        self.ctx.release()
