"""opzoo.nn.EfficientNet against timm: logits and feature maps of b0, b2, b3 and tf_b0 at
224 px and at odd sizes, with randomised batch-norm statistics; every variant's keys and
shapes; NumPy state_dicts; the errors for unknown variants, other variants' weights and
bad inputs. The timm comparisons skip where timm is not installed."""

import numpy as np
import pytest

import opzoo._device
import opzoo.nn
from opzoo.nn.efficientnet import VARIANTS, random_state_dict, round_channels

try:
    import timm
    import torch
except ImportError:
    timm = torch = None
needs_timm = pytest.mark.skipif(timm is None, reason="compares with timm's EfficientNet (pip install torch timm)")


def _timm_model(variant, seed=0):
    """timm's model in eval mode with batch-norm statistics and affine parameters drawn at
    random (fresh ones are 0 and 1, which would hide a wrong fold)."""
    torch.manual_seed(seed)
    model = timm.create_model(variant, pretrained=False).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.2)
    return model


def _relative_error(got, want):
    return float(np.abs(got - want).max() / np.abs(want).max())


@needs_timm
@pytest.mark.parametrize("variant, size", [("efficientnet_b0", 224), ("efficientnet_b0", 97),
                                           ("tf_efficientnet_b0", 224), ("tf_efficientnet_b0", 131),
                                           ("efficientnet_b2", 224), ("efficientnet_b2", 65),
                                           ("efficientnet_b3", 224), ("efficientnet_b3", 75)])
def test_matches_timm(variant, size):
    model = _timm_model(variant)
    ours = opzoo.nn.EfficientNet.from_state_dict(model.state_dict(), variant)
    x = np.random.default_rng(1).standard_normal((2, 3, size, size + 6)).astype(np.float32)
    with torch.no_grad():
        want_features = model.forward_features(torch.from_numpy(x)).numpy()
        want = model.forward_head(torch.from_numpy(want_features)).numpy()
    features = ours.features(x)
    assert features.shape == want_features.shape and features.dtype == np.float32
    assert _relative_error(features, want_features) <= 1e-4
    logits = ours(x)
    assert logits.shape == (2, 1000) and logits.dtype == np.float32
    assert _relative_error(logits, want) <= 1e-4


@needs_timm
def test_numpy_state_dict_smallest_input_and_batch_one():
    model = _timm_model("efficientnet_b0", seed=3)
    ours = opzoo.nn.EfficientNet.from_state_dict({k: v.numpy() for k, v in model.state_dict().items()},
                                                 "efficientnet_b0")
    x = np.random.default_rng(2).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert _relative_error(ours(x), want) <= 1e-4
    assert _relative_error(ours(x), want) == _relative_error(ours(x), want)  # buffers reused: the same result


@needs_timm
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_has_timms_keys_and_shapes(variant):
    want = {k: tuple(v.shape) for k, v in timm.create_model(variant).state_dict().items()
            if not k.endswith("num_batches_tracked")}
    assert {k: v.shape for k, v in random_state_dict(variant).items()} == want


@needs_timm
def test_round_channels_as_timm():
    from timm.models._efficientnet_builder import round_channels as timm_round

    for channels in range(8, 2000, 7):
        for multiplier in (1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0):
            assert round_channels(channels * multiplier) == timm_round(channels, multiplier)


def test_features_are_channels_last_views_and_timings_add_up():
    ours = opzoo.nn.EfficientNet.from_state_dict(random_state_dict("efficientnet_b0"), "efficientnet_b0")
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    timings = {}
    features = ours.features(x, timings)
    assert features.shape == (2, 1280, 2, 2) and features.transpose(0, 2, 3, 1).flags.c_contiguous
    assert set(timings) == {"depthwise", "pointwise", "squeeze_excite", "rest"} and min(timings.values()) > 0
    first = features.copy()
    ours.features(x)
    np.testing.assert_array_equal(features, first)  # a later call never writes into a returned array


