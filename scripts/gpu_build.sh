#!/usr/bin/env bash
# On a GPU machine: install carried wheels (.whl/) into /tmp/site and build the package with
# the CUDA kernels. Source it (it exports PYTHONPATH) before running GPU scripts.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-out}"
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || return 1
  export PYTHONPATH=/tmp/site
fi
ANYMO_CUDA=ON CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=${ANYMO_CUDA_ARCH:-90}" CMAKE_BUILD_PARALLEL_LEVEL=16 \
  python3 -m pip install --no-build-isolation --no-deps . >"$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; return 1; }
