#!/usr/bin/env python3
"""`sincos_pos_embed` cases from MAE's `util/pos_embed.py` `get_2d_sincos_pos_embed`
(float64; numpy >= 1.24 lacks `np.float`, so the alias is restored first).

    /usr/bin/python3 tests/conformance/gen/sincos_pos_embed.py [OUT_DIR]
"""
from _common import meta, reference, restore_numpy_aliases, use, write, out_dir

restore_numpy_aliases()
use('mae')
import torch  # noqa: E402
from util.pos_embed import get_2d_sincos_pos_embed  # noqa: E402

REF = reference('mae', 'util/pos_embed.py')
NOTE = 'numpy>=1.24 lacks np.float: the alias np.float = float (float64) is restored before calling upstream'


def case(out, name, D, G, cls):
    pe = torch.from_numpy(get_2d_sincos_pos_embed(D, G, cls_token=cls))
    cfg = {'embed_dim': D, 'grid_size': G, 'cls_token': cls}
    write(out, name, {'expect.pos_embed': pe}, meta('sincos_pos_embed', REF, cfg, 0, NOTE, atol=1e-5, rtol=1e-4))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'sincos_pos_embed', 24, 3, True)
    case(out, 'sincos_pos_embed_nocls', 8, 5, False)
