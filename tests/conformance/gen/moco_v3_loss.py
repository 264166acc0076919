#!/usr/bin/env python3
"""`moco_v3_loss` cases from moco-v3's `moco/builder.py` `MoCo.contrastive_loss`, called unbound
with `T`, in one CPU process.

    /usr/bin/python3 tests/conformance/gen/moco_v3_loss.py [OUT_DIR]
"""
import os
import types

from _common import generator, load_file, meta, randn, reference, upstream, write, out_dir
import torch

builder = load_file('moco_builder', os.path.join(upstream('moco-v3'), 'moco', 'builder.py'))
builder.concat_all_gather = lambda t: t
torch.distributed.get_rank = lambda *a, **k: 0
torch.Tensor.cuda = lambda self, *a, **k: self

REF = reference('moco-v3', 'moco/builder.py')
NOTE = ('MoCo.contrastive_loss called unbound with T; concat_all_gather -> identity, torch.distributed.get_rank -> 0, '
        'Tensor.cuda -> identity (single CPU process)')


def case(out, name, seed, N, D, T):
    g = generator(seed)
    q1, q2, k1, k2 = (randn(g, N, D) for _ in range(4))
    me = types.SimpleNamespace(T=T)
    with torch.no_grad():
        a = builder.MoCo.contrastive_loss(me, q1, k2)
        b = builder.MoCo.contrastive_loss(me, q2, k1)
    write(out, name, {'input.q1': q1, 'input.q2': q2, 'input.k1': k1, 'input.k2': k2, 'expect.loss_q1k2': a,
                      'expect.loss_q2k1': b, 'expect.loss': a + b},
          meta('moco_v3_loss', REF, {'T': T, 'world_size': 1}, seed, NOTE))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'moco_v3_loss', 1701, N=5, D=6, T=0.2)
    case(out, 'moco_v3_loss_t1', 1702, N=3, D=8, T=1.0)
