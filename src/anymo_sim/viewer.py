"""Seeing placements: a PNG render (matplotlib), a self-contained interactive HTML 3D view
(WebGL, no network), and PLY/GLB (trimesh) and CSV/JSON exports.

Every view shows the rest-pose body, each placement as a dot, its outward normal (the sensor z
axis) as a spike and its tangent plane as a small square whose red edge is the sensor x axis.
The frames are the engine's own: the rest pose is run through `skinned_imu`.
"""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

import numpy as np

from ._io import write_atomic
from .body import SEGMENTS, Body
from .placements import Placements

SPIKE = 0.04  # m, normal spike length
SQUARE = 0.012  # m, half side of the tangent square
# one colour per canonical segment (tab20-like, readable on a light mesh)
SEGMENT_COLORS = np.array([
    [0.12, 0.47, 0.71], [0.68, 0.78, 0.91], [1.00, 0.50, 0.05], [1.00, 0.73, 0.47], [0.17, 0.63, 0.17],
    [0.60, 0.87, 0.54], [0.84, 0.15, 0.16], [1.00, 0.60, 0.59], [0.58, 0.40, 0.74], [0.77, 0.69, 0.84],
    [0.55, 0.34, 0.29], [0.77, 0.61, 0.58], [0.89, 0.47, 0.76], [0.97, 0.71, 0.82], [0.09, 0.75, 0.81],
    [0.62, 0.85, 0.90],
])
VIEWS = {  # name: (camera looking direction, screen up)
    "front": (np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0])),
    "back": (np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])),
    "left": (np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])),
    "right": (np.array([-1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])),
    "top": (np.array([0.0, 0.0, -1.0]), np.array([0.0, 1.0, 0.0])),
}


def rest_frames(body: Body, placements: Placements) -> tuple[np.ndarray, np.ndarray]:
    """(P, 3) device positions and (P, 3, 3) world-from-device rotations in the rest pose, as the
    engine computes them (offset, yaw and tilt included)."""
    from .engine import skinned_imu

    A = np.tile(np.eye(4), (4, len(body.joint_names), 1, 1))
    res = skinned_imu(body.rest_vertices, body.faces, body.skin_joints, body.skin_weights, A, 60.0,
                      placements=placements)
    return np.asarray(res.positions[0], dtype=np.float64), np.asarray(res.rotations[0], dtype=np.float64)


def _glyph_sizes(P: int) -> tuple[float, float]:
    """Normal spike length and tangent-square half side (m): smaller when placements are dense."""
    return (SPIKE, SQUARE) if P <= 500 else (0.6 * SPIKE, 0.6 * SQUARE)


def _placement_colors(placements: Placements) -> np.ndarray:
    return SEGMENT_COLORS[placements.segment]


# ---------------------------------------------------------------- PNG

def _zbuffer_visible(screen: np.ndarray, depth: np.ndarray, points: np.ndarray, pdepth: np.ndarray,
                     cell: float = 0.01, slack: float = 0.02) -> np.ndarray:
    """Which points are not hidden behind the surface: depth splatting of the mesh samples into
    `cell`-sized pixels, a point is visible if nothing in its pixel is `slack` nearer the camera."""
    lo = np.minimum(screen.min(axis=0), points.min(axis=0))
    ij = np.floor((screen - lo) / cell).astype(np.int64)
    shape = ij.max(axis=0) + 2
    buf = np.full(shape, -np.inf)
    np.maximum.at(buf, (ij[:, 0], ij[:, 1]), depth)
    pij = np.clip(np.floor((points - lo) / cell).astype(np.int64), 0, shape - 1)
    return pdepth >= buf[pij[:, 0], pij[:, 1]] - slack


