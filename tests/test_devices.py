"""Device response models: statistics against configured values (Allan deviation), limits
(range, LSB, anti-aliasing), the strap's impulse response, clock and timestamps,
reproducibility (chunking, placements, backends), kernel parity with the float64 reference,
presets and the errors bad parameters get."""

import dataclasses
import math

import numpy as np
import pytest

import anymo_sim
from anymo_sim import engine
from anymo_sim import synthetic as syn
from anymo_sim.devices import (DeviceParams, SensorModel, allan_deviation, apply_device, export, load_preset,
                               preset_names, randomize)
from anymo_sim.devices import model, reference
from anymo_sim.devices.params import G, parse_quantity

KERNELS = [b for b in anymo_sim.available_backends() if b != "reference"]
DEG = math.pi / 180


def at_rest(T, P=1):
    a = np.zeros((T, P, 3), np.float32)
    a[..., 2] = G
    return a, np.zeros((T, P, 3), np.float32)


def identity_frames(T, P=1):
    return np.broadcast_to(np.eye(3, dtype=np.float32), (T, P, 3, 3))


# ---- random numbers -----------------------------------------------------------------------------
def test_philox_known_answers():
    """Random123's published Philox4x32-10 test vectors."""
    cases = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
             ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
             ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
              (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for ctr, key, want in cases:
        got = reference.philox4x32_10(np.array(ctr, dtype=np.uint64)[:, None], key)[:, 0]
        assert tuple(int(x) for x in got) == want


def test_normals_are_standard_and_independent_across_placements():
    """Every one of the 32 normals of a (placement, sample) is standard normal (mean, variance,
    the CDF at 13 points, a bounded tail) and uncorrelated with the others, across placements
    and across samples."""
    from math import erf

    z = reference.normals(12345, np.arange(8), np.arange(5000), 0, 32)  # (N, P, 32)
    flat = z.reshape(-1)
    assert abs(flat.mean()) < 0.005 and abs(flat.std() - 1) < 0.005
    assert np.abs(flat).max() <= math.sqrt(48 * math.log(2)) + 1e-6  # the radius from 23 bits
    xs = np.linspace(-3, 3, 13)
    cdf = np.searchsorted(np.sort(flat), xs) / flat.size
    want = 0.5 * (1 + np.array([erf(x / math.sqrt(2)) for x in xs]))
    assert np.abs(cdf - want).max() < 4 / math.sqrt(flat.size)  # about 3x the KS noise
    for a in (z[..., 0].T, z[:, 0, :].T, np.stack([z[:-1, 3, 5], z[1:, 3, 5]])):  # placements, normals, lag 1
        c = np.corrcoef(a)
        assert np.abs(c[~np.eye(len(c), dtype=bool)]).max() < 5 / math.sqrt(a.shape[1])


@pytest.mark.skipif("cpu" not in anymo_sim.available_backends(), reason="extension not built")
@pytest.mark.parametrize("isa", ["avx512", "avx2", "scalar", ""])
def test_cpu_normal_lanes_of_every_instruction_set_are_the_reference_bits(isa):
    """The CPU driver draws 16 placements' normals at once, in AVX-512 or AVX2 intrinsics where
    the CPU has them (picked at load, '') or scalar code: each gives the reference's bits."""
    for seed, k in ((0, 0), (2 ** 64 - 1, 2 ** 40 + 7), (987654321987, 123)):
        ids = (np.arange(16, dtype=np.uint64) * 2654435761 % 2 ** 32).astype(np.uint32)
        out = np.full(8 * 64, np.nan)
        if not engine._core.device_normals(seed, k, 8, ids.ctypes.data, out.ctypes.data, isa):
            pytest.skip(f"this CPU has no {isa}")
        want = reference.normals(seed, ids, [k], 0, 32)[0]  # (16, 32)
        assert out.reshape(32, 16).T.tobytes() == np.ascontiguousarray(want).tobytes()


@pytest.mark.parametrize("backend", KERNELS)
def test_kernel_normals_are_the_reference_bits(backend):
    """A device with white noise only reads exactly white std x the reference's float32 normals:
    the kernels draw the same Philox blocks and round Box–Muller's float32 operations as numpy
    does (elementwise as the CUDA kernels call them, and in vector lanes)."""
    P, T, seed = 37, 400, 2 ** 63 + 12345
    dev = DeviceParams(odr=100.0, accel=SensorModel(noise_density=np.linspace(1e-4, 1e-3, 3)),
                       gyro=SensorModel(noise_density=2e-3), mag=SensorModel(noise_density=1e-8), mag_field=0.0)
    zeros = np.zeros((T, P, 3), np.float32)
    ids = np.arange(P) * 7919 + 3
    out = apply_device(zeros, zeros, 100.0, dev, seed=seed, rotations=identity_frames(T, P), placement_ids=ids,
                       backend=backend)
    white = model.device_tables(dev, P, 100.0)["white"]
    for s, name in enumerate(("accel", "gyro", "mag")):
        z = reference.normals(seed, ids, np.arange(T), reference.white_normal(s), 3)
        want = (white[None, :, s] * z).astype(np.float32)
        assert getattr(out, name).tobytes() == want.tobytes(), name


# ---- kernel parity, reproducibility ------------------------------------------------------------
def full_device(P, rng, mag=True, bits=16):
    return DeviceParams(
        odr=100.0,
        accel=SensorModel(noise_density=rng.uniform(1e-4, 1e-3, (P, 3)), bias=rng.normal(0, 0.1, (P, 3)),
                          bias_instability=5e-3, bias_correlation_time=0.5, bias_random_walk=1e-3, scale=0.01,
                          cross_axis=rng.normal(0, 0.01, (3, 3)), range=40.0, bits=bits),
        gyro=SensorModel(noise_density=1e-3, bias=0.01, bias_instability=1e-3, bias_correlation_time=rng.uniform(0.1, 1, P),
                         bias_random_walk=1e-4, scale=-0.02, range=8.0, bits=bits),
        mag=SensorModel(noise_density=1e-8, range=1e-3, bits=bits) if mag else None,
        g_sensitivity=rng.normal(0, 1e-3, (P, 3, 3)), hard_iron=rng.normal(0, 1e-6, (P, 3)),
        soft_iron=np.eye(3) + rng.normal(0, 0.02, (3, 3)), clock_error=rng.normal(0, 2e-3, P), time_offset=0.01,
        timestamp_jitter=1e-4, mount_rotation=rng.normal(0, 0.1, (P, 3)),
        strap_frequency=np.where(np.arange(P) % 2 == 0, rng.uniform(2, 12, P), 0.0), strap_damping=0.3)


def moving_inputs(rng, T, P, fps):
    t = np.arange(T)[:, None, None] / fps
    f = rng.uniform(0.5, 8, (1, P, 3))
    accel = (5 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6, (1, P, 3))) + [0, 0, G]).astype(np.float32)
    gyro = (3 * np.cos(2 * np.pi * f[..., ::-1] * t)).astype(np.float32)
    R = syn.rotation_matrix(np.sin(t * f) .reshape(-1, 3)).reshape(T, P, 3, 3).astype(np.float32)
    return accel, gyro, R


