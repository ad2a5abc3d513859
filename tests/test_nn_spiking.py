"""opzoo.nn's spiking MLP and LIF layer against SpikingJelly's multi-step Sequential
with the same weights: the spikes, the potentials carried across calls until reset, the
firing rates, and the state_dict errors."""

import numpy as np
import pytest

import opzoo.nn
from opzoo.reference import spiking as ref


def test_lif_layer_carries_its_potential(rng):
    x = (rng.standard_normal((10, 3, 7)) + 0.8).astype(np.float32)
    layer = opzoo.nn.LIF(tau=3.0, v_reset=None)
    got = np.concatenate([layer(x[:4]), layer(x[4:])])
    want = ref.forward("lif", x, tau=3.0, v_reset=None)[0]
    np.testing.assert_array_equal(got, want)
    assert layer.spike_count == int(want[4:].sum()) and layer.firing_rate == pytest.approx(want[4:].mean())
    layer.reset()
    np.testing.assert_array_equal(layer(x[4:]), ref.forward("lif", x[4:], tau=3.0, v_reset=None)[0])


def test_spiking_mlp_matches_spikingjelly(rng):
    torch = pytest.importorskip("torch", reason="the SpikingJelly model needs torch")
    sj = pytest.importorskip("spikingjelly.activation_based", reason="spikingjelly is not installed")
    from spikingjelly.activation_based import layer, neuron

    torch.manual_seed(0)
    net = torch.nn.Sequential(layer.Linear(20, 32, step_mode="m"), neuron.LIFNode(tau=2.0, step_mode="m"),
                              layer.Linear(32, 10, bias=False, step_mode="m"), neuron.LIFNode(tau=2.0, step_mode="m"))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
    model = opzoo.nn.SpikingMLP.from_state_dict(net.state_dict(), tau=2.0)
    x = rng.random((8, 5, 20), dtype=np.float32)
    with torch.no_grad():
        want = [net(torch.from_numpy(x)).numpy(), net(torch.from_numpy(x)).numpy()]
    sj.functional.reset_net(net)
    got = [model(x), model(x)]
    for g, w in zip(got, want):
        # The GEMM's summation order differs from torch's: a potential within rounding of
        # the threshold may fire on one side only.
        assert (g != w).mean() < 1e-3
    assert len(model.firing_rates) == 2 and 0 < model.firing_rates[0] < 1
    assert model.spike_counts[1] == int(got[1].sum())


def test_state_dict_errors():
    with pytest.raises(ValueError, match="no '<index>.weight'"):
        opzoo.nn.SpikingMLP.from_state_dict({"w": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="2.weight: expected shape"):
        opzoo.nn.SpikingMLP.from_state_dict({"0.weight": np.zeros((4, 3)), "2.weight": np.zeros((2, 5))})
    with pytest.raises(ValueError, match="extra: not an entry"):
        opzoo.nn.SpikingMLP.from_state_dict({"0.weight": np.zeros((4, 3)), "extra": np.zeros(1)})
    model = opzoo.nn.SpikingMLP.from_state_dict({"0.weight": np.zeros((4, 3), np.float32)})
    with pytest.raises(ValueError, match="x: expected 3 features"):
        model(np.zeros((2, 1, 5), np.float32))


def _conv_net(torch, layers, neuron, flatten=None, seed=0):
    """An nn.Sequential of `layers` with `neuron()` after each Conv2d(+BatchNorm2d) and
    Linear and a Flatten before the first Linear (SpikingConvNet's layout), its weights
    scaled so that every layer fires, its batch norms with statistics, in eval mode."""
    torch.manual_seed(seed)
    modules, flattened = [], False
    for n, m in enumerate(layers):
        if isinstance(m, torch.nn.Linear) and not flattened:
            modules += [(flatten or torch.nn.Flatten)()]
            flattened = True
        modules.append(m)
        if not isinstance(layers[min(n + 1, len(layers) - 1)], torch.nn.BatchNorm2d) or n + 1 == len(layers):
            modules.append(neuron())
    net = torch.nn.Sequential(*modules)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2), m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.mul_(6.0 if isinstance(m, torch.nn.Conv2d) else 25.0)
    return net.eval()


class _ReferenceLIF:
    """The neuron slot of a plain torch Sequential (no weights, as SpikingJelly's nodes):
    the NumPy reference LIF over the time axis, carried across calls until reset."""

    def __init__(self, torch, T):
        self.torch, self.T, self.v = torch, T, None

    def __call__(self, x):
        seq = x.numpy().reshape(self.T, -1, *x.shape[1:])
        spikes, _, self.v = ref.forward("lif", seq, tau=2.0, v_init=self.v)
        return self.torch.from_numpy(spikes.reshape(x.shape))


