"""Reference interpolation matrices from PyTorch's F.interpolate, for tests/ops/resize.test.ts.

Regenerate (from the repository root):
    /usr/bin/python3 tests/ops/gen_resize_fixture.py > tests/ops/resize_fixture.json

Each matrix M [out, in] is read off by resizing one-hot inputs along one axis:
M[o, k] = F.interpolate(e_k)[o]. Written with the torch version it came from.
"""
import json

import torch
import torch.nn.functional as F

CASES = []
for mode in ('bicubic', 'bilinear'):
    for aa in (False, True):
        for ac in (False, True):
            for (i, o) in ((5, 5), (4, 7), (7, 3), (14, 10), (14, 16), (3, 8), (9, 2), (1, 3), (3, 1)):
                CASES.append(dict(mode=mode, antialias=aa, alignCorners=ac, inSize=i, outSize=o))
        # scale_factor form (DINO: (g + 0.1) / n)
        for (i, g) in ((14, 6), (4, 6), (6, 6), (14, 10), (4, 9)):
            if i == g and mode == 'bilinear' and not aa:
                continue  # aten's bilinear kernel copies when the whole 2-D size is unchanged (tested in resize.test.ts)
            CASES.append(dict(mode=mode, antialias=aa, alignCorners=False, inSize=i, outSize=g, scaleFactor=(g + 0.1) / i))
for (i, o) in ((5, 5), (4, 7), (7, 3), (14, 10), (3, 8), (10, 4)):
    CASES.append(dict(mode='nearest', antialias=False, alignCorners=False, inSize=i, outSize=o))
for (i, g) in ((14, 6), (4, 9)):
    CASES.append(dict(mode='nearest', antialias=False, alignCorners=False, inSize=i, outSize=g, scaleFactor=(g + 0.1) / i))

out = []
for c in CASES:
    n = c['inSize']
    x = torch.eye(n, dtype=torch.float64).float().reshape(1, n, n, 1)  # channel k = one-hot at H = k
    kw = dict(mode=c['mode'])
    if c['mode'] != 'nearest':
        kw['align_corners'] = c['alignCorners']
        kw['antialias'] = c['antialias']
    if 'scaleFactor' in c:
        y = F.interpolate(x, scale_factor=(c['scaleFactor'], 1.0), **kw)
        assert y.shape[2] == c['outSize'], (c, y.shape)
    else:
        y = F.interpolate(x, size=(c['outSize'], 1), **kw)
    m = y[0, :, :, 0].t().contiguous()  # [out, in]
    out.append(dict(**c, matrix=[float(v) for v in m.reshape(-1)]))

print(json.dumps({'torch': torch.__version__, 'cases': out}))
