"""opzoo.torch's depthwise conv2d: the custom op (autograd, torch.compile, opcheck), its
eager path, the DepthwiseConv2d module against nn.Conv2d, and convert() on timm and
torchvision models. The contract suite (tests/kit/depthwise.py) runs the op as well."""

import logging

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="opzoo.torch needs torch (pip install torch)")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import opzoo.torch as ot  # noqa: E402
from opzoo import _cpu  # noqa: E402
from opzoo._args import int_tuple  # noqa: E402
from opzoo.torch import depthwise as ot_depthwise  # noqa: E402

ACTIVATION = {"relu": F.relu, "relu6": F.relu6, "silu": F.silu, "hardswish": F.hardswish, "sigmoid": torch.sigmoid}
FORMATS = {"NCHW": torch.contiguous_format, "channels_last": torch.channels_last}


def _torch_conv(x, w, b, stride, padding, dilation, activation):
    """torch's conv2d with opzoo's padding forms (TF SAME and (top, bottom, left, right) by F.pad)."""
    if padding == "same":
        pads = []
        for size, k, s, d in zip(x.shape[2:], w.shape[2:], stride, dilation):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        x, padding = F.pad(x, (*pads[1], *pads[0])), 0
    elif isinstance(padding, tuple) and len(padding) == 4:
        top, bottom, left, right = padding
        x, padding = F.pad(x, (left, right, top, bottom)), 0
    y = F.conv2d(x, w, b, stride, padding, dilation, groups=x.shape[1])
    return y if activation is None else ACTIVATION[activation](y)


def _leaves(rng, N, C, M, H, W, k, dtype, memory_format, bias=True):
    x = torch.from_numpy(rng.standard_normal((N, C, H, W))).to(dtype).contiguous(memory_format=memory_format)
    w = torch.from_numpy(rng.standard_normal((C * M, 1, k, k)) / k).to(dtype)
    b = torch.from_numpy(rng.standard_normal(C * M)).to(dtype) if bias else None
    return [None if t is None else t.requires_grad_() for t in (x, w, b)]


