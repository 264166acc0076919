#!/usr/bin/env python3
"""Extra conformance cases of the `dino_model` kind, produced by the upstream
dino code itself (facebookresearch/dino at the pinned commit below):
`utils.MultiCropWrapper(vision_transformer.VisionTransformer, vision_transformer.DINOHead)`
called on `[global_crop, local_crop]`, exactly as the shared case
../shared/conformance/dino_model.safetensors was made (see the README
section `dino_model`), with configurations that the shared case does not
cover: head depth 1 and 2, `norm_last_layer` off (random `weight_g`), a
global crop larger than the table's grid (bicubic upsampling), patch 4,
one input channel, and equal global and local crop sizes (one backbone pass).

The upstream code is not copied into this repository: pass the folder that
holds dino's `vision_transformer.py` and `utils.py` at the pinned commit.

    git clone https://github.com/facebookresearch/dino /tmp/dino
    git -C /tmp/dino checkout 7c446df5b9f45747937fb0d72314eb9f7b66930a
    /usr/bin/python3 tests/conformance/gen/dino_model.py /tmp/dino tests/conformance/cases
    npx tsx tests/conformance/run.ts tests/conformance/cases [--backend wasm]

`--check CASE.safetensors` instead loads a case's weights and inputs into
the upstream model and compares its outputs with the case's `expect.*` (this
is how the shared case was checked against this procedure):

    /usr/bin/python3 tests/conformance/gen/dino_model.py /tmp/dino --check ../shared/conformance/dino_model.safetensors

Needs torch, numpy and PIL (dino's utils imports it); the safetensors writer
is inlined. Weights and inputs are drawn in float64 from fixed seeds; the
outputs are computed in float64 and stored as F32.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

COMMIT = '7c446df5b9f45747937fb0d72314eb9f7b66930a'
REFERENCE = f'facebookresearch/dino vision_transformer.py@{COMMIT}'

_DT = {torch.float32: 'F32'}


def save(path, tensors, metadata):
    """Writes a plain safetensors file (sorted keys, 8-byte aligned header)."""
    header = {'__metadata__': {k: str(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        data = t.numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path):
    """Reads a safetensors file (F32 only) into (tensors, metadata)."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    meta = header.pop('__metadata__', {})
    out = {}
    for k, info in header.items():
        assert info['dtype'] == 'F32', (k, info['dtype'])
        a, b = info['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(body[a:b], dtype=np.float32).copy()).reshape(info['shape'])
    return out, meta


def build(vits, utils, cfg, in_chans):
    from functools import partial
    backbone = vits.VisionTransformer(
        img_size=cfg['img_size'], patch_size=cfg['patch_size'], in_chans=in_chans, embed_dim=cfg['embed_dim'],
        depth=cfg['depth'], num_heads=cfg['num_heads'], mlp_ratio=cfg['mlp_ratio'], qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6))
    head = vits.DINOHead(cfg['embed_dim'], cfg['out_dim'], use_bn=False, norm_last_layer=cfg['norm_last_layer'],
                         nlayers=cfg['nlayers'], hidden_dim=cfg['hidden_dim'], bottleneck_dim=cfg['bottleneck_dim'])
    return backbone, utils.MultiCropWrapper(backbone, head).double().eval()


def run(backbone, model, g, lc):
    """The wrapper on [g, lc]; returns every expect.* tensor (see the README)."""
    batch = g.shape[0]
    cls_calls, pos_calls = [], []
    hook = backbone.register_forward_hook(lambda m, i, o: cls_calls.append(o.detach().clone()))
    orig = backbone.interpolate_pos_encoding

    def wrapped(x, w, h):
        r = orig(x, w, h)
        pos_calls.append(r.detach().clone())
        return r

    backbone.interpolate_pos_encoding = wrapped
    try:
        with torch.no_grad():
            out = model([g, lc])
    finally:
        hook.remove()
        backbone.interpolate_pos_encoding = orig
    if g.shape[-1] == lc.shape[-1]:
        # MultiCropWrapper runs one pass over both crops (same resolution).
        assert len(cls_calls) == 1 and len(pos_calls) == 1
        global_cls, local_cls = cls_calls[0][:batch], cls_calls[0][batch:]
        global_pos = local_pos = pos_calls[0]
    else:
        assert len(cls_calls) == 2 and len(pos_calls) == 2
        global_cls, local_cls = cls_calls
        global_pos, local_pos = pos_calls
    return {
        'expect.global_cls': global_cls, 'expect.local_cls': local_cls,
        'expect.global_pos_embed': global_pos, 'expect.local_pos_embed': local_pos,
        'expect.global_output': out[:batch], 'expect.local_output': out[batch:],
    }


def check(vits, utils, path):
    tensors, meta = load(path)
    cfg = json.loads(meta['config'])
    g = tensors['input.global_crop'].double()
    backbone, model = build(vits, utils, cfg, g.shape[1])
    sd = {k[len('param.'):]: v.double() for k, v in tensors.items() if k.startswith('param.')}
    model.load_state_dict(sd, strict=True)
    got = run(backbone, model, g, tensors['input.local_crop'].double())
    atol, rtol = float(meta['atol']), float(meta['rtol'])
    ok = True
    for k, v in got.items():
        want = tensors[k].double()
        err = (v - want).abs().max().item()
        good = bool(((v - want).abs() <= atol + rtol * want.abs()).all())
        ok = ok and good
        print(f'{"ok  " if good else "FAIL"} {k} max_abs_err={err:.3e}')
    sys.exit(0 if ok else 1)