def _run_with_reference_neurons(torch, net, x, neurons):
    """`net` (torch modules on the T*N merged batch, Identity as each neuron slot) on x
    (T, N, ...), each slot's neuron `neurons[k]`; the spikes, and each slot's count."""
    h, counts, k = torch.from_numpy(x.reshape(-1, *x.shape[2:])), [], 0
    with torch.no_grad():
        for m in net:
            if isinstance(m, torch.nn.Identity):
                h = neurons[k](h)
                counts.append(int(h.sum()))
                k += 1
            else:
                h = m(h)
    return h.numpy().reshape(x.shape[0], x.shape[1], *h.shape[1:]), counts


CONV_NETS = {
    # dense 3x3, depthwise with multiplier 2 at stride 2, dense 1x1 with a bias, two Linear
    "mixed": (lambda nn: [nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                          nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=8, bias=False), nn.BatchNorm2d(16),
                          nn.Conv2d(16, 12, 1), nn.Linear(12 * 5 * 4, 24), nn.Linear(24, 10, bias=False)],
              dict(stride=[1, 2, 1]), (3, 9, 7)),
    # a depthwise first layer, an unpadded 5x5 at stride 2, no Linear: spikes (T, N, C, H, W)
    "convolutions": (lambda nn: [nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.Conv2d(4, 6, 5, stride=2, bias=False),
                                 nn.BatchNorm2d(6)],
                     dict(stride=[1, 2], padding=[None, 0]), (4, 11, 12)),
}


