"""Depthwise conv2d: kernels vs the NumPy reference, vs PyTorch, and on bad input."""

import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit import ACTIVATIONS, KINKS, assert_close, simd_levels, tuned_for
from kit.depthwise import make_inputs

import opzoo
from opzoo import _cpu, _device
from opzoo import reference as ref
from opzoo.reference.padding import pair, resolve_padding


def check_against_reference(x, w, b, rng, rtol=1e-5, **kw):
    y = opzoo.depthwise_conv2d(x, w, b, **kw)
    assert y.dtype == x.dtype
    assert_close(y, ref.depthwise_conv2d(x, w, b, **kw), rtol, "y")
    g = rng.standard_normal(y.shape).astype(x.dtype)
    if kw.get("activation") in KINKS:
        # Where the pre-activation lies within rounding of a kink, float32 and the float64
        # reference may take different sides: the derivative is not defined to that precision.
        z = ref.depthwise_conv2d(x, w, b, **dict(kw, activation=None))
        tol = 1e-4 * (np.abs(z).max() + 1)
        g[np.any([np.abs(z - k) < tol for k in KINKS[kw["activation"]]], axis=0)] = 0
    got = opzoo.depthwise_conv2d_backward(g, x, w, b, **kw)
    want = ref.depthwise_conv2d_backward(g, x, w, b, **kw)
    # Weight and bias gradients are sums over N*Ho*Wo terms: float32 rounding grows with it.
    reduction_rtol = rtol * max(1.0, np.sqrt(g[:, 0].size) / 4)
    for name, a, e, tol in zip(("grad_x", "grad_weight", "grad_bias"), got, want, (rtol, reduction_rtol, reduction_rtol)):
        assert a.dtype == x.dtype and a.shape == e.shape, name
        assert_close(a, e, tol, name)
    return y


paddings = st.one_of(
    st.integers(0, 3),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    st.sampled_from(["same", "valid"]),
)


@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    dilation = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    return dict(
        N=draw(st.integers(1, 3)),
        C=draw(st.integers(1, 40)),
        M=draw(st.integers(1, 3)),
        H=draw(st.integers(1, 24)),
        W=draw(st.integers(1, 70)),
        kh=kh,
        kw=kw,
        stride=stride,
        padding=draw(paddings),
        dilation=dilation,
        layout=draw(st.sampled_from(["NCHW", "NHWC"])),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
        vendor=draw(st.sampled_from(["intel", "amd"])),
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=conv_cases())
def test_matches_reference_on_random_shapes(simd_level, case):
    c = dict(case)
    rng = np.random.default_rng(c.pop("seed"))
    with tuned_for(c.pop("vendor")):
        check_random_case(rng, c)


def check_random_case(rng, c):
    x, w, b = make_inputs(rng, c.pop("N"), c.pop("C"), c.pop("M"), c.pop("H"), c.pop("W"),
                          c.pop("kh"), c.pop("kw"), c["layout"], bias=c.pop("bias"))
    H, W = x.shape[2:] if c["layout"] == "NCHW" else x.shape[1:3]
    kh, kw = w.shape[2:]
    pads = resolve_padding(c["padding"], (H, W), (kh, kw), pair(c["stride"]), pair(c["dilation"]))
    dh, dw = pair(c["dilation"])
    if H + pads[0] + pads[1] < (kh - 1) * dh + 1 or W + pads[2] + pads[3] < (kw - 1) * dw + 1:
        with pytest.raises(ValueError, match="spans more than the padded input"):
            opzoo.depthwise_conv2d(x, w, b, **c)
        return
    check_against_reference(x, w, b, rng, **c)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("stride", [1, 2])
