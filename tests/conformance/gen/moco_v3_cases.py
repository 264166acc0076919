#!/usr/bin/env python3
"""Extra `moco_v3_model` conformance cases, computed by the upstream code.

Runs facebookresearch/moco-v3 itself (`moco/builder.py` `MoCo_ViT`, `vits.py`
`VisionTransformerMoCo`) at commit c349e6e24f40d3fedb22d973f92defa4cedf37a7,
on timm 0.4.9 (huggingface/pytorch-image-models at
e7f0db866412b9ae61332c205270c9fc0ef5083c, the version moco-v3 pins), exactly
as ../shared/conformance/moco_v3_model.safetensors was made: `train()` mode,
`loss = model(x1, x2, m)` once, params = the state before the call, one-rank
gloo process group so `concat_all_gather` / `get_rank` run unmodified,
`Tensor.cuda` -> identity; z/q captured by a forward hook on the predictor,
k by one on the momentum encoder, the loss terms by wrapping
`contrastive_loss`. Configurations the shared case does not cover: other
momenta (0.5, 1.0), `momentum_init` copy (as `MoCo.__init__` leaves it) and
random, depths 1 and 3, grey images, patch 2, other projector/predictor
depths (a subclass of `MoCo_ViT` that calls upstream's `_build_mlp` with
other layer counts), other temperatures and batch sizes. (`VisionTransformerMoCo` cannot be built
without a qkv bias: its init zeroes every Linear's bias.)

Debian has no timm or torchvision: timm 0.4.9 is imported from a source
folder, and torchvision (used only by timm's data pipeline, never by the
model) is stubbed with MagicMock modules. To regenerate:

    git -C MOCO_MIRROR archive c349e6e24f40d3fedb22d973f92defa4cedf37a7 moco vits.py | tar -x -C /tmp/mocov3
    git -C TIMM_MIRROR archive e7f0db866412b9ae61332c205270c9fc0ef5083c timm | tar -x -C /tmp/timm049
    MOCO_V3_DIR=/tmp/mocov3 TIMM_DIR=/tmp/timm049 /usr/bin/python3 tests/conformance/gen/moco_v3_cases.py tests/conformance/cases

Needs torch and numpy only (the safetensors writer is inlined).
"""
import json
import os
import struct
import sys
from functools import partial
from unittest import mock

import numpy as np
import torch
import torch.nn as nn

MOCO_COMMIT = 'c349e6e24f40d3fedb22d973f92defa4cedf37a7'
TIMM_COMMIT = 'e7f0db866412b9ae61332c205270c9fc0ef5083c'

_DT = {torch.float32: 'F32', torch.int64: 'I64'}