def make_case(vits, utils, out_dir, name, seed, *, img_size, patch_size, embed_dim, depth, num_heads, out_dim, nlayers,
              hidden_dim, bottleneck_dim, norm_last_layer, global_size, local_size, in_chans=3, batch=2):
    torch.manual_seed(seed)
    cfg = {'img_size': [img_size], 'patch_size': patch_size, 'embed_dim': embed_dim, 'depth': depth,
           'num_heads': num_heads, 'mlp_ratio': 4, 'out_dim': out_dim, 'nlayers': nlayers, 'hidden_dim': hidden_dim,
           'bottleneck_dim': bottleneck_dim, 'norm_last_layer': norm_last_layer}
    backbone, model = build(vits, utils, cfg, in_chans)
    # Every weight random (biases, LayerNorm, tokens, table) so a missing term
    # shows; weight_g stays 1 when norm_last_layer freezes it.
    with torch.no_grad():
        for k, p in model.named_parameters():
            if k == 'head.last_layer.weight_g':
                if not norm_last_layer:
                    p.copy_(0.5 + torch.rand_like(p))
            elif k.endswith('norm1.weight') or k.endswith('norm2.weight') or k == 'backbone.norm.weight':
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif k.endswith('.weight') and p.dim() >= 2:
                p.copy_(torch.randn_like(p) * (p.shape[1] * (p[0, 0].numel() if p.dim() == 4 else 1)) ** -0.5)
            else:
                p.copy_(0.2 * torch.randn_like(p))
        for p in model.parameters():
            p.copy_(p.float().double())  # what the F32 file holds
    params = {f'param.{k}': v.clone() for k, v in model.state_dict().items()}

    g = torch.randn(batch, in_chans, global_size, global_size, dtype=torch.float64)
    lc = torch.randn(batch, in_chans, local_size, local_size, dtype=torch.float64)
    g, lc = g.float().double(), lc.float().double()

    tensors = dict(params)
    tensors.update({'input.global_crop': g, 'input.local_crop': lc})
    tensors.update(run(backbone, model, g, lc))
    config = {
        'bottleneck_dim': bottleneck_dim, 'depth': depth, 'embed_dim': embed_dim, 'global_size': global_size,
        'hidden_dim': hidden_dim, 'img_size': [img_size], 'in_chans': in_chans, 'interpolate_mode': 'bicubic',
        'interpolate_offset': 0.1, 'local_size': local_size, 'mlp_ratio': 4, 'nlayers': nlayers,
        'norm_last_layer': norm_last_layer, 'norm_layer': 'LayerNorm(eps=1e-6)', 'num_heads': num_heads,
        'out_dim': out_dim, 'patch_size': patch_size, 'qkv_bias': True, 'use_bn': False,
    }
    meta = {
        'case': 'dino_model', 'reference': REFERENCE, 'config': json.dumps(config, sort_keys=True),
        'atol': '0.0001', 'rtol': '0.001', 'layout': 'NCHW', 'seed': str(seed),
        'note': 'utils.MultiCropWrapper(VisionTransformer(...), DINOHead(...)) called on [global_crop, local_crop] in '
                'float64 (weights and inputs drawn in float64 and rounded to F32 as stored; outputs computed in float64); '
                'expect.*_cls captured with a forward hook on the backbone, expect.*_pos_embed by wrapping '
                'interpolate_pos_encoding; with equal crop sizes the wrapper makes one pass, split by batch. '
                'Written by tests/conformance/gen/dino_model.py',
    }
    os.makedirs(out_dir, exist_ok=True)
    save(os.path.join(out_dir, f'{name}.safetensors'), tensors, meta)
    print(f'wrote {name}: global {global_size} local {local_size} nlayers {nlayers} norm_last_layer {norm_last_layer}')


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[2] != '--check'):
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[-1]
    for f in ('vision_transformer.py', 'utils.py'):
        if not os.path.isfile(os.path.join(src, f)):
            sys.exit(f'{src} has no {f}: pass the folder of dino at commit {COMMIT}')
    sys.path.insert(0, src)
    import utils  # noqa: E402  (dino's utils.py)
    import vision_transformer as vits  # noqa: E402
    torch.set_default_dtype(torch.float64)
    if len(sys.argv) == 4:
        check(vits, utils, out)
    # One layer, free weight norm, global crop larger than the table (upsampling), odd grids.
    make_case(vits, utils, out, 'dino_model_nlayers1_free', 301, img_size=32, patch_size=8, embed_dim=24, depth=1,
              num_heads=3, out_dim=40, nlayers=1, hidden_dim=48, bottleneck_dim=12, norm_last_layer=False,
              global_size=40, local_size=24)
    # Two layers, equal crop sizes (one backbone pass, the table used as it is), one channel.
    make_case(vits, utils, out, 'dino_model_nlayers2_equal', 302, img_size=24, patch_size=8, embed_dim=16, depth=2,
              num_heads=2, out_dim=32, nlayers=2, hidden_dim=20, bottleneck_dim=8, norm_last_layer=True,
              global_size=24, local_size=24, in_chans=1)
    # Three layers, patch 4, a 6x6 table resized to 4x4 and 2x2, free weight norm.
    make_case(vits, utils, out, 'dino_model_patch4_deep', 303, img_size=24, patch_size=4, embed_dim=16, depth=2,
              num_heads=4, out_dim=48, nlayers=3, hidden_dim=24, bottleneck_dim=10, norm_last_layer=False,
              global_size=16, local_size=8, batch=3)


if __name__ == '__main__':
    main()