# NCHW planes up to 4 vectors wide run interleaved through the NHWC kernels; the
# 300-wide plane keeps the direct NCHW row kernels in the test at every level.
@pytest.mark.parametrize("hw", [(7, 7), (29, 45), (64, 64), (11, 300)])
def test_fast_paths(simd_level, cpu_vendor, rng, layout, k, stride, hw):
    x, w, b = make_inputs(rng, 2, 37, 1, *hw, k, k, layout)
    check_against_reference(x, w, b, rng, stride=stride, padding=k // 2, layout=layout, activation="relu6")


# Tuned for AMD, NHWC layers read the input in place at stride_w 2 with 256 channels or
# more, images of at most 1 MB and inputs of at most 2 MB, and at stride_w 1 with up to 9
# taps and pixels of at most 4 vectors and 128 bytes, and copy it otherwise: in place,
# 4-vector blocks with a partial vector, a generic kernel size, dilation, uneven padding
# reaching past the kernel, rows at stride 1 or 3, and at the vector levels narrow pixels
# at stride_w 1 (20, 32 and 5 channels, the last with dilation); copied, narrow layers at
# stride 2, a depth multiplier, an image over 1 MB, a batch of small images over 2 MB,
# 70 channels and a 5x5 kernel at stride_w 1.
# Tuned for Intel, every layer at stride_w 2 reads in place, and so do kernels of up to 9
# taps at stride_w 1 on 56 output columns or more (the 3x3 ones on 60 and 58 columns),
# with 4-vector blocks from 4 vectors of channels on.
@pytest.mark.parametrize(
    "N, C, M, hw, k, kw",
    [
        (2, 300, 1, (13, 13), 3, dict(padding=1)),
        (2, 300, 1, (9, 14), 5, dict(padding="same", stride=(1, 2))),
        (2, 260, 1, (10, 31), 4, dict(padding=(2, 0, 1, 3), stride=(3, 2), dilation=2)),
        (2, 270, 1, (5, 6), 7, dict(padding=3)),
        (2, 80, 1, (20, 20), 3, dict(padding=1)),
        (2, 5, 1, (17, 23), 3, dict(padding=(3, 1, 4, 2))),
        (2, 12, 3, (11, 10), 3, dict(padding=1)),
        (2, 300, 1, (30, 30), 3, dict(padding=1)),
        (8, 300, 1, (15, 16), 3, dict(padding=1)),
        (2, 37, 1, (12, 12), 3, dict(padding=1, stride=(2, 1))),
        (2, 20, 1, (7, 60), 3, dict(padding=(0, 1, 2, 0), stride=1)),
        (1, 70, 1, (4, 60), 3, dict(padding=1, stride=1)),
        (1, 270, 1, (5, 58), 3, dict(padding=1, stride=(2, 1), dilation=(1, 2))),
        (2, 20, 1, (6, 61), 5, dict(padding=2, stride=1)),
        (2, 32, 1, (9, 11), 3, dict(padding=(1, 2, 0, 1), stride=1)),
        (3, 5, 1, (8, 5), 3, dict(padding=(0, 1, 1, 0), stride=1, dilation=(1, 2))),
    ],
)
def test_nhwc_in_place_and_copied(simd_level, cpu_vendor, rng, N, C, M, hw, k, kw):
    x, w, b = make_inputs(rng, N, C, M, *hw, k, k, "NHWC")
    check_against_reference(x, w, b, rng, **dict(dict(stride=2), **kw), layout="NHWC", activation="relu6")


# NHWC outputs of 8 MB and more, without an activation, are written with streaming stores
# where the output is 64-byte aligned and a pixel is whole lines: read in place (32
# channels), copied with one vector per block (144), with 4-vector blocks and a one-vector
# remainder (272 at AVX-512). The same layer into an `out` one float off a line takes the
# plain stores and must give the same bits.
@pytest.mark.parametrize("C, hw", [(32, (256, 257)), (144, (121, 121)), (272, (88, 88))])
def test_nhwc_streamed_output(simd_level, cpu_vendor, rng, C, hw):
    x, w, b = make_inputs(rng, 1, C, 1, *hw, 3, 3, "NHWC")
    y = opzoo.depthwise_conv2d(x, w, b, padding=1, layout="NHWC")
    assert y.nbytes >= 8 << 20 and y.ctypes.data % 64 == 0
    assert_close(y, ref.depthwise_conv2d(x, w, b, padding=1, layout="NHWC"), 1e-5, "y")
    off_line = np.empty(y.size + 1, np.float32)
    off_line = (off_line[1:] if off_line.ctypes.data % 64 == 0 else off_line[:-1]).reshape(y.shape)
    opzoo.depthwise_conv2d(x, w, b, padding=1, layout="NHWC", out=off_line)
    np.testing.assert_array_equal(off_line, y)


# NCHW outputs of 8 MB and more, of planes up to 256 KB, are computed plane by plane into
# scratch and copied out with streaming stores, plain ones for the partial lines at either
# end of each band's rows: into an `out` on a line and one a float off it, which must
# agree bit for bit; with an activation and a depth multiplier too.
@pytest.mark.parametrize("C, M, hw, kw", [(40, 1, (230, 230), dict(padding=1)),
                                          (20, 2, (231, 229), dict(padding=(1, 2, 0, 1), activation="silu"))])
def test_nchw_streamed_output(simd_level, rng, C, M, hw, kw):
    x, w, b = make_inputs(rng, 1, C, M, *hw, 3, 3, "NCHW")
    y = opzoo.depthwise_conv2d(x, w, b, **kw)
    assert y.nbytes >= 8 << 20 and y.ctypes.data % 64 == 0
    assert_close(y, ref.depthwise_conv2d(x, w, b, **kw), 1e-5, "y")
    off_line = np.empty(y.size + 1, np.float32)
    off_line = (off_line[1:] if off_line.ctypes.data % 64 == 0 else off_line[:-1]).reshape(y.shape)
    opzoo.depthwise_conv2d(x, w, b, **kw, out=off_line)
    np.testing.assert_array_equal(off_line, y)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activations(simd_level, rng, layout, activation):
    x, w, b = make_inputs(rng, 2, 19, 2, 13, 22, 3, 3, layout)
    x *= 4  # reach the saturated parts of relu6 / hardswish / sigmoid
    check_against_reference(x, w, b, rng, padding="same", layout=layout, activation=activation)


def test_activation_extremes_stay_finite(simd_level):
    x = np.array([-1e4, -100, -20, -3, -1e-3, 0, 1e-3, 3, 20, 100, 1e4], np.float32).reshape(1, 1, 1, -1)
    w = np.ones((1, 1, 1, 1), np.float32)
    for act in ACTIVATIONS:
        y = opzoo.depthwise_conv2d(x, w, activation=act)
        assert np.all(np.isfinite(y)), act
        assert_close(y, ref.depthwise_conv2d(x, w, activation=act), 1e-6, act)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_float64(simd_level, rng, layout):
    x, w, b = make_inputs(rng, 2, 5, 2, 17, 19, 3, 4, layout, dtype=np.float64)
    check_against_reference(x, w, b, rng, rtol=1e-12, stride=(2, 1), padding=(1, 2, 0, 3),
                            dilation=(1, 2), layout=layout, activation="silu")


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_non_contiguous_inputs(rng, layout):
    x, w, b = make_inputs(rng, 2, 6, 1, 30, 34, 3, 3, layout)
    views = [x[:, ::2], x[..., ::2, :], x[::-1], np.asfortranarray(x)]
    views.append(np.ascontiguousarray(np.swapaxes(x, 1, 3)).swapaxes(1, 3))  # dense in the other layout
    for xv in views:
        y = opzoo.depthwise_conv2d(xv, w[: xv.shape[1 if layout == "NCHW" else 3]], None, padding=1, layout=layout)
        assert_close(y, ref.depthwise_conv2d(xv, w[: y.shape[1 if layout == "NCHW" else 3]], None, padding=1, layout=layout))
    wv = np.asfortranarray(w)
    bv = np.repeat(b, 2)[::2]
    assert_close(opzoo.depthwise_conv2d(x, wv, bv, padding=1, layout=layout),
                 ref.depthwise_conv2d(x, w, b, padding=1, layout=layout))


def test_other_memory_order_is_kept(rng):
    x, w, b = make_inputs(rng, 2, 8, 1, 12, 12, 3, 3)
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # NCHW axes, NHWC memory
    y = opzoo.depthwise_conv2d(x_cl, w, b, padding=1)
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous
    assert_close(y, ref.depthwise_conv2d(x, w, b, padding=1))
    g = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, gb = opzoo.depthwise_conv2d_backward(g, x_cl, w, b, padding=1)
    assert gx.transpose(0, 2, 3, 1).flags.c_contiguous
    for a, e in zip((gx, gw, gb), ref.depthwise_conv2d_backward(g, x, w, b, padding=1)):
        assert_close(a, e, 1e-4)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_out_argument(rng, layout):
    x, w, b = make_inputs(rng, 2, 4, 2, 9, 9, 3, 3, layout)
    expected = ref.depthwise_conv2d(x, w, b, padding=1, layout=layout)
    out = np.full(expected.shape, np.nan, np.float32)
    assert opzoo.depthwise_conv2d(x, w, b, padding=1, layout=layout, out=out) is out
    assert_close(out, expected)
    strided_out = np.full(expected.shape[:-1] + (2 * expected.shape[-1],), np.nan, np.float32)[..., ::2]
    assert opzoo.depthwise_conv2d(x, w, b, padding=1, layout=layout, out=strided_out) is strided_out
    assert_close(strided_out, expected)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_zero_size_and_one_element(rng, layout):
    for N, C in [(0, 3), (2, 0), (0, 0)]:
        x, w, b = make_inputs(rng, N, C, 2, 5, 6, 3, 3, layout)
        y = opzoo.depthwise_conv2d(x, w, b, padding=1, layout=layout)
        assert y.shape == ref.depthwise_conv2d(x, w, b, padding=1, layout=layout).shape
        gx, gw, gb = opzoo.depthwise_conv2d_backward(np.zeros_like(y), x, w, b, padding=1, layout=layout)
        assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == (w.shape[0],)
        assert not np.any(gw) and not np.any(gb)
    x = np.array([[[[2.5]]]], np.float32)
    w = np.array([[[[-3.0]]]], np.float32)
    assert opzoo.depthwise_conv2d(x, w, np.array([1.0], np.float32), layout=layout).item() == -6.5
    gx, gw, gb = opzoo.depthwise_conv2d_backward(np.ones_like(x), x, w, layout=layout)
    assert (gx.item(), gw.item(), gb.item()) == (-3.0, 2.5, 1.0)


def test_same_padding_is_tensorflow_same(rng):
    # Stride 2 on an even input: TF pads 0 on top/left and 1 on bottom/right for k=3.
    x, w, _ = make_inputs(rng, 1, 3, 1, 8, 8, 3, 3)
    y = opzoo.depthwise_conv2d(x, w, stride=2, padding="same")
    assert y.shape == (1, 3, 4, 4)
    assert_close(y, ref.depthwise_conv2d(x, w, stride=2, padding=(0, 1, 0, 1)))
    y = opzoo.depthwise_conv2d(x, w, stride=1, padding="same")
    assert_close(y, ref.depthwise_conv2d(x, w, padding=1))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_deterministic_across_runs_threads_and_callers(rng, layout):
    x, w, b = make_inputs(rng, 4, 48, 1, 40, 40, 5, 5, layout)
    g = rng.standard_normal(opzoo.depthwise_conv2d(x, w, b, padding=2, layout=layout).shape).astype(np.float32)

    def run():
        y = opzoo.depthwise_conv2d(x, w, b, stride=1, padding=2, layout=layout, activation="silu")
        return (y,) + tuple(opzoo.depthwise_conv2d_backward(g, x, w, b, padding=2, layout=layout))

    before = opzoo.get_num_threads()
    try:
        opzoo.set_num_threads(1)
        single = run()
        opzoo.set_num_threads(3)
        multi = run()
    finally:
        opzoo.set_num_threads(before)
    results = [None] * 8

    def worker(i):
        results[i] = run()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in [multi, run()] + results:
        for a, e in zip(got, single):
            np.testing.assert_array_equal(a, e)


@pytest.mark.parametrize("stride, k", [(1, 3), (2, 3), (2, 5)])
def test_vendor_tunings_agree_bitwise(simd_level, rng, stride, k):
    # Tuned for Intel these layers read the input in place, tuned for AMD they copy it:
    # the same taps in the same order either way.
    x, w, b = make_inputs(rng, 2, 40, 1, 9, 60, k, k, "NHWC")
    x[0, 3, 5] = np.inf
    got = {}
    for vendor in ("intel", "amd"):
        with tuned_for(vendor):
            got[vendor] = opzoo.depthwise_conv2d(x, w, b, stride=stride, padding=k // 2, layout="NHWC")
    np.testing.assert_array_equal(got["intel"], got["amd"])


def test_simd_variants_agree_bitwise_where_they_both_fuse(rng):
    levels = [lv for lv in ("avx2", "avx512") if lv in simd_levels()]
    if len(levels) < 2:
        pytest.skip("needs both the AVX2 and AVX-512 variants (this CPU lacks one)")
    before = _cpu.simd_level()
    results = []
    try:
        for level in levels:
            _cpu.set_simd_level(level)
            outs = []
            for layout in ("NCHW", "NHWC"):
                x, w, b = make_inputs(np.random.default_rng(7), 2, 35, 1, 23, 41, 5, 5, layout)
                y = opzoo.depthwise_conv2d(x, w, b, stride=2, padding="same", layout=layout, activation="silu")
                gx, _, _ = opzoo.depthwise_conv2d_backward(np.ones_like(y), x, w, b, stride=2, padding="same", layout=layout)
                outs += [y, gx]
            results.append(outs)
    finally:
        _cpu.set_simd_level(before)
    for a, e in zip(*results):
        np.testing.assert_array_equal(a, e)


# --------------------------------------------------------------------------- bad input
# The table of bad arguments is the test-kit entry's (tests/kit/depthwise.py), run by
# tests/contract; here, what that table does not cover.
def test_out_must_not_alias_inputs(rng):
    x, w, _ = make_inputs(rng, 1, 4, 1, 8, 8, 1, 1)
    with pytest.raises(ValueError, match="share memory"):
        opzoo.depthwise_conv2d(x, w, out=x)
    y = np.ones_like(x)
    with pytest.raises(ValueError, match="out: must not share memory with weight"):
        opzoo.depthwise_conv2d(x, y.reshape(4, 1, 8, 8)[:, :, :1, :1], out=y)
    ro = np.empty_like(x)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        opzoo.depthwise_conv2d(x, w, out=ro)


def test_binding_checks_shapes_itself(rng):
    """The C++ binding refuses inconsistent arguments even when Python's checks are bypassed."""
    x, w, _ = make_inputs(rng, 1, 4, 1, 8, 8, 3, 3)
    args = dict(stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1), layout="NCHW", activation=None)
    ok = np.empty((1, 4, 8, 8), np.float32)
    _cpu.depthwise_forward(x, w, None, ok, **args)
    cases = [
        ((x, w, None, np.empty((1, 4, 8, 9), np.float32)), args, r"out: expected shape"),
        ((x, w, np.ones(3, np.float32), ok), args, r"bias: expected shape"),
        ((x, w[:3], None, ok), args, r"multiple of the 4 input channels"),
        ((x[:, :, ::2], w, None, ok), args, r"C-contiguous"),
        ((x, w, None, ok), dict(args, padding=(1, 1, -1, 1)), r"padding must be >= 0"),
        ((x, w, None, ok), dict(args, stride=(0, 1)), r"stride must be >= 1"),
        ((x, w, None, ok), dict(args, activation="gelu"), r"activation must be one of"),
        ((x, w, None, ok), dict(args, padding="full"), r"padding: expected"),
        ((x, w, None, ok), dict(args, layout="NHCW"), r"layout must be"),
        ((x, w, None, x), args, r"share memory"),
        ((x, w, None, ok), dict(args, dilation=(9, 1)), r"spans more than the padded input"),
    ]
    for positional, kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            _cpu.depthwise_forward(*positional, **kwargs)
    with pytest.raises(TypeError, match="float32"):
        _cpu.depthwise_forward(x, w.astype(np.float64), None, ok, **args)
    with pytest.raises(TypeError):  # arrays only: a list would be converted into a temporary
        _cpu.depthwise_forward(x, w, None, ok.tolist(), **args)
    assert _cpu.depthwise_output_shape(x.shape, w.shape, stride=(2, 1), padding="same", dilation=(1, 1),
                                       layout="NCHW") == (1, 4, 4, 8)
    grad = np.empty((1, 4, 8, 8), np.float32)
    bargs = {k: v for k, v in args.items() if k != "activation"}
    gw, gb = np.empty_like(w), np.empty(4, np.float32)
    _cpu.depthwise_backward(ok, x, w, grad, gw, gb, **bargs)
    backward_cases = [
        ((np.empty((1, 4, 7, 8), np.float32), x, w, grad, None, None), r"grad_out: expected shape"),
        ((ok, x, w, np.empty((1, 4, 8, 7), np.float32), None, None), r"grad_x: expected shape"),
        ((ok, x, w, None, np.empty((4, 1, 3, 2), np.float32), None), r"grad_weight: expected shape"),
        ((ok, x, w, None, gw, np.empty(5, np.float32)), r"grad_bias: expected shape"),
        ((ok, x, w, None, None, gb), r"grad_bias: given without grad_weight"),
        ((ok, x, w, x, None, None), r"grad_x: must not share memory with x"),
        ((ok, x, w, grad, grad.reshape(-1)[:36].reshape(4, 1, 3, 3), None), r"grad_weight: must not share memory"),
    ]
    for positional, match in backward_cases:
        with pytest.raises(ValueError, match=match):
            _cpu.depthwise_backward(*positional, **bargs)


def test_mixed_array_types_raise(rng):
    torch = pytest.importorskip("torch", reason="torch is the second array type")
    x, w, b = make_inputs(rng, 1, 4, 1, 8, 8, 3, 3)
    with pytest.raises(TypeError, match="all arrays must be of one type"):
        opzoo.depthwise_conv2d(torch.from_numpy(x), w, b)
    with pytest.raises(TypeError, match="all arrays must be of one type"):
        opzoo.depthwise_conv2d(x, w, torch.from_numpy(b))


# --------------------------------------------------------------------------- PyTorch peer
torch_cases = [
    # (N, C, M, H, W, k, stride, padding, dilation)
    (2, 8, 1, 17, 23, 3, 1, 1, 1),
    (2, 8, 1, 17, 23, 3, 2, 1, 1),
    (1, 6, 1, 30, 30, 5, 2, 2, 1),
    (3, 5, 3, 12, 19, 3, (2, 1), (0, 2), (1, 2)),
    (2, 16, 1, 11, 11, 7, 1, 3, 2),
    (1, 3, 2, 9, 14, 4, 3, 0, 1),
]


@pytest.mark.parametrize("case", torch_cases)
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_torch_forward_and_autograd(rng, case, channels_last, dtype):
    torch = pytest.importorskip("torch", reason="PyTorch is the peer for depthwise conv2d")
    import torch.nn.functional as F

    N, C, M, H, W, k, stride, padding, dilation = case
    x, w, b = make_inputs(rng, N, C, M, H, W, k, k, dtype=np.dtype(dtype))
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    xin = xt.detach().contiguous(memory_format=torch.channels_last) if channels_last else xt.detach()
    yt = F.conv2d(xt, wt, bt, stride, padding, dilation, groups=C)
    y = opzoo.depthwise_conv2d(xin, torch.from_numpy(w), torch.from_numpy(b), stride, padding, dilation)
    assert isinstance(y, torch.Tensor) and y.dtype == yt.dtype
    assert y.is_contiguous(memory_format=torch.channels_last) == channels_last
    rtol = 1e-5 if dtype == "float32" else 1e-12
    assert_close(y.numpy(), yt.detach().numpy(), rtol)

    g = torch.tensor(rng.standard_normal(tuple(yt.shape)).astype(dtype))
    yt.backward(g)
    gx, gw, gb = opzoo.depthwise_conv2d_backward(g, xin, torch.from_numpy(w), torch.from_numpy(b), stride, padding, dilation)
    assert all(isinstance(t, torch.Tensor) for t in (gx, gw, gb))
    assert_close(gx.numpy(), xt.grad.numpy(), rtol, "grad_x")
    assert_close(gw.numpy(), wt.grad.numpy(), rtol * 20, "grad_weight")
    assert_close(gb.numpy(), bt.grad.numpy(), rtol * 20, "grad_bias")


@pytest.mark.parametrize("activation", ACTIVATIONS[1:])
def test_matches_torch_with_activation(rng, activation):
    torch = pytest.importorskip("torch", reason="PyTorch is the peer for depthwise conv2d")
    import torch.nn.functional as F

    acts = {"relu": F.relu, "relu6": F.relu6, "silu": F.silu, "hardswish": F.hardswish, "sigmoid": torch.sigmoid}
    x, w, b = make_inputs(rng, 2, 6, 1, 15, 15, 3, 3, dtype=np.float64)
    x *= 3
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = acts[activation](F.conv2d(xt, wt, bt, 2, 1, 1, groups=6))
    y = opzoo.depthwise_conv2d(x, w, b, 2, 1, activation=activation)
    assert_close(y, yt.detach().numpy(), 1e-12)
    g = rng.standard_normal(y.shape)
    yt.backward(torch.tensor(g))
    grads = opzoo.depthwise_conv2d_backward(g, x, w, b, 2, 1, activation=activation)
    for got, t in zip(grads, (xt, wt, bt)):
        assert_close(got, t.grad.numpy(), 1e-12)


def test_torch_out_and_requires_grad(rng):
    torch = pytest.importorskip("torch", reason="PyTorch tensors as out= and with requires_grad")
    x, w, b = make_inputs(rng, 1, 4, 1, 6, 6, 3, 3)
    out = torch.empty(1, 4, 6, 6)
    xt = torch.tensor(x, requires_grad=True)
    res = opzoo.depthwise_conv2d(xt, torch.from_numpy(w), torch.from_numpy(b), padding=1, out=out)
    assert res is out
    assert_close(out.numpy(), ref.depthwise_conv2d(x, w, b, padding=1))
    assert not res.requires_grad


def test_torch_negative_bit_is_resolved_or_refused(rng):
    torch = pytest.importorskip("torch", reason="tensors with the negative bit set")
    x, w, b = make_inputs(rng, 1, 4, 1, 6, 6, 3, 3)
    xt = torch.complex(torch.zeros(x.shape), torch.from_numpy(-x)).conj().imag  # reads as x
    assert xt.is_neg()
    y = opzoo.depthwise_conv2d(xt, torch.from_numpy(w), torch.from_numpy(b), padding=1)
    assert_close(y.numpy(), ref.depthwise_conv2d(x, w, b, padding=1))
    out = torch.complex(torch.zeros(1, 4, 6, 6), torch.zeros(1, 4, 6, 6)).conj().imag
    with pytest.raises(ValueError, match="out: a tensor with the negative or conjugate bit set"):
        opzoo.depthwise_conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1, out=out)