def test_errors():
    sd = random_state_dict("efficientnet_b0")
    with pytest.raises(ValueError, match="variant: expected one of efficientnet_b0"):
        opzoo.nn.EfficientNet.from_state_dict(sd, "efficientnet_b9")
    with pytest.raises(ValueError, match=r"conv_stem.weight: efficientnet_b3 expects shape \(40, 3, 3, 3\), the "
                                         r"state_dict holds \(32, 3, 3, 3\)"):
        opzoo.nn.EfficientNet.from_state_dict(sd, "efficientnet_b3")
    with pytest.raises(KeyError, match="blocks.0.1.conv_dw.weight: missing from the state_dict, which efficientnet_b1"):
        opzoo.nn.EfficientNet.from_state_dict(sd, "efficientnet_b1")  # b1: two blocks in the first stage
    with pytest.raises(ValueError, match=r"blocks.0.1.conv_dw.weight: not an entry of efficientnet_b0"):
        opzoo.nn.EfficientNet.from_state_dict(random_state_dict("efficientnet_b1"), "efficientnet_b0")
    with pytest.raises(KeyError, match="bn2.running_var: missing"):
        opzoo.nn.EfficientNet.from_state_dict({k: v for k, v in sd.items() if k != "bn2.running_var"},
                                              "efficientnet_b0")
    with pytest.raises(TypeError, match="state_dict: expected a mapping"):
        opzoo.nn.EfficientNet.from_state_dict(list(sd.items()), "efficientnet_b0")
    with pytest.raises(TypeError, match="conv_stem.weight: expected a tensor or an array of numbers, got str"):
        opzoo.nn.EfficientNet.from_state_dict({**sd, "conv_stem.weight": "weights"}, "efficientnet_b0")
    model = opzoo.nn.EfficientNet.from_state_dict(sd, "efficientnet_b0")
    good = np.zeros((1, 3, 64, 64), np.float32)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 3, H, W\), got \(1, 4, 64, 64\)"):
        model(np.zeros((1, 4, 64, 64), np.float32))
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 3, H, W\), got \(3, 64, 64\)"):
        model(good[0])
    with pytest.raises(TypeError, match="x: expected dtype float32, got float64"):
        model(good.astype(np.float64))
    with pytest.raises(ValueError, match="at least 32 x 32 pixels, got 31 x 64"):
        model(good[:, :, :31])
    with pytest.raises(TypeError, match="x: expected a NumPy or CuPy array, got list"):
        model(good.tolist())


def test_other_class_counts():
    sd = random_state_dict("efficientnet_b0", num_classes=10)
    model = opzoo.nn.EfficientNet.from_state_dict(sd, "efficientnet_b0")
    assert model.num_classes == 10
    assert model(np.zeros((3, 3, 40, 40), np.float32)).shape == (3, 10)


@pytest.mark.cuda
def test_cupy_runs_the_same_graph_on_the_gpu():
    """CuPy input: the same ops on opzoo's CUDA kernels, the GEMMs through cuBLAS (run by
    bench/gpu_check.sh where a GPU is lent)."""
    from kit.gpu import cupy_on_device

    cupy = cupy_on_device()
    if cupy is None or opzoo._device._cuda is None:
        pytest.skip("needs CuPy with a CUDA device and opzoo's CUDA module")
    model = opzoo.nn.EfficientNet.from_state_dict(random_state_dict("tf_efficientnet_b0"), "tf_efficientnet_b0")
    x = np.random.default_rng(0).standard_normal((2, 3, 96, 80)).astype(np.float32)
    timings = {}
    got = model(cupy.asarray(x), timings)
    assert isinstance(got, cupy.ndarray) and set(timings) == {"depthwise", "pointwise", "squeeze_excite", "rest"}
    want = model(x)
    assert _relative_error(cupy.asnumpy(got), want) <= 1e-4
