#!/usr/bin/env python3
"""`attention_distance` cases: mean attention distance per head (Dosovitskiy et al. 2021, Fig. 7;
Xie et al. 2022, "Revealing the Dark Secrets of MIM"). There is no upstream code to run: this is the
definition, computed in float64 by loops (tests/conformance/README.md, `attention_distance`).

    /usr/bin/python3 tests/conformance/gen/attention_distance.py [OUT_DIR]
"""
import math

from _common import generator, meta, randn, write, out_dir
import torch

REF = ('none: definition (Dosovitskiy et al. 2021 mean attention distance; Xie et al. 2022 "Revealing the Dark '
       'Secrets of MIM"), own float64 implementation (tests/conformance/gen/attention_distance.py)')


def case(out, name, seed, B, heads, rows, cols, p, prefix):
    g = generator(seed)
    T = prefix + rows * cols
    attn = torch.softmax(randn(g, B, heads, T, T, scale=2.0), dim=-1)
    a = attn.to(torch.float64)
    dist = torch.zeros(B, heads, dtype=torch.float64)
    for b in range(B):
        for h in range(heads):
            total = 0.0
            for n in range(rows * cols):
                for m in range(rows * cols):
                    d = p * math.hypot(n // cols - m // cols, n % cols - m % cols)
                    total += float(a[b, h, prefix + n, prefix + m]) * d
            dist[b, h] = total / (rows * cols)
    cfg = {'grid_size': [rows, cols], 'patch_size': p, 'num_prefix_tokens': prefix, 'num_heads': heads,
           'img_size': [rows * p, cols * p], 'renormalize': False}
    write(out, name, {'input.attn': attn, 'expect.distance': dist},
          meta('attention_distance', REF, cfg, seed, atol=1e-4, rtol=1e-4))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'attention_distance', 2101, B=2, heads=2, rows=2, cols=3, p=4, prefix=1)
    case(out, 'attention_distance_noprefix', 2102, B=1, heads=3, rows=3, cols=2, p=2, prefix=0)
