"""Nymeria sequence folders written in the exact layout (FORMATS.md): 23 XSens segments at
240 Hz with timing and quaternion glitches, narration CSVs with quoted commas, real sensor
streams, MVNX fallback, SMPL fits of either up axis; bad sequences are reported, not fatal."""

import numpy as np
import pytest

from anymo_sim import motions
from anymo_sim.motion.nymeria import LICENSE, SENSORS, read_nymeria, repair_timestamps
from anymo_sim.motion.types import MotionError
from anymo_sim.synthetic import rotation_matrix
from motion_fixtures import write_sequence


def test_sequence_read_end_to_end_with_repairs_and_narration(tmp_path):
    truth = write_sequence(tmp_path)
    m = read_nymeria(truth["folder"])
    T = 960
    assert m.skeleton == "xsens23" and len(m.joint_names) == 23 and m.n_frames == T and m.fps == 240.0
    assert m.license == LICENSE
    # timing: the three bad steps were reset, the rest kept (jitter < 1 ms)
    assert any(n.startswith(f"timestamps: 3 of {T - 1}") for n in m.notes)
    steps = np.diff(m.timestamps)
    assert np.allclose(steps[[T // 3, T // 3 + 1, 2 * T // 3]], 1e9 / 240, atol=1e3)
    assert np.abs(np.diff(truth["timestamps_us"]) * 1000 - 1e9 / 240).max() > 1e6  # the fixture had glitches
    assert m.timestamps[0] == truth["timestamps_us"][0] * 1000
    # quaternions: three frames had a dropped quaternion (norm < 0.1), incl. frame 0
    assert any(n.startswith("quaternions: 3 frames") for n in m.notes)
    R = m.rotation_matrices()
    assert np.allclose(R[5, 9], R[4, 9]) and np.allclose(R[0, 3], np.eye(3))
    good = np.ones(T, bool)
    good[[0, 5, 200]] = False
    assert np.allclose(R[good], truth["G"][good], atol=1e-9)
    # known rotations -> known positions: FK over the estimated offsets reproduces segment_tXYZ
    assert np.allclose(m.joint_positions()[good], truth["p"][good], atol=1e-9)
    # real sensors carried along
    assert m.reference_imu["xsens_free_acceleration"].shape == (T, 17, 3)
    assert m.reference_imu["xsens_sensor_orientation"].shape == (T, 17, 4)
    assert m.reference_imu["xsens_sensor_names"] == SENSORS
    # narration: 8 spans, commas and quotes intact, anchored at the body start, approximate
    texts = {s.kind: [] for s in m.texts}
    for s in m.texts:
        texts[s.kind].append(s.text)
    assert texts["atomic_action"] == ["I pick up the cup, then put it down", 'I walk to the door, saying "hi"']
    assert texts["activity"] == ["Walking around the kitchen, tidying up"]
    assert set(texts) == {"atomic_action", "activity", "body_posture", "arms_motion", "legs_motion", "focus_attention"}
    first = min(m.texts, key=lambda s: s.start_ns)
    assert first.start_ns == m.timestamps[0] and all(s.approximate for s in m.texts)
    walk = next(s for s in m.texts if s.text.startswith("I walk"))
    assert walk.start_ns - m.timestamps[0] == pytest.approx(1.5e9, abs=1) and walk.end_ns - walk.start_ns == pytest.approx(1.4e9, abs=1)


def test_narration_outside_recording_dropped_and_offset(tmp_path):
    from motion_fixtures import write_narration

    truth = write_sequence(tmp_path)
    write_narration(truth["folder"], outside=True)
    m = read_nymeria(truth["folder"], narration_offset_s=0.25)
    assert not any(s.text == "far past the end" for s in m.texts)
    assert any("1 spans outside the body recording dropped" in n for n in m.notes)
    assert min(s.start_ns for s in m.texts) == m.timestamps[0] + 250_000_000


def test_mvnx_fallback_streams_normal_frames(tmp_path):
    truth = write_sequence(tmp_path, T=96, mvnx=True)
    m = read_nymeria(truth["folder"])
    assert m.n_frames == 96 and any("xdata.mvnx" in n for n in m.notes)
    assert np.allclose(m.rotation_matrices(), truth["G"], atol=1e-5)
    assert np.allclose(m.joint_positions(), truth["p"], atol=1e-5)
    assert m.reference_imu["xsens_free_acceleration"].shape == (96, 17, 3)


@pytest.mark.parametrize("up", ["y", "z"])
def test_smpl_fit_up_axis_decided_from_data(tmp_path, up):
    truth = write_sequence(tmp_path, T=240, smpl=up)
    m = read_nymeria(truth["folder"], skeleton="smpl")
    assert m.skeleton == "smpl24" and m.smpl["family"] == "smpl"
    assert any(f"up axis: {up}" in n for n in m.notes)
    p = m.joint_positions()
    head_minus_feet = np.median(p[:, 15] - p[:, [10, 11]].mean(1), axis=0)
    assert head_minus_feet[2] > 0.8 * np.linalg.norm(head_minus_feet)  # upright in z
    # the fixture walks forward (SMPL's +z) at 1.1 m/s: still forward and horizontal after the turn
    v = (p[-1, 0] - p[0, 0]) / (m.times[-1])
    forward = m.rotation_matrices()[0, 0] @ [0, 0, 1]
    assert np.allclose(v, 1.1 * forward, atol=1e-6) and abs(forward[2]) < 1e-9


def test_timestamp_drift_beyond_10ms_fails():
    ts = np.arange(100) * (1e6 / 240)
    ts[50:] += 12_000  # one 12 ms jump: resetting it moves the clock by 12 ms
    with pytest.raises(MotionError, match="12.0 ms"):
        repair_timestamps(ts, 240.0, "x.npz")


@pytest.mark.parametrize("override, field", [
    ({"segment_qWXYZ": None}, "segment_qWXYZ"),
    ({"segment_tXYZ": np.zeros((960, 60))}, "segment_tXYZ"),
    ({"segment_tXYZ": np.full((960, 69), np.nan)}, "segment_tXYZ"),
    ({"timestamps_us": np.zeros(0, np.int64)}, "timestamps_us"),
    ({"segmentCount": np.array([17])}, "segmentCount"),
])
def test_bad_xdata_names_file_and_field(tmp_path, override, field):
    truth = write_sequence(tmp_path, **override)
    with pytest.raises(MotionError) as err:
        read_nymeria(truth["folder"])
    assert err.value.field == field and "xdata.npz" in str(err.value)


def test_dataset_root_reports_bad_sequences_and_reads_the_rest(tmp_path):
    write_sequence(tmp_path, name="20230607_s0_a_b_act0_aaaaaa", T=240)
    write_sequence(tmp_path, name="20230607_s0_a_b_act1_bbbbbb", T=240, segment_qWXYZ=np.zeros((240, 91)))
    bad_csv = write_sequence(tmp_path, name="20230607_s0_a_b_act2_cccccc", T=240)["folder"]
    (bad_csv / "narration" / "atomic_action.csv").write_text("request_id,begin,end_time\nr1,1.0,2.0\n")
    write_sequence(tmp_path, name="20230607_s0_a_b_act3_dddddd", T=240)
    res = motions.load(tmp_path)
    assert [m.name for m in res.motions] == ["20230607_s0_a_b_act0_aaaaaa", "20230607_s0_a_b_act3_dddddd"]
    failed = {p.name: msg for p, msg in res.failures}
    assert "segment_qWXYZ" in failed["20230607_s0_a_b_act1_bbbbbb"]
    assert "atomic_action.csv" in failed["20230607_s0_a_b_act2_cccccc"] and "start_time" in failed["20230607_s0_a_b_act2_cccccc"]
    assert "2 failed" in res.report()


def test_rotation_matrix_is_the_one_smpl_uses():
    # the SMPL fits are axis-angle: make sure the helper follows the right-hand rule
    assert np.allclose(rotation_matrix([0, 0, np.pi / 2]) @ [1, 0, 0], [0, 1, 0])