@pytest.mark.parametrize("backend", KERNELS)
@pytest.mark.parametrize("fps", [100.0, 240.0, 60.0])
def test_kernel_matches_reference(rng, backend, fps):
    P, T = 6, 300
    dev = full_device(P, rng)
    if fps == 100.0:
        dev = dev.replace(clock_error=0.0)  # same rate, exact clock: no resampling
    a, g, R = moving_inputs(rng, T, P, fps)
    seed = int(rng.integers(0, 2 ** 63))
    out = apply_device(a, g, fps, dev, seed=seed, rotations=R, backend=backend)
    ref = apply_device(a, g, fps, dev, seed=seed, rotations=R, backend="reference")
    assert out.accel.shape == ref.accel.shape and out.accel.dtype == np.float32
    np.testing.assert_array_equal(out.timestamps, ref.timestamps)
    tables = model.device_tables(dev, P, fps)
    for s, name in enumerate(("accel", "gyro", "mag")):
        k, r = getattr(out, name), getattr(ref, name)
        lsb = tables["clip"][:, s, 2][None, :, None]
        diff = np.abs(k.astype(np.float64) - r)
        # float64 rounding may flip a quantisation code at a boundary: never more than one LSB, rarely
        assert (diff <= lsb * 1.0001).all(), name
        assert (diff > 0).mean() < 2e-3, name


@pytest.mark.parametrize("backend", KERNELS)
def test_same_seed_same_bytes_in_any_chunking(rng, backend):
    P, T, fps = 5, 500, 240.0
    dev = full_device(P, rng)
    a, g, R = moving_inputs(rng, T, P, fps)
    runs = [apply_device(a, g, fps, dev, seed=7, rotations=R, backend=backend, chunk_samples=c) for c in (1, 13, 64, 10_000)]
    for r in runs[1:]:
        for name in ("timestamps", "accel", "gyro", "mag"):
            assert getattr(r, name).tobytes() == getattr(runs[0], name).tobytes(), name
    other = apply_device(a, g, fps, dev, seed=8, rotations=R, backend=backend)
    assert not np.array_equal(other.accel, runs[0].accel)


