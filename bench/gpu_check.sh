#!/usr/bin/env bash
# The GPU check, for a machine with a CUDA GPU and no network (Python with nvcc, CMake,
# ninja, pybind11, scikit-build-core, pytest, hypothesis, CuPy and torch installed):
# builds opzoo with its CUDA module for this GPU, runs the CUDA tests (pytest -m cuda:
# PyTorch and CuPy arrays against the NumPy reference) and the registered GPU benchmark
# cases (python -m opzoo bench --gpu: case A at batch 64 against torch's cuDNN path, NCHW
# and channels_last, float32 and float16), and prints their tables.
# Logs and the benchmark's JSON go to $OUT when it is set (the device tool), else ./gpu-check.
#   bash bench/gpu_check.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-check}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
site="${TMPDIR:-/tmp}/opzoo-gpu-site"
rm -rf "$site"
export PYTHONUNBUFFERED=1

python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())"
arch=$(python3 -c "import torch; major, minor = torch.cuda.get_device_capability(); print(f'{major}{minor}')")
echo "== build (OPZOO_CUDA=ON, architectures ${OPZOO_CUDA_ARCHS:-$arch})"
OPZOO_CUDA=ON OPZOO_CUDA_ARCHS="${OPZOO_CUDA_ARCHS:-$arch}" \
  python3 -m pip install -q --no-build-isolation --no-deps --target "$site" -C build-dir=build/gpu-check . \
  > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
python3 -m opzoo info
python3 -c "import opzoo, sys; sys.exit(0 if opzoo.info()['cuda']['built'] else 'opzoo._cuda was not built: see build.log')"

echo "== CUDA tests"
set +e
python3 -m pytest -q -p no:cacheprovider -rs -m cuda tests > "$out/tests.log" 2>&1
tests=$?
set -e
tail -25 "$out/tests.log"

echo "== GPU benchmark"
python3 -m opzoo bench --gpu ${1:-} --json "$out/gpu_bench.json" 2> "$out/bench.err" \
  || { tail -20 "$out/bench.err"; exit 1; }
exit $tests
