"""Depthwise conv2d's test-kit entries: random inputs, the NumPy reference, PyTorch's
conv2d(groups=C) as the peer, and what a user can get wrong."""

from __future__ import annotations

import numpy as np

import opzoo
from opzoo import reference
from opzoo.reference.depthwise import output_size
from opzoo.reference.padding import pair, resolve_padding

from . import ACTIVATIONS, BadInput, KitEntry, changed, huge_ints, param
from .torch_arrays import as_tensor, leaf, torch_op_table, torch_or_none, torch_or_skip


def make_inputs(rng, N, C, M, H, W, kh, kw, layout="NCHW", dtype=np.float32, bias=True):
    """x in `layout`, weight (C*M, 1, kh, kw) scaled to keep outputs near unit size, bias."""
    shape = (N, C, H, W) if layout == "NCHW" else (N, H, W, C)
    x = rng.standard_normal(shape).astype(dtype)
    w = (rng.standard_normal((C * M, 1, kh, kw)) / np.sqrt(kh * kw)).astype(dtype)
    b = rng.standard_normal(C * M).astype(dtype) if bias else None
    return x, w, b


def _forward_call(rng, activations=ACTIVATIONS):
    C, M, k = int(rng.integers(1, 20)), int(rng.integers(1, 3)), int(rng.choice([1, 3, 5]))
    layout = str(rng.choice(["NCHW", "NHWC"]))
    x, w, b = make_inputs(rng, int(rng.integers(1, 3)), C, M, int(rng.integers(k, 30)), int(rng.integers(k, 30)), k, k,
                          layout)
    activation = activations[int(rng.integers(len(activations)))]
    params = dict(stride=int(rng.integers(1, 3)), padding=k // 2, dilation=1, layout=layout, activation=activation)
    return {"x": x, "weight": w, "bias": b}, params


def _backward_call(rng):
    # Smooth activations only: at relu's kinks the float32 and float64 sides may differ.
    arrays, params = _forward_call(rng, [None, "silu", "sigmoid"])
    y = reference.depthwise_conv2d(**arrays, **params)
    return {"grad_out": rng.standard_normal(y.shape).astype(np.float32), **arrays}, params


def _torch_forward(torch, x, weight, bias=None, stride=1, padding=0, dilation=1, activation=None):
    import torch.nn.functional as F

    y = F.conv2d(x, weight, bias, stride, padding, dilation, groups=x.shape[1])
    return y if activation is None else (torch.sigmoid if activation == "sigmoid" else getattr(F, activation))(y)


def _to_torch(torch, a, layout):
    """A NumPy array with axes in `layout` as an NCHW-shaped tensor (channels_last for NHWC)."""
    t = torch.from_numpy(a)
    return t.permute(0, 3, 1, 2) if layout == "NHWC" else t


def _from_torch(t, layout):
    return (t.permute(0, 2, 3, 1) if layout == "NHWC" else t).detach().numpy()


def _torch_peer_forward():
    torch = torch_or_none()
    if torch is None:
        return None

    def peer(x, weight, bias=None, layout="NCHW", **params):
        t = [_to_torch(torch, x, layout), torch.from_numpy(weight), None if bias is None else torch.from_numpy(bias)]
        return _from_torch(_torch_forward(torch, *t, **params), layout)

    return peer


def _torch_peer_backward():
    torch = torch_or_none()
    if torch is None:
        return None

    def peer(grad_out, x, weight, bias=None, layout="NCHW", **params):
        leaves = [None if a is None else torch.tensor(a, requires_grad=True) for a in (x, weight, bias)]
        x_nchw = leaves[0].permute(0, 3, 1, 2) if layout == "NHWC" else leaves[0]
        _torch_forward(torch, x_nchw, *leaves[1:], **params).backward(_to_torch(torch, grad_out, layout))
        return tuple(a.grad.numpy() for a in leaves if a is not None)

    return peer


# Changes to the valid call below: x (1, 4, 8, 8), weight (4, 1, 3, 3), bias (4,), padding 1.
_BAD_FORWARD = [
    BadInput("x 3-D", changed("x", lambda a: a["x"][0]), ValueError, r"x: expected 4 dimensions"),
    BadInput("weight 3-D", changed("weight", lambda a: a["weight"][:, 0]), ValueError, r"weight: expected 4 dimensions"),
    BadInput("weight not (C*M, 1, kh, kw)", changed("weight", lambda a: a["weight"].reshape(2, 2, 3, 3)),
             ValueError, r"weight: expected shape \(C\*M, 1, kh, kw\)"),
    BadInput("weight channels", lambda a, p: ({**a, "weight": a["weight"][:3], "bias": a["bias"][:3]}, p),
             ValueError, r"multiple of the 4 input channels"),
    BadInput("bias shape", changed("bias", lambda a: a["bias"][:3]), ValueError, r"bias: expected shape \(4,\)"),
    BadInput("x int64", changed("x", lambda a: a["x"].astype(np.int64)), TypeError,
             r"x: expected dtype float32 or float64, got int64"),
    BadInput("x float16", changed("x", lambda a: a["x"].astype(np.float16)), TypeError, r"float16"),
    BadInput("weight float64", changed("weight", lambda a: a["weight"].astype(np.float64)), TypeError,
             r"weight: expected dtype float32"),
    BadInput("padding -1", param(padding=-1), ValueError, r"padding must be >= 0"),
    BadInput("padding (1, -2, 0, 0)", param(padding=(1, -2, 0, 0)), ValueError, r"padding must be >= 0"),
    BadInput("padding 'full'", param(padding="full"), ValueError, r"padding: expected"),
    BadInput("padding 3 ints", param(padding=(1, 2, 3)), ValueError, r"padding: expected an int, 2 ints \(ph, pw\), 4 ints"),
    BadInput("stride 0", param(stride=0), ValueError, r"stride must be >= 1"),
    BadInput("dilation (1, 0)", param(dilation=(1, 0)), ValueError, r"dilation must be >= 1"),
    BadInput("stride 1.5", param(stride=1.5), TypeError, r"stride: expected an int"),
    BadInput("dilation too large", param(dilation=4, padding=0), ValueError, r"spans more than the padded input"),
    BadInput("input too small", lambda a, p: ({**a, "x": a["x"][:, :, :2]}, {**p, "padding": 0}), ValueError,
             r"spans more than the padded input"),
    BadInput("layout 'NWHC'", param(layout="NWHC"), ValueError, r"layout must be 'NCHW' or 'NHWC'"),
    BadInput("activation 'gelu'", param(activation="gelu"), ValueError, r"activation must be one of"),
    BadInput("activation 3", param(activation=3), TypeError, r"activation: expected None or a name"),
    BadInput("out shape", param(out=np.empty((1, 4, 6, 5), np.float32)), ValueError, r"out: expected shape"),
    BadInput("out float64", param(out=np.empty((1, 4, 8, 8), np.float64)), TypeError, r"out: expected dtype"),
    BadInput("out is x", lambda a, p: (a, {**p, "out": a["x"]}), ValueError, r"out: must not share memory with x"),
    BadInput("x a list", changed("x", lambda a: a["x"].tolist()), TypeError, r"x: expected an array"),
    BadInput("bias a memoryview", changed("bias", lambda a: memoryview(a["bias"])), None),  # buffer protocol: an array
]

_BAD_BACKWARD = [
    BadInput("grad_out shape", changed("grad_out", lambda a: a["grad_out"][:, :, 1:]), ValueError,
             r"grad_out: expected shape \(1, 4, 8, 8\)"),
    BadInput("grad_out float64", changed("grad_out", lambda a: a["grad_out"].astype(np.float64)), TypeError,
             r"grad_out: expected dtype float32"),
    BadInput("bias shape", changed("bias", lambda a: a["bias"][:3]), ValueError, r"bias: expected shape \(4,\)"),
    BadInput("activation 'tanh'", param(activation="tanh"), ValueError, r"activation must be one of"),
]


def _valid_forward(rng):
    x, w, b = make_inputs(rng, 1, 4, 1, 8, 8, 3, 3)
    return {"x": x, "weight": w, "bias": b}, {"padding": 1}


def _valid_backward(rng):
    arrays, params = _valid_forward(rng)
    return {"grad_out": rng.standard_normal((1, 4, 8, 8)).astype(np.float32), **arrays}, params


def _zero_size_forward(rng):
    """N = 0; C = 0 (and C*M = 0); H or W = 0 with padding enough for the kernel."""
    calls = []
    for N, C, H, W, padding in [(0, 3, 5, 5, 1), (2, 0, 5, 5, 1), (1, 3, 0, 6, 2), (1, 3, 6, 0, (1, 2)), (1, 2, 0, 0, 2)]:
        for layout in ("NCHW", "NHWC"):
            x, w, b = make_inputs(rng, N, C, 2, H, W, 3, 3, layout)
            calls.append(({"x": x, "weight": w, "bias": b}, {"padding": padding, "layout": layout}))
    return calls


def _zero_size_backward(rng):
    calls = []
    for arrays, params in _zero_size_forward(rng):
        y = reference.depthwise_conv2d(**arrays, **params)
        calls.append(({"grad_out": rng.standard_normal(y.shape).astype(np.float32), **arrays}, params))
    return calls


_INT64_MAX = 2**63 - 1


def _geometry(arrays, params):
    """The call's exact (Python int) output shape, or the reason its integers must be refused."""
    x, w = arrays["x"], arrays["weight"]
    layout = params.get("layout", "NCHW")
    N, C, H, W = x.shape if layout == "NCHW" else (x.shape[0], x.shape[3], x.shape[1], x.shape[2])
    kh, kw = w.shape[2:]
    stride, dilation = pair(params.get("stride", 1)), pair(params.get("dilation", 1))
    values = [*stride, *dilation]
    padding = params.get("padding", 0)
    if not isinstance(padding, str):
        values += list(padding) if np.ndim(padding) else [padding]
    if any(not -(2**63) <= v <= _INT64_MAX for v in values):
        return None, "an integer outside int64"
    if min(stride) < 1 or min(dilation) < 1 or min(values[4:], default=0) < 0:
        return None, "stride or dilation < 1, or padding < 0"
    spans = [(k - 1) * d + 1 for k, d in zip((kh, kw), dilation)]
    if max(spans) > _INT64_MAX:
        return None, "a window span past int64"
    top, bottom, left, right = resolve_padding(padding, (H, W), (kh, kw), stride, dilation)
    if H + top + bottom > _INT64_MAX or W + left + right > _INT64_MAX:
        return None, "a padded extent past int64"
    Ho = output_size(H, kh, stride[0], (top, bottom), dilation[0])
    Wo = output_size(W, kw, stride[1], (left, right), dilation[1])
    if Ho < 1 or Wo < 1:
        return None, "a kernel larger than the padded input"
    if N * w.shape[0] * Ho * Wo > _INT64_MAX // 8:
        return None, "an output of more than 2**60 elements"
    return ((N, w.shape[0], Ho, Wo) if layout == "NCHW" else (N, Ho, Wo, w.shape[0])), None


#: Outputs up to this many elements are computed and compared in the huge-integer tests;
#: larger ones may be refused for memory (the reference could not check them anyway).
_COMPARED_ELEMENTS = 1 << 20


def _int_outcome(call):
    shape, refused = _geometry(*call)
    if refused:
        return "error"
    return "ok" if np.prod(shape, dtype=object) <= _COMPARED_ELEMENTS else "large"


def _int_calls(backward):
    """Small random arrays; stride, padding (an int, 2 or 4 of them, or a name) and
    dilation from :func:`kit.huge_ints`."""
    from hypothesis import strategies as st

    ints = huge_ints()

    @st.composite
    def calls(draw):
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        layout = draw(st.sampled_from(["NCHW", "NHWC"]))
        kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        x, w, b = make_inputs(rng, draw(st.integers(1, 2)), draw(st.integers(1, 9)), draw(st.integers(1, 2)),
                              draw(st.integers(1, 5)), draw(st.integers(1, 9)), kh, kw, layout)
        padding = draw(st.one_of(ints, st.tuples(ints, ints), st.tuples(ints, ints, ints, ints),
                                 st.sampled_from(["same", "valid"])))
        params = dict(stride=draw(st.one_of(ints, st.tuples(ints, ints))), padding=padding,
                      dilation=draw(st.one_of(ints, st.tuples(ints, ints))), layout=layout)
        arrays = {"x": x, "weight": w, "bias": b}
        if backward:
            shape, refused = _geometry(arrays, params)
            small = not refused and np.prod(shape, dtype=object) <= _COMPARED_ELEMENTS
            g = rng.standard_normal(shape if small else (1, 1, 1, 1)).astype(np.float32)
            arrays = {"grad_out": g, **arrays}
        return arrays, params

    return calls()


def _torch_places_specials(call, name):
    """NaN and infinities meet the zero padding in products (inf * 0 = NaN) on torch's
    generic convolution paths (M > 1, NCHW weight gradients of kernels other than 3x3;
    measured with torch 2.13), not on its specialised depthwise kernels; opzoo and the
    reference never multiply padding. So torch agrees on specials in x and bias, which
    only ever meet finite weights, but not on specials in weight or grad_out, nor in a
    backward through an activation, whose derivative turns x's infinities into NaN
    gradients (torch's silu'(inf) is NaN, as the reference's)."""
    arrays, params = call
    return name == "bias" or (name == "x" and ("grad_out" not in arrays or params.get("activation") is None))


# opzoo.torch's op, forward and through autograd, on the same calls. The entries turn
# NumPy arrays into tensors as a torch user holds them: sharing memory and strides
# (negative strides and other byte orders, which torch lacks, through a copy) and an NHWC
# array as the channels_last NCHW tensor it is; anything else reaches the op unchanged.


def _nchw(torch, t, layout):
    """An NHWC tensor as the NCHW-shaped channels_last view it is (anything else as it is)."""
    return t.permute(0, 3, 1, 2) if layout == "NHWC" and isinstance(t, torch.Tensor) and t.dim() == 4 else t


def _nchw_tensor(torch, a, layout):
    return _nchw(torch, as_tensor(torch, a), layout)


def _torch_op_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, layout="NCHW", activation=None):
    torch = torch_or_skip()
    import opzoo.torch

    y = opzoo.torch.depthwise_conv2d(_nchw_tensor(torch, x, layout), as_tensor(torch, weight),
                                     as_tensor(torch, bias), stride, padding, dilation, activation)
    return _from_torch(y, layout)