CONFIGS = [  # (C, M, H, W, k, stride, padding, dilation, activation)
    (3, 1, 9, 11, 3, 1, 1, 1, None),
    (4, 2, 10, 7, 3, 2, "same", 1, "silu"),
    (5, 1, 12, 12, 5, (2, 1), (1, 2, 0, 3), 1, "sigmoid"),
    (6, 1, 11, 13, 3, 1, "same", 2, None),
    (2, 3, 8, 9, 3, 1, (1, 2), (2, 1), "silu"),
    (17, 1, 7, 7, 5, 2, 2, 1, None),
]


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
@pytest.mark.parametrize("config", CONFIGS)
def test_gradcheck_float64(config, memory_format, rng):
    C, M, H, W, k, stride, padding, dilation, activation = config
    x, w, b = _leaves(rng, 2, C, M, H, W, k, torch.float64, FORMATS[memory_format])
    op = lambda x, w, b: ot.depthwise_conv2d(x, w, b, stride, padding, dilation, activation)  # noqa: E731
    assert torch.autograd.gradcheck(op, (x, w, b))


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
def test_float32_against_torch_autograd(config, memory_format, bias, rng):
    C, M, H, W, k, stride, padding, dilation, activation = config
    ours = _leaves(rng, 3, C, M, H, W, k, torch.float32, FORMATS[memory_format], bias)
    theirs = [None if t is None else t.detach().clone().requires_grad_() for t in ours]
    y = ot.depthwise_conv2d(*ours, stride, padding, dilation, activation)
    want = _torch_conv(*theirs, int_tuple(stride, "stride", 2), padding, int_tuple(dilation, "dilation", 2), activation)
    assert y.shape == want.shape
    assert y.is_contiguous(memory_format=FORMATS[memory_format])
    torch.testing.assert_close(y, want, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(want)
    y.backward(g)
    want.backward(g)
    for a, e in zip(ours, theirs):
        if a is not None:
            torch.testing.assert_close(a.grad, e.grad, rtol=1e-4, atol=1e-4)
    assert ours[0].grad.is_contiguous(memory_format=FORMATS[memory_format])


def test_only_the_gradients_asked_for(rng):
    x, w, b = _leaves(rng, 2, 4, 1, 8, 8, 3, torch.float32, torch.contiguous_format)
    x.requires_grad_(False)
    ot.depthwise_conv2d(x, w, b, padding=1).sum().backward()
    assert x.grad is None and w.grad is not None and b.grad is not None
    x2 = x.detach().requires_grad_()
    w2 = w.detach()
    ot.depthwise_conv2d(x2, w2, padding=1).sum().backward()
    assert x2.grad is not None and w2.grad is None


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
def test_eager_path_and_custom_op_agree_bit_for_bit(memory_format, rng):
    """Eager calls run through an autograd.Function; the custom op is what tracing sees."""
    x, w, b = _leaves(rng, 2, 6, 1, 9, 9, 3, torch.float32, FORMATS[memory_format])
    args = ([2, 2], [1, 1, 1, 1], [1, 1], False, "silu")
    y1 = ot_depthwise._Eager.apply(x, w, b, *args)
    y2 = torch.ops.opzoo.depthwise_conv2d(x, w, b, *args)
    assert torch.equal(y1, y2) and y1.stride() == y2.stride()
    g = torch.randn_like(y1)
    grads1 = torch.autograd.grad(y1, (x, w, b), g)
    grads2 = torch.autograd.grad(y2, (x, w, b), g)
    for a, e in zip(grads1, grads2):
        assert torch.equal(a, e) and a.stride() == e.stride()


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
def test_calls_that_want_no_gradient(memory_format, rng):
    """Under no_grad, or with no input requiring grad, eager calls skip autograd: the same
    result, in the input's memory format, with no graph."""
    x, w, b = _leaves(rng, 2, 6, 1, 9, 9, 3, torch.float32, FORMATS[memory_format])
    want = ot.depthwise_conv2d(x, w, b, stride=2, padding=1, activation="silu")
    assert want.grad_fn is not None
    with torch.no_grad():
        y1 = ot.depthwise_conv2d(x, w, b, stride=2, padding=1, activation="silu")
    y2 = ot.depthwise_conv2d(x.detach(), w.detach(), b.detach(), stride=2, padding=1, activation="silu")
    for y in (y1, y2):
        assert y.grad_fn is None and not y.requires_grad
        assert torch.equal(y, want.detach()) and y.stride() == want.stride()


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
@pytest.mark.parametrize("config", [CONFIGS[1], CONFIGS[2], CONFIGS[4]])
def test_opcheck(config, memory_format, rng):
    C, M, H, W, k, stride, padding, dilation, activation = config
    x, w, b = _leaves(rng, 2, C, M, H, W, k, torch.float32, FORMATS[memory_format])
    pads, same = ot_depthwise._padding_arguments(padding)
    stride = list(int_tuple(stride, "stride", 2))
    dilation = list(int_tuple(dilation, "dilation", 2))
    for bias in (b, None):
        torch.library.opcheck(torch.ops.opzoo.depthwise_conv2d.default,
                              (x, w, bias, stride, list(pads), dilation, same, activation))
    # The backward op has no autograd formula of its own (no double backward).
    x, w, b = x.detach(), w.detach(), b.detach()
    y = torch.ops.opzoo.depthwise_conv2d(x, w, b, stride, list(pads), dilation, same, activation)
    for mask in ([True, True], [True, False], [False, True]):
        torch.library.opcheck(torch.ops.opzoo.depthwise_conv2d_backward.default,
                              (torch.randn_like(y), x, w, b, stride, list(pads), dilation, same, activation, mask))


@pytest.mark.parametrize("memory_format", FORMATS, ids=list(FORMATS))
def test_torch_compile_fullgraph(memory_format, rng):
    torch._dynamo.reset()
    conv = ot.DepthwiseConv2d(8, 3, stride=2, padding="same", activation="silu")

    def step(x):
        return conv(torch.relu(x)).square().sum()

    compiled = torch.compile(step, fullgraph=True)
    x, _, _ = _leaves(rng, 2, 8, 1, 12, 11, 3, torch.float32, FORMATS[memory_format])
    x2 = x.detach().clone().requires_grad_()
    loss = compiled(x)
    loss.backward()
    grads = (x.grad, conv.weight.grad.clone(), conv.bias.grad.clone())
    conv.zero_grad()
    want = step(x2)
    want.backward()
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-4)
    for a, e in zip(grads, (x2.grad, conv.weight.grad, conv.bias.grad)):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-4)