def render_png(body: Body, placements: Placements, path, views=("front", "back", "left"), title: str | None = None,
               labels: bool | None = None, dpi: int = 110) -> Path:
    """A PNG of the body from a few sides with every visible placement, its normal spike and its
    tangent square (red edge: x axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PolyCollection

    pos, R = rest_frames(body, placements)
    labels = len(placements) <= 40 if labels is None else labels
    spike, square = _glyph_sizes(len(placements))
    x, faces = body.rest_vertices, body.faces
    tri = x[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-12)
    centroids = tri.mean(axis=1)
    samples = np.concatenate([x, centroids, 0.5 * (tri[:, 0] + tri[:, 1]), 0.5 * (tri[:, 1] + tri[:, 2]),
                              0.5 * (tri[:, 2] + tri[:, 0])])
    colors = _placement_colors(placements)
    fig, axes = plt.subplots(1, len(views), figsize=(4.2 * len(views), 7.6), squeeze=False)
    for ax, view in zip(axes[0], views):
        d, up = VIEWS[view]
        right = np.cross(d, up)
        proj = np.stack([right, up], axis=1)  # world -> screen (x right, y up)
        toward = -d
        front = fn @ toward > 0
        order = np.argsort(centroids[front] @ toward)  # painter's algorithm: far first
        shade = 0.35 + 0.65 * np.clip(fn[front][order] @ (0.8 * toward + 0.45 * up + 0.3 * right) / 1.0, 0, 1)
        polys = (tri[front][order] @ proj)
        pc = PolyCollection(polys, facecolors=np.clip(shade[:, None] * np.array([0.93, 0.85, 0.78]), 0, 1),
                            edgecolors="none", antialiased=False)
        ax.add_collection(pc)
        n_world = R[:, :, 2]
        visible = (n_world @ toward > 0.05) & _zbuffer_visible(samples @ proj, samples @ toward, pos @ proj,
                                                               pos @ toward)
        p2 = pos[visible] @ proj
        spikes = np.stack([p2, (pos[visible] + spike * n_world[visible]) @ proj], axis=1)
        ax.add_collection(LineCollection(spikes, colors=colors[visible], linewidths=0.8))
        xs, ys = R[visible, :, 0], R[visible, :, 1]
        c = pos[visible][:, None, :] + square * (np.array([1, -1, -1, 1])[None, :, None] * xs[:, None, :] +
                                                 np.array([1, 1, -1, -1])[None, :, None] * ys[:, None, :])
        ax.add_collection(PolyCollection(c @ proj, facecolors="none", edgecolors=colors[visible], linewidths=0.6))
        xedge = np.stack([c[:, 3], c[:, 0]], axis=1) @ proj  # the +x edge of each square
        ax.add_collection(LineCollection(xedge, colors="red", linewidths=1.0))
        ax.scatter(p2[:, 0], p2[:, 1], s=6 if len(placements) > 200 else 18, c=colors[visible], edgecolors="k",
                   linewidths=0.2, zorder=3)
        if labels:
            for name, q in zip(np.array(placements.names)[visible], p2):
                ax.annotate(name, q, xytext=(4, 4), textcoords="offset points", fontsize=6.5, zorder=4)
        sx = x @ proj
        pad = 0.06
        ax.set_xlim(sx[:, 0].min() - pad, sx[:, 0].max() + pad)
        ax.set_ylim(sx[:, 1].min() - pad, sx[:, 1].max() + pad)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(f"{view} ({int(visible.sum())} visible)", fontsize=9)
    present = sorted(set(placements.segment.tolist()))
    handles = [plt.Line2D([], [], marker="o", ls="", color=SEGMENT_COLORS[s], label=SEGMENTS[s]) for s in present]
    fig.legend(handles=handles, loc="lower center", ncol=min(8, len(handles)), fontsize=7, frameon=False)
    fig.suptitle(title or f"{body.name}: {len(placements)} placements (dot, normal spike, tangent square; red = x)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    out = write_atomic(Path(path), lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
    plt.close(fig)
    return out


# ---------------------------------------------------------------- HTML

def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def write_html(body: Body, placements: Placements, path, title: str | None = None) -> Path:
    """A self-contained interactive 3D view (WebGL; drag to rotate, wheel to zoom, shift-drag to
    pan, hover a dot for its name); the arrays are embedded, nothing is fetched."""
    pos, R = rest_frames(body, placements)
    data = {
        "title": title or f"{body.name}: {len(placements)} placements",
        "vertices": _b64(body.rest_vertices.astype(np.float32)),
        "faces": _b64(body.faces.astype(np.uint32)),
        "points": _b64(pos.astype(np.float32)),
        "frames": _b64(R.astype(np.float32)),
        "colors": _b64(_placement_colors(placements).astype(np.float32)),
        "names": list(placements.names),
        "segments": [SEGMENTS[s] for s in placements.segment],
        "spike": _glyph_sizes(len(placements))[0], "square": _glyph_sizes(len(placements))[1],
    }
    html = _HTML.replace("__DATA__", json.dumps(data))
    return write_atomic(Path(path), lambda tmp: tmp.write_text(html, encoding="utf-8"))


_HTML = r"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>anymo-sim placements</title>
<style>
html,body{margin:0;height:100%;overflow:hidden;font:13px sans-serif;background:#f4f4f2}
canvas{width:100%;height:100%;display:block;cursor:grab}
#info{position:absolute;left:10px;top:8px;background:rgba(255,255,255,.85);padding:6px 9px;border-radius:5px}
#tip{position:absolute;pointer-events:none;background:#222;color:#fff;padding:2px 6px;border-radius:3px;display:none}
</style></head><body>
<canvas id="c"></canvas>
<div id="info"><b id="title"></b><br>drag: rotate &middot; wheel: zoom &middot; shift-drag: pan &middot;
hover a dot: name<br>dot = placement, spike = normal (z), square = tangent plane, red edge = x axis</div>
<div id="tip"></div>
<script>
const D = __DATA__;
function f32(s){const b=atob(s),u=new Uint8Array(b.length);for(let i=0;i<b.length;i++)u[i]=b.charCodeAt(i);return new Float32Array(u.buffer);}
function u32(s){const b=atob(s),u=new Uint8Array(b.length);for(let i=0;i<b.length;i++)u[i]=b.charCodeAt(i);return new Uint32Array(u.buffer);}
document.getElementById('title').textContent = D.title;
const V=f32(D.vertices), F=u32(D.faces), P=f32(D.points), R=f32(D.frames), C=f32(D.colors), nP=P.length/3;
// smooth vertex normals (area weighted)
const N=new Float32Array(V.length);
for(let f=0;f<F.length;f+=3){const a=F[f]*3,b=F[f+1]*3,c=F[f+2]*3;
 const ux=V[b]-V[a],uy=V[b+1]-V[a+1],uz=V[b+2]-V[a+2],vx=V[c]-V[a],vy=V[c+1]-V[a+1],vz=V[c+2]-V[a+2];
 const nx=uy*vz-uz*vy,ny=uz*vx-ux*vz,nz=ux*vy-uy*vx;for(const i of [a,b,c]){N[i]+=nx;N[i+1]+=ny;N[i+2]+=nz;}}
// centre of the body
let ctr=[0,0,0];for(let i=0;i<V.length;i+=3){ctr[0]+=V[i];ctr[1]+=V[i+1];ctr[2]+=V[i+2];}ctr=ctr.map(x=>x*3/V.length);
// line geometry: spikes (segment colour), squares (segment colour), x edges (red)
const L=[],LC=[];function line(p,q,c){L.push(...p,...q);LC.push(...c,...c);}
for(let i=0;i<nP;i++){const p=[P[3*i],P[3*i+1],P[3*i+2]],r=R.subarray(9*i,9*i+9),c=[C[3*i],C[3*i+1],C[3*i+2]];
 const col=k=>[r[k],r[3+k],r[6+k]], x=col(0), y=col(1), z=col(2);
 line(p,p.map((v,k)=>v+D.spike*z[k]),c);
 const q=(sx,sy)=>p.map((v,k)=>v+D.square*(sx*x[k]+sy*y[k]));
 const c00=q(1,-1),c01=q(1,1),c11=q(-1,1),c10=q(-1,-1);
 line(c01,c11,c);line(c11,c10,c);line(c10,c00,c);line(c00,c01,[0.9,0.05,0.05]);}
const cv=document.getElementById('c'),gl=cv.getContext('webgl',{antialias:true});
gl.getExtension('OES_element_index_uint');
function prog(vs,fs){const p=gl.createProgram();for(const [t,s] of [[gl.VERTEX_SHADER,vs],[gl.FRAGMENT_SHADER,fs]]){
 const sh=gl.createShader(t);gl.shaderSource(sh,s);gl.compileShader(sh);gl.attachShader(p,sh);}gl.linkProgram(p);return p;}
const meshP=prog(`attribute vec3 p,n;uniform mat4 M;varying vec3 vn;void main(){vn=(M*vec4(n,0.)).xyz;gl_Position=M*vec4(p,1.);gl_Position.z*=-1.;}`,
 `precision mediump float;varying vec3 vn;void main(){vec3 n=normalize(vn);float l=.35+.65*max(dot(n,normalize(vec3(.3,.5,.8))),0.);gl_FragColor=vec4(l*vec3(.93,.85,.78),1.);}`);
const lineP=prog(`attribute vec3 p,c;uniform mat4 M;uniform float s;varying vec3 vc;void main(){vc=c;gl_Position=M*vec4(p,1.);gl_Position.z=-gl_Position.z-.002;gl_PointSize=s;}`,
 `precision mediump float;varying vec3 vc;void main(){gl_FragColor=vec4(vc,1.);}`);
function buf(a,t){const b=gl.createBuffer();gl.bindBuffer(t||gl.ARRAY_BUFFER,b);gl.bufferData(t||gl.ARRAY_BUFFER,a,gl.STATIC_DRAW);return b;}
const bV=buf(V),bN=buf(N),bF=buf(F,gl.ELEMENT_ARRAY_BUFFER),bL=buf(new Float32Array(L)),bLC=buf(new Float32Array(LC)),bP=buf(P),bC=buf(C);
let yaw=Math.PI-0.5,pitch=0.15,zoom=1.0,pan=[0,0];
function matrix(){const a=cv.width/cv.height,s=zoom*1.1;const cy=Math.cos(yaw),sy=Math.sin(yaw),cp=Math.cos(pitch),sp=Math.sin(pitch);
 // world z up; camera orbits about z (yaw) and tilts (pitch); orthographic
 const r=[[cy,sy,0],[-sy*sp,cy*sp,cp],[sy*cp,-cy*cp,sp]];
 const m=new Float32Array(16);for(let i=0;i<3;i++){m[i*4]=r[0][i]*s/a;m[i*4+1]=r[1][i]*s;m[i*4+2]=r[2][i]*0.5;}
 m[12]=-(r[0][0]*ctr[0]+r[0][1]*ctr[1]+r[0][2]*ctr[2])*s/a+pan[0];m[13]=-(r[1][0]*ctr[0]+r[1][1]*ctr[1]+r[1][2]*ctr[2])*s+pan[1];
 m[14]=-(r[2][0]*ctr[0]+r[2][1]*ctr[1]+r[2][2]*ctr[2])*0.5;m[15]=1;return m;}
function attr(p,name,b){const l=gl.getAttribLocation(p,name);gl.bindBuffer(gl.ARRAY_BUFFER,b);gl.enableVertexAttribArray(l);gl.vertexAttribPointer(l,3,gl.FLOAT,false,0,0);return l;}
function draw(){const w=cv.clientWidth*devicePixelRatio,h=cv.clientHeight*devicePixelRatio;if(cv.width!==w||cv.height!==h){cv.width=w;cv.height=h;}
 gl.viewport(0,0,cv.width,cv.height);gl.clearColor(.957,.957,.949,1);gl.clear(gl.COLOR_BUFFER_BIT|gl.DEPTH_BUFFER_BIT);gl.enable(gl.DEPTH_TEST);
 const M=matrix();
 gl.useProgram(meshP);const a1=attr(meshP,'p',bV),a2=attr(meshP,'n',bN);gl.uniformMatrix4fv(gl.getUniformLocation(meshP,'M'),false,M);
 gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER,bF);gl.drawElements(gl.TRIANGLES,F.length,gl.UNSIGNED_INT,0);gl.disableVertexAttribArray(a1);gl.disableVertexAttribArray(a2);
 gl.useProgram(lineP);gl.uniformMatrix4fv(gl.getUniformLocation(lineP,'M'),false,M);gl.uniform1f(gl.getUniformLocation(lineP,'s'),nP>200?4*devicePixelRatio:8*devicePixelRatio);
 let b1=attr(lineP,'p',bL),b2=attr(lineP,'c',bLC);gl.drawArrays(gl.LINES,0,L.length/3);
 attr(lineP,'p',bP);attr(lineP,'c',bC);gl.drawArrays(gl.POINTS,0,nP);}
let drag=null;cv.onmousedown=e=>{drag=[e.clientX,e.clientY,e.shiftKey];cv.style.cursor='grabbing';};
window.onmouseup=()=>{drag=null;cv.style.cursor='grab';};
const tip=document.getElementById('tip');
window.onmousemove=e=>{if(drag){const dx=e.clientX-drag[0],dy=e.clientY-drag[1];
 if(drag[2]){pan[0]+=2*dx/cv.clientWidth;pan[1]-=2*dy/cv.clientHeight;}else{yaw+=dx*0.01;pitch=Math.max(-1.5,Math.min(1.5,pitch+dy*0.01));}
 drag=[e.clientX,e.clientY,drag[2]];draw();return;}
 // hover: nearest projected dot in front (orthographic, so project with the same matrix)
 const M=matrix(),W=cv.clientWidth,H=cv.clientHeight;let best=-1,bd=64,bz=-1e9;
 for(let i=0;i<nP;i++){const x=P[3*i],y=P[3*i+1],z=P[3*i+2];const sx=(M[0]*x+M[4]*y+M[8]*z+M[12]+1)/2*W,sy=(1-(M[1]*x+M[5]*y+M[9]*z+M[13]))/2*H,sz=M[2]*x+M[6]*y+M[10]*z;
  const d=(sx-e.clientX)**2+(sy-e.clientY)**2;if(d<bd||(d<64&&sz>bz)){bd=d;best=i;bz=sz;}}
 if(best>=0){tip.style.display='block';tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+8)+'px';tip.textContent=D.names[best]+' ('+D.segments[best]+')';}else tip.style.display='none';};
cv.onwheel=e=>{e.preventDefault();zoom*=Math.exp(-e.deltaY*0.001);draw();};
window.onresize=draw;draw();
</script></body></html>
"""