def _torch_op_backward(grad_out, x, weight, bias=None, stride=1, padding=0, dilation=1, layout="NCHW",
                       activation=None):
    """grad_x, grad_weight and grad_bias from autograd; without a bias, a zero bias collects grad_bias."""
    torch = torch_or_skip()
    import opzoo.torch

    xt, wt = leaf(as_tensor(torch, x)), leaf(as_tensor(torch, weight))
    if bias is None and isinstance(wt, torch.Tensor) and wt.dim() == 4:
        bt = torch.zeros(wt.shape[0], dtype=wt.dtype, requires_grad=wt.is_floating_point())
    else:
        bt = leaf(as_tensor(torch, bias))
    y = opzoo.torch.depthwise_conv2d(_nchw(torch, xt, layout), wt, bt, stride, padding, dilation, activation)
    g = _nchw_tensor(torch, grad_out, layout)
    if g.shape != y.shape:  # autograd refuses it (RuntimeError) before any op sees it
        raise ValueError(f"grad_out: expected shape {tuple(y.shape)}, got {tuple(g.shape)}")
    y.backward(g)
    return tuple(t.grad.numpy() for t in (xt, wt, bt))


# The functional API takes a memoryview as an array (the buffer protocol); the torch op
# takes tensors only.
_REFUSED_BY_TORCH = (("x", "a list"), ("bias", "a memoryview"))