@pytest.mark.parametrize("backend", KERNELS + ["reference"])
def test_max_samples_keeps_the_first_samples_as_they_were(rng, backend):
    """generate asks for a window's samples only; the motion runs past it for the resampling."""
    P, T, fps = 40, 260, 100.0
    dev = full_device(P, rng)  # clock error: resampled, with a loose strap and bias drift
    a, g, R = moving_inputs(rng, T, P, fps)
    full = apply_device(a, g, fps, dev, seed=11, rotations=R, backend=backend)
    assert len(full.accel) > 200
    cut = apply_device(a, g, fps, dev, seed=11, rotations=R, backend=backend, max_samples=200)
    for name in ("timestamps", "accel", "gyro", "mag"):
        assert getattr(cut, name).shape[0] == 200, name
        assert getattr(cut, name).tobytes() == getattr(full, name)[:200].tobytes(), name
    more = apply_device(a, g, fps, dev, seed=11, rotations=R, backend=backend, max_samples=10 ** 6)
    assert more.accel.tobytes() == full.accel.tobytes()
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="max_samples"):
            apply_device(a, g, fps, dev, seed=11, rotations=R, backend=backend, max_samples=bad)


@pytest.mark.parametrize("backend", KERNELS)
def test_a_placement_does_not_depend_on_the_others(rng, backend):
    """Streams are keyed by placement id: a placement reads the same alone or among others."""
    P, T, fps = 4, 300, 120.0
    dev = randomize(load_preset("watch-bmi270"), P, seed=3)
    a, g, R = moving_inputs(rng, T, P, fps)
    allp = apply_device(a, g, fps, dev, seed=11, backend=backend)
    one = DeviceParams(**{**dev.__dict__})
    for field in ("accel", "gyro"):
        s = getattr(dev, field)
        setattr(one, field, SensorModel(**{k: (np.asarray(v)[2:3] if np.ndim(v) >= 2 else v) for k, v in s.__dict__.items()}))
    one.g_sensitivity, one.mount_rotation = dev.g_sensitivity[2:3], dev.mount_rotation[2:3]
    one.clock_error, one.time_offset = dev.clock_error[2:3], dev.time_offset[2:3]
    one.strap_frequency = dev.strap_frequency[2:3]
    alone = apply_device(a[:, 2:3], g[:, 2:3], fps, one, seed=11, placement_ids=[2], backend=backend)
    assert alone.accel.tobytes() == np.ascontiguousarray(allp.accel[:, 2:3]).tobytes()


@pytest.mark.skipif("cuda" not in anymo_sim.available_backends(), reason="no CUDA GPU")
@pytest.mark.parametrize("odr", [100.0, 240.0, 1000.0])  # anti-alias, interpolator at the rate, upsampling
def test_cpu_and_cuda_give_identical_bytes(rng, odr):
    import torch

    P, T, fps = 64, 2000, 240.0
    dev = full_device(P, rng).replace(odr=odr)
    a, g, R = moving_inputs(rng, T, P, fps)
    cpu = apply_device(a, g, fps, dev, seed=99, rotations=R, backend="cpu")
    gpu = apply_device(a, g, fps, dev, seed=99, rotations=R, backend="cuda")
    on = lambda x: torch.from_numpy(x).cuda()  # noqa: E731
    dev_in = apply_device(on(a), on(g), fps, dev, seed=99, rotations=on(R), chunk_samples=77)
    assert dev_in.accel.is_cuda and dev_in.timestamps.is_cuda
    for name in ("timestamps", "accel", "gyro", "mag"):
        assert getattr(cpu, name).tobytes() == getattr(gpu, name).tobytes(), name
        assert getattr(cpu, name).tobytes() == getattr(dev_in, name).cpu().numpy().tobytes(), name


