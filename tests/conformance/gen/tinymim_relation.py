#!/usr/bin/env python3
"""`tinymim_relation` cases from TinyMIM's `vit.py` `Block(..., return_relation=True)` (the student's
12th block, the teacher's block `teacher_intermediate`) and `models_tinymim.py`
`TinyMIMViT.forward_kd_loss` (called unbound); timm 0.4.5 for `vit.py`'s imports. Only `norm1` and
`attn.qkv` of each block take part, so only those are stored.

    /usr/bin/python3 tests/conformance/gen/tinymim_relation.py [OUT_DIR]
"""
from functools import partial

from _common import generator, meta, pin, randn, randomize, reference, restore_numpy_aliases, stub_modules, use, \
    write, out_dir

restore_numpy_aliases()
stub_modules('torchvision')
use('tinymim', 'timm-0.4.5')
import torch  # noqa: E402
import vit  # noqa: E402
import models_tinymim  # noqa: E402

REF = reference('tinymim', 'models_tinymim.py')
NOTE = ('block level: vit.Block(..., return_relation=True) of the student (TinyMIMViT block 12) and of the teacher '
        '(models_teacher block `intermediate`), then TinyMIMViT.forward_kd_loss (called unbound); only norm1 and '
        f'attn.qkv of each block take part, the others are not stored; timm 0.4.5 ({pin("timm-0.4.5")})')


def block(g, D, heads):
    b = vit.Block(D, heads, qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6)).eval()
    randomize(b, g)
    return b


def case(out, name, seed, B, N, Ds, Dt, heads, ti):
    g = generator(seed)
    s, t = block(g, Ds, heads), block(g, Dt, heads)
    xs, xt = randn(g, B, N, Ds), randn(g, B, N, Dt)
    kd = models_tinymim.TinyMIMViT.forward_kd_loss
    with torch.no_grad():
        sqk, svv = s(xs, return_relation=True)
        tqk, tvv = t(xt, return_relation=True)
        qk_loss, vv_loss = kd(None, sqk, tqk), kd(None, svv, tvv)
    keep = ('norm1.weight', 'norm1.bias', 'attn.qkv.weight', 'attn.qkv.bias')
    params = {f'param.student.blocks.11.{k}': v for k, v in s.state_dict().items() if k in keep}
    params.update({f'param.teacher.blocks.{ti - 1}.{k}': v for k, v in t.state_dict().items() if k in keep})
    cfg = {'student_dim': Ds, 'teacher_dim': Dt, 'num_heads': heads, 'student_last_heads': heads,
           'teacher_num_heads': heads, 'student_block': 12, 'teacher_intermediate': ti, 'tokens': N, 'qkv_bias': True,
           'norm_layer': 'LayerNorm(eps=1e-6)', 'student_scale': (Ds // heads) ** -0.5, 'teacher_scale': (Dt // heads) ** -0.5}
    write(out, name, {**params, 'input.student_x': xs, 'input.teacher_x': xt, 'expect.student_qk': sqk,
                      'expect.student_vv': svv, 'expect.teacher_qk': tqk, 'expect.teacher_vv': tvv,
                      'expect.qk_loss': qk_loss, 'expect.vv_loss': vv_loss, 'expect.loss': qk_loss + vv_loss},
          meta('tinymim_relation', REF, cfg, seed, NOTE))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'tinymim_relation', 2001, B=2, N=5, Ds=8, Dt=12, heads=2, ti=3)
    case(out, 'tinymim_relation_h3', 2002, B=1, N=4, Ds=6, Dt=9, heads=3, ti=1)
