#!/usr/bin/env bash
# The GPU check, for a machine with a CUDA GPU and no network (Python with nvcc, CMake,
# ninja, pybind11, scikit-build-core, pytest, hypothesis, CuPy and torch installed):
# builds opzoo with its CUDA module for this GPU, runs the CUDA tests (pytest -m cuda:
# PyTorch and CuPy arrays against the NumPy reference), again under compute-sanitizer
# when it is at hand (memcheck, racecheck, synccheck), and the registered GPU benchmark
# cases (python -m opzoo bench --gpu: case A at batch 64 against torch's cuDNN path, case C
# against torch's cummax and amax pools, case D against torch's decoders, case F against
# SpikingJelly's LIFNode and a torch loop; NCHW and channels_last, float32 and float16
# where the op takes it), and prints their tables. Peers the machine lacks (it has no
# network: SpikingJelly and its loguru) install offline from wheels placed in
# bench/wheels/ (untracked: `pip download --no-deps -d bench/wheels spikingjelly loguru`).
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
if ls bench/wheels/*.whl > /dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --target "$site" bench/wheels/*.whl > "$out/peers-install.log" 2>&1 \
    || echo "peer wheels in bench/wheels/ did not install: see peers-install.log"
fi
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
python3 -m opzoo info
python3 -c "import opzoo, sys; sys.exit(0 if opzoo.info()['cuda']['built'] else 'opzoo._cuda was not built: see build.log')"

echo "== CUDA tests"
set +e
python3 -m pytest -q -p no:cacheprovider -rs -m cuda tests > "$out/tests.log" 2>&1
tests=$?
set -e
tail -25 "$out/tests.log"

echo "== CUDA tests under compute-sanitizer (memcheck, racecheck, synccheck)"
# From PATH, or the toolkit's PyPI package (nvidia-cuda-sanitizer-api, of the toolkit's
# version) installed offline from a wheel placed beside this script.
sanitizer=$(command -v compute-sanitizer || true)
wheel=$(ls bench/nvidia_cuda_sanitizer_api*.whl 2>/dev/null | head -1 || true)
if [ -z "$sanitizer" ] && [ -n "$wheel" ]; then
  python3 -m pip install -q --no-index --no-deps --target "$site-sanitizer" "$wheel" > "$out/sanitizer-install.log" 2>&1
  sanitizer=$(find "$site-sanitizer" -name compute-sanitizer -type f -perm -u+x | head -1)
fi
if [ -z "$sanitizer" ]; then
  echo "skipped: no compute-sanitizer on PATH and no nvidia_cuda_sanitizer_api wheel beside bench/gpu_check.sh"
else
  for tool in memcheck racecheck synccheck; do
    set +e
    # float32 only: each tool replays every access, and the dtypes share the kernels' indexing.
    "$sanitizer" --tool "$tool" --error-exitcode 1 --target-processes all \
      python3 -m pytest -q -p no:cacheprovider -m cuda -k float32 tests/test_depthwise_cuda.py \
      tests/test_corner_pool_cuda.py tests/test_heatmap_decode_cuda.py tests/test_spiking_cuda.py > "$out/sanitizer-$tool.log" 2>&1
    status=$?
    set -e
    echo "$tool: $([ $status -eq 0 ] && echo clean || echo "FAILED (see sanitizer-$tool.log)")"
    [ $status -eq 0 ] || tests=1
  done
fi

echo "== GPU benchmark"
python3 -m opzoo bench --gpu ${1:-} --json "$out/gpu_bench.json" 2> "$out/bench.err" \
  || { tail -20 "$out/bench.err"; exit 1; }
exit $tests
