"""Depthwise conv2d's benchmark cases and demo: PERF.md case A (the layers, on the CPU
and on a GPU), A2 (the layers' forward+backward through autograd, when torch is
installed) and L (timm's efficientnet_b0 with and without opzoo.torch.convert, when
timm is installed)."""

from __future__ import annotations

import importlib.util

import numpy as np

from .. import reference
from ..ops.depthwise import depthwise_conv2d
from . import GPU_TOLERANCE, BenchCase, Row, error_against, register_case, register_demo

#: PERF.md case A: EfficientNet-B0's distinct depthwise layers at 224 px, as
#: (channels, input height = width, kernel, stride); padding is kernel // 2.
EFFICIENTNET_B0_DEPTHWISE = [
    (32, 112, 3, 1), (96, 112, 3, 2), (144, 56, 3, 1), (144, 56, 5, 2),
    (240, 28, 5, 1), (240, 28, 3, 2), (480, 14, 3, 1), (480, 14, 5, 1),
    (672, 14, 5, 1), (672, 14, 5, 2), (1152, 7, 5, 1), (1152, 7, 3, 1),
]  # fmt: skip
CASE_A_BATCH = 8
#: PERF.md's GPU goal: case A at this batch, against torch's cuDNN path.
CASE_A_GPU_BATCH = 64

OPZOO_NCHW, OPZOO_NHWC = "opzoo NCHW", "opzoo NHWC"
TORCH_NCHW, TORCH_CL = "torch NCHW", "torch channels_last"
NUMPY = "NumPy reference"
RATIOS = [(OPZOO_NCHW, TORCH_NCHW), (OPZOO_NHWC, TORCH_CL)]


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _label(C, H, k, s):
    return f"C{C} H{H} k{k} s{s}"


def case_a_rows(quick: bool = False, seed: int = 0) -> list[Row]:
    """Every layer with opzoo (NCHW, NHWC), each installed peer and (unless quick) the NumPy reference."""
    batch = 2 if quick else CASE_A_BATCH
    rng = np.random.default_rng(seed)
    torch = _torch()
    rows = []
    for C, H, k, s in EFFICIENTNET_B0_DEPTHWISE:
        x = rng.standard_normal((batch, C, H, H), dtype=np.float32)
        w = (rng.standard_normal((C, 1, k, k), dtype=np.float32) / k).astype(np.float32)
        x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        p = k // 2
        impls = {
            OPZOO_NCHW: lambda x=x, w=w, s=s, p=p: depthwise_conv2d(x, w, stride=s, padding=p),
            OPZOO_NHWC: lambda x=x_nhwc, w=w, s=s, p=p: depthwise_conv2d(x, w, stride=s, padding=p,
                                                                        layout="NHWC").transpose(0, 3, 1, 2),
        }
        if torch is not None:
            import torch.nn.functional as F

            xt, wt = torch.from_numpy(x), torch.from_numpy(w)
            xcl = xt.contiguous(memory_format=torch.channels_last)
            impls[TORCH_NCHW] = lambda xt=xt, wt=wt, s=s, p=p, C=C: F.conv2d(xt, wt, None, s, p, 1, C)
            impls[TORCH_CL] = lambda xt=xcl, wt=wt, s=s, p=p, C=C: F.conv2d(xt, wt, None, s, p, 1, C)
        if not quick:
            impls[NUMPY] = lambda x=x, w=w, s=s, p=p: reference.depthwise_conv2d(x, w, stride=s, padding=p)
        expected = reference.depthwise_conv2d(x[:2], w, stride=s, padding=p)
        rows.append(Row(_label(C, H, k, s), impls, error_against(expected)))
    return rows


