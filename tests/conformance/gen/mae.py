#!/usr/bin/env python3
"""`mae` cases from MAE's `models_mae.py` `MaskedAutoencoderViT` (timm 0.4.5 stands in for the
pinned timm 0.3.2: same Block/PatchEmbed maths, and it imports under torch 1.13).

The noise of `random_masking` is an input (`torch.rand` is patched to return it while the
forward runs); `latent` and `ids_restore` are captured by wrapping `forward_encoder`.

    /usr/bin/python3 tests/conformance/gen/mae.py [OUT_DIR]
"""
from functools import partial

from _common import generator, meta, pin, rand, randn, randomize, reference, restore_numpy_aliases, state, stub_modules, \
    use, write, out_dir

restore_numpy_aliases()
stub_modules('torchvision')
use('mae', 'timm-0.4.5')
import torch  # noqa: E402
import models_mae  # noqa: E402

REF = reference('mae', 'models_mae.py')
NOTE = ('np.float alias restored (numpy>=1.24) for util/pos_embed.py; torch.rand inside random_masking is patched to '
        'return input.noise; latent and ids_restore are captured by wrapping forward_encoder; timm 0.4.5 '
        f'({pin("timm-0.4.5")}) stands in for the pinned timm 0.3.2 (same Block/PatchEmbed math, runs on torch 1.13)')


def case(out, name, seed, B, S, p, D, depth, heads, Dd, ddepth, dheads, mlp_ratio, mask_ratio, norm_pix):
    g = generator(seed)
    m = models_mae.MaskedAutoencoderViT(img_size=S, patch_size=p, in_chans=3, embed_dim=D, depth=depth, num_heads=heads,
                                        decoder_embed_dim=Dd, decoder_depth=ddepth, decoder_num_heads=dheads,
                                        mlp_ratio=mlp_ratio, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
                                        norm_pix_loss=norm_pix).eval()
    randomize(m, g, skip=('pos_embed',))  # the two fixed sin-cos tables stay (requires_grad=False upstream)
    L = (S // p) ** 2
    imgs = randn(g, B, 3, S, S)
    noise = rand(g, B, L)
    got = {}
    enc = m.forward_encoder

    def forward_encoder(x, r):
        latent, mask, ids_restore = enc(x, r)
        got['latent'], got['ids_restore'] = latent.detach().clone(), ids_restore.clone()
        return latent, mask, ids_restore

    m.forward_encoder = forward_encoder
    real_rand = torch.rand
    torch.rand = lambda *a, **k: noise.clone()
    try:
        with torch.no_grad():
            loss, pred, mask = m(imgs, mask_ratio=mask_ratio)
    finally:
        torch.rand = real_rand
    cfg = {'img_size': S, 'patch_size': p, 'in_chans': 3, 'embed_dim': D, 'depth': depth, 'num_heads': heads,
           'decoder_embed_dim': Dd, 'decoder_depth': ddepth, 'decoder_num_heads': dheads, 'mlp_ratio': mlp_ratio,
           'norm_layer': 'LayerNorm(eps=1e-6)', 'norm_pix_loss': norm_pix, 'mask_ratio': mask_ratio,
           'len_keep': int(L * (1 - mask_ratio)), 'qkv_bias': True}
    write(out, name, {**state(m), 'input.imgs': imgs, 'input.noise': noise, 'expect.latent': got['latent'],
                      'expect.ids_restore': got['ids_restore'], 'expect.mask': mask, 'expect.pred': pred,
                      'expect.loss': loss}, meta('mae', REF, cfg, seed, NOTE))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'mae', 1201, B=2, S=8, p=2, D=16, depth=1, heads=2, Dd=12, ddepth=1, dheads=3, mlp_ratio=2.0,
         mask_ratio=0.75, norm_pix=True)
    case(out, 'mae_plain_loss', 1202, B=2, S=12, p=4, D=12, depth=2, heads=3, Dd=8, ddepth=1, dheads=2, mlp_ratio=4.0,
         mask_ratio=0.6, norm_pix=False)
