"""``report.html``: one self-contained page about an output folder of ``vidpose run``.

:func:`write_report` reads ``poses.json`` (required), ``run.json`` (optional) and
notices ``overlay.mp4`` beside them, and writes one HTML file that opens offline:
the data is embedded as JSON and drawn by a few hundred lines of vanilla
JavaScript (SVG line charts, a canvas 3D viewer). No plotting library and no
network: the page stays small (tens to a few hundred KB instead of plotly's
3.5 MB bundle) and vidpose gains no dependency. The overlay video is linked by
its relative name (``<video src="overlay.mp4">``): it sits in the same folder,
so moving the folder keeps the link working; copying ``report.html`` alone
loses only the video.

What the page shows: per track, timelines of presence, confidence, knee /
elbow / hip angles (2D, degrees) and speed (hip centre, pixels per second);
jitter statistics (median second difference of the keypoints, in pixels and in
% of the person's box height); a 3D skeleton viewer with a time slider (when
the poses have ``keypoints_3d``); the run's settings, models, stages and
timings from run.json.

Long videos are decimated so pages stay small: timelines keep at most
:data:`MAX_TIMELINE_POINTS` samples per track (every k-th frame), the 3D viewer
at most :data:`MAX_3D_FRAMES` frames. Statistics are computed on every frame.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import time
import warnings
from pathlib import Path

import numpy as np

from vidpose.errors import InputError

MAX_TIMELINE_POINTS = 1500
MAX_3D_FRAMES = 500

# (label, (a, b, c)): the angle at b between b->a and b->c, in degrees.
ANGLES = [
    ("left knee", ("left_hip", "left_knee", "left_ankle")),
    ("right knee", ("right_hip", "right_knee", "right_ankle")),
    ("left elbow", ("left_shoulder", "left_elbow", "left_wrist")),
    ("right elbow", ("right_shoulder", "right_elbow", "right_wrist")),
    ("left hip", ("left_shoulder", "left_hip", "left_knee")),
    ("right hip", ("right_shoulder", "right_hip", "right_knee")),
]


def _stride(n: int, limit: int) -> int:
    return max(1, math.ceil(n / limit))


def _num(v, nd: int = 3):
    """A JSON number, or None for NaN/inf (a gap in a chart)."""
    v = float(v)
    return round(v, nd) if math.isfinite(v) else None


def _angle(kp: np.ndarray, a: int, b: int, c: int) -> np.ndarray:
    """Angles (T,) at joint b from (T, J, 2+) keypoints, degrees."""
    u = kp[:, a, :2] - kp[:, b, :2]
    v = kp[:, c, :2] - kp[:, b, :2]
    nu, nv = np.linalg.norm(u, axis=1), np.linalg.norm(v, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(u * v, axis=1) / (nu * nv)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def _track_data(rows: list[tuple[int, dict]], names: list[str], track_id, times: np.ndarray, min_score: float) -> dict:
    with warnings.catch_warnings():  # all-NaN rows (frames without this track) are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        return _track_arrays(rows, names, track_id, times, min_score)


def _track_arrays(rows: list[tuple[int, dict]], names: list[str], track_id, times: np.ndarray, min_score: float) -> dict:
    """One track's statistics and timelines from its ``rows`` (frame position, person), over its own span
    (first to last frame): a page's size and build time grow with the video's length, not with its
    length times its number of tracks. The timelines are the video's decimated timeline from sample
    ``start`` on (the page pads them)."""
    a, b = rows[0][0], rows[-1][0]
    n, nk = b - a + 1, len(names)
    kp = np.full((n, nk, 3), np.nan)
    score = np.full(n, np.nan)
    box_h = np.full(n, np.nan)
    for i, p in rows:
        kp[i - a] = np.asarray(p["keypoints"], dtype=np.float64)
        score[i - a] = p["score"]
        box_h[i - a] = p["bbox"][3] - p["bbox"][1]
    t = times[a:b + 1]
    present = np.isfinite(score)
    conf = np.nanmean(kp[:, :, 2], axis=1) if nk else np.full(n, np.nan)
    # Unsure keypoints do not make angles.
    masked = kp.copy()
    masked[masked[:, :, 2] < min_score] = np.nan
    idx = {k: i for i, k in enumerate(names)}
    angles = {}
    for label, (j0, j1, j2) in ANGLES:
        if j0 in idx and j1 in idx and j2 in idx:
            angles[label] = _angle(masked, idx[j0], idx[j1], idx[j2])
    if "left_hip" in idx and "right_hip" in idx:
        centre = (kp[:, idx["left_hip"], :2] + kp[:, idx["right_hip"], :2]) / 2
    else:
        centre = np.nanmean(kp[:, :, :2], axis=1) if nk else np.full((n, 2), np.nan)
    speed = np.full(n, np.nan)
    if n > 1:
        dt = np.diff(t)
        with np.errstate(invalid="ignore", divide="ignore"):
            speed[1:] = np.linalg.norm(np.diff(centre, axis=0), axis=1) / np.where(dt > 0, dt, np.nan)
    # Jitter: |x[t+1] - 2 x[t] + x[t-1]| over frames where the track is present in all three.
    jitter_px = np.array([])
    jitter_rel = np.array([])
    if n > 2:
        acc = np.linalg.norm(kp[2:, :, :2] - 2 * kp[1:-1, :, :2] + kp[:-2, :, :2], axis=2)  # (T-2, J)
        ok = np.isfinite(acc)
        jitter_px = acc[ok]
        rel = acc / box_h[1:-1, None] * 100
        jitter_rel = rel[ok & np.isfinite(rel)]
    s = _stride(len(times), MAX_TIMELINE_POINTS)
    first = -(-a // s)  # the first sample of the video's timeline (frames 0, s, 2s, ...) inside the span
    sl = slice(first * s - a, None, s)
    fin = lambda x: x[np.isfinite(x)]  # noqa: E731
    return {
        "id": track_id,
        "frames": int(present.sum()),
        "first": _num(t[present][0]) if present.any() else None,
        "last": _num(t[present][-1]) if present.any() else None,
        "mean_score": _num(np.nanmean(score)) if present.any() else None,
        "mean_conf": _num(np.nanmean(conf[present])) if present.any() else None,
        "jitter_px_median": _num(np.median(jitter_px)) if jitter_px.size else None,
        "jitter_px_p95": _num(np.percentile(jitter_px, 95)) if jitter_px.size else None,
        "jitter_rel_median": _num(np.median(jitter_rel)) if jitter_rel.size else None,
        "median_speed": _num(np.median(fin(speed))) if fin(speed).size else None,
        "start": first,
        "presence": [int(v) for v in present[sl]],
        "confidence": [_num(v) for v in conf[sl]],
        "speed": [_num(v, 1) for v in speed[sl]],
        "angles": {k: [_num(v, 1) for v in x[sl]] for k, x in angles.items()},
    }


def _view3d(frames: list[dict], links: list) -> dict | None:
    with_3d = [fr for fr in frames if any(p.get("keypoints_3d") for p in fr["persons"])]
    if not with_3d:
        return None
    s = _stride(len(frames), MAX_3D_FRAMES)
    out = []
    for fr in frames[::s]:
        out.append({
            "t": _num(fr["time"]),
            "i": fr["index"],
            "p": [{"id": p["track_id"], "k": [[round(float(v), 3) for v in xyz] for xyz in p["keypoints_3d"]]}
                  for p in fr["persons"] if p.get("keypoints_3d")],
        })
    return {"stride": s, "frames": out, "links": links}


def build_data(poses: dict, run: dict | None, overlay: str | None, min_score: float = 0.3) -> dict:
    """Everything the page draws, as one JSON-able dict (decimated; statistics on every frame)."""
    frames = poses["frames"]
    names = list(poses["skeleton"]["keypoints"])
    times = np.asarray([fr["time"] for fr in frames], dtype=np.float64)
    by_track: dict = {}  # track id -> [(frame position, person)], in one pass over the frames
    for i, fr in enumerate(frames):
        for p in fr["persons"]:
            rows = by_track.setdefault(p["track_id"], [])
            if not rows or rows[-1][0] != i:  # one person per track and frame, as before
                rows.append((i, p))
    ids = sorted(by_track, key=lambda t: (t is None, t))
    s = _stride(len(frames), MAX_TIMELINE_POINTS)
    return {
        "skeleton": {"name": poses["skeleton"]["name"], "keypoints": names, "links": poses["skeleton"]["links"]},
        "video": poses.get("video"),
        "n_frames": len(frames),
        "time": [_num(t) for t in times[::s]],
        "timeline_stride": s,
        "limits": {"timeline_points": MAX_TIMELINE_POINTS, "frames_3d": MAX_3D_FRAMES},
        "tracks": [_track_data(by_track[t], names, t, times, min_score) for t in ids],
        "view3d": _view3d(frames, (poses.get("skeleton_3d") or poses["skeleton"])["links"]),
        "run": run,
        "overlay": overlay,
    }


def _finite(x):
    """``x`` with NaN and infinities (possible in a hand-edited run.json) as None."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def render_html(data: dict, title: str) -> str:
    # "<" only occurs inside JSON strings: as \u003c no text (a source path, a setting) can end
    # or re-open the <script> element.
    payload = json.dumps(_finite(data), separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    parts = {"%TITLE%": html.escape(title), "%CSS%": _CSS, "%JS%": _JS, "%DATA%": payload}
    # one pass: a placeholder inside a replacement (a video named "a%DATA%.mp4") is left as text
    return re.sub("|".join(map(re.escape, parts)), lambda m: parts[m.group(0)], _PAGE)


def write_report(out_dir: str | os.PathLike, run: dict | None = None, dest: str | os.PathLike | None = None) -> Path:
    """Write ``report.html`` (or ``dest``) for the output folder ``out_dir``; return its path.

    ``run``: the run.json content when the caller has it (``vidpose run`` writes the
    report before run.json); otherwise ``out_dir/run.json`` is read if present.
    Raises :class:`InputError` naming the folder or file and the fault.
    """
    from vidpose.io.atomic import atomic_write_text
    from vidpose.io.jsonfile import read_json
    from vidpose.io.poses import load_poses

    folder = Path(out_dir)
    if not folder.exists():
        raise InputError(f"{folder}: no such output folder")
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder (give the output folder of vidpose run)")
    pj = folder / "poses.json"
    if not pj.is_file():
        raise InputError(f"{folder}: no poses.json in this folder (is it an output folder of vidpose run?)")
    poses = load_poses(pj)
    if run is None and (folder / "run.json").is_file():
        run = read_json(folder / "run.json")
        if not isinstance(run, dict):
            raise InputError(f"{folder / 'run.json'}: must be a JSON object")
    min_score = 0.3
    config = run.get("config") if run else None
    given = config.get("min_score") if isinstance(config, dict) else None
    if isinstance(given, (int, float)) and not isinstance(given, bool) and 0.0 <= given <= 1.0:  # else the default
        min_score = float(given)
    overlay = "overlay.mp4" if (folder / "overlay.mp4").is_file() else None
    t0 = time.perf_counter()
    try:
        data = build_data(poses, run, overlay, min_score)
        video = poses.get("video")
        src = (video.get("path") if isinstance(video, dict) else None) or folder.name
    except (TypeError, KeyError, AttributeError, ValueError, IndexError) as e:  # fields load_poses does not check
        raise InputError(f"{pj}: malformed for the report ({type(e).__name__}: {e})") from None
    dest = Path(dest) if dest is not None else folder / "report.html"
    data["build_seconds"] = round(time.perf_counter() - t0, 3)  # the page's own figures (rendering excluded)
    atomic_write_text(dest, render_html(data, f"vidpose report: {Path(str(src)).name}"))
    return dest


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>%TITLE%</title>
<style>%CSS%</style></head>
<body>
<h1>%TITLE%</h1>
<p id="summary"></p>
<section id="video-section"><h2>Overlay video</h2><div id="video"></div></section>
<section id="tracks-section"><h2>Tracks</h2><div id="stats"></div><div id="tracks"></div></section>
<section id="view3d-section"><h2>3D skeleton</h2><div id="view3d"></div></section>
<section id="run-section"><h2>Run</h2><div id="run"></div></section>
<p class="note" id="limits"></p>
<script type="application/json" id="vidpose-data">%DATA%</script>
<script>%JS%</script>
</body></html>
"""

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.4em 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
th{background:#f3f3f3}.chart{display:inline-block;margin:4px 8px 4px 0;vertical-align:top}
.chart svg{background:#fafafa;border:1px solid #ddd}.legend{font-size:.75em}.legend span{margin-right:8px}
.note{color:#666;font-size:.85em}video{max-width:100%;max-height:480px;background:#000}
#view3d canvas{border:1px solid #ccc;background:#fff;cursor:grab}.controls{margin:.4em 0}
.controls input[type=range]{width:420px;vertical-align:middle}
"""

_JS = r"""
(function(){
"use strict";
const D=JSON.parse(document.getElementById('vidpose-data').textContent);
const NS='http://www.w3.org/2000/svg';
const COLORS=['#1f77b4','#d62728','#2ca02c','#ff7f0e','#9467bd','#8c564b','#e377c2','#17becf'];
function el(tag,attrs,text){const e=document.createElement(tag);for(const k in attrs||{})e.setAttribute(k,attrs[k]);if(text!=null)e.textContent=text;return e;}
function sv(tag,attrs){const e=document.createElementNS(NS,tag);for(const k in attrs||{})e.setAttribute(k,attrs[k]);return e;}
function fmt(v){if(v==null)return '–';if(typeof v==='number'){if(Number.isInteger(v))return String(v);const a=Math.abs(v);return a>=100?v.toFixed(1):a>=1?(+v.toFixed(2)).toString():(+v.toPrecision(3)).toString();}return String(v);}
function table(rows,head){const t=el('table');if(head){const tr=el('tr');head.forEach(h=>tr.appendChild(el('th',{},h)));t.appendChild(tr);}
 rows.forEach(r=>{const tr=el('tr');r.forEach(c=>tr.appendChild(el('td',{},typeof c==='object'&&c!==null?JSON.stringify(c):fmt(c))));t.appendChild(tr);});return t;}
// A line chart: series = [{name, values, color}], xs shared; null values break the line.
function chart(title,xs,series,opts){
 opts=opts||{};const W=500,H=150,L=44,R=8,T=18,B=24;
 const box=el('div',{'class':'chart','data-chart':title});
 const s=sv('svg',{width:W,height:H,viewBox:`0 0 ${W} ${H}`});
 let lo=opts.min,hi=opts.max;const all=[];series.forEach(se=>se.values.forEach(v=>{if(v!=null)all.push(v);}));
 if(lo==null)lo=all.length?Math.min(...all):0;if(hi==null)hi=all.length?Math.max(...all):1;if(hi<=lo)hi=lo+1;
 const x0=xs.length?xs[0]:0,x1=xs.length?xs[xs.length-1]:1,xr=(x1-x0)||1;
 const X=x=>L+(x-x0)/xr*(W-L-R),Y=y=>H-B-(y-lo)/(hi-lo)*(H-T-B);
 const t=sv('text',{x:L,y:12,'font-size':11});t.textContent=title;s.appendChild(t);
 [lo,hi].forEach(v=>{const a=sv('text',{x:L-4,y:Y(v)+4,'font-size':9,'text-anchor':'end'});a.textContent=fmt(v);s.appendChild(a);});
 [x0,x1].forEach(v=>{const a=sv('text',{x:X(v),y:H-8,'font-size':9,'text-anchor':'middle'});a.textContent=fmt(v)+' s';s.appendChild(a);});
 s.appendChild(sv('rect',{x:L,y:T,width:W-L-R,height:H-T-B,fill:'none',stroke:'#bbb'}));
 series.forEach(se=>{
  if(se.area){let d='';se.values.forEach((v,i)=>{if(v){const xa=X(xs[i]),xb=X(xs[Math.min(i+1,xs.length-1)]);d+=`M${xa.toFixed(1)},${Y(1).toFixed(1)}H${Math.max(xb,xa+1).toFixed(1)}V${Y(0).toFixed(1)}H${xa.toFixed(1)}Z`;}});
   s.appendChild(sv('path',{d:d,fill:se.color,'fill-opacity':0.18,stroke:'none','class':'series'}));return;}
  let d='',pen=false;se.values.forEach((v,i)=>{if(v==null){pen=false;return;}d+=(pen?'L':'M')+X(xs[i]).toFixed(1)+','+Y(v).toFixed(1);pen=true;});
  s.appendChild(sv('path',{d:d,fill:'none',stroke:se.color,'stroke-width':1.3,'class':'series'}));});
 box.appendChild(s);const lg=el('div',{'class':'legend'});
 series.forEach(se=>{const sp=el('span',{},'■ '+se.name);sp.style.color=se.color;lg.appendChild(sp);});box.appendChild(lg);return box;}

// Summary and video
const run=D.run;
const v=D.video||{};
document.getElementById('summary').textContent=`${D.n_frames} frames`+(v.width?`, ${v.width}×${v.height} at ${fmt(v.fps)} fps`:'')+
 `, ${D.tracks.length} track(s), skeleton ${D.skeleton.name}`+(run&&run.fps?`, ${fmt(run.fps)} frames/s`:'')+'.';
const vd=document.getElementById('video');
if(D.overlay){const vid=el('video',{src:D.overlay,controls:'',preload:'metadata'});vd.appendChild(vid);
 vd.appendChild(el('p',{'class':'note'},'overlay.mp4, linked from this folder (keep report.html beside it).'));}
else vd.appendChild(el('p',{'class':'note'},'No overlay.mp4 in this folder (run without --no-overlay to get one).'));

// Tracks
const st=document.getElementById('stats');
st.appendChild(table(D.tracks.map(t=>[t.id,t.frames,t.first,t.last,t.mean_score,t.mean_conf,t.median_speed,t.jitter_px_median,t.jitter_px_p95,t.jitter_rel_median]),
 ['track','frames','first (s)','last (s)','mean score','mean keypoint conf.','median speed (px/s)','jitter median (px)','jitter p95 (px)','jitter median (% box h)']));
st.appendChild(el('p',{'class':'note'},'Jitter: per keypoint, |x[t+1] − 2x[t] + x[t−1]| over frames where the track is present three times in a row (all frames, before decimation). Angles: 2D, in the image, at the joint; keypoints below the run\'s min score leave a gap.'));
const tr=document.getElementById('tracks');
D.tracks.forEach((t,k)=>{
 const sec=el('div',{'class':'track','data-track':t.id});sec.appendChild(el('h3',{},'Track '+t.id));
 const c=COLORS[k%COLORS.length];
 // a track's timelines cover its own span, from timeline sample t.start: pad them to the video's
 const pad=a=>Array(t.start||0).fill(null).concat(a,Array(Math.max(0,D.time.length-(t.start||0)-a.length)).fill(null));
 sec.appendChild(chart('presence and confidence',D.time,[{name:'present',values:pad(t.presence),color:c,area:true},{name:'mean keypoint confidence',values:pad(t.confidence),color:c}],{min:0,max:1}));
 const names=Object.keys(t.angles);
 if(names.length)sec.appendChild(chart('joint angles (degrees)',D.time,names.map((n,i)=>({name:n,values:pad(t.angles[n]),color:COLORS[i%COLORS.length]})),{min:0,max:180}));
 sec.appendChild(chart('speed of the hip centre (px/s)',D.time,[{name:'speed',values:pad(t.speed),color:c}],{min:0}));
 tr.appendChild(sec);});
if(!D.tracks.length)tr.appendChild(el('p',{},'Nobody was found in this video.'));

// 3D viewer
const v3=document.getElementById('view3d');
if(D.view3d&&D.view3d.frames.length){
 const F=D.view3d.frames,links=D.view3d.links;
 const cv=el('canvas',{width:560,height:420,id:'skeleton3d',role:'img','aria-label':'3D skeletons of the tracked people at the chosen time'});
 const ctl=el('div',{'class':'controls'});
 const sl=el('input',{type:'range',min:0,max:F.length-1,value:0,step:1,id:'time-slider','aria-label':'time'});
 const lab=el('span',{id:'time-label'});
 const yaw=el('input',{type:'range',min:-180,max:180,value:30,step:1,id:'yaw-slider','aria-label':'turn (degrees)'});
 ctl.appendChild(el('label',{'for':'time-slider'},'time '));ctl.appendChild(sl);ctl.appendChild(lab);ctl.appendChild(el('br'));
 ctl.appendChild(el('label',{'for':'yaw-slider'},'turn '));ctl.appendChild(yaw);
 v3.appendChild(cv);v3.appendChild(ctl);
 v3.appendChild(el('p',{'class':'note'},`Metres, origin at each person's hip centre (people are drawn side by side on screen). Drag or use "turn" to rotate. `+(D.view3d.stride>1?`One frame in ${D.view3d.stride} (at most ${D.limits.frames_3d}).`:'')));
 const ctx=cv.getContext('2d');let pitch=0.25;
 function draw(){
  const f=F[+sl.value],a=(+yaw.value)*Math.PI/180,ca=Math.cos(a),sa=Math.sin(a),cp=Math.cos(pitch),sp=Math.sin(pitch);
  ctx.fillStyle='#fff';ctx.fillRect(0,0,cv.width,cv.height);
  const n=f.p.length,scale=Math.min(170,cv.height*0.4);
  // floor grid
  ctx.strokeStyle='#e5e5e5';ctx.lineWidth=1;
  const P=(x,y,z,off)=>{const xr=x*ca+z*sa,zr=-x*sa+z*ca;const yr=y*cp-zr*sp;return [cv.width/2+(xr+off)*scale,cv.height*0.52+yr*scale];};
  for(let g=-1;g<=1;g+=0.5){let p=P(g,0.9,-1,0),q=P(g,0.9,1,0);ctx.beginPath();ctx.moveTo(p[0],p[1]);ctx.lineTo(q[0],q[1]);ctx.stroke();
   p=P(-1,0.9,g,0);q=P(1,0.9,g,0);ctx.beginPath();ctx.moveTo(p[0],p[1]);ctx.lineTo(q[0],q[1]);ctx.stroke();}
  f.p.forEach((p,j)=>{const off=(j-(n-1)/2)*0.9;const idx=D.tracks.findIndex(t=>t.id===p.id);
   ctx.strokeStyle=COLORS[(idx<0?j:idx)%COLORS.length];ctx.lineWidth=3;
   links.forEach(([i,k])=>{const A=p.k[i],B=p.k[k];if(!A||!B)return;const pa=P(A[0],A[1],A[2],off),pb=P(B[0],B[1],B[2],off);
    ctx.beginPath();ctx.moveTo(pa[0],pa[1]);ctx.lineTo(pb[0],pb[1]);ctx.stroke();});
   ctx.fillStyle='#333';p.k.forEach(K=>{const q=P(K[0],K[1],K[2],off);ctx.fillRect(q[0]-2,q[1]-2,4,4);});});
  lab.textContent=` t = ${fmt(f.t)} s (frame ${f.i})`+(n?'':' – nobody in 3D');
  cv.setAttribute('data-frame',f.i);}
 sl.addEventListener('input',draw);yaw.addEventListener('input',draw);
 let drag=null;cv.addEventListener('mousedown',e=>{drag=[e.clientX,e.clientY,+yaw.value,pitch];});
 window.addEventListener('mouseup',()=>{drag=null;});
 window.addEventListener('mousemove',e=>{if(!drag)return;yaw.value=drag[2]+(e.clientX-drag[0])*0.5;pitch=Math.max(-1.2,Math.min(1.2,drag[3]+(e.clientY-drag[1])*0.01));draw();});
 draw();
}else{const lifted=run&&run.stages&&Array.isArray(run.stages.ran)&&run.stages.ran.find(s=>s&&s.stage==='lift');
 v3.appendChild(el('p',{'class':'note'},!D.tracks.length?'No 3D keypoints: nobody was found.':
  lifted?`No 3D keypoints in these poses (the lift stage ${lifted.choice||''} ran but gave none).`:
  'No 3D keypoints: no lift stage ran (--lift none, or a trained 2D --model without --lift dgnet).'));}

// Run
const rd=document.getElementById('run');
const obj=x=>x&&typeof x==='object'&&!Array.isArray(x);
if(obj(run)){
 rd.appendChild(table([['vidpose',run.vidpose_version],['source',run.source],['frames',run.frames],['frames with a person',run.frames_with_person],
  ...(run.short_track_poses_dropped!=null?[['poses of tracks shorter than --min-track-frames (not written)',run.short_track_poses_dropped]]:[]),
  ['wall seconds',run.wall_seconds],['frames/s',run.fps],['report.html build seconds (not in frames/s)',D.build_seconds]].concat([['decode error',run.decode_error]])));
 if(obj(run.config)){rd.appendChild(el('h3',{},'Settings'));rd.appendChild(table(Object.entries(run.config),['option','value']));}
 if(obj(run.model)){rd.appendChild(el('h3',{},'Model'));rd.appendChild(table(Object.entries(run.model),['key','value']));}
 if(obj(run.models)){rd.appendChild(el('h3',{},'Model files'));rd.appendChild(table(Object.entries(run.models).map(([k,m])=>[k,obj(m)?m.file:m,obj(m)?String(m.sha256||'').slice(0,16):'']),['name','file','sha256']));}
 if(obj(run.stages)){rd.appendChild(el('h3',{},'Stages (refinement and lifting)'));const arr=x=>Array.isArray(x)?x.filter(obj):[];
  rd.appendChild(table(arr(run.stages.ran).map(s=>[s.stage,s.choice||(s.min_track_frames!=null?'min-track-frames '+s.min_track_frames:''),'ran']).concat(arr(run.stages.skipped).map(s=>[s.stage||'',s.choice||s.name||'','skipped: '+(s.reason||JSON.stringify(s))])),['stage','choice','']));}
 if(obj(run.seconds)){rd.appendChild(el('h3',{},'Timings (seconds)'));const sec=Object.entries(run.seconds).filter(([k,v])=>typeof v==='number'),tot=sec.reduce((a,[k,v])=>a+v,0)||1;
  rd.appendChild(table(sec.map(([k,s])=>[k,s,(100*s/tot).toFixed(1)+' %']),['stage','seconds','share of the summed stage seconds (stages overlap on threads)']));}
}else rd.appendChild(el('p',{'class':'note'},'No run.json in this folder.'));
const lim=D.limits;
document.getElementById('limits').textContent=`Timelines keep at most ${lim.timeline_points} samples per track`+(D.timeline_stride>1?` (here one frame in ${D.timeline_stride})`:'')+
 `; the 3D view at most ${lim.frames_3d} frames. Statistics use every frame.`;
document.body.setAttribute('data-ready','1');
})();
"""
