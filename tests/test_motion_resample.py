"""Resampling (spline / slerp), windows, looping, mirroring and time warping."""

from dataclasses import replace

import numpy as np
import pytest

import anymo_sim
from anymo_sim import motions
from anymo_sim.motion.resample import loop, mirror, mirror_name, resample, sample, smooth_splice, time_warp, windows
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


def test_loop_heading_carry_is_the_roots_turn_about_vertical(walk):
    """Each cycle starts turned by the twist about z of the root's rotation over one cycle: a
    constant tilt of the root's own axes (a crawl's body axis points down) must not change it,
    and an extra turn of the last frame about z adds exactly that much."""
    R = quat_to_matrix(walk.rotations)
    tilted = R.copy()
    tilted[:, 0] = R[:, 0] @ axis_rotation("y", np.radians(80.0))  # x axis nearly vertical
    a = loop(walk, 6.0, blend_s=0.0)
    b = loop(replace(walk, rotations=matrix_to_quat(tilted)), 6.0, blend_s=0.0)
    np.testing.assert_allclose(b.root_translation, a.root_translation, atol=1e-9)
    Rr = R[-1, 0] @ R[0, 0].T
    dyaw = np.arctan2(Rr[1, 0] - Rr[0, 1], Rr[0, 0] + Rr[1, 1])
    n = walk.n_frames - 1  # frames per cycle: cycle k starts at frame k n, turned by k dyaw
    got = quat_to_matrix(a.rotations[n, 0]) @ R[0, 0].T
    np.testing.assert_allclose(got, axis_rotation("z", dyaw), atol=1e-9)


LOOPING = [n for n, m in motions.builtin().items() if m.loop]


def _rotation_steps(m):
    """(T-1, J) angle (rad) each joint's rotation turns through from one frame to the next."""
    dot = np.abs(np.einsum("tji,tji->tj", m.rotations[1:], m.rotations[:-1]))
    return 2.0 * np.arccos(np.clip(dot, 0.0, 1.0))


@pytest.mark.parametrize("name", LOOPING)
def test_loop_seams_are_as_smooth_as_the_clip(name):
    """No joint turns, and the root does not accelerate, faster across a seam than inside a cycle.
    The clips do not close exactly (the wrap frame is up to ~40° off the first for crawl's hips),
    so without the cross-fade a seam is one big step: 2.2-11x a cycle's largest rotation step
    (crawl, walk, dance_b, cartwheel, spinkick, jump) and 2.2-2.4x its largest root second
    difference (crawl, spinkick). The cross-fade spreads that mismatch over 0.2 s on top of the
    clip's own motion; measured at most 1.53x (rotation, crawl) and 1.16x (root, crawl)."""
    clip = motions.builtin(name)
    long = loop(clip, 10.0)
    turn = _rotation_steps(long).max(axis=0) / _rotation_steps(clip).max(axis=0)
    assert turn.max() < 2.0, f"{clip.joint_names[turn.argmax()]} turns {turn.max():.2f}x faster at a seam"

    def accel(m):
        return np.linalg.norm(np.diff(m.root_translation, 2, axis=0), axis=-1).max()

    assert accel(long) < 1.5 * accel(clip)
    # the root's height does not drift from cycle to cycle (crawl undershoots by 7 mm in a blend)
    z, z_clip = long.root_translation[:, 2], clip.root_translation[:, 2]
    assert z_clip.min() - 0.01 < z.min() and z.max() < z_clip.max() + 0.01
    # one cycle is the clip itself, and blend_s=0 leaves the seams as they are
    one = loop(clip, clip.times[-1])
    assert np.allclose(quat_to_matrix(one.rotations), clip.rotation_matrices(), atol=1e-12)
    assert np.allclose(one.root_translation, clip.root_translation, atol=1e-12)
    raw = loop(clip, 10.0, blend_s=0.0)
    assert np.array_equal(raw.timestamps, long.timestamps) and raw.texts == long.texts
    assert np.array_equal(raw.rotations[:5], long.rotations[:5])