def test_gpu_arrays_are_refused_clearly():
    class FakeCudaArray:
        __cuda_array_interface__ = {"shape": (1,), "typestr": "<f4", "data": (0, False), "version": 3}

    w = np.ones((1, 1, 1, 1), np.float32)
    if _device._cuda is None:
        with pytest.raises(RuntimeError, match="no CUDA module"):
            opzoo.depthwise_conv2d(FakeCudaArray(), w)
    else:
        with pytest.raises(TypeError, match="cannot allocate results"):
            opzoo.depthwise_conv2d(FakeCudaArray(), w)


def test_arrays_on_other_devices_are_refused_clearly():
    class RocmArray:  # a DLPack producer on a device opzoo has no kernels for (kDLROCM)
        def __dlpack__(self, stream=None):
            raise AssertionError("must not be read")

        def __dlpack_device__(self):
            return (10, 0)

    with pytest.raises(RuntimeError, match="x: .*RocmArray lives on a device opzoo has no kernels for"):
        opzoo.depthwise_conv2d(RocmArray(), np.ones((1, 1, 1, 1), np.float32))
    torch = pytest.importorskip("torch", reason="a torch tensor on the meta device")
    with pytest.raises(RuntimeError, match="weight: torch.Tensor lives on a device"):
        opzoo.depthwise_conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 1, 1, device="meta"))


