"""Resampling (spline / slerp), windows, looping, mirroring and time warping."""

import numpy as np
import pytest

from anymo_sim import motions
from anymo_sim.motion.resample import loop, mirror, mirror_name, resample, sample, time_warp, windows
from anymo_sim.motion.rotations import axis_rotation, matrix_to_quat, quat_to_matrix
from anymo_sim.motion.types import Motion, TextSpan, timestamps_from_rate


@pytest.fixture(scope="module")
def walk():
    return motions.builtin("walk")


@pytest.mark.parametrize("how", ["slerp", "spline"])
def test_resample_passes_through_the_frames(walk, how):
    up = resample(walk, 4 * walk.fps, rotation=how)
    assert up.fps == pytest.approx(4 * walk.fps) and up.n_frames == 4 * (walk.n_frames - 1) + 1
    assert np.allclose(quat_to_matrix(up.rotations[::4]), walk.rotation_matrices(), atol=1e-6)
    assert np.allclose(up.root_translation[::4], walk.root_translation, atol=1e-9)
    assert up.texts[0].text == walk.texts[0].text


def test_slerp_midpoint_is_half_the_rotation():
    T = 3
    ang = np.array([0.0, 1.2, 2.0])
    m = Motion(name="r", timestamps=timestamps_from_rate(T, 10.0), fps=10.0, joint_names=("a",), parents=np.array([-1]),
               offsets=np.zeros((1, 3)), rotations=matrix_to_quat(axis_rotation("z", ang))[:, None],
               root_translation=np.zeros((T, 3)))
    rot, _ = sample(m, [0.05, 0.15], "slerp")
    assert np.allclose(quat_to_matrix(rot[:, 0]), axis_rotation("z", np.array([0.6, 1.6])), atol=1e-12)
    with pytest.raises(ValueError, match="outside"):
        sample(m, [0.3])


def test_windows_cut_and_clip_texts(walk):
    w = windows(resample(walk, 60.0), 0.5, hop=0.25)
    assert len(w) == 4 and all(x.n_frames == 30 for x in w)
    assert np.all([x.texts[0].start_ns == x.timestamps[0] for x in w])


def test_loop_is_continuous_and_any_length(walk):
    long = loop(walk, 10.0)
    assert long.duration >= 10.0
    p = long.joint_positions()
    steps = np.linalg.norm(np.diff(p, axis=0), axis=-1).max(axis=1)
    one = np.linalg.norm(np.diff(walk.joint_positions(), axis=0), axis=-1).max(axis=1)
    assert steps.max() < 1.2 * one.max()  # no jumps where cycles meet
    assert np.all(np.diff(long.timestamps) > 0)
    assert np.linalg.norm(p[-1, 0, :2] - p[0, 0, :2]) > 7.0  # it keeps walking
    with pytest.raises(ValueError, match="does not loop"):
        motions.builtin("kick", seconds=30)


def test_mirror_swaps_sides_and_reflects(walk):
    assert mirror_name("left_knee") == "right_knee" and mirror_name("L_Foot") == "R_Foot"
    assert mirror_name("LHipJoint") == "RHipJoint" and mirror_name("LowerBack") == "LowerBack"
    k = walk.with_rotations(walk.rotations, walk.root_translation,
                            texts=(TextSpan(0, 10**9, "label", "steps with the right leg, Left arm up"),))
    m = mirror(k)
    p, q = k.joint_positions(), m.joint_positions()
    # reflected across the vertical plane along the initial heading (+x for this clip)
    n = np.array([0.0, 1.0, 0.0])
    S = np.eye(3) - 2 * np.outer(n, n)
    p0 = k.root_translation[0]
    for a, b in (("left_ankle", "right_ankle"), ("neck", "neck"), ("right_wrist", "left_wrist")):
        assert np.allclose(q[:, m.joint_index(a)], p0 + (p[:, k.joint_index(b)] - p0) @ S.T, atol=0.02), a
    assert m.texts[0].text == "steps with the left leg, Right arm up"
    assert np.allclose(mirror(m).joint_positions(), p, atol=1e-9)


def test_time_warp_speeds_up_and_keeps_rate(walk):
    fast = time_warp(walk, 2.0)
    assert fast.fps == walk.fps and fast.duration == pytest.approx(walk.duration / 2, abs=2 / walk.fps)
    rot, pos = sample(walk, np.minimum(2 * fast.times, walk.times[-1]))
    assert np.allclose(fast.root_translation, pos, atol=1e-9)
    wob = time_warp(walk, 1.0, wobble=0.3, seed=3)
    assert np.all(np.diff(wob.timestamps) > 0) and wob.texts[0].end_ns > wob.texts[0].start_ns