def case_a_gpu_rows(quick: bool = False) -> list[Row]:
    """Case A on the GPU at batch 64, float32 and float16: opzoo against torch (cuDNN),
    NCHW and channels_last; each result checked against torch's float32 one."""
    import torch
    import torch.nn.functional as F

    torch.backends.cudnn.benchmark = True  # torch's best algorithm per shape, as users run it
    torch.backends.cudnn.allow_tf32 = False  # float32 means float32 on both sides
    generator = torch.Generator(device="cuda").manual_seed(0)
    rows = []
    for dtype_name, dtype in (("float32", torch.float32), ("float16", torch.float16)):
        for C, H, k, s in EFFICIENTNET_B0_DEPTHWISE:
            p = k // 2
            x = torch.randn(CASE_A_GPU_BATCH, C, H, H, device="cuda", generator=generator).to(dtype)
            w = (torch.randn(C, 1, k, k, device="cuda", generator=generator) / k).to(dtype)
            xcl = x.contiguous(memory_format=torch.channels_last)
            x_nhwc = x.permute(0, 2, 3, 1).contiguous()
            impls = {
                OPZOO_NCHW: lambda x=x, w=w, s=s, p=p: depthwise_conv2d(x, w, stride=s, padding=p),
                OPZOO_NHWC: lambda x=x_nhwc, w=w, s=s, p=p: depthwise_conv2d(
                    x, w, stride=s, padding=p, layout="NHWC").permute(0, 3, 1, 2),
                TORCH_NCHW: lambda x=x, w=w, s=s, p=p, C=C: F.conv2d(x, w, None, s, p, 1, C),
                TORCH_CL: lambda x=xcl, w=w, s=s, p=p, C=C: F.conv2d(x, w, None, s, p, 1, C),
            }
            expected = F.conv2d(x.float(), w.float(), None, s, p, 1, C)
            scale = float(expected.abs().max()) + 1.0
            short = "fp32" if dtype_name == "float32" else "fp16"
            rows.append(Row(f"{_label(C, H, k, s)} {short}", impls,
                            lambda y, e=expected, scale=scale: float((y.float() - e).abs().max()) / scale,
                            GPU_TOLERANCE[dtype_name], group=short))
    return rows


register_case(BenchCase(
    "A", "depthwise conv2d, EfficientNet-B0 layers, batch {batch}, float32", case_a_rows,
    [OPZOO_NCHW, OPZOO_NHWC, TORCH_NCHW, TORCH_CL, NUMPY], RATIOS,
    params=lambda quick: {"batch": 2 if quick else CASE_A_BATCH}, slow=(NUMPY,)))
register_case(BenchCase(
    "A", "depthwise conv2d, EfficientNet-B0 layers, batch {batch}, float32 and float16 against torch's cuDNN path",
    case_a_gpu_rows, [OPZOO_NCHW, OPZOO_NHWC, TORCH_NCHW, TORCH_CL], RATIOS,
    params=lambda quick: {"batch": CASE_A_GPU_BATCH}, device="gpu"))


OPZOO_TORCH_NCHW, OPZOO_TORCH_CL = "opzoo.torch NCHW", "opzoo.torch channels_last"
A2_RATIOS = [(OPZOO_TORCH_NCHW, TORCH_NCHW), (OPZOO_TORCH_CL, TORCH_CL)]


def _forward_backward(op, x, w, g):
    """One training step of a layer: forward, backward from `g`; the gradients it left."""
    x.grad = w.grad = None
    op(x, w).backward(g)
    return x.grad, w.grad


def case_a2_rows(quick: bool = False, seed: int = 0) -> list[Row]:
    """Every case A layer, forward+backward through autograd (grad_x and grad_weight):
    opzoo.torch and torch's conv2d, NCHW and channels_last; gradients checked against
    the NumPy reference's."""
    import torch
    import torch.nn.functional as F

    from ..torch import depthwise_conv2d as opzoo_torch

    batch = 2 if quick else CASE_A_BATCH
    rng = np.random.default_rng(seed)
    rows = []
    for C, H, k, s in EFFICIENTNET_B0_DEPTHWISE:
        p = k // 2
        x = rng.standard_normal((batch, C, H, H), dtype=np.float32)
        w = (rng.standard_normal((C, 1, k, k), dtype=np.float32) / k).astype(np.float32)
        g = rng.standard_normal(reference.depthwise_conv2d(x[:1], w, stride=s, padding=p).shape[1:], dtype=np.float32)
        g = np.broadcast_to(g, (batch, *g.shape)).copy() * rng.standard_normal((batch, 1, 1, 1), dtype=np.float32)
        want_x, want_w, _ = reference.depthwise_conv2d_backward(g, x, w, stride=s, padding=p)
        scale_x, scale_w = np.abs(want_x).max() + 1.0, np.abs(want_w).max() + 1.0

        def check(result, want_x=want_x, want_w=want_w, scale_x=scale_x, scale_w=scale_w):
            gx, gw = (t.detach().double().numpy() for t in result)
            return max(float(np.abs(gx - want_x).max() / scale_x), float(np.abs(gw - want_w).max() / scale_w))

        impls = {}
        for channels_last, ours, theirs in ((False, OPZOO_TORCH_NCHW, TORCH_NCHW), (True, OPZOO_TORCH_CL, TORCH_CL)):
            xt = torch.from_numpy(x)
            gt = torch.from_numpy(g)
            if channels_last:
                xt, gt = (t.contiguous(memory_format=torch.channels_last) for t in (xt, gt))
            xt.requires_grad_()
            wt = torch.from_numpy(w.copy()).requires_grad_()
            impls[ours] = lambda xt=xt, wt=wt, gt=gt, s=s, p=p: _forward_backward(
                lambda a, b: opzoo_torch(a, b, stride=s, padding=p), xt, wt, gt)
            impls[theirs] = lambda xt=xt, wt=wt, gt=gt, s=s, p=p, C=C: _forward_backward(
                lambda a, b: F.conv2d(a, b, None, s, p, 1, C), xt, wt, gt)
        rows.append(Row(_label(C, H, k, s), impls, check, 1e-4))
    return rows