@pytest.mark.skipif("cpu" not in anymo_sim.available_backends(), reason="extension not built")
@pytest.mark.parametrize("fps,odr", [(240.0, 100.0), (240.0, 240.0), (100.0, 100.0), (100.0, 1000.0), (1000.0, 104.0)])
def test_cpu_vector_paths_equal_the_cuda_per_element_code(rng, monkeypatch, fps, odr):
    """The CPU driver draws, resamples and steps many placements at once; CUDA calls the shared
    per-element functions (normals, drift_step, device_sample) one placement at a time. The CPU can run
    those calls too ('cpu-elementwise'): both must give the same bytes, which is what CPU-GPU
    identity rests on where no GPU is at hand; so must the lanes without the resampler's
    AVX-512 path ('cpu-portable', what CPUs without AVX-512 run). 37 placements: two full blocks of 16 and a
    partial one; 2,600 frames: the CPU's copied frame window (1,024 frames) slides. The first
    block has no random walk and the second one in every other placement: the CPU leaves out
    the random walk's normals (and, without timestamps, the jitter's) where a whole block has
    none. Outputs are float32: a one-ulp float64 difference (two additions swapped) seldom
    survives the cast, so this catches wrong or missing terms, not every reordering."""
    P, T = 37, 2600
    dev = full_device(P, rng).replace(odr=odr)
    if fps == odr:
        dev = dev.replace(clock_error=np.where(np.arange(P) % 3 == 0, 0.0, dev.clock_error))
    walk = np.where((np.arange(P) < 16) | (np.arange(P) % 2 == 1), 0.0, 1.0)[:, None] * [1e-3, 2e-3, 5e-4]
    dev = dev.replace(accel=dataclasses.replace(dev.accel, bias_random_walk=walk),
                      gyro=dataclasses.replace(dev.gyro, bias_random_walk=0.1 * walk))
    a, g, R = moving_inputs(rng, T, P, fps)
    run = engine._core.run_device

    def on(variant, timestamps):  # 'cpu' with run_device's device string 'cpu' + variant
        with monkeypatch.context() as m:
            m.setattr(engine._core, "run_device", lambda pb, device, stream: run(pb, device + variant, stream))
            return apply_device(a, g, fps, dev, seed=21, rotations=R, backend="cpu", timestamps=timestamps)

    for timestamps in (True, False):
        lanes = apply_device(a, g, fps, dev, seed=21, rotations=R, backend="cpu", timestamps=timestamps)
        # the per-element calls, and the lanes without the resampler's AVX-512 path
        for other in (on("-elementwise", timestamps), on("-portable", timestamps)):
            for name in ("timestamps", "accel", "gyro", "mag"):
                assert getattr(lanes, name) is None if name == "timestamps" and not timestamps else \
                    getattr(lanes, name).tobytes() == getattr(other, name).tobytes(), name
        assert np.isfinite(lanes.accel).all() and np.abs(lanes.accel).max() > 1.0


def test_torch_in_torch_out(rng):
    torch = pytest.importorskip("torch")
    a, g, R = moving_inputs(rng, 200, 3, 240.0)
    want = apply_device(a, g, 240.0, "watch-bmi270", seed=5)
    got = apply_device(torch.from_numpy(a), torch.from_numpy(g), 240.0, "watch-bmi270", seed=5)
    assert isinstance(got.accel, torch.Tensor) and isinstance(got.timestamps, torch.Tensor)
    assert np.array_equal(got.accel.numpy(), want.accel) and np.array_equal(got.timestamps.numpy(), want.timestamps)


# ---- statistics: Allan deviation ------------------------------------------------------------------
def analog(params: DeviceParams) -> DeviceParams:
    """The same device without range and ADC (quantisation noise would add to the density)."""
    strip = lambda s: None if s is None else SensorModel(**{**s.__dict__, "range": math.inf, "bits": 0})  # noqa: E731
    return params.replace(accel=strip(params.accel), gyro=strip(params.gyro), mag=strip(params.mag))


def measured_density(out_x, odr, tau_samples=10):
    taus, adev = allan_deviation(out_x, odr, [tau_samples / odr])
    return float(np.sqrt(np.mean(adev[0] ** 2)) * math.sqrt(taus[0]))  # axes pooled


@pytest.mark.parametrize("name", [n for n in preset_names() if n != "ideal"])
def test_preset_noise_density_and_bias_instability_match_configuration(name):
    """White noise at the preset's own rate: ADEV(tau) sqrt(tau) = density. Bias instability:
    the drift's Allan peak (white part removed) = the configured figure, both within 10 %."""
    p = analog(load_preset(name))
    odr = p.odr
    a, g = at_rest(40_000)
    out = apply_device(a, g, odr, p, seed=1, rotations=identity_frames(40_000))
    for s in ("accel", "gyro"):
        want = getattr(p, s).noise_density
        got = measured_density(getattr(out, s)[:, 0], odr)
        assert abs(got / want - 1) < 0.10, (s, got, want)
    # drift: a long record at a low rate (the Gauss–Markov law does not depend on the rate)
    slow = p.replace(odr=5.0)
    tau_c = p.accel.bias_correlation_time
    n = int(400 * 1.89 * tau_c * 5.0)
    a, g = at_rest(n)
    out = apply_device(a, g, 5.0, slow, seed=2, rotations=identity_frames(n))
    for s in ("accel", "gyro"):
        sm = getattr(p, s)
        taus, adev = allan_deviation(getattr(out, s)[:, 0], 5.0, np.array([1.0, 1.5, 1.89, 2.5, 3.5]) * tau_c)
        n_est = measured_density(getattr(out, s)[:, 0], 5.0, tau_samples=2)
        drift = np.sqrt(np.maximum(np.mean(adev ** 2, axis=1) - n_est ** 2 / taus, 0))
        assert abs(drift.max() / sm.bias_instability - 1) < 0.10, (s, drift.max(), sm.bias_instability)


