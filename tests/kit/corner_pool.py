"""Corner/center pooling's test-kit entries: random maps in either layout (ties on
demand), the NumPy reference, torch.cummax on flipped tensors (mmcv's CornerPool) as the
peer, and what a user can get wrong."""

from __future__ import annotations

import numpy as np

import opzoo
from opzoo import reference

from . import BadInput, KitEntry, changed, param
from .torch_arrays import as_tensor, leaf, torch_op_table, torch_or_none, torch_or_skip

DIRECTIONS = ("top", "bottom", "left", "right")
CORNERS = {"top_left": ("top", "left"), "bottom_right": ("bottom", "right")}


def make_maps(rng, N, C, H, W, layout="NCHW", levels=0, dtype=np.float32):
    """a, b and a gradient in `layout`; with levels > 0, a and b rounded to 1/levels (ties)."""
    shape = (N, C, H, W) if layout == "NCHW" else (N, H, W, C)
    a, b, g = (rng.standard_normal(shape) for _ in range(3))
    if levels:
        a, b = np.round(a * levels) / levels, np.round(b * levels) / levels
    return a.astype(dtype), b.astype(dtype), g.astype(dtype)


def torch_pool(torch, t, direction, layout="NCHW"):
    """mmcv's CornerPool: the running maximum by torch.cummax, on flipped tensors for top and left."""
    axis = (2 if layout == "NCHW" else 1) + (direction in ("left", "right"))
    if direction in ("top", "left"):
        return torch.cummax(t.flip(axis), axis)[0].flip(axis)
    return torch.cummax(t, axis)[0]


def _random_call(rng):
    layout = str(rng.choice(["NCHW", "NHWC"]))
    dims = [int(rng.integers(1, 3)), int(rng.integers(1, 20)), int(rng.integers(1, 20)), int(rng.integers(1, 20))]
    a, b, g = make_maps(rng, *dims, layout, int(rng.choice([0, 2])))
    return {"a": a, "b": b, "grad_out": g}, layout


def _calls(names, extra):
    def make(rng):
        arrays, layout = _random_call(rng)
        if names[-1] == "x":
            arrays["x"] = arrays["a"]
        return {n: arrays[n] for n in names}, {**extra(rng), "layout": layout}
    return make


def _direction(rng):
    return {"direction": DIRECTIONS[int(rng.integers(4))]}


def _corner(rng):
    return {"corner": list(CORNERS)[int(rng.integers(2))]}


def _none(rng):
    return {}


def _peers():
    """The torch formulations, as functions of the entries' calls, or None without torch."""
    torch = torch_or_none()
    if torch is None:
        return None

    def pool(x, direction, layout="NCHW"):
        return torch_pool(torch, torch.tensor(x), direction, layout).numpy()

    def pair(a, b, corner="top_left", layout="NCHW"):
        v, h = CORNERS[corner]
        return (torch_pool(torch, torch.tensor(a), v, layout) + torch_pool(torch, torch.tensor(b), h, layout)).numpy()

    def center_of(ta, tb, layout):
        return (torch_pool(torch, torch_pool(torch, ta, "top", layout), "bottom", layout)
                + torch_pool(torch, torch_pool(torch, tb, "left", layout), "right", layout))

    def center(a, b, layout="NCHW"):
        return center_of(torch.tensor(a), torch.tensor(b), layout).numpy()

    def grads(f, grad_out, *arrays):
        leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
        f(*leaves).backward(torch.tensor(grad_out))
        return tuple(t.grad.numpy() for t in leaves)

    def pool_backward(grad_out, x, direction, layout="NCHW"):
        return grads(lambda t: torch_pool(torch, t, direction, layout), grad_out, x)[0]

    def pair_backward(grad_out, a, b, corner="top_left", layout="NCHW"):
        v, h = CORNERS[corner]
        return grads(lambda ta, tb: torch_pool(torch, ta, v, layout) + torch_pool(torch, tb, h, layout), grad_out, a, b)

    def center_backward(grad_out, a, b, layout="NCHW"):
        return grads(lambda ta, tb: center_of(ta, tb, layout), grad_out, a, b)

    return {"pool": pool, "pair": pair, "center": center, "pool_backward": pool_backward,
            "pair_backward": pair_backward, "center_backward": center_backward}


