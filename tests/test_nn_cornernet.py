"""opzoo.nn's CornerNet/CenterNet pooling modules and CenterNet's decoder: against the
authors' PyTorch modules (rebuilt here from the papers' code as published: the same
submodules, key names and forward), loading their state_dicts, and the decoder against
CenterNet's sigmoid + ctdet_decode in torch."""

import numpy as np
import pytest

import opzoo.nn
from opzoo.nn.cornernet import random_pooling_state_dict

torch = pytest.importorskip("torch", reason="compares with the authors' PyTorch modules (pip install torch)")
nn = torch.nn


def _pool(direction):
    class Pool(nn.Module):  # CornerNet's TopPool etc.: a running maximum towards one side
        def forward(self, x):
            axis = 2 if direction in ("top", "bottom") else 3
            if direction in ("top", "left"):
                return torch.cummax(x.flip(axis), axis)[0].flip(axis)
            return torch.cummax(x, axis)[0]
    return Pool


TopPool, BottomPool, LeftPool, RightPool = (_pool(d) for d in ("top", "bottom", "left", "right"))


class convolution(nn.Module):  # noqa: N801 - the authors' name, whose keys the state_dict holds
    def __init__(self, k, inp_dim, out_dim):
        super().__init__()
        self.conv = nn.Conv2d(inp_dim, out_dim, (k, k), padding=((k - 1) // 2,) * 2, bias=False)
        self.bn = nn.BatchNorm2d(out_dim)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class _Tail(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.p1_conv1 = convolution(3, dim, 128)
        self.p2_conv1 = convolution(3, dim, 128)
        self.p_conv1 = nn.Conv2d(128, dim, (3, 3), padding=(1, 1), bias=False)
        self.p_bn1 = nn.BatchNorm2d(dim)
        self.conv1 = nn.Conv2d(dim, dim, (1, 1), bias=False)
        self.bn1 = nn.BatchNorm2d(dim)
        self.relu1 = nn.ReLU()
        self.conv2 = convolution(3, dim, dim)

    def tail(self, x, pooled):
        return self.conv2(self.relu1(self.p_bn1(self.p_conv1(pooled)) + self.bn1(self.conv1(x))))


class pool(_Tail):  # noqa: N801 - CornerNet's corner pooling module
    def __init__(self, dim, pool1, pool2):
        super().__init__(dim)
        self.pool1, self.pool2 = pool1(), pool2()

    def forward(self, x):
        return self.tail(x, self.pool1(self.p1_conv1(x)) + self.pool2(self.p2_conv1(x)))


class cascade_pool(pool):  # noqa: N801 - CenterNet's cascade corner pooling module (its `pool`)
    def __init__(self, dim, pool1, pool2):
        super().__init__(dim, pool1, pool2)
        self.look_conv1 = convolution(3, dim, 128)
        self.look_conv2 = convolution(3, dim, 128)
        self.P1_look_conv = nn.Conv2d(128, 128, (3, 3), padding=(1, 1), bias=False)
        self.P2_look_conv = nn.Conv2d(128, 128, (3, 3), padding=(1, 1), bias=False)

    def forward(self, x):
        pool1 = self.pool1(self.P1_look_conv(self.p1_conv1(x) + self.pool2(self.look_conv1(x))))
        pool2 = self.pool2(self.P2_look_conv(self.p2_conv1(x) + self.pool1(self.look_conv2(x))))
        return self.tail(x, pool1 + pool2)


class pool_cross(_Tail):  # noqa: N801 - CenterNet's center pooling module
    def __init__(self, dim):
        super().__init__(dim)
        self.pool1, self.pool2, self.pool3, self.pool4 = TopPool(), LeftPool(), BottomPool(), RightPool()

    def forward(self, x):
        return self.tail(x, self.pool3(self.pool1(self.p1_conv1(x))) + self.pool4(self.pool2(self.p2_conv1(x))))


def _randomised(module, seed=0):
    """The module in eval mode with random weights and batch-norm statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("running_var") or (name.endswith(".weight") and t.dim() == 1):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g) * (0.1 if t.dim() == 1 else 1 / np.sqrt(t[0].numel())))
    return module.eval()


def _close(got, want):
    want = want.detach().numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4 * (np.abs(want).max() + 1)


MODULES = {
    "top_left": (lambda d: pool(d, TopPool, LeftPool), dict(corner="top_left")),
    "bottom_right": (lambda d: pool(d, BottomPool, RightPool), dict(corner="bottom_right")),
    "cascade top_left": (lambda d: cascade_pool(d, TopPool, LeftPool), dict(corner="top_left", cascade=True)),
    "cascade bottom_right": (lambda d: cascade_pool(d, BottomPool, RightPool),
                             dict(corner="bottom_right", cascade=True)),
}


@pytest.mark.parametrize("kind", MODULES)
def test_corner_pooling_equals_the_authors_module(kind):
    build, kwargs = MODULES[kind]
    theirs = _randomised(build(24))
    ours = opzoo.nn.CornerPooling.from_state_dict(theirs.state_dict(), **kwargs)
    x = torch.randn(2, 24, 13, 11)
    _close(ours(x.numpy()), theirs(x))


def test_center_pooling_equals_the_authors_module():
    theirs = _randomised(pool_cross(16), seed=1)
    ours = opzoo.nn.CenterPooling.from_state_dict(theirs.state_dict())
    x = torch.randn(1, 16, 9, 14)
    _close(ours(x.numpy()), theirs(x))


def test_a_module_inside_a_networks_state_dict():
    net = nn.Module()
    net.tl_cnvs = nn.ModuleList([_randomised(pool(8, TopPool, LeftPool))])
    net.ct_cnvs = nn.ModuleList([_randomised(pool_cross(8), seed=2)])
    sd = {"module." + k: v for k, v in net.state_dict().items()}
    x = torch.randn(1, 8, 6, 7)
    _close(opzoo.nn.CornerPooling.from_state_dict(sd, prefix="module.tl_cnvs.0.")(x.numpy()), net.tl_cnvs[0](x))
    _close(opzoo.nn.CenterPooling.from_state_dict(sd, prefix="module.ct_cnvs.0.")(x.numpy()), net.ct_cnvs[0](x))


def test_state_dicts_of_another_module_are_refused():
    with pytest.raises(KeyError, match="look_conv1.conv.weight: missing"):
        opzoo.nn.CornerPooling.from_state_dict(random_pooling_state_dict(8), cascade=True)
    with pytest.raises(ValueError, match="look_conv1.conv.weight: not an entry of CornerNet's corner pooling"):
        opzoo.nn.CornerPooling.from_state_dict(random_pooling_state_dict(8, cascade=True))
    bad = random_pooling_state_dict(8)
    bad["p_conv1.weight"] = bad["p_conv1.weight"][:, :64]
    with pytest.raises(ValueError, match=r"p_conv1.weight: .* expects shape \(8, 128, 3, 3\)"):
        opzoo.nn.CenterPooling.from_state_dict(bad)
    with pytest.raises(ValueError, match="corner: expected one of top_left, bottom_right"):
        opzoo.nn.CornerPooling.from_state_dict(random_pooling_state_dict(8), "top_right")


def test_bad_inputs():
    module = opzoo.nn.CenterPooling.from_state_dict(random_pooling_state_dict(8))
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 8, H, W\), got \(1, 4, 5, 5\)"):
        module(np.zeros((1, 4, 5, 5), np.float32))
    with pytest.raises(TypeError, match="x: expected dtype float32, got float64"):
        module(np.zeros((1, 8, 5, 5)))
    with pytest.raises(TypeError, match="x: expected a NumPy array, got list"):
        module([[0.0]])
    with pytest.raises(ValueError, match="K: expected an int >= 0"):
        opzoo.nn.CenterNetDecoder(K=-1)


def test_decoder_equals_centernets_sigmoid_and_ctdet_decode():
    rng = np.random.default_rng(5)
    hm = rng.standard_normal((2, 5, 16, 12), dtype=np.float32) - 2
    wh, reg = rng.random((2, 2, 16, 12), dtype=np.float32) * 8, rng.random((2, 2, 16, 12), dtype=np.float32)
    heat = torch.sigmoid(torch.from_numpy(hm))
    keep = torch.nn.functional.max_pool2d(heat, 3, stride=1, padding=1) == heat
    scores, index = torch.topk((heat * keep).reshape(2, -1), 30)
    cls, pix = index // (16 * 12), index % (16 * 12)
    ys, xs = (pix // 12).float(), (pix % 12).float()
    gather = [torch.gather(torch.from_numpy(m).reshape(2, 2, -1)[:, j], 1, pix) for m in (reg, wh) for j in (0, 1)]
    xs, ys = xs + gather[0], ys + gather[1]
    want = torch.stack([xs - gather[2] / 2, ys - gather[3] / 2, xs + gather[2] / 2, ys + gather[3] / 2], -1) * 4
    got = opzoo.nn.CenterNetDecoder(K=30, down_ratio=4)(hm, wh, reg)
    np.testing.assert_allclose(got[..., :4], want.numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got[..., 4], scores.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(got[..., 5], cls.numpy())
    nhwc = [np.ascontiguousarray(a.transpose(0, 2, 3, 1)) for a in (hm, wh, reg)]
    np.testing.assert_array_equal(opzoo.nn.CenterNetDecoder(K=30)(*nhwc, layout="NHWC"), got)