def test_bias_random_walk_allan_slope():
    K = 2e-3
    p = DeviceParams(odr=50.0, accel=SensorModel(bias_random_walk=K), gyro=SensorModel())
    a, g = at_rest(200_000)
    out = apply_device(a, g, 50.0, p, seed=4)
    taus, adev = allan_deviation(out.accel[:, 0], 50.0, [20.0, 50.0])
    ratio = np.sqrt(np.mean(adev ** 2, axis=1)) / (K * np.sqrt(taus / 3))
    assert np.all(np.abs(ratio - 1) < 0.10), ratio


def test_allan_deviation_of_white_noise_known_answer(rng):
    x = rng.normal(0, 2.0, (200_000, 2))
    taus, adev = allan_deviation(x, 100.0, [0.01, 0.1, 1.0])
    np.testing.assert_allclose(adev, np.broadcast_to(2.0 / np.sqrt(100.0 * taus)[:, None], adev.shape), rtol=0.05)


# ---- limits: range, ADC, anti-aliasing -------------------------------------------------------------
def test_saturation_clips_at_the_range_and_steps_equal_the_lsb():
    rng_ms2, bits = 4 * G, 12
    p = DeviceParams(odr=None, accel=SensorModel(range=rng_ms2, bits=bits), gyro=SensorModel(range=5.0))
    T = 20_000  # the ramp moves less than one LSB per sample
    ramp = np.linspace(-8 * G, 8 * G, T, dtype=np.float32)
    a = np.stack([ramp, ramp / 3, np.full(T, G, np.float32)], 1)[:, None, :]
    g = np.stack([np.linspace(-9, 9, T)] * 3, 1)[:, None, :].astype(np.float32)
    out = apply_device(a, g, 200.0, p)
    lsb = 2 * rng_ms2 / 2 ** bits
    x = out.accel[:, 0, 0].astype(np.float64)
    assert x.min() == pytest.approx(-rng_ms2, rel=1e-6) and x.max() == pytest.approx(rng_ms2 - lsb, rel=1e-6)
    codes = x / lsb  # every reading is a whole number of LSBs (to float32 rounding) ...
    assert np.abs(codes - np.rint(codes)).max() < 1e-3
    assert np.array_equal(np.diff(np.unique(np.rint(codes))), np.ones(2 ** bits - 1))  # ... and every code occurs
    np.testing.assert_allclose(np.diff(np.unique(x)), lsb, rtol=5e-4)
    assert abs(out.accel[:, 0, 2] - G).max() <= lsb / 2 * 1.0001  # rounds to the nearest code
    assert out.gyro.min() == -5.0 and out.gyro.max() == 5.0  # range alone: clip without codes
    inside = np.abs(g[:, 0, 0]) < 5
    np.testing.assert_array_equal(out.gyro[inside, 0, 0], g[inside, 0, 0])


@pytest.mark.parametrize("fps,odr", [(1000.0, 100.0), (240.0, 104.0)])
def test_resampling_does_not_alias_tones_above_the_new_nyquist(fps, odr):
    T = int(20 * fps)
    t = np.arange(T) / fps
    p = DeviceParams(odr=odr)
    for f_tone, want in ((0.2 * odr, 1.0), (0.55 * odr, 0.0), (0.8 * odr, 0.0), (min(1.4 * odr, 0.49 * fps), 0.0)):
        a = np.zeros((T, 1, 3), np.float32)
        a[:, 0, 0] = np.sin(2 * np.pi * f_tone * t)
        out = apply_device(a, np.zeros_like(a), fps, p)
        x = out.accel[:, 0, 0].astype(np.float64)
        k = np.arange(len(x))[200:-200]  # away from the truncated ends
        if want:
            np.testing.assert_allclose(x[200:-200], np.sin(2 * np.pi * f_tone * k / odr), atol=5e-3)
        else:
            assert np.abs(x[200:-200]).max() < 1e-3, f_tone


