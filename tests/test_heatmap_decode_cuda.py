"""Heatmap decoding on CUDA arrays: PyTorch and CuPy (or, in the emulated build,
host-memory stand-ins for CuPy arrays) against the NumPy reference in float32, float16
and bfloat16, both layouts, with and without offsets, plateaus and a NaN, K from one to
every score (both of the kernels' sorts); the torch op on CUDA tensors; the binding's own
checks. Skipped, with the reason, where no CUDA device or emulated module is there."""

import numpy as np
import pytest
from kit import assert_close
from kit.fake_gpu import FakeGpuArray, from_fake_gpu
from kit.gpu import TOLERANCE, needs_cuda_module, rounded
from kit.heatmap_decode import make_maps

import opzoo
from opzoo import _device
from opzoo import reference as ref

pytestmark = pytest.mark.cuda

# (N, C, H, W), K: a shared-memory sort, a sort in global memory over every score, one pixel.
CASES = [((2, 3, 7, 9), 10), ((1, 4, 30, 25), 3000), ((1, 1, 1, 1), 1)]


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_decode_matches_reference(lib, rng, dtype, layout):
    name, to_dev, to_np = lib
    if name == "cupy" and dtype == "bfloat16":
        pytest.skip("CuPy has no bfloat16 dtype")
    for (N, C, H, W), K in CASES:
        maps = {k: rounded(a, dtype) for k, a in make_maps(rng, N, C, H, W, layout).items()}
        heat = maps["heat"]
        heat.reshape(-1)[heat.size // 2] = np.nan
        for reg in (maps["reg"], None):
            got = to_np(opzoo.heatmap_decode(to_dev(heat, dtype), to_dev(maps["wh"], dtype),
                                             None if reg is None else to_dev(reg, dtype), K=K, layout=layout))
            want = ref.heatmap_decode(heat, maps["wh"], reg, K, layout)
            # Scores are inputs (or heat * 0) and classes small integers: exact in every dtype.
            np.testing.assert_array_equal(got[..., 4:], want[..., 4:], err_msg=f"{(N, C, H, W)} K={K}")
            assert_close(got[..., :4], want[..., :4], TOLERANCE[dtype] * 4, f"boxes {(N, C, H, W)} K={K}")


def test_torch_op_on_cuda_tensors(lib, rng):
    name, to_dev, to_np = lib
    if name != "torch":
        pytest.skip("the torch op takes torch tensors: this run's arrays are " + name)
    import opzoo.torch

    maps = make_maps(rng, 2, 3, 12, 10)
    got = opzoo.torch.heatmap_decode(*(to_dev(maps[k], "float32") for k in ("heat", "wh", "reg")), K=20)
    assert got.is_cuda
    assert_close(to_np(got), ref.heatmap_decode(maps["heat"], maps["wh"], maps["reg"], 20), TOLERANCE["float32"],
                 "torch op")


@needs_cuda_module
def test_binding_checks_descriptors_itself():
    cuda = _device._cuda

    def d(address, shape, dtype="float32"):
        return (address, shape, None, dtype, 0)

    heat, wh = d(1 << 20, [1, 3, 4, 4]), d(1 << 21, [1, 2, 4, 4])
    with pytest.raises(ValueError, match=r"wh: expected shape \(1, 2, 4, 4\)"):
        cuda.heatmap_decode(heat, d(1 << 21, [1, 2, 4, 3]), None, d(1 << 22, [1, 5, 6]), 5, "NCHW", stream=0)
    with pytest.raises(ValueError, match=r"boxes: expected shape \(1, 5, 6\)"):
        cuda.heatmap_decode(heat, wh, None, d(1 << 22, [1, 4, 6]), 5, "NCHW", stream=0)
    with pytest.raises(ValueError, match="boxes: must not share memory with heat"):
        cuda.heatmap_decode(heat, wh, None, d((1 << 20) + 4, [1, 5, 6]), 5, "NCHW", stream=0)
    with pytest.raises(ValueError, match=r"K: expected K <= C\*H\*W = 48"):
        cuda.heatmap_decode(heat, wh, None, d(1 << 22, [1, 49, 6]), 49, "NCHW", stream=0)
    with pytest.raises(TypeError, match=r"wh: expected dtype float32 \(the dtype of heat\), got float16"):
        cuda.heatmap_decode(heat, d(1 << 21, [1, 2, 4, 4], "float16"), None, d(1 << 22, [1, 5, 6]), 5, "NCHW",
                            stream=0)
    big = [2**31, 2**31, 2**31, 4]
    with pytest.raises(ValueError, match="more elements than an int64 counts"):
        cuda.heatmap_decode(d(1 << 20, big), d(1 << 21, [2**31, 2, 2**31, 4]), None, d(1 << 22, [2**31, 1, 6]), 1,
                            "NCHW", stream=0)


def test_device_arrays_take_the_cuda_path(fake_gpu, rng):
    maps = make_maps(rng, 2, 3, 6, 5)
    boxes = opzoo.heatmap_decode(*(FakeGpuArray(maps[k]) for k in ("heat", "wh", "reg")), K=7)
    assert isinstance(boxes, FakeGpuArray)
    assert_close(from_fake_gpu(boxes), ref.heatmap_decode(maps["heat"], maps["wh"], maps["reg"], 7),
                 TOLERANCE["float32"], "boxes")
    assert fake_gpu.streams
    with pytest.raises(ValueError, match="mixed devices: wh is a CPU array"):
        opzoo.heatmap_decode(FakeGpuArray(maps["heat"]), maps["wh"])