def _issue_8_integer_calls():
    """The calls of issue 8's sweep that crashed, hung, corrupted the heap, allocated
    gigabytes or returned wrong numbers: (backward?, arrays, params)."""
    rng = np.random.default_rng(0)
    ones = lambda *shape: np.ones(shape, np.float32)  # noqa: E731
    x, w = rng.standard_normal((1, 1, 3, 3)).astype(np.float32), rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    calls = [
        (False, {"x": x, "weight": w}, {"stride": (1, 2**59)}),
        (True, {"grad_out": ones(1, 2, 1, 1), "x": x, "weight": w}, {"stride": (1, 2**59)}),
        (False, {"x": ones(1, 1, 3, 3), "weight": ones(1, 1, 3, 3)}, {"stride": (1, 2**60)}),
        (False, {"x": ones(1, 3, 3, 8), "weight": ones(8, 1, 3, 3)}, {"stride": (1, 2**60), "layout": "NHWC"}),
        (False, {"x": np.ones((1, 1, 3, 3)), "weight": np.ones((1, 1, 3, 3))}, {"stride": (1, 2**63 - 1)}),
        (True, {"grad_out": np.ones((1, 1, 1, 1)), "x": np.ones((1, 1, 3, 3)), "weight": np.ones((1, 1, 3, 3))},
         {"stride": (1, 2**63 - 1)}),
        (False, {"x": rng.standard_normal((1, 2, 5, 8)).astype(np.float32),
                 "weight": rng.standard_normal((16, 1, 1, 2)).astype(np.float32)},
         {"padding": (0, 0, 2**59, 2**59), "dilation": (1, 2**60), "layout": "NHWC"}),
        (False, {"x": rng.standard_normal((1, 8, 2, 5)).astype(np.float32),
                 "weight": rng.standard_normal((8, 1, 1, 2)).astype(np.float32)},
         {"padding": (0, 0, 2**60, 2**60), "dilation": (1, 2**61)}),
        (False, {"x": ones(1, 8, 4, 4), "weight": ones(16, 1, 3, 3)}, {"stride": 2**61, "padding": 2**60}),
        (False, {"x": ones(1, 8, 3, 3), "weight": ones(8, 1, 3, 3)}, {"stride": (1, 2**24)}),
        (False, {"x": ones(1, 1, 3, 3), "weight": ones(1, 1, 3, 3)}, {"padding": 2**40}),  # an output of 2**82 pixels
    ]
    return calls


@pytest.mark.parametrize("case", range(len(_issue_8_integer_calls())))
def test_issue_8_integer_calls(case, simd_level, isolated):
    from kit.depthwise import ENTRIES
    from kit.isolated import check_isolated

    backward, arrays, params = _issue_8_integer_calls()[case]
    check_isolated(ENTRIES[int(backward)], isolated, simd_level, arrays, params)


def test_spread_out_geometry_matches_the_reference(simd_level, rng):
    """Padding and dilation far beyond the input run the direct kernels: same answers."""
    for layout in ("NCHW", "NHWC"):
        for padding, dilation in [((300, 2, 0, 500), 1), ((1, 1, 50, 50), (1, 90)), ((0, 0, 2**40, 2**40), (1, 2**41))]:
            x, w, b = make_inputs(rng, 2, 5, 2, 4, 6, 3, 2, layout)
            check_against_reference(x, w, b, rng, padding=padding, dilation=dilation, layout=layout, activation="silu")
