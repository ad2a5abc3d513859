"""Corner and center pooling on CUDA arrays: PyTorch and CuPy (or, in the emulated build,
host-memory stand-ins for CuPy arrays) against the NumPy reference, in float32, float16
and bfloat16, both layouts, ties included, forward and backward, and the binding's own
checks. Skipped, with the reason, where no CUDA device or emulated module is there."""

import numpy as np
import pytest
from kit import assert_close
from kit.corner_pool import make_maps
from kit.fake_gpu import FakeGpuArray, from_fake_gpu
from kit.gpu import TOLERANCE, needs_cuda_module, rounded

import opzoo
from opzoo import _device
from opzoo import reference as ref

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_pools_and_gradients_match_reference(lib, rng, dtype, layout):
    name, to_dev, to_np = lib
    if name == "cupy" and dtype == "bfloat16":
        pytest.skip("CuPy has no bfloat16 dtype")
    a, b, g = (rounded(m, dtype) for m in make_maps(rng, 2, 5, 9, 11, layout, levels=2))
    da, db, dg = (to_dev(m, dtype) for m in (a, b, g))
    for d in ("top", "bottom", "left", "right"):
        np.testing.assert_array_equal(to_np(opzoo.corner_pool(da, d, layout=layout)), ref.corner_pool(a, d, layout))
        assert_close(to_np(opzoo.corner_pool_backward(dg, da, d, layout=layout)),
                     ref.corner_pool_backward(g, a, d, layout), TOLERANCE[dtype] * 4, f"grad {d}")
    for corner in ("top_left", "bottom_right"):
        assert_close(to_np(opzoo.corner_pool_pair(da, db, corner, layout=layout)),
                     ref.corner_pool_pair(a, b, corner, layout), TOLERANCE[dtype], corner)
        for got, want in zip(opzoo.corner_pool_pair_backward(dg, da, db, corner, layout=layout),
                             ref.corner_pool_pair_backward(g, a, b, corner, layout)):
            assert_close(to_np(got), want, TOLERANCE[dtype] * 4, f"{corner} grad")
    assert_close(to_np(opzoo.center_pool(da, db, layout=layout)), ref.center_pool(a, b, layout), TOLERANCE[dtype],
                 "center")
    for got, want in zip(opzoo.center_pool_backward(dg, da, db, layout=layout), ref.center_pool_backward(g, a, b, layout)):
        assert_close(to_np(got), want, TOLERANCE[dtype] * 4, "center grad")


@needs_cuda_module
def test_binding_checks_descriptors_itself():
    cuda = _device._cuda

    def d(address, shape):
        return (address, shape, None, "float32", 0)

    x = d(1 << 20, [2, 4, 3, 3])
    with pytest.raises(ValueError, match=r"b: expected shape \(2, 4, 3, 3\)"):
        cuda.corner_pool_pair_forward(x, d(1 << 21, [2, 4, 3, 2]), d(1 << 22, [2, 4, 3, 3]), "top_left", "NCHW",
                                      stream=0)
    with pytest.raises(ValueError, match="out: must not share memory with x"):
        cuda.corner_pool_forward(x, d((1 << 20) + 8, [2, 4, 3, 3]), "top", "NCHW", stream=0)
    with pytest.raises(ValueError, match="direction must be"):
        cuda.corner_pool_forward(x, d(1 << 22, [2, 4, 3, 3]), "up", "NCHW", stream=0)


def test_device_arrays_meet_the_python_checks(fake_gpu, rng):
    a, b, _ = make_maps(rng, 2, 3, 6, 5)
    y = opzoo.corner_pool_pair(FakeGpuArray(a), FakeGpuArray(b))
    assert isinstance(y, FakeGpuArray)
    assert_close(from_fake_gpu(y), ref.corner_pool_pair(a, b), 1e-6)
    with pytest.raises(ValueError, match="mixed devices: b is a CPU array"):
        opzoo.center_pool(FakeGpuArray(a), b)
