"""opzoo.torch's spiking ops and modules: gradcheck in float64, SpikingJelly's
multi-step LIFNode and IFNode (forward bits, autograd gradients, the potential carried
across calls until reset(), single-step mode), torch.compile and opcheck, the eager
path against the custom op, convert() on SpikingJelly models, and the errors."""

import doctest
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="opzoo.torch needs torch")

import opzoo.torch as ot  # noqa: E402


def _x(shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=dtype) + 0.8).requires_grad_()


class _Heaviside(torch.autograd.Function):
    """S = H - v_th >= 0 forward, the surrogate's slope backward (SpikingJelly's formulas)."""

    @staticmethod
    def forward(ctx, z, surrogate, alpha):
        ctx.save_for_backward(z)
        ctx.surrogate, ctx.alpha = surrogate, alpha
        return (z >= 0).to(z.dtype)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        a = ctx.alpha
        if ctx.surrogate == "sigmoid":
            s = torch.sigmoid(a * z)
            return g * (1 - s) * s * a, None, None
        return g * (a / 2) / (1 + (z * (np.pi / 2 * a)) ** 2), None, None


def _autograd_loop(x, v, tau, v_reset, leaky, surrogate, alpha, detach_reset):
    """The neuron as a torch loop whose autograd gives the surrogate gradient: the spec of the backward."""
    spikes = []
    for t in range(x.shape[0]):
        vr = 0.0 if v_reset is None else v_reset
        h = v + (x[t] - (v - vr)) / tau if leaky else v + x[t]
        s = _Heaviside.apply(h - 1.0, surrogate, alpha)
        sd = s.detach() if detach_reset else s
        v = h - sd if v_reset is None else sd * v_reset + (1 - sd) * h
        spikes.append(s)
    return torch.stack(spikes), v


