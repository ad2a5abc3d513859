"""opzoo.torch's bias-activation op: the custom op (autograd, torch.compile, opcheck), its
eager path, float32 against torch's own elementwise autograd. The contract suite
(tests/kit/activation.py) runs the op as well."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="opzoo.torch needs torch (pip install torch)")
import torch.nn.functional as F  # noqa: E402

import opzoo.torch as ot  # noqa: E402
from opzoo.torch import activation as ot_activation  # noqa: E402

ACTIVATION = {None: lambda z: z, "relu": F.relu, "relu6": F.relu6, "silu": F.silu, "hardswish": F.hardswish,
              "sigmoid": torch.sigmoid}
# (shape, axis, memory format): rows, NCHW planes, channels_last.
CASES = [((7, 13), -1, torch.contiguous_format), ((2, 5, 4, 3), 1, torch.contiguous_format),
         ((2, 5, 4, 3), 1, torch.channels_last), ((3, 4, 6), 0, torch.contiguous_format)]
IDS = ["rows", "planes", "channels_last", "axis 0"]


def _leaves(rng, shape, axis, memory_format, dtype):
    def tensor(*s):
        return torch.from_numpy(rng.standard_normal(s) * 2).to(dtype)

    x = tensor(*shape)
    if len(shape) == 4:
        x = x.contiguous(memory_format=memory_format)
    return x.requires_grad_(), tensor(shape[axis]).requires_grad_(), tensor(*shape).requires_grad_()


def _torch_bias_activation(x, bias, activation, residual, axis):
    shape = [1] * x.dim()
    shape[axis] = -1
    return ACTIVATION[activation](x + bias.reshape(shape)) + residual


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("activation", [None, "silu", "sigmoid"])
def test_gradcheck_float64(case, activation, rng):
    shape, axis, memory_format = case
    x, b, r = _leaves(rng, shape, axis, memory_format, torch.float64)
    assert torch.autograd.gradcheck(lambda x, b, r: ot.bias_activation(x, b, activation, r, axis), (x, b, r))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("activation", list(ACTIVATION))
def test_float32_against_torch_autograd(case, activation, rng):
    shape, axis, memory_format = case
    x, b, r = _leaves(rng, shape, axis, memory_format, torch.float32)
    y = ot.bias_activation(x, b, activation, r, axis)
    if len(shape) == 4:
        assert y.is_contiguous(memory_format=memory_format)
    g = torch.randn_like(y)
    got = torch.autograd.grad(y, (x, b, r), g)
    leaves = [t.detach().clone().requires_grad_() for t in (x, b, r)]
    want_y = _torch_bias_activation(*leaves[:2], activation, leaves[2], axis)
    want = torch.autograd.grad(want_y, leaves, g)
    torch.testing.assert_close(y, want_y, rtol=1e-6, atol=1e-6)
    for a, e in zip(got, want):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)
        assert a.stride() == e.stride()


def test_eager_path_and_custom_op_agree_bit_for_bit(rng):
    x, b, r = _leaves(rng, (2, 5, 4, 3), 1, torch.channels_last, torch.float32)
    y1 = ot_activation._Eager.apply(x, b, r, "hardswish", 1)
    y2 = torch.ops.opzoo.bias_activation(x, b, r, "hardswish", 1)
    assert torch.equal(y1, y2) and y1.stride() == y2.stride()
    g = torch.randn_like(y1)
    for a, e in zip(torch.autograd.grad(y1, (x, b, r), g), torch.autograd.grad(y2, (x, b, r), g)):
        assert torch.equal(a, e) and a.stride() == e.stride()


def test_calls_that_want_no_gradient(rng):
    x, b, r = _leaves(rng, (7, 13), -1, torch.contiguous_format, torch.float32)
    want = ot.bias_activation(x, b, "relu", r)
    with torch.no_grad():
        y = ot.bias_activation(x, b, "relu", r)
    assert y.grad_fn is None and torch.equal(y, want.detach())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_opcheck(case, rng):
    shape, axis, memory_format = case
    x, b, r = _leaves(rng, shape, axis, memory_format, torch.float32)
    for bias, residual in ((b, r), (None, None), (b, None)):
        torch.library.opcheck(torch.ops.opzoo.bias_activation.default, (x, bias, residual, "silu", axis))
    x, b = x.detach(), b.detach()
    for mask in ([True, True], [True, False], [False, True]):
        torch.library.opcheck(torch.ops.opzoo.bias_activation_backward.default,
                              (torch.randn_like(x), x, b, "silu", axis, mask))


def test_torch_compile_fullgraph(rng):
    torch._dynamo.reset()
    x, b, r = _leaves(rng, (2, 5, 4, 3), 1, torch.channels_last, torch.float32)

    def step(x, b, r):
        return ot.bias_activation(torch.relu(x), b, "silu", r, axis=1).square().sum()

    loss = torch.compile(step, fullgraph=True)(x, b, r)
    got = torch.autograd.grad(loss, (x, b, r))
    want_loss = step(x, b, r)
    want = torch.autograd.grad(want_loss, (x, b, r))
    torch.testing.assert_close(loss, want_loss)
    for a, e in zip(got, want):
        torch.testing.assert_close(a, e)


def test_bad_inputs_raise_the_functional_errors(rng):
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match=r"bias: expected shape \(3,\)"):
        ot.bias_activation(x, torch.randn(2))
    with pytest.raises(ValueError, match=r"axis: expected an int in \[-2, 2\)"):
        ot.bias_activation(x, axis=2)
    with pytest.raises(TypeError, match="axis: expected an int, got float"):
        ot.bias_activation(x, axis=1.0)
    with pytest.raises(TypeError, match="bias: expected a torch.Tensor, got ndarray"):
        ot.bias_activation(x, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="activation must be one of"):
        ot.bias_activation(x, activation="gelu")
