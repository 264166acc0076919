#!/usr/bin/env python3
"""`vit_block` cases from timm's `Block` (timm 0.6.13 `timm/models/vision_transformer.py`: the
first release with `ls1`/`ls2` LayerScale that imports under torch 1.13 without torchvision's
ops; the explicit attention path, `expect.attn` captured at `attn.attn_drop`, identity in eval).

    /usr/bin/python3 tests/conformance/gen/vit_block.py [OUT_DIR]
"""
from functools import partial

from _common import generator, meta, randn, randomize, reference, state, stub_modules, use, write, out_dir

stub_modules('torchvision')
use('timm-0.6.13')
import torch  # noqa: E402
from timm.models.vision_transformer import Block  # noqa: E402

REF = reference('timm-0.6.13', 'timm/models/vision_transformer.py')
NOTE = 'expect.attn captured with a forward hook on attn.attn_drop (identity in eval mode); torchvision stubbed (unused)'


def case(out, name, seed, B, N, D, heads, mlp_ratio, qkv_bias, init_values):
    g = generator(seed)
    m = Block(D, heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, init_values=init_values,
              norm_layer=partial(torch.nn.LayerNorm, eps=1e-6)).eval()
    randomize(m, g)
    x = randn(g, B, N, D)
    got = {}
    m.attn.attn_drop.register_forward_hook(lambda mod, i, o: got.__setitem__('attn', o.detach().clone()))
    with torch.no_grad():
        y = m(x)
    cfg = {'dim': D, 'num_heads': heads, 'mlp_ratio': mlp_ratio, 'qkv_bias': qkv_bias, 'init_values': init_values,
           'norm_layer': 'LayerNorm(eps=1e-6)', 'act_layer': 'GELU(exact)'}
    write(out, name, {**state(m), 'input.x': x, 'expect.out': y, 'expect.attn': got['attn']},
          meta('vit_block', REF, cfg, seed, NOTE))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'vit_block', 1101, B=2, N=5, D=12, heads=3, mlp_ratio=2.0, qkv_bias=True, init_values=0.1)
    case(out, 'vit_block_noqkvbias', 1102, B=1, N=7, D=8, heads=2, mlp_ratio=4.0, qkv_bias=False, init_values=None)