def test_device_rate_above_motion_rate_interpolates():
    fps, odr = 60.0, 200.0
    T = 600
    t = np.arange(T) / fps
    a = np.zeros((T, 1, 3), np.float32)
    a[:, 0, 1] = np.cos(2 * np.pi * 3.0 * t)
    out = apply_device(a, np.zeros_like(a), fps, DeviceParams(odr=odr))
    k = np.arange(len(out.accel))[300:-300]
    np.testing.assert_allclose(out.accel[300:-300, 0, 1], np.cos(2 * np.pi * 3.0 * k / odr), atol=2e-3)


# ---- clock and timestamps ------------------------------------------------------------------------
def test_clock_error_offset_and_jitter():
    fps, odr, eps, offset, jitter = 1000.0, 100.0, 500e-6, 0.25, 2e-4
    T = 100_000
    a = np.zeros((T, 1, 3), np.float32)
    a[:, 0, 0] = np.arange(T) / fps / 100.0  # a slow ramp: reading = true sampling time / 100
    p = DeviceParams(odr=odr, clock_error=eps, time_offset=offset)
    out = apply_device(a, np.zeros_like(a), fps, p)
    k = np.arange(len(out.accel))
    true_t = k / (odr * (1 + eps))
    mid = slice(100, -100)
    np.testing.assert_allclose(out.accel[mid, 0, 0] * 100.0, true_t[mid], atol=2e-4)
    np.testing.assert_array_equal(out.timestamps[:, 0], np.rint(k * 1e7 + offset * 1e9).astype(np.int64))
    assert len(k) == int((T - 1) / fps * odr * (1 + eps)) + 1
    jit = apply_device(a, np.zeros_like(a), fps, p.replace(timestamp_jitter=jitter), seed=3)
    dev = (jit.timestamps[:, 0] - out.timestamps[:, 0]) * 1e-9
    assert abs(dev.std() / jitter - 1) < 0.05 and np.all(np.diff(jit.timestamps[:, 0]) > 0)


# ---- strap, mounting, magnetometer, g-sensitivity ----------------------------------------------
@pytest.mark.parametrize("f_n,zeta", [(8.0, 0.1), (15.0, 0.05)])
def test_strap_impulse_response_has_the_configured_frequency_and_damping(f_n, zeta):
    fps, T, t0 = 1000.0, 3000, 100
    a, g = at_rest(T)
    a[t0, 0, 0] += 50.0  # a one-frame knock along x
    p = DeviceParams(odr=None, strap_frequency=f_n, strap_damping=zeta)
    out = apply_device(a, g, fps, p, rotations=identity_frames(T))
    np.testing.assert_allclose(out.accel[:t0, 0], a[:t0, 0], atol=1e-5)  # at rest: exactly gravity
    x = out.accel[t0 + 2:, 0, 0].astype(np.float64)
    t = np.arange(len(x)) / fps
    up = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))[:6]
    crossings = t[up] + (-x[up] / (x[up + 1] - x[up])) / fps
    w_d = 2 * np.pi / np.mean(np.diff(crossings))
    peaks = [np.max(x[i:j]) for i, j in zip(up[:-1], up[1:])]
    delta = np.mean(np.log(np.array(peaks[:-1]) / np.array(peaks[1:])))
    zeta_est = delta / np.sqrt(4 * np.pi ** 2 + delta ** 2)
    f_est = w_d / np.sqrt(1 - zeta_est ** 2) / (2 * np.pi)
    assert abs(f_est / f_n - 1) < 0.01 and abs(zeta_est / zeta - 1) < 0.03, (f_est, zeta_est)


@pytest.mark.parametrize("fps", [60.0, 240.0, 1000.0])
def test_strap_discretisation_matches_scipy_expm(fps):
    """The strap's Van Loan exponential (model.expm_stack, einsum) against scipy's, over the
    frequencies and dampings the model accepts (up to fps / 4)."""
    from scipy.linalg import expm

    rng = np.random.default_rng(int(fps))
    f, zeta = rng.uniform(0.2, fps / 4, 500), rng.uniform(0.02, 3.0, 500)
    w, h = 2 * np.pi * f, 1.0 / fps
    M = np.zeros((500, 4, 4))
    M[:, 0, 1], M[:, 1, 0], M[:, 1, 1], M[:, 1, 2], M[:, 2, 3] = 1.0, -w ** 2, -2 * zeta * w, 1.0, 1.0 / h
    want = expm(M * h)
    scale = np.abs(want).max(axis=(1, 2), keepdims=True)  # errors relative to each matrix's largest entry
    assert (np.abs(model.expm_stack(M * h) - want) / scale).max() < 1e-11
    coef = model.strap_coefficients(f, zeta, fps)
    assert (np.abs(coef[:, :4] - want[:, :2, :2].reshape(-1, 4)) / scale[:, 0]).max() < 1e-11


