"""The model layer's EfficientNet benchmark: PERF.md case K, efficientnet_b0 inference at
224 px, batch 1 and 8, opzoo.nn on NumPy against timm's model (channels_last and NCHW)
on the same weights, with opzoo.nn's time per stage. timm's weights are drawn at random
(batch-norm statistics included); without timm, opzoo.nn runs alone on a state_dict of
the same shapes."""

from __future__ import annotations

import importlib.util
import statistics

import numpy as np

from . import BenchCase, Row, register_case

OPZOO_NN, TIMM_CL, TIMM_NCHW = "opzoo.nn", "timm channels_last", "timm NCHW"
CASE_K_BATCHES = (1, 8)
VARIANT = "efficientnet_b0"


def _timm_model():
    if importlib.util.find_spec("timm") is None:
        return None
    import timm
    import torch

    torch.manual_seed(0)
    model = timm.create_model(VARIANT, pretrained=False).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return model


def _models():
    from ..nn import EfficientNet
    from ..nn.efficientnet import random_state_dict

    timm_model = _timm_model()
    state = random_state_dict(VARIANT) if timm_model is None else timm_model.state_dict()
    return EfficientNet.from_state_dict(state, VARIANT), timm_model


def _batches(quick):
    return (1, 2) if quick else CASE_K_BATCHES


def _inputs(batch):
    return np.random.default_rng(batch).standard_normal((batch, 3, 224, 224)).astype(np.float32)


def case_k_rows(quick: bool = False) -> list[Row]:
    ours, timm_model = _models()
    rows = []
    for batch in _batches(quick):
        x = _inputs(batch)
        impls = {OPZOO_NN: lambda x=x: ours(x)}
        want = None
        if timm_model is not None:
            import torch

            xt = torch.from_numpy(x)
            channels_last = _timm_model().to(memory_format=torch.channels_last)
            xcl = xt.contiguous(memory_format=torch.channels_last)

            def infer(model, inp):
                with torch.no_grad():
                    return model(inp).numpy()

            impls[TIMM_CL] = lambda m=channels_last, inp=xcl: infer(m, inp)
            impls[TIMM_NCHW] = lambda m=timm_model, inp=xt: infer(m, inp)
            want = infer(timm_model, xt).astype(np.float64)
        reference = want if want is not None else ours(x).astype(np.float64)
        scale = np.abs(reference).max()
        rows.append(Row(f"batch {batch}", impls, lambda y, r=reference, s=scale: float(np.abs(y - r).max() / s), 1e-4))
    return rows


def case_k_breakdown(quick: bool = False) -> tuple[str, dict[str, dict[str, float]]]:
    ours, _ = _models()
    table = {}
    for batch in _batches(quick):
        x = _inputs(batch)
        ours(x)
        laps = []
        for _ in range(3 if quick else 9):
            timings = {}
            ours(x, timings)
            laps.append(timings)
        table[f"batch {batch}"] = {stage: statistics.median(t[stage] for t in laps) * 1e3 for stage in laps[0]}
    return "opzoo.nn's time per stage (median ms per call)", table


register_case(BenchCase(
    "K", f"{VARIANT} inference, 224 px, float32: opzoo.nn on NumPy and timm on torch", case_k_rows,
    [OPZOO_NN, TIMM_CL, TIMM_NCHW], [(OPZOO_NN, TIMM_CL), (OPZOO_NN, TIMM_NCHW)], breakdown=case_k_breakdown))
