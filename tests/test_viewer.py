"""`anymo-sim placements list/show/export`: the PNG, the self-contained HTML view (its script run
under node with a recording WebGL stand-in where node exists), PLY/GLB and CSV/JSON exports."""

import csv
import json
import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from anymo_sim.bodies import default_body
from anymo_sim.presets import placements_for
from anymo_sim_cli.app import app

runner = CliRunner()
DEVICES = "watch_left,glasses,phone_front_pocket_right,chest_strap,shoe_left"


def test_list_shows_presets_and_landmarks():
    res = runner.invoke(app, ["placements", "list"])
    assert res.exit_code == 0, res.output
    for name in ("watch_left", "phone_back_pocket_right", "xsens17", "dip6", "left_wrist_dorsal"):
        assert name in res.output


def test_show_writes_png_and_self_contained_html(tmp_path):
    import matplotlib.image

    out = tmp_path / "view"
    res = runner.invoke(app, ["placements", "show", "-p", DEVICES, "-o", str(out), "--views", "front,back,left,top"])
    assert res.exit_code == 0, res.output
    png = matplotlib.image.imread(tmp_path / "view.png")
    assert png.shape[0] > 400 and png.shape[1] > 1000
    # not a blank canvas: the body and coloured markers are drawn
    assert png[..., :3].std() > 0.1 and len(np.unique((png[..., :3] * 16).astype(int).reshape(-1, 3), axis=0)) > 50
    html = (tmp_path / "view.html").read_text()
    assert "http://" not in html and "https://" not in html and "<script src" not in html
    data = json.loads(html.split("const D = ", 1)[1].split(";\n", 1)[0])
    body = default_body()
    assert len(data["names"]) == 6 and data["names"][0] == "watch_left"
    assert len(np.frombuffer(__import__("base64").b64decode(data["vertices"]), np.float32)) == 3 * body.n_vertices
    assert not list(tmp_path.glob("*.partial"))


FAKE_GL = r"""
const calls = [];
const fakeGL = new Proxy({}, {get(t, k) {
  if (typeof k === 'string' && /^[A-Z_0-9]+$/.test(k)) return k;  // constants
  return (...a) => { calls.push([k, a]); return {}; };
}});
const el = {getContext: () => fakeGL, style: {}, clientWidth: 800, clientHeight: 600, width: 0, height: 0,
            textContent: ''};
globalThis.document = {getElementById: () => el};
globalThis.window = globalThis; globalThis.devicePixelRatio = 1;
globalThis.atob = s => Buffer.from(s, 'base64').toString('binary');
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_html_viewer_script_runs_and_draws_everything(tmp_path):
    res = runner.invoke(app, ["placements", "show", "-p", DEVICES, "-o", str(tmp_path / "v")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "v.html").read_text()
    script = html.split("<script>", 1)[1].split("</script>", 1)[0]
    probe = FAKE_GL + script + r"""
const draws = calls.filter(c => c[0] === 'drawElements' || c[0] === 'drawArrays').map(c => [c[0], c[1][0], c[0] === 'drawElements' ? c[1][1] : c[1][2]]);
el.onmousedown({clientX: 10, clientY: 10, shiftKey: false}); window.onmousemove({clientX: 40, clientY: 25});
window.onmouseup(); el.onwheel({deltaY: 100, preventDefault() {}});
console.log(JSON.stringify({draws, n: calls.filter(c => c[0] === 'drawElements').length}));
"""
    (tmp_path / "probe.js").write_text(probe)
    out = subprocess.run(["node", str(tmp_path / "probe.js")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    body = default_body()
    P = 6
    first = result["draws"][:3]
    assert first[0] == ["drawElements", "TRIANGLES", 3 * len(body.faces)]
    assert first[1] == ["drawArrays", "LINES", 2 * 5 * P]  # a spike and four square edges each
    assert first[2] == ["drawArrays", "POINTS", P]
    assert result["n"] == 3  # drawn once at load, again after the drag and the wheel


@pytest.mark.parametrize("suffix", ["ply", "glb"])
def test_export_mesh_with_device_markers(tmp_path, suffix):
    import trimesh

    out = tmp_path / f"devices.{suffix}"
    res = runner.invoke(app, ["placements", "export", str(out), "-p", DEVICES])
    assert res.exit_code == 0, res.output
    mesh = trimesh.load(out, force="mesh")
    body = default_body()
    assert len(mesh.vertices) == body.n_vertices + 6 * 2 * 8  # body + a box and a spike (8 corners) each
    assert np.allclose(mesh.bounds, [body.rest_vertices.min(0), body.rest_vertices.max(0)], atol=0.06)


def test_export_tables(tmp_path):
    body = default_body()
    pl = placements_for(body, "all", count=500)
    res = runner.invoke(app, ["placements", "export", str(tmp_path / "t.csv"), "--count", "500"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert len(rows) == 500 and rows[0]["name"] == "all/0"
    assert [int(r["a0"]) for r in rows] == pl.anchors[:, 0].tolist()
    z = np.array([[float(r[f"z_axis_{c}"]) for c in "xyz"] for r in rows])
    n = np.array([[float(r[c]) for c in ("nx", "ny", "nz")] for r in rows])
    assert np.allclose(z, n, atol=1e-5)  # flush devices: z axis = the surface normal
    res = runner.invoke(app, ["placements", "export", str(tmp_path / "t.json"), "-p", "xsens17"])
    assert res.exit_code == 0, res.output
    data = json.load(open(tmp_path / "t.json"))
    assert data["body"] == body.name and len(data["placements"]) == 17
    assert data["placements"][0]["name"] == "xsens17/head" and data["placements"][0]["segment"] == "head"


@pytest.mark.parametrize("args, message", [
    (["show", "-p", "watch_middle"], "unknown placement preset 'watch_middle'"),
    (["show", "--views", "front,below"], "unknown view"),
    (["show", "--body", "nothere.pkl"], "body model file not found"),
    (["export", "out.obj"], "expected a .ply, .glb, .csv or .json"),
    (["show", "--betas", "0.1,x"], "comma-separated numbers"),
])
def test_bad_input_fails_with_a_message(tmp_path, args, message):
    res = runner.invoke(app, ["placements"] + args)
    assert res.exit_code != 0
    assert message in " ".join(res.output.split()), res.output