def test_bad_inputs_raise_the_functional_errors(rng):
    x, w, b = _leaves(rng, 1, 4, 1, 8, 8, 3, torch.float32, torch.contiguous_format)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        ot.depthwise_conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match=r"does not fit in 64 bits"):
        ot.depthwise_conv2d(x, w, padding=2**64)
    with pytest.raises(ValueError, match="multiple of the 4 input channels"):
        ot.depthwise_conv2d(x, w[:3])
    with pytest.raises(TypeError, match="x: expected dtype float32 or float64, got int64"):
        ot.depthwise_conv2d(x.detach().long(), w)
    with pytest.raises(TypeError, match="weight: expected dtype float32"):
        ot.depthwise_conv2d(x, w.detach().double())
    with pytest.raises(ValueError, match="activation must be one of"):
        ot.depthwise_conv2d(x, w, activation="gelu")
    with pytest.raises(ValueError, match="padding: expected"):
        ot.depthwise_conv2d(x, w, padding="full")
    with pytest.raises(TypeError, match="x: expected a torch.Tensor, got ndarray"):
        ot.depthwise_conv2d(x.detach().numpy(), w)


# --- the module ---------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("M", [1, 3])
def test_module_matches_nn_conv2d_and_state_dicts_load_both_ways(bias, M, rng):
    ref = nn.Conv2d(5, 5 * M, 3, stride=2, padding=1, groups=5, bias=bias)
    ours = ot.DepthwiseConv2d(5, 3, stride=2, padding=1, bias=bias, depth_multiplier=M)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [(n, p.shape) for n, p in ref.named_parameters()]
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "dilation", "groups"):
        assert getattr(ours, attr) == getattr(ref, attr), attr
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 5, 9, 10)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)
    other = ot.DepthwiseConv2d(5, 3, stride=2, padding=1, bias=bias, depth_multiplier=M)
    ref.load_state_dict(other.state_dict())
    torch.testing.assert_close(other(x), ref(x), rtol=1e-5, atol=1e-5)


def test_module_initialisation_follows_nn_conv2d():
    torch.manual_seed(0)
    ours = ot.DepthwiseConv2d(64, 5, depth_multiplier=2)
    torch.manual_seed(0)
    ref = nn.Conv2d(64, 128, 5, groups=64)
    torch.testing.assert_close(ours.weight, ref.weight)
    torch.testing.assert_close(ours.bias, ref.bias)


def test_module_same_padding_and_activation(rng):
    conv = ot.DepthwiseConv2d(6, 5, stride=2, padding="same", activation="hardswish")
    x = torch.randn(1, 6, 15, 16)
    want = _torch_conv(x, conv.weight, conv.bias, (2, 2), "same", (1, 1), "hardswish")
    torch.testing.assert_close(conv(x), want, rtol=1e-5, atol=1e-5)
    assert conv(x).shape == (1, 6, 8, 8)
    assert "padding='same'" in repr(conv) and "activation='hardswish'" in repr(conv)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(in_channels=0, kernel_size=3), ValueError, "in_channels: expected an int >= 1"),
    (dict(in_channels=4, kernel_size=3, depth_multiplier=0), ValueError, "depth_multiplier"),
    (dict(in_channels=4, kernel_size=0), ValueError, "kernel_size"),
    (dict(in_channels=4, kernel_size=3, activation="gelu"), ValueError, "activation must be one of"),
    (dict(in_channels=4, kernel_size=3, padding="full"), ValueError, "padding: expected"),
    (dict(in_channels=4, kernel_size=3, stride=1.5), TypeError, "stride: expected"),
])
def test_module_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ot.DepthwiseConv2d(**kwargs)


# --- convert() ---------------------------------------------------------------------


def _depthwise_convs(model):
    return [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1]


def _assert_converted_equal(model, x, train=False):
    """convert(model) gives model's outputs (float32) and, with `train`, its parameter
    gradients, compared in float64: through train-mode batch norm, float32 gradients of
    two summation orders differ by more than a tolerance that would still catch a bug."""
    model.train(train)
    if train:
        model, x = model.double(), x.double()
    converted = ot.convert(model)
    assert converted is not model
    assert not _depthwise_convs(converted), "a depthwise convolution was left"
    replaced = [m for m in converted.modules() if isinstance(m, ot.DepthwiseConv2d)]
    assert replaced and len(replaced) == len(_depthwise_convs(model))
    assert list(converted.state_dict()) == list(model.state_dict())
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(1)  # the same dropout masks, where a model has dropout
    want = model(x1)
    torch.manual_seed(1)
    got = converted(x2)
    scale = want.abs().max().item() + 1
    assert (got - want).abs().max().item() <= (1e-10 if train else 1e-4) * scale
    if train:
        want.square().mean().backward()
        got.square().mean().backward()
        ref_params = dict(model.named_parameters())
        for name, p in converted.named_parameters():
            e = ref_params[name].grad
            assert (p.grad - e).abs().max().item() <= 1e-8 * (e.abs().max().item() + 1e-8), name
    return converted