def _peer(name):
    return lambda: (lambda peers: None if peers is None else peers[name])(_peers())


def _valid(names, extra):
    def make(rng):
        a, b, g = make_maps(rng, 2, 3, 5, 6)
        arrays = {"grad_out": g, "x": a, "a": a, "b": b}
        return {n: arrays[n] for n in names}, dict(extra)
    return make


def _zero_size(names, extra):
    def make(rng):
        calls = []
        for shape in [(0, 3, 4, 4), (2, 0, 4, 4), (2, 3, 0, 4), (2, 3, 4, 0)]:
            for layout in ("NCHW", "NHWC"):
                dims = shape if layout == "NCHW" else (shape[0], shape[2], shape[3], shape[1])
                arrays = {n: rng.standard_normal(dims).astype(np.float32) for n in ("grad_out", "x", "a", "b")}
                calls.append(({n: arrays[n] for n in names}, {**extra, "layout": layout}))
        return calls
    return make


def _bad_common(first, others):
    """Changes to the valid call, (2, 3, 5, 6) arrays: rank, dtype, shapes, layout."""
    table = [
        BadInput(f"{first} 3-D", changed(first, lambda a: a[first][0]), ValueError,
                 rf"{first}: expected 4 dimensions \(N, C, H, W\)"),
        BadInput(f"{first} int32", changed(first, lambda a: a[first].astype(np.int32)), TypeError,
                 rf"{first}: expected dtype float32 or float64, got int32"),
        BadInput("layout 'HWC'", param(layout="HWC"), ValueError, r"layout must be 'NCHW' or 'NHWC'"),
        BadInput(f"{first} a list", changed(first, lambda a: a[first].tolist()), TypeError, rf"{first}: expected an array"),
    ]
    for name in others:
        table += [
            BadInput(f"{name} shape", changed(name, lambda a, n=name: a[n][:, :, 1:]), ValueError,
                     rf"{name}: expected shape \(2, 3, 5, 6\)"),
            BadInput(f"{name} float64", changed(name, lambda a, n=name: a[n].astype(np.float64)), TypeError,
                     rf"{name}: expected dtype float32"),
        ]
    return table


_BAD_DIRECTION = [
    BadInput("direction 'up'", param(direction="up"), ValueError, r"direction must be 'top', 'bottom', 'left' or 'right'"),
    BadInput("direction None", param(direction=None), TypeError, r"direction: expected a name, got NoneType"),
]
_BAD_CORNER = [
    BadInput("corner 'top_right'", param(corner="top_right"), ValueError, r"corner must be 'top_left' or 'bottom_right'"),
    BadInput("corner 1", param(corner=1), TypeError, r"corner: expected a name, got int"),
]
_BAD_OUT = [
    BadInput("out shape", param(out=np.empty((2, 3, 5, 5), np.float32)), ValueError, r"out: expected shape"),
    BadInput("out float64", param(out=np.empty((2, 3, 5, 6), np.float64)), TypeError, r"out: expected dtype"),
]


def _out_over(name):
    def change(arrays, params):
        return arrays, {**params, "out": arrays[name]}
    return BadInput(f"out is {name}", change, ValueError, rf"out: must not share memory with {name}")


_GRADIENT_TOLERANCE = 1e-5  # sums of grad_out along a line


def _torch_op(name, names):
    """opzoo.torch's `name` as a function of an entry's call: NHWC arrays as channels_last
    tensors (their NCHW view), the result back in the call's layout; with grad_out among
    the names, the inputs' gradients from autograd."""

    def run(*, layout="NCHW", **call):
        torch = torch_or_skip()
        import opzoo.torch

        def nchw(t):
            return t.permute(0, 3, 1, 2) if layout == "NHWC" and isinstance(t, torch.Tensor) and t.dim() == 4 else t

        def in_layout(t):
            return t.permute(0, 2, 3, 1) if layout == "NHWC" else t

        grad_out = call.pop("grad_out", None)
        leaves = [as_tensor(torch, call.pop(n)) for n in names if n != "grad_out"]
        if grad_out is None:
            return in_layout(getattr(opzoo.torch, name)(*map(nchw, leaves), **call)).detach().numpy()
        leaves = [leaf(t) for t in leaves]
        y = getattr(opzoo.torch, name)(*map(nchw, leaves), **call)
        g = nchw(as_tensor(torch, grad_out))
        if g.shape != y.shape or g.dtype != y.dtype:  # autograd refuses it before any op sees it
            raise (ValueError if g.shape != y.shape else TypeError)(
                f"grad_out: expected shape {tuple(y.shape)} and dtype {y.dtype}, got {tuple(g.shape)}, {g.dtype}")
        y.backward(g)
        grads = tuple(t.grad.numpy() for t in leaves)
        return grads[0] if len(grads) == 1 else grads

    return run


