"""Squeeze-excite on CUDA arrays: PyTorch and CuPy (or, in the emulated build, host-memory
stand-ins for CuPy arrays) against the NumPy reference, in float32, float16 and
bfloat16, both layouts, in place, and the binding's own checks. Skipped, with the
reason, where no CUDA device or emulated module is there."""

import pytest
from kit import assert_close
from kit.fake_gpu import FakeGpuArray, from_fake_gpu
from kit.gpu import TOLERANCE, needs_cuda_module, rounded
from kit.squeeze_excite import make_inputs

import opzoo
from opzoo import _device
from opzoo import reference as ref

pytestmark = pytest.mark.cuda


def _case(rng, layout, dtype):
    arrays = make_inputs(rng, 2, 19, 9, 7, 5, layout)
    return {k: rounded(a, dtype) for k, a in arrays.items()}


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_forward_and_backward_match_reference(lib, rng, dtype, layout):
    name, to_dev, to_np = lib
    if name == "cupy" and dtype == "bfloat16":
        pytest.skip("CuPy has no bfloat16 dtype")
    arrays = _case(rng, layout, dtype)
    dev = {k: to_dev(a, dtype) for k, a in arrays.items()}
    for act in ("silu", "relu"):
        y = opzoo.squeeze_excite(**dev, activation=act, layout=layout)
        assert_close(to_np(y), ref.squeeze_excite(**arrays, activation=act, layout=layout), TOLERANCE[dtype], f"y {act}")
    g = rounded(rng.standard_normal(arrays["x"].shape), dtype)
    got = opzoo.squeeze_excite_backward(to_dev(g, dtype), **dev, layout=layout)
    want = ref.squeeze_excite_backward(g, **arrays, layout=layout)
    reduction = TOLERANCE[dtype] * 8  # sums over every pixel, then the chain rule in float32
    for what, a, e, tol in zip(("grad_x", "grad_w_reduce", "grad_w_expand", "grad_b_reduce", "grad_b_expand"), got,
                               want, (TOLERANCE[dtype], *(reduction,) * 4)):
        assert_close(to_np(a), e, tol, what)


def test_in_place(lib, rng):
    name, to_dev, to_np = lib
    arrays = _case(rng, "NHWC", "float32")
    want = ref.squeeze_excite(**arrays, layout="NHWC")
    dev = {k: to_dev(a, "float32") for k, a in arrays.items()}
    x = dev.pop("x")
    assert opzoo.squeeze_excite(x, **dev, layout="NHWC", out=x) is x
    assert_close(to_np(x), want, 1e-5)


@needs_cuda_module
def test_binding_checks_descriptors_itself():
    cuda = _device._cuda

    def d(address, shape):
        return (address, shape, None, "float32", 0)

    x, wr, we = d(1 << 20, [2, 4, 3, 3]), d(1 << 21, [2, 4]), d(1 << 22, [4, 2])
    with pytest.raises(ValueError, match=r"w_expand: expected shape \(4, 2\) \(C, R\)"):
        cuda.squeeze_excite_forward(x, wr, None, d(1 << 22, [2, 4]), None, d(1 << 23, [2, 4, 3, 3]), "NCHW", None,
                                    stream=0)
    with pytest.raises(ValueError, match="out: must be x itself or share no memory with it"):
        cuda.squeeze_excite_forward(x, wr, None, we, None, d((1 << 20) + 8, [2, 4, 3, 3]), "NCHW", None, stream=0)
    with pytest.raises(ValueError, match="expected all four or none"):
        cuda.squeeze_excite_backward(x, x, wr, None, we, None, None, d(1 << 24, [2, 4]), None, None, None, "NCHW",
                                     None, stream=0)


def test_device_arrays_meet_the_python_checks(fake_gpu, rng):
    arrays = make_inputs(rng, 2, 6, 4, 4, 2)
    dev = {k: FakeGpuArray(a) for k, a in arrays.items()}
    y = opzoo.squeeze_excite(**dev)
    assert isinstance(y, FakeGpuArray)
    assert_close(from_fake_gpu(y), ref.squeeze_excite(**arrays), 1e-5)
    with pytest.raises(ValueError, match="mixed devices: w_expand is a CPU array"):
        opzoo.squeeze_excite(**{**dev, "w_expand": arrays["w_expand"]})
