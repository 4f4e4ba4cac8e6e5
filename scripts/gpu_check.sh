#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build the CUDA kernels, run the whole test suite (the CUDA
# parametrisations included) and the benchmarks on every backend. Logs and the benchmark JSON
# go to $OUT (default ./out). Wheels that the machine lacks may wait in .whl/ (pure Python:
# trimesh, smplx); they are installed into /tmp/site first.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-out}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv | tee "$OUT/gpu.txt"
source scripts/gpu_build.sh || exit 1
python3 -c "import anymo_sim; print('backends', anymo_sim.available_backends())" | tee -a "$OUT/gpu.txt"
export PYTHONUNBUFFERED=1
python3 -m pytest tests -q -p no:cacheprovider -m "cuda or not slow" -rs 2>&1 | tee "$OUT/tests.log" | tail -25
python3 -m pytest benchmarks -q -s -p no:cacheprovider --benchmark-columns=median,rounds ${BENCH_ARGS:-} 2>&1 \
  | tee "$OUT/bench.log" | grep -v -E "^(-|Name|Legend|  Outlier|  OPS|test_)" | tail -40
cp .benchmarks/*.json "$OUT/" 2>/dev/null || true
