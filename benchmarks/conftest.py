import os

# As the command line runs (cli/anymo_sim_cli/__init__.py): idle OpenMP threads sleep rather
# than spin; set before anything imports anymo_sim (libgomp reads it when the extension loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

from anymo_sim import synthetic

FPS = 240.0


@pytest.fixture(scope="session")
def body_problem(request):
    """A body-sized skinned mesh (10,402 vertices, 24 joints, 4 influences), 2,000 placements on
    it (vertices and faces), and 1,000 frames (4.2 s at 240 Hz) of swaying, walking motion."""
    frames = request.config.getoption("--frames")
    body = synthetic.skinned_tube()
    rng = np.random.default_rng(0)
    V, F = len(body["rest_vertices"]), len(body["faces"])
    placements = dict(
        vertex_ids=rng.choice(V, 1500, replace=False),
        face_ids=rng.choice(F, 500, replace=False),
        barycentric=rng.dirichlet([2.0, 2.0, 2.0], 500),
        yaw=rng.uniform(-np.pi, np.pi, 2000),
        offset=0.005,
    )
    A = synthetic.tube_motion(body, frames, FPS, seed=1)
    args = (body["rest_vertices"], body["faces"], body["skin_joints"], body["skin_weights"], A, FPS)
    return args, placements


def pytest_addoption(parser):
    parser.addoption("--frames", type=int, default=1000, help="frames in the benchmark motion")