@pytest.mark.parametrize("name", [f"efficientnet_b{i}" for i in range(8)])
def test_convert_timm_efficientnet(name):
    timm = pytest.importorskip("timm", reason="convert() is tested on timm's models (pip install timm)")
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, drop_rate=0.0, drop_path_rate=0.0)
    x = torch.randn(1, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    _assert_converted_equal(model.to(memory_format=torch.channels_last), x, train=name == "efficientnet_b0")


@pytest.mark.parametrize("name", ["tf_efficientnet_b0", "mobilenetv3_large_100", "tf_mobilenetv3_small_100"])
def test_convert_timm_same_padding_and_mobilenetv3(name):
    timm = pytest.importorskip("timm", reason="convert() is tested on timm's models (pip install timm)")
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    if name.startswith("tf_"):
        from timm.layers.conv2d_same import Conv2dSame

        assert any(isinstance(m, Conv2dSame) for m in _depthwise_convs(model))
    converted = _assert_converted_equal(model, torch.randn(2, 3, 67, 61), train=True)
    assert any(m.padding == "same" for m in converted.modules() if isinstance(m, ot.DepthwiseConv2d)) == \
        name.startswith("tf_")


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_b0"])
def test_convert_torchvision(name):
    models = pytest.importorskip("torchvision.models", reason="convert() is tested on torchvision's models")
    torch.manual_seed(0)
    model = getattr(models, name)(weights=None)
    _assert_converted_equal(model, torch.randn(2, 3, 64, 64), train=True)


def test_convert_leaves_other_convolutions_alone_and_says_why(caplog):
    class Custom(nn.Conv2d):
        pass

    model = nn.Sequential(
        nn.Conv2d(4, 4, 3, padding=1, groups=4),
        nn.Conv2d(4, 4, 3, padding=1, groups=4, padding_mode="reflect"),
        Custom(4, 4, 3, padding=1, groups=4),
        nn.Conv2d(4, 8, 1),
        nn.Conv2d(8, 8, 3, padding=1),
    )
    with caplog.at_level(logging.DEBUG, logger="opzoo.torch"):
        converted = ot.convert(model)
    assert isinstance(converted[0], ot.DepthwiseConv2d)
    assert converted[0].weight is not model[0].weight  # a copy by default
    assert [type(m) for m in converted[1:]] == [nn.Conv2d, Custom, nn.Conv2d, nn.Conv2d]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "1 (Conv2d) alone: padding_mode 'reflect'" in messages
    assert "2 (Custom) alone: a subclass of nn.Conv2d" in messages
    x = torch.randn(1, 4, 6, 6)
    torch.testing.assert_close(converted(x), model(x), rtol=1e-5, atol=1e-5)


def test_convert_inplace_keeps_the_parameters():
    model = nn.Sequential(nn.Conv2d(6, 12, 5, stride=2, padding=2, groups=6, bias=False), nn.ReLU())
    weight = model[0].weight
    converted = ot.convert(model, inplace=True)
    assert converted is model and isinstance(model[0], ot.DepthwiseConv2d) and model[0].weight is weight
    single = ot.convert(nn.Conv2d(3, 3, 3, groups=3))
    assert isinstance(single, ot.DepthwiseConv2d)
    with pytest.raises(TypeError, match="module: expected a torch.nn.Module"):
        ot.convert("model")


def test_functional_api_reads_torch_tensors_without_copies(rng):
    x = torch.randn(2, 4, 8, 8).contiguous(memory_format=torch.channels_last)
    w = torch.randn(4, 1, 3, 3)
    y = ot.depthwise_conv2d(x, w, padding=1)
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert np.shares_memory(y.detach().numpy(), y.detach().permute(0, 2, 3, 1).numpy())
    assert _cpu.depthwise_output_shape(tuple(x.shape), tuple(w.shape), (1, 1), (1, 1, 1, 1), (1, 1), "NCHW") == \
        tuple(y.shape)