if importlib.util.find_spec("torch") is not None:
    register_case(BenchCase(
        "A2", "depthwise conv2d forward+backward through autograd, EfficientNet-B0 layers, batch {batch}, float32",
        case_a2_rows, [OPZOO_TORCH_NCHW, OPZOO_TORCH_CL, TORCH_NCHW, TORCH_CL], A2_RATIOS,
        params=lambda quick: {"batch": 2 if quick else CASE_A_BATCH}))

TIMM, TIMM_CONVERTED = "timm", "timm + opzoo.torch.convert"
CASE_L_BATCH = 8


def _train_step(model, x):
    model.train()
    model.zero_grad(set_to_none=True)
    y = model(x)
    y.float().square().mean().backward()
    return y.detach()


def case_l_rows(quick: bool = False, seed: int = 0) -> list[Row]:
    """timm efficientnet_b0, channels_last, at 224 px: a training step (forward and
    backward from a loss) and inference, plain and converted; the converted model's
    logits checked against the plain model's."""
    import timm
    import torch

    from ..torch import convert

    batch = 2 if quick else CASE_L_BATCH
    torch.manual_seed(seed)
    x = torch.randn(batch, 3, 224, 224).contiguous(memory_format=torch.channels_last)
    rows = []
    for label, step in (("train step", _train_step), ("inference", _infer)):
        # A pair of models per row: training steps update batch-norm statistics, which
        # inference reads.
        plain = timm.create_model("efficientnet_b0", pretrained=False, drop_rate=0.0, drop_path_rate=0.0)
        plain = plain.to(memory_format=torch.channels_last)
        converted = convert(plain)
        impls = {TIMM: lambda step=step, m=plain: step(m, x), TIMM_CONVERTED: lambda step=step, m=converted: step(m, x)}
        want = impls[TIMM]().double().numpy()
        scale = np.abs(want).max() + 1.0
        rows.append(Row(label, impls, lambda y, want=want, scale=scale: float(np.abs(y.double().numpy() - want).max() / scale),
                        1e-4))
    return rows


def _infer(model, x):
    import torch

    model.eval()
    with torch.no_grad():
        return model(x)


if importlib.util.find_spec("torch") is not None and importlib.util.find_spec("timm") is not None:
    register_case(BenchCase(
        "L", "timm efficientnet_b0, batch {batch}, channels_last, 224 px, float32: plain and converted",
        case_l_rows, [TIMM, TIMM_CONVERTED], [(TIMM_CONVERTED, TIMM)],
        params=lambda quick: {"batch": 2 if quick else CASE_L_BATCH}))


def _demo() -> tuple[str, bool]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 32, 32), dtype=np.float32)
    w = rng.standard_normal((16, 1, 3, 3), dtype=np.float32)
    y = depthwise_conv2d(x, w, stride=2, padding="same", activation="silu")
    ref = reference.depthwise_conv2d(x, w, stride=2, padding="same", activation="silu")
    err = float(np.abs(y - ref).max())
    return f"x{x.shape} -> y{y.shape}  max |error| vs reference {err:.2e}", err < 1e-4


register_demo("depthwise_conv2d", _demo)
