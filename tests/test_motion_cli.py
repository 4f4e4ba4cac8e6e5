"""`anymo-sim motion ...`: list, info on a Nymeria folder, show writes a real PNG (and GIF)."""

import numpy as np
from typer.testing import CliRunner

from anymo_sim_cli.app import app
from motion_fixtures import write_sequence

runner = CliRunner()


def test_motion_list_and_info(tmp_path):
    res = runner.invoke(app, ["motion", "list"])
    assert res.exit_code == 0 and "cartwheel" in res.output and "walks forward" in res.output
    folder = write_sequence(tmp_path)["folder"]
    res = runner.invoke(app, ["motion", "info", str(folder)])
    assert res.exit_code == 0, res.output
    assert "xsens23" in res.output and "CC BY-NC 4.0" in res.output and "Walking around the kitchen" in res.output


def test_motion_show_writes_png_and_gif(tmp_path):
    from PIL import Image

    out, gif = tmp_path / "walk.png", tmp_path / "walk.gif"
    res = runner.invoke(app, ["motion", "show", "walk", "--out", str(out), "--frames", "3", "--gif", str(gif)])
    assert res.exit_code == 0, res.output
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape[1] > 1.5 * img.shape[0]  # a strip of three panels
    skin = (img[..., 0] > 150) & (img[..., 0] > img[..., 2] + 30)  # the shaded body's skin tone
    assert skin.mean() > 0.02
    assert Image.open(gif).n_frames > 10
    assert not list(tmp_path.glob("*.partial"))


def test_motion_show_bad_input_fails_cleanly(tmp_path):
    bad = tmp_path / "broken.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n")
    res = runner.invoke(app, ["motion", "show", str(bad), "--out", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "broken.bvh" in res.output
    assert not (tmp_path / "x.png").exists()
    res = runner.invoke(app, ["motion", "show", "moonwalk"])
    assert res.exit_code == 2 and "not a built-in clip" in res.output
