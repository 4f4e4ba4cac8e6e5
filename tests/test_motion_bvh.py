"""The Motion type, rotation helpers and the BVH reader: known rotations give known joint
positions, odd channel orders and units are read right, and bad files name the field."""

import numpy as np
import pytest

from anymo_sim.motion.bvh import read_bvh, write_bvh
from anymo_sim.motion.rotations import (axis_rotation, best_rotation, euler_matrix, matrix_to_quat, quat_multiply,
                                        quat_to_matrix, rotation_between)
from anymo_sim.motion.types import Motion, MotionError, TextSpan, timestamps_from_rate
from anymo_sim.synthetic import random_rotations

# A y-up, centimetre skeleton: hips -> spine -> head (End Site), hips -> left leg -> foot.
# Channel orders differ per joint on purpose.
BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0.0 0.0 0.0
  CHANNELS 6 Xposition Yposition Zposition Yrotation Xrotation Zrotation
  JOINT Spine
  {
    OFFSET 0.0 50.0 0.0
    CHANNELS 3 Xrotation Zrotation Yrotation
    End Site
    {
      OFFSET 0.0 20.0 0.0
    }
  }
  JOINT LeftUpLeg
  {
    OFFSET 10.0 0.0 0.0
    CHANNELS 3 Zrotation Yrotation Xrotation
    JOINT LeftLeg
    {
      OFFSET 0.0 -45.0 0.0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0.0 -40.0 5.0
      }
    }
  }
}
MOTION
Frames: {n}
Frame Time: 0.0333333
{rows}
"""


def write(path, rows, n=None):
    text = BVH.replace("{n}", str(len(rows) if n is None else n)).replace("{rows}", "\n".join(" ".join(map(str, r)) for r in rows))
    path.write_text(text)
    return path


ZERO = [0.0] * 15


def test_rotation_helpers_agree(rng):
    R = random_rotations(50, rng)
    q = matrix_to_quat(R)
    assert np.allclose(quat_to_matrix(q), R, atol=1e-12)
    assert np.all(q[:, 0] >= 0)
    assert np.allclose(quat_to_matrix(quat_multiply(q[:25], q[25:])), R[:25] @ R[25:], atol=1e-12)
    a = rng.uniform(-1, 1, (10, 3))
    assert np.allclose(euler_matrix("ZXY", a), axis_rotation("z", a[:, 0]) @ axis_rotation("x", a[:, 1]) @ axis_rotation("y", a[:, 2]))
    u, v = rng.normal(size=3), rng.normal(size=3)
    assert np.allclose(rotation_between(u, v) @ (u / np.linalg.norm(u)), v / np.linalg.norm(v))
    assert np.allclose(rotation_between(u, -u) @ u, -u)
    src = rng.normal(size=(6, 3))
    assert np.allclose(best_rotation(src, src @ R[0].T), R[0], atol=1e-10)


def test_bvh_rest_pose_in_metres_and_z_up(tmp_path):
    m = read_bvh(write(tmp_path / "a.bvh", [[0, 90, 0] + ZERO[3:], [0, 90, 0] + ZERO[3:]]))
    assert m.joint_names == ("Hips", "Spine", "Spine_end", "LeftUpLeg", "LeftLeg", "LeftLeg_end")
    p = m.joint_positions()[0]
    # y up -> z up: (x, y, z) -> (x, -z, y); cm -> m (guessed and noted)
    assert np.allclose(p[0], [0, 0, 0.9])
    assert np.allclose(p[2], [0, 0, 1.6])
    assert np.allclose(p[5], [0.1, -0.05, 0.9 - 0.85])
    assert any("0.01 m per unit" in n for n in m.notes)
    assert m.fps == pytest.approx(30.0, rel=1e-5) and m.timestamps.dtype == np.int64


def test_bvh_known_rotations_give_known_positions(tmp_path):
    # root yaw +90° about y (the file's up): the leg's +x offset turns to -z (file) = +y (z-up world)
    # spine: Xrotation 90 bends the spine about x: +y (file) -> +z (file) = -y world
    # left knee: Zrotation 90 (its first channel) swings the shank from -y (file) to +x (file)
    row = [0, 90, 0, 90, 0, 0, 90, 0, 0, 0, 0, 0, 90, 0, 0]
    m = read_bvh(write(tmp_path / "b.bvh", [row]), scale=0.01)
    p = m.joint_positions()[0]
    names = m.joint_names
    # yaw 90° about the file's y = about world z: file +x -> file -z -> world +y
    assert np.allclose(p[names.index("LeftUpLeg")], [0, 0.1, 0.9], atol=1e-9)
    # the yaw turns the spine's bending axis (x) to file -z; bending 90° about it lays the spine
    # along file +x = world +x
    spine_dir = p[names.index("Spine_end")] - p[names.index("Spine")]
    assert np.allclose(spine_dir, [0.2, 0, 0], atol=1e-9)
    # compute the whole thing independently, in the file's frame, then map to z up
    Ry = axis_rotation("y", np.pi / 2)
    spine = Ry @ axis_rotation("x", np.pi / 2)
    knee = Ry @ axis_rotation("z", np.pi / 2)
    M = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    hips = np.array([0, 0.9, 0])
    expect_spine_end = hips + Ry @ [0, 0.5, 0] + spine @ [0, 0.2, 0]
    expect_foot = hips + Ry @ [0.1, 0, 0] + Ry @ [0, -0.45, 0] + knee @ [0, -0.4, 0.05]
    assert np.allclose(p[names.index("Spine_end")], M @ expect_spine_end, atol=1e-9)
    assert np.allclose(p[names.index("LeftLeg_end")], M @ expect_foot, atol=1e-9)


def test_bvh_write_read_round_trip(tmp_path, rng):
    rows = [[rng.uniform(-50, 50), 90 + rng.uniform(-5, 5), rng.uniform(-50, 50)] + list(rng.uniform(-80, 80, 12))
            for _ in range(12)]
    m = read_bvh(write(tmp_path / "c.bvh", rows))
    write_bvh(tmp_path / "d.bvh", m, order="YZX")
    m2 = read_bvh(tmp_path / "d.bvh")
    assert m2.joint_names == m.joint_names
    assert np.allclose(m2.joint_positions(), m.joint_positions(), atol=1e-5)
    assert np.allclose(quat_to_matrix(m2.rotations), quat_to_matrix(m.rotations), atol=1e-5)


@pytest.mark.parametrize("mutate, field", [
    (lambda t: t.replace("MOTION", "MOTON"), "MOTION"),
    (lambda t: t.replace("Frames: 2", "Frames: 3"), "Frames"),
    (lambda t: t.replace("Frame Time: 0.0333333", "Frame Time: 0"), "Frame Time"),
    (lambda t: t.replace("CHANNELS 3 Xrotation Zrotation Yrotation", "CHANNELS 3 Xrotation Zrotation Wrotation"), "CHANNELS of Spine"),
    (lambda t: t.replace("OFFSET 10.0 0.0 0.0", "OFFSET 10.0 zero 0.0"), "OFFSET of LeftUpLeg"),
    (lambda t: t.rsplit("\n", 2)[0] + "\n" + " ".join(["1"] * 14) + "\n", "MOTION"),
    (lambda t: t.rsplit("\n", 2)[0] + "\n" + " ".join(["nan"] * 15) + "\n", "MOTION"),
])
def test_bvh_bad_input_names_file_and_field(tmp_path, mutate, field):
    path = write(tmp_path / "bad.bvh", [ZERO, ZERO])
    path.write_text(mutate(path.read_text()))
    with pytest.raises(MotionError) as err:
        read_bvh(path)
    assert str(path) in str(err.value) and err.value.field == field


def _tiny(T=5, **kw):
    args = dict(name="m", timestamps=timestamps_from_rate(T, 10.0), fps=10.0, joint_names=("a", "b"),
                parents=np.array([-1, 0]), offsets=np.array([[0, 0, 0], [0, 0, 1.0]]),
                rotations=np.tile([1.0, 0, 0, 0], (T, 2, 1)), root_translation=np.zeros((T, 3)))
    args.update(kw)
    return Motion(**args)


@pytest.mark.parametrize("change, field", [
    (dict(timestamps=np.array([0, 10, 10, 30, 40])), "timestamps"),
    (dict(timestamps=np.zeros(0, np.int64), rotations=np.zeros((0, 2, 4)), root_translation=np.zeros((0, 3))), "timestamps"),
    (dict(root_translation=np.full((5, 3), np.nan)), "root_translation"),
    (dict(rotations=np.zeros((5, 2, 4))), "rotations"),
    (dict(offsets=np.zeros((3, 3))), "offsets"),
    (dict(parents=np.array([0, -1])), "parents"),
])
def test_motion_rejects_bad_arrays(change, field):
    with pytest.raises(MotionError) as err:
        _tiny(**change)
    assert err.value.field == field


def test_motion_frames_clip_text_spans():
    m = _tiny(T=10, texts=(TextSpan(0, int(0.35e9), "label", "first"), TextSpan(int(0.6e9), int(1.0e9), "label", "late")))
    sub = m.frames(slice(2, 5))  # 0.2 .. 0.4 s (+ one frame: 0.5 s)
    assert [s.text for s in sub.texts] == ["first"]
    assert sub.texts[0].start_ns == int(0.2e9) and sub.texts[0].end_ns == int(0.35e9)