def test_smooth_splice_blends_only_its_window(walk):
    """A splice made on purpose (the second half of a clip turned by 8° about z, as walk's real
    one, and lifted 2 cm) is cross-faded: the step is spread over the window, frames outside
    it are untouched, and bad frames raise."""
    R = quat_to_matrix(walk.rotations)
    f = 28  # away from the real splice after frame 18 (already smoothed in the built-in walk)
    R[f + 1:] = axis_rotation("z", np.radians(8.0)) @ R[f + 1:]  # the whole body turns
    pos = walk.root_translation.copy()
    pos[f + 1:, 2] += 0.02
    cut = replace(walk, rotations=matrix_to_quat(R), root_translation=pos)
    fixed = smooth_splice(cut, f, blend_s=0.2)
    h = 3  # 0.2 s at 30 Hz: frames f+1-h .. f+1+h change
    assert np.array_equal(fixed.rotations[:f + 1 - h], cut.rotations[:f + 1 - h])
    assert np.array_equal(fixed.rotations[f + h + 2:], cut.rotations[f + h + 2:])
    excess = []  # per clip: how much faster (deg per frame) any joint turns in the window than elsewhere
    for m in (cut, fixed):
        steps = np.degrees(_rotation_steps(m))
        others = np.delete(steps, np.arange(f - h, f + h + 2), axis=0).max(axis=0)
        excess.append((steps[f - h:f + h + 2].max(axis=0) - others).max())
    # the 8° step; then spread by the raised cosine over 6 frames: at most pi/2 * 8/6 = 2.1° a frame more
    assert excess[0] > 5.0 and excess[1] < 2.5, excess
    assert np.abs(np.diff(fixed.root_translation[:, 2], 2)).max() < 0.5 * 0.02
    with pytest.raises(ValueError, match="smooth_splice"):
        smooth_splice(walk, walk.n_frames - 2)


PLACEMENTS = "watch_left,watch_right,phone_front_pocket_right,chest_strap,ankle_left,ankle_right"


def _spike_ratio(clip, events):
    """End to end (looped to 10 s, resampled to 100 Hz, retargeted onto the default body, ideal
    IMU at a few placements): per placement, the peak |accel| within 0.15 s of the given times
    (s) over the peak elsewhere. Returns (ratio (P,), placement names)."""
    from anymo_sim.bodies import default_body
    from anymo_sim.engine import skinned_imu
    from anymo_sim.motion.retarget import retarget
    from anymo_sim.presets import placements_for

    body = default_body()
    pl = placements_for(body, PLACEMENTS)
    rate = 100.0
    r = retarget(resample(loop(clip, 10.0), rate), body)
    res = skinned_imu(body.rest_vertices, body.faces, body.skin_joints, body.skin_weights, body.skinning_matrices(r.G),
                      rate, placements=pl, return_positions=False, return_rotations=False)
    a = np.linalg.norm(res.accel, axis=-1)  # (T, P)
    t = np.arange(len(a)) / rate
    near = np.abs(t[:, None] - np.asarray(events)).min(axis=1) < 0.15
    away = (t > 0.15) & (t < t[-1] - 0.15)  # the engine's first and last samples are one-sided
    return a[near & away].max(axis=0) / a[~near & away].max(axis=0), pl.names


@pytest.mark.skipif("cpu" not in anymo_sim.available_backends(), reason="extension not built")
@pytest.mark.parametrize("name", LOOPING)
def test_looped_imu_has_no_seam_spikes(name):
    """The peak |accel| within 0.15 s of a seam stays under 2x the peak elsewhere, per placement.
    Without the cross-fade the seams reached 5.7x for the walk (334 vs 59 m/s² at the right
    ankle) and up to 21x (crawl); with it at most 1.55x (crawl)."""
    clip = motions.builtin(name)
    ratio, names = _spike_ratio(clip, clip.times[-1] * np.arange(1, int(np.ceil(10.0 / clip.times[-1]))))
    assert ratio.max() < 2.0, f"{names[ratio.argmax()]}: {ratio.max():.2f}x the peak inside the cycles"


@pytest.mark.skipif("cpu" not in anymo_sim.available_backends(), reason="extension not built")
@pytest.mark.parametrize("name", sorted(motions.SPLICES))
def test_built_in_splices_have_no_imu_spikes(name):
    """The same at the splices inside built-in clips (motions.SPLICES), each cycle's, against the
    peak elsewhere. Without smooth_splice: walk 7.7x (238 vs 31 m/s² at the left wrist), run's
    wrists 482 m/s² (133 with it); with it walk 1.8x, run 1.0x."""
    clip = motions.builtin(name)
    cycles = clip.times[-1] * np.arange(int(np.ceil(10.0 / clip.times[-1])))
    events = np.concatenate([cycles + clip.times[f] + 0.5 / clip.fps for f in motions.SPLICES[name]])
    ratio, names = _spike_ratio(clip, events)
    assert ratio.max() < 2.0, f"{names[ratio.argmax()]}: {ratio.max():.2f}x the peak elsewhere"


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