@pytest.mark.parametrize("v_reset", [0.0, None, -0.3])
@pytest.mark.parametrize("surrogate", ["sigmoid", "atan"])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_float64_gradients_match_a_torch_autograd_loop(v_reset, surrogate, detach_reset):
    # gradcheck cannot check a surrogate gradient (the spikes are steps, their numerical
    # derivative 0): the autograd of the same dynamics with the surrogate is the spec.
    x = (torch.randn(6, 3, 5, dtype=torch.float64) + 0.8).requires_grad_()
    v0 = (torch.rand(3, 5, dtype=torch.float64) * 0.3).requires_grad_()
    gs, gv = torch.randn(6, 3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    alpha = 4.0 if surrogate == "sigmoid" else 2.0
    for leaky, fn in ((True, lambda a, b: ot.lif(a, b, tau=3.0, v_reset=v_reset, surrogate=surrogate,
                                                 detach_reset=detach_reset)),
                      (False, lambda a, b: ot.if_neuron(a, b, v_reset=v_reset, surrogate=surrogate,
                                                        detach_reset=detach_reset))):
        ours = torch.autograd.grad([(o * g).sum() for o, g in zip(fn(x, v0), (gs, gv))], (x, v0))
        want = _autograd_loop(x, v0, 3.0, v_reset, leaky, surrogate, alpha, detach_reset)
        theirs = torch.autograd.grad([(o * g).sum() for o, g in zip(want, (gs, gv))], (x, v0))
        torch.testing.assert_close(fn(x, v0)[0], want[0], rtol=0, atol=0)
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def sj():
    neuron = pytest.importorskip("spikingjelly.activation_based.neuron",
                                 reason="spikingjelly is not installed (pip install spikingjelly)")
    from spikingjelly.activation_based import surrogate
    return neuron, surrogate


@pytest.mark.parametrize("kind", ["lif", "lif_soft_nodecay", "if"])
@pytest.mark.parametrize("surrogate", ["sigmoid", "atan"])
def test_nodes_match_spikingjelly_across_calls(sj, kind, surrogate):
    neuron, sjs = sj
    sg = sjs.Sigmoid() if surrogate == "sigmoid" else sjs.ATan(alpha=3.0)
    kw = dict(surrogate_function=sg, step_mode="m")
    if kind == "lif":
        theirs, ours = neuron.LIFNode(tau=2.0, **kw), ot.LIFNode(tau=2.0, **kw)
    elif kind == "lif_soft_nodecay":
        kw.update(tau=3.0, decay_input=False, v_reset=None, detach_reset=True)
        theirs, ours = neuron.LIFNode(**kw), ot.LIFNode(**kw)
    else:
        kw.update(v_reset=-0.5)
        theirs, ours = neuron.IFNode(**kw), ot.IFNode(**kw)
    chunks = [_x((6, 2, 33), seed=s) for s in range(3)]
    grads = {}
    for name, node in (("theirs", theirs), ("ours", ours)):
        xs = [c.detach().clone().requires_grad_() for c in chunks]
        outs = [node(xs[0]), node(xs[1])]  # the potential carried from the first call into the second
        node.reset()
        outs.append(node(xs[2]))
        loss = sum((o * torch.linspace(-1, 1, o.numel()).reshape(o.shape)).sum() for o in outs)
        loss.backward()
        grads[name] = [torch.cat([o.detach().reshape(-1) for o in outs])] + [x.grad for x in xs]
    torch.testing.assert_close(grads["ours"][0], grads["theirs"][0], rtol=0, atol=0)
    for got, want in zip(grads["ours"][1:], grads["theirs"][1:]):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_single_step_mode_matches_multi_step():
    x = _x((5, 3, 4)).detach()
    single = ot.LIFNode(tau=2.5, step_mode="s")
    steps = torch.stack([single(x[t]) for t in range(5)])
    torch.testing.assert_close(steps, ot.LIFNode(tau=2.5)(x), rtol=0, atol=0)


def test_eager_path_and_custom_op_agree_bit_for_bit():
    x = _x((7, 3, 9))
    v0 = torch.rand(3, 9, requires_grad=True)
    g = torch.randn(7, 3, 9)
    s1, v1 = ot.lif(x, v0, tau=1.5, surrogate="atan")
    (s1 * g).sum().add(v1.sum()).backward()
    gx1, gv1 = x.grad.clone(), v0.grad.clone()
    x.grad = v0.grad = None
    s2, v2, _ = torch.ops.opzoo.lif_forward(x, v0, 1.5, 1.0, 0.0, True, "atan", 2.0, False)
    (s2 * g).sum().add(v2.sum()).backward()
    for a, b in ((s1, s2), (v1, v2), (gx1, x.grad), (gv1, v0.grad)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_opcheck():
    x, v0 = _x((4, 2, 5)).detach(), torch.rand(2, 5)
    ops = torch.ops.opzoo
    torch.library.opcheck(ops.lif_forward.default, (x.requires_grad_(), v0, 2.0, 1.0, 0.0, True, "sigmoid", 4.0, False))
    torch.library.opcheck(ops.if_forward.default, (x.detach(), v0, 1.0, 1.0, None, True, "atan", 2.0, True))
    _, _, h = ops.lif_forward(x.detach(), v0, 2.0, 1.0, 0.0, True, "sigmoid", 4.0, False)
    g = torch.randn_like(x)
    torch.library.opcheck(ops.lif_backward.default, (g, torch.randn(2, 5), h, 2.0, 1.0, 0.0, True, "sigmoid", 4.0, False))
    torch.library.opcheck(ops.if_backward.default, (g, None, h, 1.0, 1.0, 0.0, True, "atan", 2.0, False))


def test_torch_compile_fullgraph():
    torch._dynamo.reset()
    x = _x((6, 4, 10))
    w = torch.randn(10, 10, requires_grad=True)

    def step(x, w):
        s, v = ot.lif(x @ w, tau=2.0)
        s2, _ = ot.if_neuron(s * 0.7, v_reset=None)
        return (s2.sum(0) * v).square().sum() + s.sum()

    loss = torch.compile(step, fullgraph=True)(x, w)
    got = torch.autograd.grad(loss, (x, w))
    want = step(x, w)
    torch.testing.assert_close(loss, want)
    for a, b in zip(got, torch.autograd.grad(want, (x, w))):
        torch.testing.assert_close(a, b)


def test_state_dict_is_empty_and_convert_swaps_spikingjelly_nodes(sj):
    neuron, sjs = sj
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), neuron.LIFNode(tau=3.0, step_mode="m", v_reset=None),
                                torch.nn.Linear(8, 4), neuron.IFNode(step_mode="m", surrogate_function=sjs.ATan()))
    x = _x((5, 2, 8)).detach()
    with torch.no_grad():
        want = model(x)
    for m in model:  # SpikingJelly's nodes hold their last potential until reset
        if hasattr(m, "reset"):
            m.reset()
    converted = ot.convert(model)
    assert isinstance(converted[1], ot.LIFNode) and isinstance(converted[3], ot.IFNode)
    assert converted[3].surrogate == "atan" and converted[3].alpha == 2.0 and converted[1].v_reset is None
    with torch.no_grad():
        torch.testing.assert_close(converted(x), want, rtol=0, atol=0)
    assert ot.LIFNode().state_dict() == {}


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="tau"):
        ot.LIFNode(tau=1.0)
    with pytest.raises(ValueError, match="v_reset"):
        ot.IFNode(v_threshold=0.5, v_reset=0.5)
    with pytest.raises(ValueError, match="surrogate"):
        ot.lif(torch.ones(3, 2), surrogate="relu")
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        ot.lif(np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="v_init: expected shape"):
        ot.lif(torch.ones(3, 2), torch.zeros(3))
    with pytest.raises(TypeError, match="dtype"):
        ot.lif(torch.ones(3, 2, dtype=torch.int32))
    node = ot.LIFNode()
    node(torch.ones(2, 3))
    with pytest.raises(ValueError, match="reset"):
        node(torch.ones(2, 4))
    with pytest.raises(ValueError, match="step_mode"):
        ot.LIFNode(step_mode="x")


def test_docstring_examples_run():
    failures, _ = doctest.testmod(sys.modules["opzoo.torch.spiking"])
    assert failures == 0