@pytest.mark.parametrize("name", CONV_NETS)
def test_spiking_conv_net_matches_torch_with_reference_neurons(rng, name):
    torch = pytest.importorskip("torch", reason="the torch model is the spec")
    layers, kwargs, image = CONV_NETS[name]
    net = _conv_net(torch, layers(torch.nn), torch.nn.Identity)
    model = opzoo.nn.SpikingConvNet.from_state_dict(net.state_dict(), **kwargs)
    T, N = 6, 3
    neurons = [_ReferenceLIF(torch, T) for _ in model.neurons]
    for call in range(2):  # the potentials carry over
        x = rng.random((T, N, *image), dtype=np.float32) * 2
        want, counts = _run_with_reference_neurons(torch, net, x, neurons)
        got = model(x)
        assert got.shape == want.shape and got.dtype == np.float32
        # Summation orders differ from torch's: a potential within rounding of the
        # threshold may fire on one side only.
        assert (got != want).mean() < 1e-3
        assert all(abs(g - c) <= max(2, c // 100) for g, c in zip(model.spike_counts, counts))
        assert all(0 < r < 1 for r in model.firing_rates)
    model.reset()
    x = rng.random((T, N, *image), dtype=np.float32) * 2
    fresh = [_ReferenceLIF(torch, T) for _ in model.neurons]
    assert (model(x) != _run_with_reference_neurons(torch, net, x, fresh)[0]).mean() < 1e-3


def test_spiking_conv_net_matches_spikingjelly(rng):
    torch = pytest.importorskip("torch", reason="the SpikingJelly model needs torch")
    pytest.importorskip("spikingjelly.activation_based", reason="spikingjelly is not installed")
    from spikingjelly.activation_based import functional, layer, neuron

    layers = [layer.Conv2d(3, 8, 3, padding=1, bias=False), layer.BatchNorm2d(8),
              layer.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False), layer.BatchNorm2d(8),
              layer.Conv2d(8, 16, 1), layer.Linear(16 * 4 * 4, 10)]
    net = _conv_net(torch, layers, lambda: neuron.LIFNode(tau=2.0), layer.Flatten)
    functional.set_step_mode(net, "m")
    model = opzoo.nn.SpikingConvNet.from_state_dict(net.state_dict(), stride=[1, 2, 1])
    x = rng.random((8, 2, 3, 8, 8), dtype=np.float32) * 2
    with torch.no_grad():
        want = [net(torch.from_numpy(x)).numpy() for _ in range(2)]
    got = [model(x) for _ in range(2)]
    for g, w in zip(got, want):
        assert g.shape == w.shape == (8, 2, 10)
        assert (g != w).mean() < 1e-3
    assert model.spike_counts[-1] == int(got[1].sum()) and 0 < model.firing_rates[-1] < 1


def _sd(**shapes):
    return {key.replace("_", "."): np.ones(shape, np.float32) for key, shape in shapes.items()}


def _bn(i, c):
    return {f"{i}.{name}": np.ones(c, np.float32) for name in ("weight", "bias", "running_mean", "running_var")}


@pytest.mark.parametrize("state_dict, kwargs, match", [
    (_sd(**{"0_weight": (4, 3, 3, 3), "1_weight": (2, 4, 3, 3)}), {}, "1: expected the next Conv2d or Linear at index 2"),
    (_sd(**{"0_weight": (4, 3, 3, 3), "4_weight": (2, 4, 3, 3)}), {}, "pooling, dropout"),
    (_sd(**{"0_weight": (4, 3, 3, 3), "2_weight": (2, 64)}), {}, "at index 3, after the LIFNode and Flatten"),
    (_sd(**{"0_weight": (4, 3)}), {}, "expected Conv2d layers .* first"),
    (_sd(**{"0_weight": (4, 3, 3, 3), "3_weight": (2, 64), "5_weight": (4, 2, 1, 1)}), {}, "then Linear layers"),
    ({**_sd(**{"0_weight": (4, 3, 3, 3)}), **_bn(2, 4)}, {}, "BatchNorm2d right after a Conv2d"),
    ({**_sd(**{"0_weight": (4, 3, 3, 3)}), **_bn(1, 5)}, {}, "expects shape \\(4,\\)"),
    (_sd(**{"0_weight": (4, 3, 3, 3), "2_weight": (8, 2, 3, 3)}), {}, "2.weight: expected a square kernel, \\(C_out, 4"),
    (_sd(**{"0_weight": (4, 3, 3, 3), "2_weight": (6, 1, 3, 3)}), {}, "depthwise"),
    (_sd(**{"0_weight": (4, 3, 3, 5)}), {}, "square kernel"),
    (_sd(**{"0_weight": (4, 3, 3, 3), "3_weight": (4, 4), "5_weight": (2, 3)}), {}, "5.weight: expected shape \\(out_features, "),
    (_sd(**{"0_weight": (4, 3)[:1] + (3, 3, 3), "0_extra": (1,)}), {}, "0.extra: not an entry"),
    (_sd(**{"0_weight": (4, 3, 3, 3)}), {"stride": 0}, "stride: expected ints >= 1"),
    (_sd(**{"0_weight": (4, 3, 3, 3)}), {"stride": [1, 2]}, "one per convolution \\(1\\), got 2"),
    (_sd(**{"0_weight": (4, 3, 3, 3)}), {"padding": -1}, "padding: expected ints >= 0 or None"),
    (_sd(**{"0_weight": (4, 3, 3, 3)}), {"tau": 1.0}, "tau"),
    (_sd(**{"0_weight": (4, 3, 3, 3, 1)}), {}, "expected a Conv2d"),
])
def test_spiking_conv_net_state_dict_errors(state_dict, kwargs, match):
    with pytest.raises(ValueError, match=match):
        opzoo.nn.SpikingConvNet.from_state_dict(state_dict, **kwargs)


def test_spiking_conv_net_input_errors():
    model = opzoo.nn.SpikingConvNet.from_state_dict(_sd(**{"0_weight": (4, 3, 3, 3), "3_weight": (2, 4 * 4 * 4)}),
                                                    stride=2)
    assert model(np.ones((2, 1, 3, 8, 7), np.float32)).shape == (2, 1, 2)
    with pytest.raises(ValueError, match="x: expected 3 channels"):
        model(np.ones((2, 1, 4, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"x: expected shape \(T, N, C, H, W\)"):
        model(np.ones((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="8 x 10 images give the first Linear 80 features, it takes 64"):
        model(np.ones((2, 1, 3, 8, 10), np.float32))
    with pytest.raises(TypeError, match="x: expected real numbers"):
        model(np.ones((2, 1, 3, 8, 8), np.complex64))
    with pytest.raises(TypeError, match="x: expected a NumPy or CuPy array"):
        model([[1.0]])
    depthwise = opzoo.nn.SpikingConvNet.from_state_dict(_sd(**{"0_weight": (6, 1, 5, 5)}), padding=0)
    assert depthwise(np.ones((1, 2, 3, 5, 5), np.float32)).shape == (1, 2, 6, 1, 1)
    with pytest.raises(ValueError, match="channels that divide 6"):
        depthwise(np.ones((1, 2, 4, 5, 5), np.float32))
    with pytest.raises(ValueError, match="4 x 5 images leave no pixels after convolution 0"):
        depthwise(np.ones((1, 2, 3, 4, 5), np.float32))


@pytest.mark.cuda
def test_cupy_runs_the_spiking_nets_on_the_gpu(rng):
    """CuPy input: opzoo's CUDA depthwise and LIF kernels, the GEMMs through cuBLAS (run
    by bench/gpu_check.sh where a GPU is lent)."""
    from kit.gpu import cupy_on_device

    cupy = cupy_on_device()
    if cupy is None or opzoo._device._cuda is None:
        pytest.skip("needs CuPy with a CUDA device and opzoo's CUDA module")
    sd = {"0.weight": rng.standard_normal((8, 1, 3, 3)).astype(np.float32) * 3,
          "2.weight": rng.standard_normal((16, 8, 1, 1)).astype(np.float32),
          "5.weight": rng.standard_normal((10, 16 * 4 * 4)).astype(np.float32)}
    x = rng.random((5, 2, 8, 8, 8), dtype=np.float32) * 2
    for model in (opzoo.nn.SpikingConvNet.from_state_dict(sd, stride=[2, 1]),
                  opzoo.nn.SpikingMLP.from_state_dict({"0.weight": sd["5.weight"][:, :64]})):
        x = x.reshape(5, 2, -1)[:, :, :64] if isinstance(model, opzoo.nn.SpikingMLP) else x
        want = model(x)
        got = model(cupy.asarray(x))
        assert isinstance(got, cupy.ndarray)
        assert (cupy.asnumpy(got) != want).mean() < 1e-3
