"""The `anymo-sim` command: the demo does real work and writes what it says; bad options fail
fast with a message and a non-zero exit code."""

import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from anymo_sim_cli.app import app

runner = CliRunner()


def test_info_lists_backends():
    res = runner.invoke(app, ["info"])
    assert res.exit_code == 0, res.output
    assert "reference" in res.output and "cpu" in res.output


def test_demo_runs_checks_against_reference_and_writes_npz(tmp_path):
    out = tmp_path / "demo.npz"
    res = runner.invoke(app, ["demo", "--seconds", "0.5", "--placements", "300", "--check-frames", "40",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "placement-samples/s" in res.output and "kernel vs float64 reference" in res.output
    data = np.load(out)
    assert data["accel"].shape == (120, 300, 3) and data["rotations"].shape == (120, 300, 3, 3)
    # the body sways but stays put on average: the world-frame specific force averages to ~+g
    up = np.einsum("tpij,tpj->tpi", data["rotations"], data["accel"]).mean(axis=(0, 1))
    assert abs(up[2] - 9.80665) < 1.5 and np.all(np.isfinite(data["gyro"]))
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seconds", "0.001"], ("greater than or equal to 0.1", "range x>=0.1")),  # click 8.1 / 8.2 wording
        (["--seconds", "0.1", "--fps", "30"], "at least 4"),
        (["--placements", "999999"], "at most"),
        (["--backend", "gpu"], "backend: expected"),
        (["--lowpass-hz", "500"], "lowpass_hz"),
        (["--fps", "0"], "fps"),
    ],
)
def test_demo_bad_options_fail_with_message(args, message):
    res = runner.invoke(app, ["demo", "--check-frames", "0", "--placements", "50", *args])
    assert res.exit_code != 0
    flat = " ".join(res.output.replace("│", " ").split())  # undo rich's boxing and wrapping
    assert any(m in flat for m in ((message,) if isinstance(message, str) else message)), flat


@pytest.mark.skipif(shutil.which("anymo-sim") is None, reason="console script not installed")
def test_console_script_is_installed():
    res = subprocess.run(["anymo-sim", "info"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "backends" in res.stdout


@pytest.mark.parametrize("user", [None, "ACTIVE"])
def test_command_line_lets_idle_openmp_threads_sleep_unless_the_user_says(user):
    """The CLI sets OMP_WAIT_POLICY=PASSIVE before the extension (and its libgomp) loads, so
    generate's idle threads leave the cores to the store's compression; a user's value wins."""
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if user:
        env["OMP_WAIT_POLICY"] = user
    code = "import anymo_sim_cli.app, os, sys; print(os.environ['OMP_WAIT_POLICY'], 'anymo_sim' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [user or "PASSIVE", "True"]