# ---------------------------------------------------------------- exports

def export_mesh(body: Body, placements: Placements, path) -> Path:
    """The body (grey) and every placement as a small device box in its tangent plane with a normal
    spike, coloured by segment, as one PLY or GLB (by the file suffix) via trimesh."""
    import trimesh

    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("ply", "glb"):
        raise ValueError(f"{path}: expected a .ply or .glb file name")
    pos, R = rest_frames(body, placements)
    parts = [trimesh.Trimesh(body.rest_vertices, body.faces, process=False,
                             vertex_colors=np.tile([200, 190, 180, 255], (body.n_vertices, 1)))]
    box = trimesh.creation.box(extents=(2 * SQUARE, 2 * SQUARE, 0.003))
    spike = trimesh.creation.box(extents=(0.002, 0.002, SPIKE))
    spike.apply_translation((0, 0, SPIKE / 2))
    colors = (255 * _placement_colors(placements)).astype(np.uint8)
    for p, r, c in zip(pos, R, colors):
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = r, p
        for shape in (box, spike):
            m = shape.copy()
            m.apply_transform(T)
            m.visual.vertex_colors = np.tile(np.append(c, 255), (len(m.vertices), 1))
            parts.append(m)
    mesh = trimesh.util.concatenate(parts)
    return write_atomic(path, lambda tmp: tmp.write_bytes(mesh.export(file_type=kind)))


def export_table(body: Body, placements: Placements, path) -> Path:
    """The placement table (Placements.table plus the device frame axes) as CSV or JSON."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("csv", "json"):
        raise ValueError(f"{path}: expected a .csv or .json file name")
    cols = placements.table(body)
    _, R = rest_frames(body, placements)
    for i, axis in enumerate("xyz"):
        for k, comp in enumerate("xyz"):
            cols[f"{axis}_axis_{comp}"] = R[:, k, i]
    keys = list(cols)
    rows = [{k: (cols[k][i].item() if hasattr(cols[k][i], "item") else cols[k][i]) for k in keys}
            for i in range(len(placements))]

    def write(tmp: Path):
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            if kind == "json":
                json.dump({"body": body.name, "placements": rows}, fh, indent=1)
            else:
                w = csv.DictWriter(fh, fieldnames=keys)
                w.writeheader()
                w.writerows(rows)

    return write_atomic(path, write)
