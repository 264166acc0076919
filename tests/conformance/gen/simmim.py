#!/usr/bin/env python3
"""`simmim` cases from SimMIM's `models/simmim.py` (`SimMIM(VisionTransformerForSimMIM(...), encoder_stride)`,
the loss is the module's own forward) with masks from `data/data_simmim.py` `MaskGenerator`;
timm 0.4.12 as SimMIM's requirements pin it. SimMIM's ViT handles square images only.

    /usr/bin/python3 tests/conformance/gen/simmim.py [OUT_DIR]
"""
from functools import partial

from _common import generator, meta, pin, randn, randomize, reference, state, stub_modules, use, write, out_dir

stub_modules('torchvision')
use('simmim', 'timm-0.4.12')
import numpy as np  # noqa: E402
import torch  # noqa: E402
from models.simmim import SimMIM, VisionTransformerForSimMIM  # noqa: E402
from data.data_simmim import MaskGenerator  # noqa: E402

REF = reference('simmim', 'models/simmim.py')
NOTE = ('input.mask is SimMIM MaskGenerator output (int64 0/1 upstream, np.random seeded with the case seed) stored '
        'as F32 0/1; the model only uses it as a float weight. x_rec captured with a forward hook on model.decoder. '
        f'timm 0.4.12 ({pin("timm-0.4.12")}); torchvision stubbed (transforms only, unused).')


def case(out, name, seed, B, S, p, D, depth, heads, mlp_ratio, init_values, qkv_bias, mask_patch, mask_ratio,
         abs_pos=True, rel_pos=False, shared_rel_pos=False):
    g = generator(seed)
    enc = VisionTransformerForSimMIM(img_size=S, patch_size=p, in_chans=3, num_classes=0, embed_dim=D, depth=depth,
                                     num_heads=heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, init_values=init_values,
                                     norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_abs_pos_emb=abs_pos,
                                     use_rel_pos_bias=rel_pos, use_shared_rel_pos_bias=shared_rel_pos,
                                     use_mean_pooling=False)
    m = SimMIM(encoder=enc, encoder_stride=p).eval()
    randomize(m, g)
    x = randn(g, B, 3, S, S)
    np.random.seed(seed)
    gen = MaskGenerator(input_size=S, mask_patch_size=mask_patch, model_patch_size=p, mask_ratio=mask_ratio)
    mask = torch.stack([torch.from_numpy(gen()) for _ in range(B)])
    got = {}
    m.decoder.register_forward_hook(lambda mod, i, o: got.__setitem__('x_rec', o.detach().clone()))
    with torch.no_grad():
        loss = m(x, mask)
    cfg = {'img_size': S, 'patch_size': p, 'in_chans': 3, 'embed_dim': D, 'depth': depth, 'num_heads': heads,
           'mlp_ratio': mlp_ratio, 'qkv_bias': qkv_bias, 'init_values': init_values, 'encoder_stride': p,
           'norm_layer': 'LayerNorm(eps=1e-6)', 'num_classes': 0, 'use_abs_pos_emb': abs_pos,
           'use_rel_pos_bias': rel_pos, 'use_shared_rel_pos_bias': shared_rel_pos, 'use_mean_pooling': False,
           'mask_patch_size': mask_patch, 'mask_ratio': mask_ratio}
    write(out, name, {**state(m), 'input.x': x, 'input.mask': mask.to(torch.float32), 'expect.x_rec': got['x_rec'],
                      'expect.loss': loss}, meta('simmim', REF, cfg, seed, NOTE))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'simmim', 1301, B=2, S=8, p=2, D=12, depth=1, heads=3, mlp_ratio=2.0, init_values=0.1, qkv_bias=True,
         mask_patch=4, mask_ratio=0.5)
    # As released: a shared relative position bias and no absolute table, no q/v bias, no layer scale.
    case(out, 'simmim_shared_relpos_upstream', 1302, B=2, S=12, p=4, D=8, depth=2, heads=2, mlp_ratio=4.0,
         init_values=None, qkv_bias=False, mask_patch=4, mask_ratio=0.6, abs_pos=False, shared_rel_pos=True)
