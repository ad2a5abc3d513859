"""opzoo.torch's squeeze-excite: the custom op (autograd, torch.compile, opcheck), its
eager path, and float32 against timm's SqueezeExcite module's autograd. The contract
suite (tests/kit/squeeze_excite.py) runs the op as well."""

import pytest

torch = pytest.importorskip("torch", reason="opzoo.torch needs torch (pip install torch)")

import opzoo.torch as ot  # noqa: E402
from opzoo.torch.squeeze_excite import _Eager  # noqa: E402

FORMATS = {"NCHW": torch.contiguous_format, "channels_last": torch.channels_last}


def _leaves(N, C, H, W, R, dtype, memory_format):
    x = torch.randn(N, C, H, W, dtype=dtype).contiguous(memory_format=memory_format)
    params = [torch.randn(R, C, dtype=dtype) / C**0.5, torch.randn(C, R, dtype=dtype) / R**0.5,
              torch.randn(R, dtype=dtype), torch.randn(C, dtype=dtype)]
    return [t.requires_grad_() for t in (x, *params)]


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
@pytest.mark.parametrize("activation", ["silu", "sigmoid", None])
def test_gradcheck_float64(memory_format, activation):
    leaves = _leaves(2, 5, 4, 3, 2, torch.float64, FORMATS[memory_format])
    assert torch.autograd.gradcheck(lambda *t: ot.squeeze_excite(*t, activation=activation), leaves)


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
def test_float32_against_timm_squeeze_excite(memory_format):
    timm_blocks = pytest.importorskip("timm.models._efficientnet_blocks", reason="compares with timm (pip install timm)")
    se = timm_blocks.SqueezeExcite(24, rd_ratio=0.25, act_layer=torch.nn.SiLU)
    x = torch.randn(3, 24, 9, 7).contiguous(memory_format=FORMATS[memory_format]).requires_grad_()
    want = se(x)
    params = [se.conv_reduce.weight, se.conv_expand.weight, se.conv_reduce.bias, se.conv_expand.bias]
    y = ot.squeeze_excite(x, params[0][:, :, 0, 0], params[1][:, :, 0, 0], params[2], params[3], activation="silu")
    assert y.stride() == want.stride()
    torch.testing.assert_close(y, want, rtol=1e-5, atol=1e-6)
    g = torch.randn_like(y)
    for a, e in zip(torch.autograd.grad(y, (x, *params), g), torch.autograd.grad(want, (x, *params), g)):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-5)
        assert a.stride() == e.stride()


def test_eager_path_and_custom_op_agree_bit_for_bit():
    leaves = _leaves(2, 6, 5, 4, 3, torch.float32, torch.channels_last)
    y1 = _Eager.apply(*leaves, "silu")
    y2 = torch.ops.opzoo.squeeze_excite(*leaves, "silu")
    assert torch.equal(y1, y2) and y1.stride() == y2.stride()
    g = torch.randn_like(y1)
    for a, e in zip(torch.autograd.grad(y1, leaves, g), torch.autograd.grad(y2, leaves, g)):
        assert torch.equal(a, e)


def test_only_the_gradients_asked_for():
    x, w_reduce, w_expand, b_reduce, b_expand = _leaves(2, 6, 5, 4, 3, torch.float32, torch.contiguous_format)
    x.requires_grad_(False)
    y = ot.squeeze_excite(x, w_reduce, w_expand, b_reduce, b_expand)
    y.sum().backward()
    assert x.grad is None and all(t.grad is not None for t in (w_reduce, w_expand, b_reduce, b_expand))


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
def test_opcheck(memory_format):
    leaves = _leaves(2, 6, 5, 4, 3, torch.float32, FORMATS[memory_format])
    torch.library.opcheck(torch.ops.opzoo.squeeze_excite.default, (*leaves, "silu"))
    torch.library.opcheck(torch.ops.opzoo.squeeze_excite.default, (*leaves[:3], None, None, "relu"))
    detached = [t.detach() for t in leaves]
    for mask in ([True, True], [True, False], [False, True]):
        torch.library.opcheck(torch.ops.opzoo.squeeze_excite_backward.default,
                              (torch.randn_like(detached[0]), *detached, "silu", mask))


def test_torch_compile_fullgraph():
    torch._dynamo.reset()
    leaves = _leaves(2, 6, 5, 4, 3, torch.float32, torch.channels_last)

    def step(x, *params):
        return ot.squeeze_excite(torch.relu(x), *params).square().sum()

    loss = torch.compile(step, fullgraph=True)(*leaves)
    got = torch.autograd.grad(loss, leaves)
    want_loss = step(*leaves)
    torch.testing.assert_close(loss, want_loss)
    for a, e in zip(got, torch.autograd.grad(want_loss, leaves)):
        torch.testing.assert_close(a, e)


def test_bad_inputs_raise_the_functional_errors():
    x, w_reduce, w_expand, _, _ = _leaves(2, 6, 5, 4, 3, torch.float32, torch.contiguous_format)
    with pytest.raises(ValueError, match=r"w_reduce: expected 2 dimensions \(R, C\)"):
        ot.squeeze_excite(x, w_reduce[:, :, None, None], w_expand)
    with pytest.raises(ValueError, match=r"w_expand: expected shape \(6, 3\)"):
        ot.squeeze_excite(x, w_reduce, w_expand.T)
    with pytest.raises(TypeError, match="w_expand: expected a torch.Tensor, got NoneType"):
        ot.squeeze_excite(x, w_reduce, None)