def _entry(name, op, ref, peer, names, extra, params, bad, takes_out=False, rtol=1e-5, torch_op=None, torch_bad=None):
    """The functional op's entry and, given torch_op (its name in opzoo.torch), the torch op's:
    the forward's, or for a backward the autograd entry, whose bad inputs are the
    forward's (torch_bad: autograd checks grad_out against the output itself)."""
    specials = tuple(n for n in names if n != "grad_out") + (("grad_out",) if "grad_out" in names else ())
    common = dict(rtol=rtol, dtypes=(np.float32, np.float64), zero_size_calls=_zero_size(names, params),
                  special_arrays=specials)
    entries = [KitEntry(name, op, _calls(names, extra), ref, _peer(peer), "torch", _valid(names, params), bad,
                        takes_out=takes_out, **common)]
    if torch_op:
        arrays = tuple(n for n in names if n != "grad_out")
        label = f"torch.{torch_op}" + (" autograd" if "grad_out" in names else "")
        entries.append(KitEntry(label, _torch_op(torch_op, names), _calls(names, extra), ref, _peer(peer), "torch",
                                _valid(names, params), torch_op_table(torch_bad or bad, refused=((arrays[-1], "a list"),)),
                                array_library="torch", argument_arrays=arrays, **common))
    return entries


_BAD_POOL = _bad_common("x", ()) + _BAD_DIRECTION + _BAD_OUT + [_out_over("x")]
_BAD_PAIR = _bad_common("a", ("b",)) + _BAD_CORNER + _BAD_OUT + [_out_over("a"), _out_over("b")]
_BAD_CENTER = _bad_common("a", ("b",)) + _BAD_OUT + [_out_over("b")]

ENTRIES = [
    *_entry("corner_pool", opzoo.corner_pool, reference.corner_pool, "pool", ("x",), _direction, {"direction": "top"},
            _BAD_POOL, takes_out=True, torch_op="corner_pool"),
    *_entry("corner_pool_backward", opzoo.corner_pool_backward, reference.corner_pool_backward, "pool_backward",
            ("grad_out", "x"), _direction, {"direction": "left"}, _bad_common("grad_out", ("x",)) + _BAD_DIRECTION,
            rtol=_GRADIENT_TOLERANCE, torch_op="corner_pool", torch_bad=_BAD_POOL),
    *_entry("corner_pool_pair", opzoo.corner_pool_pair, reference.corner_pool_pair, "pair", ("a", "b"), _corner,
            {"corner": "top_left"}, _BAD_PAIR, takes_out=True, torch_op="corner_pool_pair"),
    *_entry("corner_pool_pair_backward", opzoo.corner_pool_pair_backward, reference.corner_pool_pair_backward,
            "pair_backward", ("grad_out", "a", "b"), _corner, {"corner": "bottom_right"},
            _bad_common("grad_out", ("a", "b")) + _BAD_CORNER, rtol=_GRADIENT_TOLERANCE, torch_op="corner_pool_pair",
            torch_bad=_BAD_PAIR),
    *_entry("center_pool", opzoo.center_pool, reference.center_pool, "center", ("a", "b"), _none, {}, _BAD_CENTER,
            takes_out=True, torch_op="center_pool"),
    *_entry("center_pool_backward", opzoo.center_pool_backward, reference.center_pool_backward, "center_backward",
            ("grad_out", "a", "b"), _none, {}, _bad_common("grad_out", ("a", "b")), rtol=_GRADIENT_TOLERANCE,
            torch_op="center_pool", torch_bad=_BAD_CENTER),
]
