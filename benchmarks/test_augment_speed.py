"""On-the-fly augmentation against what a training step consumes, measured in one process on
every built backend (cpu, and cuda where a GPU is present):

    python -m pytest benchmarks/test_augment_speed.py -q -s -p no:cacheprovider --benchmark-columns=median,rounds

The batch: 32 random 2-s windows of the built-in clips on the default body at 100 Hz
(MotionWindows), 64 fresh random placements per window with mounting perturbations and a
device per placement mixed from every real preset (Augmenter defaults): 32 × 200 × 64
placement-samples of accelerometer + gyroscope. The augmentation time is the whole data path
of a training loop: draw the windows, move them to the backend's device, simulate.

The consumer: one training step (forward, backward, Adam) of a small 1-D conv net that
classifies each placement's 2-s signal on its own, i.e. a (32·64, 6, 200) batch, on the same
device. Printed and written to .benchmarks/augment_summary.json: windows/s and
placement-samples/s of each, and augmentation time / training-step time (below 1: the
simulation keeps up with the training step; above 1: it is the bottleneck by that factor).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import anymo_sim
from anymo_sim.augment import Augmenter, MotionWindows

torch = pytest.importorskip("torch")

BACKENDS = [b for b in anymo_sim.available_backends() if b in ("cpu", "cuda")]
pytestmark = pytest.mark.skipif(not BACKENDS, reason="extension not built")
B, SECONDS, P, RATE = 32, 2.0, 64, 100.0
TIMES: dict[tuple[str, str], float] = {}
SHAPES: dict[str, tuple] = {}


def _sync(backend):
    if backend == "cuda":
        torch.cuda.synchronize()


@pytest.fixture(scope="module")
def windows():
    w = MotionWindows(rate=RATE)
    w.sample(B, SECONDS, seed=0)  # retarget and cache every clip outside the timing
    return w


def _model(device):
    """~60 k parameters: three strided convolutions, average pooling, a linear classifier."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv1d(6, 64, 5, padding=2), torch.nn.ReLU(),
        torch.nn.Conv1d(64, 64, 5, stride=2, padding=2), torch.nn.ReLU(),
        torch.nn.Conv1d(64, 128, 5, stride=2, padding=2), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool1d(1), torch.nn.Flatten(), torch.nn.Linear(128, 15),
    ).to(device)
    return net, torch.optim.Adam(net.parameters(), lr=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_augment(benchmark, windows, backend):
    aug = Augmenter(placements=P, rate=RATE, seed=0)
    draws = iter(range(10 ** 6))

    def run():
        batch = windows.sample(B, SECONDS, seed=next(draws))
        x = torch.from_numpy(batch.transforms).cuda() if backend == "cuda" else batch.transforms
        out = aug(x, batch.fps)
        _sync(backend)
        return out

    out = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    imu = out.imu.cpu().numpy() if backend == "cuda" else out.imu
    assert np.isfinite(imu).all()
    SHAPES[backend] = tuple(imu.shape)
    TIMES[backend, "augment"] = benchmark.stats.stats.median


@pytest.mark.parametrize("backend", BACKENDS)
def test_train_step(benchmark, backend):
    device = "cuda" if backend == "cuda" else "cpu"
    net, opt = _model(device)
    N = int(round(SECONDS * RATE))
    x = torch.randn(B * P, 6, N, device=device)
    y = torch.randint(0, 15, (B * P,), device=device)

    def run():
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        _sync(backend)
        return loss

    loss = benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    assert bool(torch.isfinite(loss))
    TIMES[backend, "train step"] = benchmark.stats.stats.median


def test_zz_summary():
    lines, summary = [], {}
    for backend in BACKENDS:
        aug, step = TIMES.get((backend, "augment")), TIMES.get((backend, "train step"))
        if aug is None or step is None:
            continue
        _, _, N, _ = SHAPES[backend]
        samples = B * N * P
        summary[backend] = {
            "batch": {"windows": B, "samples_per_window": N, "placements": P, "rate_hz": RATE},
            "augment_median_s": aug, "augment_windows_per_s": B / aug,
            "augment_placement_samples_per_s": samples / aug,
            "train_step_median_s": step, "train_windows_per_s": B / step,
            "train_placement_samples_per_s": samples / step,
            "augment_over_train_step": aug / step,
        }
        rows = [("augmentation", aug), ("training step", step)]
        lines += [f"{backend}: batch {B} windows x {N} samples x {P} placements at {RATE:g} Hz"]
        lines += [f"  {what:<13}  {t:8.4f} s  {B / t:9.1f} windows/s  {samples / t:13,.0f} placement-samples/s"
                  for what, t in rows]
        lines.append(f"  augmentation / training step: {aug / step:.3f}")
    if not summary:
        pytest.skip("summary needs the augmentation and the training step in the same run")
    print("\n" + "\n".join(lines))
    out = Path(".benchmarks")
    out.mkdir(exist_ok=True)
    (out / "augment_summary.json").write_text(json.dumps(summary, indent=2))
    assert all(np.isfinite(v["augment_over_train_step"]) and v["augment_over_train_step"] > 0 for v in summary.values())
