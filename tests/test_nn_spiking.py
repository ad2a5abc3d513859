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