def test_strap_passes_steady_acceleration_and_rotation_of_gravity():
    """The strap filters motion, not gravity: a tumbling device at rest still reads +g up."""
    T, fps = 1000, 200.0
    rot = syn.rotation_matrix(np.outer(np.linspace(0, 3, T), [0.3, 0.5, 0.8])).astype(np.float32)[:, None]
    f = np.einsum("tpji,j->tpi", rot, [0, 0, G]).astype(np.float32)
    out = apply_device(f, np.zeros_like(f), fps, DeviceParams(odr=None, strap_frequency=10.0, strap_damping=0.5),
                       rotations=rot)
    np.testing.assert_allclose(out.accel, f, atol=1e-4)


def test_mount_rotation_g_sensitivity_and_magnetometer():
    T = 50
    a, g = at_rest(T)
    rot = identity_frames(T)
    soft = np.diag([1.1, 0.9, 1.0])
    hard = np.array([1e-6, -2e-6, 3e-6])
    G_s = np.zeros((3, 3))
    G_s[0, 2] = 0.01  # rad/s per m/s² from z specific force onto the x rate
    p = DeviceParams(odr=None, mag=SensorModel(), soft_iron=soft, hard_iron=hard, g_sensitivity=G_s,
                     mag_field=[0.0, 2e-5, -4e-5], mount_rotation=[0.0, 0.0, np.pi / 2])
    out = apply_device(a, g, 100.0, p, rotations=rot)
    # device turned +90° about z: device x = placement y, device y = -placement x
    np.testing.assert_allclose(out.accel[0, 0], [0, 0, G], atol=1e-5)
    np.testing.assert_allclose(out.gyro[0, 0], [0.01 * G, 0, 0], rtol=1e-6)
    m_dev = np.array([2e-5, 0.0, -4e-5])
    np.testing.assert_allclose(out.mag[0, 0], soft @ m_dev + hard, rtol=1e-5, atol=1e-12)


# ---- presets, randomizer, export ---------------------------------------------------------------
def test_presets_load_and_ideal_is_identity(rng):
    assert {"watch-bmi270", "phone-lsm6dso", "wearable-icm42688p", "suit-xsens-dot", "glasses-aria", "ideal"} <= set(preset_names())
    w = load_preset("watch-bmi270")
    assert w.accel.noise_density == pytest.approx(160e-6 * G) and w.gyro.noise_density == pytest.approx(7e-3 * DEG)
    assert w.accel.range == pytest.approx(8 * G) and w.accel.bits == 16 and w.odr == 100.0
    a, g, R = moving_inputs(rng, 100, 3, 50.0)
    out = apply_device(a, g, 50.0, "ideal", seed=3)
    assert np.array_equal(out.accel, a) and np.array_equal(out.gyro, g)
    np.testing.assert_array_equal(out.timestamps[:, 0], np.rint(np.arange(100) * 1e9 / 50.0).astype(np.int64))


def test_randomize_is_reproducible_and_spreads_as_configured():
    p = load_preset("watch-bmi270")
    r1, r2 = randomize(p, 4000, seed=5), randomize(p, 4000, seed=5)
    assert np.array_equal(r1.accel.bias, r2.accel.bias) and np.array_equal(r1.mount_rotation, r2.mount_rotation)
    assert r1.accel.bias.shape == (4000, 3)
    assert abs(r1.accel.bias.std() / (20e-3 * G) - 1) < 0.05
    assert abs(r1.gyro.scale.std() / 4e-3 - 1) < 0.05
    assert abs(r1.clock_error.std() / 100e-6 - 1) < 0.05
    assert not np.array_equal(randomize(p, 4000, seed=6).accel.bias, r1.accel.bias)
    # every placement its own device: the mean reading at rest is S R_mount^T (0, 0, g) + bias
    from scipy.spatial.transform import Rotation

    P = 300
    steady = p.replace(accel=SensorModel(**{**p.accel.__dict__, "bias_instability": 0.0}))  # no drift in the mean
    sub = randomize(steady, P, seed=9)
    a, g = at_rest(400, P)
    out = apply_device(a, g, 100.0, sub, seed=1)
    C = sub.accel.cross_axis * (1 - np.eye(3))
    S = (1 + sub.accel.scale)[:, :, None] * (np.eye(3) + C)
    Rm = Rotation.from_rotvec(sub.mount_rotation).as_matrix()
    pred = np.einsum("pij,pkj,k->pi", S, Rm, [0, 0, G]) + sub.accel.bias
    assert np.abs(pred).max() > 0.5  # tilts and offsets matter ...
    np.testing.assert_allclose(out.accel.mean(axis=0), pred, atol=4e-3)  # ... and land where predicted


