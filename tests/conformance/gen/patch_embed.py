#!/usr/bin/env python3
"""`patch_embed` cases from timm's PatchEmbed (timm 0.6.13, `timm/models/layers/patch_embed.py`;
the newest timm needs torchvision at import, which Debian's torch 1.13 lacks).

    /usr/bin/python3 tests/conformance/gen/patch_embed.py [OUT_DIR]
"""
from _common import *  # noqa: F401,F403
from _common import generator, meta, randn, randomize, reference, state, stub_modules, use, write, out_dir

stub_modules('torchvision')
use('timm-0.6.13')
import torch  # noqa: E402
from timm.models.layers.patch_embed import PatchEmbed  # noqa: E402

REF = reference('timm-0.6.13', 'timm/models/layers/patch_embed.py')


def case(out, name, seed, B, C, H, W, p, D):
    g = generator(seed)
    m = PatchEmbed(img_size=(H, W), patch_size=p, in_chans=C, embed_dim=D).eval()
    randomize(m, g)
    x = randn(g, B, C, H, W)
    with torch.no_grad():
        y = m(x)
    cfg = {'img_size': [H, W], 'patch_size': p, 'in_chans': C, 'embed_dim': D, 'norm_layer': None, 'flatten': True, 'bias': True}
    write(out, name, {**state(m), 'input.x': x, 'expect.out': y}, meta('patch_embed', REF, cfg, seed))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'patch_embed', 1001, B=2, C=3, H=8, W=12, p=4, D=8)        # non-square
    case(out, 'patch_embed_gray_p2', 1002, B=1, C=1, H=6, W=4, p=2, D=5)  # one channel, patch 2
