#!/usr/bin/env python3
"""Conformance cases of kind `pos_resize`: position tables of a checkpoint made
at one image size, resized to another grid by the upstream code itself.

- timm `resample_abs_pos_embed` (timm/layers/pos_embed.py; what timm's
  `checkpoint_filter_fn` and its dynamic-size path call), antialias on
  (timm's default) and off, up and down, square and non-square targets, with
  and without a class-token row;
- MAE `interpolate_pos_embed` (util/pos_embed.py: bicubic, no antialias);
- timm `resize_rel_pos_bias_table` (timm/layers/pos_embed_rel.py, its
  scipy-free default) on BEiT-form relative tables `[(2W-1)^2 + 3, heads]`.

Pinned upstream commits (checked out wherever you like, paths as arguments):

    huggingface/pytorch-image-models @ aa4b5850c1543fa488abf260f18390eda46cf85d
    facebookresearch/mae             @ efb2a8062c206524e35e47d04501ed4f544c0ae8

Regenerate (from the repository root):

    /usr/bin/python3 tests/conformance/gen/pos_resize_cases.py TIMM_ROOT MAE_ROOT tests/conformance/cases

TIMM_ROOT is a checkout of pytorch-image-models (the folder holding `timm/`),
MAE_ROOT one of mae. Only the two timm module files and their small in-package
helpers are loaded (`timm/layers/` as a bare package, without its
`__init__.py`, which needs torchvision), so Debian's torch 1.13 runs them
unchanged. Needs torch and numpy only.
"""
import importlib
import importlib.util
import json
import os
import struct
import sys
import types

import numpy as np
import torch

TIMM_COMMIT = 'aa4b5850c1543fa488abf260f18390eda46cf85d'
MAE_COMMIT = 'efb2a8062c206524e35e47d04501ed4f544c0ae8'


def save(path, tensors, metadata):
    """Writes a plain safetensors file (sorted keys, F32 only)."""
    header = {'__metadata__': {k: str(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_timm_layers(timm_root):
    root = os.path.join(timm_root, 'timm', 'layers')
    pkg = types.ModuleType('timm_layers')
    pkg.__path__ = [root]
    sys.modules['timm_layers'] = pkg
    return importlib.import_module('timm_layers.pos_embed'), importlib.import_module('timm_layers.pos_embed_rel')


def load_mae_pos_embed(mae_root):
    spec = importlib.util.spec_from_file_location('mae_pos_embed', os.path.join(mae_root, 'util', 'pos_embed.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    timm_root, mae_root, out = sys.argv[1:]
    os.makedirs(out, exist_ok=True)
    pe, per = load_timm_layers(timm_root)
    mae = load_mae_pos_embed(mae_root)
    timm_ref = f'huggingface/pytorch-image-models timm/layers/pos_embed.py@{TIMM_COMMIT}'
    rel_ref = f'huggingface/pytorch-image-models timm/layers/pos_embed_rel.py@{TIMM_COMMIT}'
    mae_ref = f'facebookresearch/mae util/pos_embed.py@{MAE_COMMIT}'
    common = {'atol': '1e-5', 'rtol': '1e-4', 'layout': 'NCHW'}
    seed = 0

    # timm resample_abs_pos_embed: (name, old grid (square), new grid, prefix rows, antialias)
    for name, old, new, prefix, aa in [
        ('timm_aa_224_to_160', 14, (10, 10), 1, True),
        ('timm_aa_224_to_256', 14, (16, 16), 1, True),
        ('timm_noaa_224_to_160', 14, (10, 10), 1, False),
        ('timm_noaa_224_to_256', 14, (16, 16), 1, False),
        ('timm_aa_nonsquare', 7, (9, 4), 1, True),
        ('timm_noaa_nonsquare', 7, (4, 9), 1, False),
        ('timm_aa_noprefix', 6, (3, 3), 0, True),
    ]:
        seed += 1
        g = torch.Generator().manual_seed(seed)
        D = 8
        table = torch.randn(1, prefix + old * old, D, generator=g)
        want = pe.resample_abs_pos_embed(table, new_size=list(new), num_prefix_tokens=prefix, interpolation='bicubic', antialias=aa)
        config = {'function': 'resample_abs_pos_embed', 'old_size': [old, old], 'new_size': list(new),
                  'num_prefix_tokens': prefix, 'interpolation': 'bicubic', 'antialias': aa, 'embed_dim': D}
        save(os.path.join(out, f'pos_resize_{name}.safetensors'), {'param.pos_embed': table, 'expect.pos_embed': want},
             {'case': 'pos_resize', 'reference': timm_ref, 'config': json.dumps(config), 'seed': seed, **common})

    # MAE interpolate_pos_embed (square grids only, as upstream)
    for name, old, new in [('mae_224_to_160', 14, 10), ('mae_224_to_256', 14, 16)]:
        seed += 1
        g = torch.Generator().manual_seed(seed)
        D = 8
        table = torch.randn(1, 1 + old * old, D, generator=g)
        model = types.SimpleNamespace(patch_embed=types.SimpleNamespace(num_patches=new * new),
                                      pos_embed=torch.zeros(1, 1 + new * new, D))
        ckpt = {'pos_embed': table.clone()}
        mae.interpolate_pos_embed(model, ckpt)
        config = {'function': 'interpolate_pos_embed', 'old_size': [old, old], 'new_size': [new, new],
                  'num_prefix_tokens': 1, 'interpolation': 'bicubic', 'antialias': False, 'embed_dim': D}
        save(os.path.join(out, f'pos_resize_{name}.safetensors'), {'param.pos_embed': table, 'expect.pos_embed': ckpt['pos_embed']},
             {'case': 'pos_resize', 'reference': mae_ref, 'config': json.dumps(config), 'seed': seed, **common})

    # timm resize_rel_pos_bias_table (BEiT flat tables with 3 class-token rows)
    for name, old, new, heads in [('rel_7_to_10', 7, (10, 10), 3), ('rel_10_to_7', 10, (7, 7), 2), ('rel_4_to_6x5', 4, (6, 5), 2)]:
        seed += 1
        g = torch.Generator().manual_seed(seed)
        src = (2 * old - 1) ** 2 + 3
        dst = (2 * new[0] - 1) * (2 * new[1] - 1) + 3
        table = torch.randn(src, heads, generator=g)
        want = per.resize_rel_pos_bias_table(table, new_window_size=new, new_bias_shape=(dst, heads))
        config = {'function': 'resize_rel_pos_bias_table', 'old_window': [old, old], 'new_window': list(new), 'num_heads': heads,
                  'scipy': False}
        save(os.path.join(out, f'pos_resize_{name}.safetensors'),
             {'param.relative_position_bias_table': table, 'expect.relative_position_bias_table': want},
             {'case': 'pos_resize', 'reference': rel_ref, 'config': json.dumps(config), 'seed': seed, **common,
              'note': 'timm without scipy (TIMM_USE_SCIPY_INTERP unset): linear interpolation on the geometric grid'})
    print(f'wrote {seed} cases to {out} (torch {torch.__version__})')


if __name__ == '__main__':
    main()