def test_export_units_and_conventions():
    a, g = at_rest(20)
    g[..., 0] = 1.0
    out = apply_device(a, g, 100.0, "ideal")
    e = export(out, accel_unit="g", gyro_unit="deg/s")
    np.testing.assert_allclose(e.accel[0, 0], [0, 0, 1.0], atol=1e-6)
    np.testing.assert_allclose(e.gyro[0, 0, 0], 180 / np.pi, rtol=1e-6)
    apple = export(out, accel_unit="g", convention="apple")
    np.testing.assert_allclose(apple.accel[0, 0, 2], -1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="convention"):
        export(out, convention="ned")
    with pytest.raises(ValueError, match="accel_unit"):
        export(out, accel_unit="ft/s^2")


def test_units_in_preset_files():
    assert parse_quantity("160 ug/sqrt(Hz)", "accel_density", "x") == pytest.approx(160e-6 * G)
    assert parse_quantity("10 deg/h", "rate", "x") == pytest.approx(10 * DEG / 3600)
    assert parse_quantity("0.3 deg/sqrt(h)", "rate_density", "x") == pytest.approx(0.3 * DEG / 60)
    assert parse_quantity("50 ppm", "ratio", "x") == pytest.approx(50e-6)
    with pytest.raises(ValueError, match="expected a rate"):
        parse_quantity("8 g", "rate", "gyro.range")
    with pytest.raises(ValueError, match="unknown unit"):
        parse_quantity("8 furlongs", "accel", "accel.range")


# ---- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("params,match", [
    (DeviceParams(accel=SensorModel(noise_density=-1e-3)), "accel.noise_density: expected values >= 0"),
    (DeviceParams(odr=0.0), "odr: expected one positive output data rate"),
    (DeviceParams(gyro=SensorModel(bias_correlation_time=0.0)), "gyro.bias_correlation_time"),
    (DeviceParams(accel=SensorModel(bits=12)), "needs a finite accel.range"),
    (DeviceParams(accel=SensorModel(range=-1.0)), "accel.range"),
    (DeviceParams(accel=SensorModel(scale=-1.5)), "accel.scale"),
    (DeviceParams(clock_error=0.5), "clock_error"),
    (DeviceParams(timestamp_jitter=0.01), "timestamp_jitter"),
    (DeviceParams(accel=SensorModel(bias=np.zeros((5, 3)))), r"accel.bias: expected shape"),
])
def test_invalid_parameters_give_clear_errors(params, match):
    a, g = at_rest(50, 2)
    with pytest.raises(ValueError, match=match):
        apply_device(a, g, 100.0, params)


def test_invalid_calls_give_clear_errors(tmp_path):
    a, g = at_rest(50, 2)
    with pytest.raises(ValueError, match="unknown device preset 'smartring'"):
        apply_device(a, g, 100.0, "smartring")
    with pytest.raises(ValueError, match="fps"):
        apply_device(a, g, 0.0, "ideal")
    with pytest.raises(ValueError, match="rotations: the magnetometer"):
        apply_device(a, g, 100.0, "suit-xsens-dot")
    with pytest.raises(ValueError, match="strap_frequency"):
        apply_device(a, g, 100.0, DeviceParams(strap_frequency=40.0), rotations=identity_frames(50, 2))
    with pytest.raises(ValueError, match="seed"):
        apply_device(a, g, 100.0, "ideal", seed=-1)
    with pytest.raises(ValueError, match="gyro: expected shape"):
        apply_device(a, g[:, :1], 100.0, "ideal")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nodr: 100 Hz\naccel:\n  noise_densty: 1 ug/sqrt(Hz)\n")
    with pytest.raises(ValueError, match=r"accel: unknown key\(s\) \['noise_densty'\]"):
        load_preset(bad)
    with pytest.raises(FileNotFoundError):
        load_preset(tmp_path / "missing.yaml")


# ---- CLI -------------------------------------------------------------------------------------------
def test_cli_device_list_and_plot(tmp_path):
    from typer.testing import CliRunner

    from anymo_sim_cli.app import app

    runner = CliRunner()
    res = runner.invoke(app, ["device", "list"])
    assert res.exit_code == 0 and "watch-bmi270" in res.output
    png = tmp_path / "w.png"
    res = runner.invoke(app, ["device", "plot", "watch-bmi270", "--out", str(png), "--allan-seconds", "60", "--seconds", "1"])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not (tmp_path / "w.png.partial").exists()
    res = runner.invoke(app, ["device", "plot", "smartring", "--out", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "unknown device preset" in res.output
