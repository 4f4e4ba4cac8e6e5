"""AMASS SMPL-H and SMPL-X files (both frame-rate key spellings), SMPL kinematics, and the
SMPL body path that skips retargeting."""

import numpy as np
import pytest

from anymo_sim import motions
from anymo_sim.motion.amass import SMPL_REST_JOINTS, read_amass
from anymo_sim.motion.retarget import retarget
from anymo_sim.motion.types import MotionError, global_from_local
from anymo_sim.smpl import SmplModel
from anymo_sim.synthetic import rotation_matrix
from motion_fixtures import write_amass
from smpl_fixture import write_model


@pytest.mark.parametrize("release, fname, key", [("smplh", "walk_poses.npz", "mocap_framerate"),
                                                 ("smplx", "walk_stageii.npz", "mocap_frame_rate")])
def test_both_releases_read_with_known_kinematics(tmp_path, release, fname, key):
    pose24, trans = write_amass(tmp_path / fname, release)
    m = read_amass(tmp_path / fname)
    assert m.fps == 120.0 and m.n_frames == 120 and m.skeleton == "smpl24" and m.smpl["family"] == release
    assert any(repr(key) in n for n in m.notes)
    assert m.smpl["gender"] == ("female" if release == "smplh" else "male")
    # global rotations = products of the axis-angle locals down the SMPL tree (body joints)
    G = global_from_local(m.parents, rotation_matrix(pose24.reshape(-1, 24, 3)))
    assert np.allclose(m.rotation_matrices()[:, :22], G[:, :22], atol=1e-10)
    # SMPL's hand joints come from each hand's first finger joint
    assert np.allclose(m.local_rotations()[:, 22], rotation_matrix(np.full(3, 0.05)), atol=1e-10)
    # the pelvis is J0 + trans; the z-up world keeps the body upright
    assert np.allclose(m.root_translation, trans + SMPL_REST_JOINTS[0])
    p = m.joint_positions()
    assert np.all(p[:, 15, 2] > p[:, 0, 2] + 0.4)


@pytest.mark.parametrize("override, field", [
    ({"mocap_framerate": None}, "mocap_framerate"),
    ({"poses": np.zeros((120, 150))}, "poses"),
    ({"poses": np.zeros((0, 156)), "trans": np.zeros((0, 3))}, "poses"),
    ({"trans": np.full((120, 3), np.nan)}, "trans"),
    ({"trans": np.zeros((119, 3))}, "trans"),
])
def test_bad_amass_names_file_and_field(tmp_path, override, field):
    path = tmp_path / "bad_poses.npz"
    write_amass(path, "smplh", **override)
    with pytest.raises(MotionError) as err:
        read_amass(path)
    assert err.value.field == field and str(path) in str(err.value)


def test_folder_discovery_skips_shape_and_reports_bad_files(tmp_path):
    (tmp_path / "CMU" / "01").mkdir(parents=True)
    write_amass(tmp_path / "CMU" / "01" / "01_01_poses.npz", "smplh")
    write_amass(tmp_path / "CMU" / "01" / "01_02_stageii.npz", "smplx")
    write_amass(tmp_path / "CMU" / "01" / "01_03_poses.npz", "smplh", trans=np.zeros((5, 3)))
    np.savez(tmp_path / "CMU" / "01" / "shape.npz", betas=np.zeros(16), gender="male")
    res = motions.load(tmp_path)
    assert sorted(m.name for m in res.motions) == ["01_01_poses", "01_02_stageii"]
    assert [p.name for p, _ in res.failures] == ["01_03_poses.npz"] and "'trans'" in res.failures[0][1]
    assert [p.name for p in res.skipped] == ["shape.npz"]


def test_smpl_parameters_on_a_smpl_body_skip_retargeting(tmp_path):
    write_model(tmp_path / "SMPL_NEUTRAL.pkl")
    model = SmplModel(tmp_path / "SMPL_NEUTRAL.pkl")
    pose24, trans = write_amass(tmp_path / "a_poses.npz", "smplh", T=20)
    m = read_amass(tmp_path / "a_poses.npz", model=model)
    res = retarget(m, model.body)
    pose72 = np.concatenate([pose24[:, :66], np.full((20, 3), 0.05), np.full((20, 3), -0.05)], 1)
    # smplx's batch_rodrigues adds 1e-8 to every angle: agreement to ~1e-8, not to rounding
    assert np.allclose(res.G, model.global_transforms(pose72, trans), atol=1e-6)
    # with the model's joints, the Motion's own FK agrees with SMPL's joint positions too
    assert np.allclose(m.joint_positions(), res.G[:, :, :3, 3], atol=1e-10)
