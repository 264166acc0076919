#!/usr/bin/env python3
"""`clip_loss` cases from open_clip's `src/open_clip/loss.py` `ClipLoss` (single process), given
`exp(logit_scale)` as `CLIP.forward` passes it.

    /usr/bin/python3 tests/conformance/gen/clip_loss.py [OUT_DIR]
"""
import math
import os
import types

from _common import generator, load_file, meta, randn, reference, unit_rows, upstream, write, out_dir
import torch

if not hasattr(torch, 'compiler'):  # torch 1.13: loss.py decorates an unrelated helper with it
    torch.compiler = types.SimpleNamespace(disable=lambda fn=None, **kw: fn if fn is not None else (lambda f: f))
loss_py = load_file('open_clip_loss', os.path.join(upstream('open_clip'), 'src', 'open_clip', 'loss.py'))

REF = reference('open_clip', 'src/open_clip/loss.py')
NOTE = ('features are unit-normalised (as CLIP.encode_*(normalize=True) emits them); ClipLoss receives '
        'exp(param.logit_scale) as CLIP.forward passes it; loss.py imported as a single file; torch 1.13 lacks '
        'torch.compiler, so an identity torch.compiler.disable decorator is installed first (it only decorates an '
        'unrelated helper)')


def case(out, name, seed, B, E, log_scale):
    g = generator(seed)
    img, txt = unit_rows(randn(g, B, E)), unit_rows(randn(g, B, E))
    ls = torch.tensor(log_scale, dtype=torch.float32)
    crit = loss_py.ClipLoss()
    with torch.no_grad():
        lpi, lpt = crit.get_logits(img, txt, ls.exp())
        loss = crit(img, txt, ls.exp())
    cfg = {'local_loss': False, 'world_size': 1, 'logit_scale_init': log_scale}
    write(out, name, {'param.logit_scale': ls, 'input.image_features': img, 'input.text_features': txt,
                      'expect.logits_per_image': lpi, 'expect.logits_per_text': lpt, 'expect.loss': loss},
          meta('clip_loss', REF, cfg, seed, NOTE))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'clip_loss', 1601, B=5, E=6, log_scale=math.log(1 / 0.07))
    case(out, 'clip_loss_small_scale', 1602, B=3, E=4, log_scale=0.5)