ENTRIES = [
    KitEntry("depthwise_conv2d", opzoo.depthwise_conv2d, _forward_call, reference.depthwise_conv2d,
             _torch_peer_forward, "torch", _valid_forward, _BAD_FORWARD,
             dtypes=(np.float32, np.float64), optional=("bias",), takes_out=True,
             zero_size_calls=_zero_size_forward, special_arrays=("x", "weight", "bias"),
             peer_places_specials=_torch_places_specials,
             int_calls=lambda: _int_calls(False), int_outcome=_int_outcome),
    KitEntry("depthwise_conv2d_backward", opzoo.depthwise_conv2d_backward, _backward_call,
             reference.depthwise_conv2d_backward, _torch_peer_backward, "torch", _valid_backward, _BAD_BACKWARD,
             rtol=(1e-5, 1e-4, 1e-4), dtypes=(np.float32, np.float64), optional=("bias",),
             zero_size_calls=_zero_size_backward, special_arrays=("grad_out", "x", "weight"),
             peer_places_specials=_torch_places_specials,
             int_calls=lambda: _int_calls(True), int_outcome=_int_outcome),
    # No int_calls: the torch op normalises its integers with the functional API's code,
    # whose entries above run those calls; a child process with torch imported would not
    # fit the huge-integer tests' address-space cap.
    KitEntry("torch.depthwise_conv2d", _torch_op_forward, _forward_call, reference.depthwise_conv2d,
             _torch_peer_forward, "torch", _valid_forward, torch_op_table(_BAD_FORWARD, _REFUSED_BY_TORCH),
             dtypes=(np.float32, np.float64), optional=("bias",), zero_size_calls=_zero_size_forward,
             special_arrays=("x", "weight", "bias"), peer_places_specials=_torch_places_specials,
             array_library="torch"),
    KitEntry("torch.depthwise_conv2d autograd", _torch_op_backward, _backward_call,
             reference.depthwise_conv2d_backward, _torch_peer_backward, "torch", _valid_backward,
             torch_op_table(_BAD_BACKWARD, _REFUSED_BY_TORCH), rtol=(1e-5, 1e-4, 1e-4), dtypes=(np.float32, np.float64),
             optional=("bias",), zero_size_calls=_zero_size_backward, special_arrays=("grad_out", "x", "weight"),
             peer_places_specials=_torch_places_specials, array_library="torch",
             argument_arrays=("x", "weight", "bias")),
]
