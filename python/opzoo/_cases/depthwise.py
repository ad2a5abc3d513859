"""Depthwise conv2d's benchmark cases (PERF.md case A, on the CPU and on a GPU) and demo."""

from __future__ import annotations

import numpy as np

from .. import reference
from ..ops.depthwise import depthwise_conv2d
from . import BenchCase, Row, error_against, register_case, register_demo

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
#: Largest error relative to the float32 result's scale that a dtype's rounding allows.
GPU_TOLERANCE = {"float32": 1e-5, "float16": 1e-2}


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


def _demo() -> tuple[str, bool]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 32, 32), dtype=np.float32)
    w = rng.standard_normal((16, 1, 3, 3), dtype=np.float32)
    y = depthwise_conv2d(x, w, stride=2, padding="same", activation="silu")
    ref = reference.depthwise_conv2d(x, w, stride=2, padding="same", activation="silu")
    err = float(np.abs(y - ref).max())
    return f"x{x.shape} -> y{y.shape}  max |error| vs reference {err:.2e}", err < 1e-4


register_demo("depthwise_conv2d", _demo)
