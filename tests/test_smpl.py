"""SMPL-family bodies from model files in the real format (written here: a tiny 24-joint model
with chumpy objects and a scipy.sparse J_regressor, like the official .pkl files)."""

import pickle

import numpy as np
import pytest

import anymo_sim
from anymo_sim import reference
from anymo_sim.body import SEGMENTS
from anymo_sim.smpl import CANONICAL_TO_BODY, JOINT_NAMES, STANDING_ROOT, SmplModel, load_model_file, smpl_body

scipy_sparse = pytest.importorskip("scipy.sparse")
from smpl_fixture import write_model  # noqa: E402

@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    write_model(path)
    return path


def test_chumpy_pickle_loads_as_plain_arrays(model_path):
    with pytest.raises(ModuleNotFoundError):  # what a plain unpickler does with these files
        pickle.load(open(model_path, "rb"), encoding="latin1")
    m = load_model_file(model_path)
    assert isinstance(m["shapedirs"], np.ndarray) and m["shapedirs"].shape == (24 * 42, 3, 10)
    assert isinstance(m["J_regressor"], np.ndarray) and m["J_regressor"].shape == (24, 24 * 42)


def test_body_is_in_the_project_frame_with_segments(model_path):
    body = smpl_body(model_path)
    assert body.joint_names == JOINT_NAMES["smpl"] and len(body.parents) == 24
    head, pelvis = body.joint_rest_transforms[15, :3, 3], body.joint_rest_transforms[0, :3, 3]
    assert head[2] > pelvis[2] + 0.5  # z up
    lw, rw = body.joint_index("left_wrist"), body.joint_index("right_wrist")
    assert body.joint_rest_transforms[lw, 0, 3] < 0 < body.joint_rest_transforms[rw, 0, 3]  # left at -x facing +y
    assert np.allclose(np.linalg.det(CANONICAL_TO_BODY), 1.0)
    owner = np.repeat(np.arange(24), 42)
    assert np.all(body.segments[owner == body.joint_index("left_knee")] == SEGMENTS.index("left_shank"))
    assert np.all(body.segments[owner == body.joint_index("head")] == SEGMENTS.index("head"))
    np.testing.assert_allclose(body.skin_weights.sum(1), 1.0, atol=1e-6)


def test_skinning_matches_smplx_forward(model_path, rng):
    torch = pytest.importorskip("torch")
    smplx = pytest.importorskip("smplx")
    from smplx.utils import Struct

    betas = rng.normal(size=10)
    model = SmplModel(model_path, betas=betas)
    T = 5
    pose = rng.normal(scale=0.4, size=(T, 72))
    transl = rng.normal(size=(T, 3))
    ours = reference.skin_vertices(model.body.rest_vertices, model.body.skin_joints, model.body.skin_weights,
                                   model.skinning_matrices(pose, transl))
    data = load_model_file(model_path)
    keys = ("nose reye leye rear lear LBigToe LSmallToe LHeel RBigToe RSmallToe RHeel lthumb lindex lmiddle lring "
            "lpinky rthumb rindex rmiddle rring rpinky").split()
    ref_model = smplx.SMPL(str(model_path.parent), data_struct=Struct(**data), vertex_ids={k: i for i, k in enumerate(keys)},
                           batch_size=T, dtype=torch.float64)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    out = ref_model(betas=t(np.tile(betas, (T, 1))), global_orient=t(pose[:, :3]), body_pose=t(pose[:, 3:]),
                    transl=t(transl))
    np.testing.assert_allclose(ours, out.vertices.detach().numpy(), atol=1e-6)  # float32 skin weights


def test_rest_pose_reads_gravity_on_the_engine(model_path):
    model = SmplModel(model_path)
    body = model.body
    pose = np.zeros((8, 72))
    pose[:, :3] = STANDING_ROOT  # SMPL turns about the root joint J0: move it back (FORMATS.md)
    J0 = model.joints_canonical[0]
    A = model.skinning_matrices(pose, np.broadcast_to(CANONICAL_TO_BODY @ J0 - J0, (8, 3)))
    np.testing.assert_allclose(A, np.broadcast_to(np.eye(4), A.shape), atol=1e-7)  # smplx's Rodrigues adds 1e-8
    ids = np.arange(0, body.n_vertices, 7)
    res = anymo_sim.skinned_imu(body.rest_vertices, body.faces, body.skin_joints, body.skin_weights, A, 60.0,
                                vertex_ids=ids)
    up = np.einsum("tpij,tpj->tpi", res.rotations, res.accel)
    np.testing.assert_allclose(up, np.broadcast_to([0, 0, 9.80665], up.shape), atol=1e-4)
    np.testing.assert_allclose(res.gyro, 0.0, atol=1e-6)
    np.testing.assert_allclose(res.positions[0], body.rest_vertices[ids], atol=1e-6)


@pytest.mark.parametrize("n_joints, family", [(52, "smplh"), (55, "smplx")])
def test_hand_families_by_joint_count(tmp_path, n_joints, family):
    path = tmp_path / f"{family.upper()}_NEUTRAL.pkl"
    write_model(path, n_joints)
    model = SmplModel(path)
    assert model.family == family and len(model.body.joint_names) == n_joints
    pose = np.zeros((4, n_joints * 3))
    pose[:, :3] = STANDING_ROOT
    J0 = model.joints_canonical[0]
    G = model.global_transforms(pose, np.broadcast_to(CANONICAL_TO_BODY @ J0 - J0, (4, 3)))
    np.testing.assert_allclose(model.body.skinning_matrices(G), np.broadcast_to(np.eye(4), (4, n_joints, 4, 4)),
                               atol=1e-7)


def test_bad_model_files_name_the_file_and_field(tmp_path, model_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        smpl_body(tmp_path / "nope.pkl")
    m = load_model_file(model_path)
    del m["weights"]
    np.savez(tmp_path / "broken.npz", **m)
    with pytest.raises(ValueError, match=r"broken.npz: missing model field\(s\) weights"):
        smpl_body(tmp_path / "broken.npz")
    (tmp_path / "model.obj").write_text("v 0 0 0\n")
    with pytest.raises(ValueError, match=r"\.pkl or \.npz"):
        smpl_body(tmp_path / "model.obj")
    with pytest.raises(ValueError, match="betas: expected 10 values"):
        smpl_body(model_path, betas=[0.1, 0.2])
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="junk.pkl: not a readable SMPL model pickle"):
        smpl_body(tmp_path / "junk.pkl")
    with pytest.raises(ValueError, match=r"pose: expected shape \(T, 72\)"):
        SmplModel(model_path).global_transforms(np.zeros((3, 69)))