def save(path, tensors, metadata):
    """Writes a plain safetensors file (sorted keys, 8-byte aligned)."""
    header = {'__metadata__': {k: str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        data = t.numpy().tobytes()
        header[name] = {'dtype': _DT[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def import_upstream():
    for n in ['torchvision', 'torchvision.transforms', 'torchvision.transforms.functional', 'torchvision.datasets',
              'torchvision.ops', 'torchvision.models']:
        sys.modules[n] = mock.MagicMock()
    sys.path.insert(0, os.environ['TIMM_DIR'])
    sys.path.insert(0, os.environ['MOCO_V3_DIR'])
    import timm  # noqa: F401
    import vits
    from moco import builder
    assert timm.__version__ == '0.4.9', timm.__version__
    return vits, builder


CASES = [
    # name, config, batch, channels, seed
    ('moco_v3_copy_m05_depth1', dict(img_size=8, patch_size=4, embed_dim=16, depth=1, num_heads=2, mlp_ratio=4, qkv_bias=True,
                                     dim=8, mlp_dim=24, T=0.5, m=0.5, momentum_init='copy', stop_grad_conv1=False,
                                     projector_layers=3, predictor_layers=2), 5, 3, 201),
    ('moco_v3_random_depth3', dict(img_size=12, patch_size=4, embed_dim=24, depth=3, num_heads=3, mlp_ratio=2, qkv_bias=True,
                                   dim=12, mlp_dim=20, T=0.1, m=0.9, momentum_init='random', stop_grad_conv1=True,
                                   projector_layers=2, predictor_layers=3), 3, 3, 202),
    ('moco_v3_gray_patch2_m1', dict(img_size=8, patch_size=2, embed_dim=16, depth=2, num_heads=4, mlp_ratio=4, qkv_bias=True,
                                       dim=8, mlp_dim=16, T=0.2, m=1.0, momentum_init='random', stop_grad_conv1=True,
                                       projector_layers=3, predictor_layers=2), 4, 1, 203),
]


def randomize(module, g):
    """Every weight random (so a missing term shows), BN running stats too (they take no part in training mode)."""
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith('pos_embed'):
                continue  # the fixed sine-cosine table
            if name.endswith('num_batches_tracked'):
                t.fill_(int(torch.randint(0, 1000, (1,), generator=g)))
            elif name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith('norm1.weight') or name.endswith('norm2.weight') or name.endswith('norm.weight') \
                    or (t.dim() == 1 and 'head' in name and name.endswith('.weight')) or (
                    t.dim() == 1 and name.startswith('predictor') and name.endswith('.weight')):
                t.copy_(1 + 0.3 * torch.randn(t.shape, generator=g))
            else:
                t.copy_(0.3 * torch.randn(t.shape, generator=g))


def make_case(vits, builder, name, cfg, n, chans, seed, out_dir):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)

    class MoCoViTLayers(builder.MoCo_ViT):
        """MoCo_ViT with other projector/predictor depths, through upstream's own _build_mlp."""

        def _build_projector_and_predictor_mlps(self, dim, mlp_dim):
            hidden_dim = self.base_encoder.head.weight.shape[1]
            del self.base_encoder.head, self.momentum_encoder.head
            self.base_encoder.head = self._build_mlp(cfg['projector_layers'], hidden_dim, mlp_dim, dim)
            self.momentum_encoder.head = self._build_mlp(cfg['projector_layers'], hidden_dim, mlp_dim, dim)
            self.predictor = self._build_mlp(cfg['predictor_layers'], dim, mlp_dim, dim)

    cls = builder.MoCo_ViT if (cfg['projector_layers'], cfg['predictor_layers']) == (3, 2) else MoCoViTLayers
    enc = partial(vits.VisionTransformerMoCo, img_size=cfg['img_size'], patch_size=cfg['patch_size'], in_chans=chans,
                  embed_dim=cfg['embed_dim'], depth=cfg['depth'], num_heads=cfg['num_heads'], mlp_ratio=cfg['mlp_ratio'],
                  qkv_bias=cfg['qkv_bias'], norm_layer=partial(nn.LayerNorm, eps=1e-6), stop_grad_conv1=cfg['stop_grad_conv1'])
    model = cls(enc, cfg['dim'], cfg['mlp_dim'], cfg['T'])
    randomize(model, g)
    if cfg['momentum_init'] == 'copy':
        with torch.no_grad():
            for pb, pm in zip(model.base_encoder.parameters(), model.momentum_encoder.parameters()):
                pm.copy_(pb)
    model.train()
    params = {f'param.{k}': v.clone() for k, v in model.state_dict().items()}

    s = cfg['img_size']
    x1 = torch.randn(n, chans, s, s, generator=g)
    x2 = torch.randn(n, chans, s, s, generator=g)
    got = {}
    zs, qs, ks, terms = [], [], [], []
    def on_predictor(mod, inp, out):  # a hook that returns something replaces the output: return None
        zs.append(inp[0].detach().clone())
        qs.append(out.detach().clone())

    def on_momentum(mod, inp, out):
        ks.append(out.detach().clone())

    model.predictor.register_forward_hook(on_predictor)
    model.momentum_encoder.register_forward_hook(on_momentum)
    orig = model.contrastive_loss

    def wrapped(q, k):
        r = orig(q, k)
        terms.append(r.detach().clone())
        return r

    model.contrastive_loss = wrapped
    loss = model(x1, x2, cfg['m'])
    loss.backward()  # the reference's step runs backward too; checks the graph is sound
    got['expect.z1'], got['expect.z2'] = zs
    got['expect.q1'], got['expect.q2'] = qs
    got['expect.k1'], got['expect.k2'] = ks
    got['expect.loss_q1k2'], got['expect.loss_q2k1'] = terms
    got['expect.loss'] = loss.detach()
    tensors = {**params, 'input.x1': x1, 'input.x2': x2, **got}
    config = {**cfg, 'bn_eps': 1e-5, 'norm_layer': 'LayerNorm(eps=1e-6)', 'training': True, 'world_size': 1}
    meta = {
        'case': 'moco_v3_model',
        'reference': f'facebookresearch/moco-v3 moco/builder.py@{MOCO_COMMIT}',
        'config': json.dumps(config, sort_keys=True),
        'atol': '1e-4',
        'rtol': '1e-3',
        'layout': 'NCHW',
        'seed': str(seed),
        'note': 'MoCo_ViT (or a subclass whose _build_projector_and_predictor_mlps calls upstream _build_mlp with '
                'projector_layers/predictor_layers) over vits.VisionTransformerMoCo in train() mode, called as '
                'model(x1, x2, m) once; params are the state before the call. One-rank gloo process group, '
                'Tensor.cuda -> identity; z*/q* by a forward hook on predictor, k* on momentum_encoder, loss terms by '
                f'wrapping contrastive_loss; timm 0.4.9 (huggingface/pytorch-image-models@{TIMM_COMMIT}), '
                'torchvision stubbed (unused by the model). Generator: tests/conformance/gen/moco_v3_cases.py',
    }
    save(os.path.join(out_dir, f'{name}.safetensors'), tensors, meta)
    print(f'wrote {name}: loss {loss.item():.6f}')


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    vits, builder = import_upstream()
    torch.Tensor.cuda = lambda self, *a, **k: self
    os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    os.environ.setdefault('MASTER_PORT', '29517')
    torch.distributed.init_process_group('gloo', rank=0, world_size=1)
    try:
        for name, cfg, n, chans, seed in CASES:
            make_case(vits, builder, name, cfg, n, chans, seed, out_dir)
    finally:
        torch.distributed.destroy_process_group()


if __name__ == '__main__':
    main()
