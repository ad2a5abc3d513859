"""CenterNet's heatmap decoding (xingyizhou/CenterNet ``ctdet_decode``) in NumPy (float64)."""

import numpy as np

from .layout import to_nchw



def heatmap_decode(heat, wh, reg=None, K=100, layout="NCHW"):
    """boxes (N, K, 6): x1, y1, x2, y2, score, class of each image's K best kept scores.

    A score is kept where it equals the maximum of its 3x3 neighbourhood (max_pool2d,
    stride 1, padding 1: NaN wins); the others become heat * 0. Order: NaN first, then
    score descending, then the flat index c*H*W + y*W + x ascending. x, y are the
    pixel plus its offset from reg (0.5 without reg), the box (x -/+ w/2, y -/+ h/2)
    with w, h from wh, all in the heatmap's pixels.
    """
    heat, wh, reg = to_nchw(heat, layout), to_nchw(wh, layout), to_nchw(reg, layout)
    N, C, H, W = heat.shape
    padded = np.pad(heat, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    window = heat.copy()
    for dy in range(3):
        for dx in range(3):
            window = np.maximum(window, padded[:, :, dy:dy + H, dx:dx + W])
    with np.errstate(invalid="ignore"):
        score = np.where(window == heat, heat, heat * 0)
    boxes = np.empty((N, K, 6))
    index = np.arange(C * H * W)
    for n in range(N):
        s = score[n].ravel()
        nan = np.isnan(s)
        best = np.lexsort((index, -np.where(nan, 0, s), ~nan))[:K]
        c, pix = best // (H * W), best % (H * W)
        y, x = (pix // W).astype(np.float64), (pix % W).astype(np.float64)
        if reg is None:
            x, y = x + 0.5, y + 0.5
        else:
            x, y = x + reg[n, 0].ravel()[pix], y + reg[n, 1].ravel()[pix]
        w, h = wh[n, 0].ravel()[pix], wh[n, 1].ravel()[pix]
        boxes[n] = np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2, s[best], c], axis=1)
    return boxes
