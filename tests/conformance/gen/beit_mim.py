#!/usr/bin/env python3
"""`beit_mim` cases from unilm's `beit/modeling_pretrain.py` `VisionTransformerForMaskedImageModeling`,
masks from `beit/masking_generator.py` (`random` and numpy seeded with the case seed), the loss as
`beit/engine_for_pretraining.py` computes it (`CrossEntropyLoss(logits, labels)`); timm 0.4.5 stands
in for the pinned timm 0.3.2.

    /usr/bin/python3 tests/conformance/gen/beit_mim.py [OUT_DIR]
"""
import random
from functools import partial

from _common import generator, meta, pin, randn, randomize, reference, restore_numpy_aliases, state, stub_modules, \
    use, write, out_dir

restore_numpy_aliases()
stub_modules('torchvision')
use('unilm/beit', 'timm-0.4.5')
import numpy as np  # noqa: E402
import torch  # noqa: E402
from modeling_pretrain import VisionTransformerForMaskedImageModeling  # noqa: E402
from masking_generator import MaskingGenerator  # noqa: E402

REF = reference('unilm', 'beit/modeling_pretrain.py')
NOTE = ('np.int alias restored (numpy>=1.24) for masking_generator.py; loss as beit/engine_for_pretraining.py: '
        'CrossEntropyLoss(logits, labels) with labels random ids of the masked positions; masks from '
        f'beit/masking_generator.py; timm 0.4.5 ({pin("timm-0.4.5")}) stands in for the pinned timm 0.3.2')


def case(out, name, seed, B, S, p, D, depth, heads, mlp_ratio, init_values, qkv_bias, vocab, n_mask, min_patches,
         abs_pos=True, rel_pos=False, shared_rel_pos=False):
    g = generator(seed)
    m = VisionTransformerForMaskedImageModeling(
        img_size=S, patch_size=p, in_chans=3, vocab_size=vocab, embed_dim=D, depth=depth, num_heads=heads,
        mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        init_values=init_values, use_abs_pos_emb=abs_pos, use_rel_pos_bias=rel_pos,
        use_shared_rel_pos_bias=shared_rel_pos).eval()
    randomize(m, g)
    x = randn(g, B, 3, S, S)
    random.seed(seed)
    np.random.seed(seed)
    gen = MaskingGenerator(S // p, num_masking_patches=n_mask, min_num_patches=min_patches)
    bool_masked_pos = torch.stack([torch.from_numpy(gen()).flatten() for _ in range(B)]).to(torch.bool)
    labels = torch.randint(0, vocab, (int(bool_masked_pos.sum()),), generator=g)
    with torch.no_grad():
        logits = m(x, bool_masked_pos)
        loss = torch.nn.CrossEntropyLoss()(logits, labels)
    cfg = {'img_size': S, 'patch_size': p, 'in_chans': 3, 'vocab_size': vocab, 'embed_dim': D, 'depth': depth,
           'num_heads': heads, 'mlp_ratio': mlp_ratio, 'qkv_bias': qkv_bias, 'qk_scale': None, 'init_values': init_values,
           'norm_layer': 'LayerNorm(eps=1e-6)', 'use_abs_pos_emb': abs_pos, 'use_rel_pos_bias': rel_pos,
           'use_shared_rel_pos_bias': shared_rel_pos, 'num_masking_patches': n_mask, 'min_num_patches': min_patches}
    write(out, name, {**state(m), 'input.x': x, 'input.bool_masked_pos': bool_masked_pos, 'input.labels': labels,
                      'expect.logits': logits, 'expect.loss': loss}, meta('beit_mim', REF, cfg, seed, NOTE))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'beit_mim', 1401, B=2, S=8, p=2, D=12, depth=1, heads=3, mlp_ratio=2.0, init_values=0.1, qkv_bias=True,
         vocab=20, n_mask=6, min_patches=2)
    # As released for pretraining: a shared relative position bias, no absolute table.
    case(out, 'beit_mim_shared_relpos_upstream', 1402, B=2, S=12, p=4, D=8, depth=2, heads=2, mlp_ratio=4.0,
         init_values=0.2, qkv_bias=True, vocab=11, n_mask=4, min_patches=1, abs_pos=False, shared_rel_pos=True)
