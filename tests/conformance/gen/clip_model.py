#!/usr/bin/env python3
"""Extra `clip_model` conformance cases, computed by the upstream open_clip code.

open_clip (mlfoundations/open_clip) at the pinned commit
89fb801f1e6087880e951fc8354b8a2077b79c6d (the commit of the shared
`clip_model` case): its `model.py` `CLIP`, `transformer.py` and `loss.py`
`ClipLoss`, imported from the path given as the first argument (a checkout's
`src` folder; never vendored here). Configurations the shared case does not
cover:

- `clip_quickgelu_ls`: QuickGELU, layer scale (`ls_1.gamma`/`ls_2.gamma`) in
  both towers, 3 x 3 patch grid, 4 text heads, mlp_ratio 2;
- `clip_attnpool`: attentional pooling with `width != embed_dim` (separate
  `q_proj_weight`/`k_proj_weight`/`v_proj_weight`), 3 queries, 2 heads;
- `clip_attnpool_square`: attentional pooling with `width == embed_dim` (one
  `in_proj_weight`), `pool_type='avg'` over the other queries, no `ln_pre`;
- `flip_patch_dropout`: FLIP patch dropout 0.5 with the kept patch indices as
  `input.patch_keep_indices` (the image tower's `PatchDropout` in training
  mode, every other module in eval; the generator is re-seeded before each
  image-tower call so every call keeps the same patches, as the shared FLIP
  convention says).

Every weight is random (biases, LayerNorm affine, layer scale, the class
embedding, queries), computed in float64 and stored as F32. Needs torch (>=
1.13) and numpy only: torchvision (imported by open_clip's utils for a
BatchNorm helper that CLIP does not use) is stubbed, `torch.compiler.disable`
is shimmed for `loss.py`, and every open_clip `Attention` runs with
`use_sdpa=False` (torch 1.13 has no scaled_dot_product_attention; the
explicit branch is the same maths).

    git -C OPEN_CLIP checkout 89fb801f1e6087880e951fc8354b8a2077b79c6d
    /usr/bin/python3 tests/conformance/gen/clip_model.py OPEN_CLIP/src tests/conformance/cases
    /usr/bin/python3 tests/conformance/gen/clip_model.py tests/conformance/cases   # checkout from _common.upstream('open_clip')
    npx tsx tests/conformance/run.ts tests/conformance/cases [--backend wasm]

`--check SHARED_DIR` first recomputes the shared `clip_model` case from its
own weights and inputs with the same code, proving the setup.
"""
import dataclasses
import json
import math
import os
import struct
import sys
import types

import numpy as np
import torch

COMMIT = '89fb801f1e6087880e951fc8354b8a2077b79c6d'
REFERENCE = f'mlfoundations/open_clip src/open_clip/model.py@{COMMIT}'
NOTE = (
    'use_sdpa=False on every open_clip Attention (torch 1.13 has no F.scaled_dot_product_attention; the explicit '
    'branch computes softmax(q*scale @ k^T + mask) @ v); open_clip imported as a bare package with torchvision stubbed '
    'and torch.compiler.disable shimmed for loss.py; computed in float64; image_features/text_features/logit_scale = '
    'CLIP.forward(image, text); *_raw = encode_image/encode_text(normalize=False); logits_per_image/_text = '
    'CLIP.get_logits; loss = ClipLoss()(forward outputs)'
)


def import_open_clip(src):
    """Imports open_clip.model / transformer / loss without running open_clip/__init__.py."""
    tv = types.ModuleType('torchvision')
    tv_ops = types.ModuleType('torchvision.ops')
    tv_misc = types.ModuleType('torchvision.ops.misc')
    tv_misc.FrozenBatchNorm2d = type('FrozenBatchNorm2d', (torch.nn.Module,), {})
    tv.ops, tv_ops.misc = tv_ops, tv_misc
    sys.modules.update({'torchvision': tv, 'torchvision.ops': tv_ops, 'torchvision.ops.misc': tv_misc})
    if not hasattr(torch, 'compiler'):
        torch.compiler = types.SimpleNamespace(disable=lambda fn=None, **kw: fn if fn is not None else (lambda f: f))
    pkg = types.ModuleType('open_clip')
    pkg.__path__ = [os.path.join(src, 'open_clip')]
    sys.modules['open_clip'] = pkg
    import open_clip.model as model  # noqa: E402
    import open_clip.transformer as transformer  # noqa: E402
    import open_clip.loss as loss  # noqa: E402
    return model, transformer, loss


# --------------------------------------------------------------------------- io

_DT = {torch.float32: 'F32', torch.int64: 'I64'}


def save(path, tensors, metadata):
    """Writes a plain safetensors file (sorted keys, 8-byte aligned)."""
    header = {'__metadata__': {k: str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.dtype == torch.float64:
            t = t.to(torch.float32)
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


def load(path):
    """Reads a safetensors file: (tensors, metadata)."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop('__metadata__', {})
    np_dt = {'F32': np.float32, 'I64': np.int64, 'F16': np.float16}
    out = {}
    for k, v in header.items():
        a, b = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np_dt[v['dtype']]).reshape(v['shape']).copy())
    return out, meta


# ------------------------------------------------------------------------ cases

def randomize(model, gen):
    """Every parameter random, at scales that keep activations O(1)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            local = name.rsplit('.', 1)[-1]
            if name == 'logit_scale':
                p.copy_(torch.tensor(math.log(1 / 0.07) + 0.3 * float(r.reshape(-1)[0]), dtype=p.dtype).reshape(p.shape))
            elif local == 'gamma':
                p.copy_(0.5 + 0.2 * r)
            elif p.ndim == 1 and local == 'weight':  # LayerNorm scale
                p.copy_(1 + 0.2 * r)
            elif p.ndim == 1:  # biases, class embedding
                p.copy_(0.2 * r)
            elif name.endswith(('proj', 'text_projection')) and p.ndim == 2:  # x @ proj: fan-in is dim 0
                p.copy_(r / math.sqrt(p.shape[0]))
            elif 'embedding' in name or name.endswith('query'):
                p.copy_(0.5 * r)
            else:  # Linear / in_proj [out, in], conv [out, in, p, p]
                p.copy_(r / math.sqrt(p[0].numel()))


def run_case(oc, cfg, batch, seed, flip=False):
    """Builds the CLIP, runs it, returns (tensors, metadata)."""
    model_mod, transformer_mod, loss_mod = oc
    gen = torch.Generator().manual_seed(seed)
    vcfg, tcfg = cfg['vision_cfg'], cfg['text_cfg']
    torch.manual_seed(seed)
    model = model_mod.CLIP(cfg['embed_dim'], vcfg, tcfg, quick_gelu=cfg['quick_gelu'])
    for m in model.modules():
        if isinstance(m, transformer_mod.Attention):
            m.use_sdpa = False
    model = model.double().eval()
    randomize(model, gen)
    S = vcfg['image_size']
    image = torch.rand((batch, 3, S, S), generator=gen, dtype=torch.float64)
    ctx, vocab = tcfg['context_length'], tcfg['vocab_size']
    sot, eot = vocab - 2, vocab - 1
    text = torch.zeros((batch, ctx), dtype=torch.int64)
    for b in range(batch):
        n = 1 + b % (ctx - 2)
        words = torch.randint(1, vocab - 2, (n,), generator=gen)
        text[b, 0], text[b, 1:1 + n], text[b, 1 + n] = sot, words, eot
    tensors = {f'param.{k}': v for k, v in model.state_dict().items()}
    extra = {}
    pd_seed = seed + 1000

    def image_call(fn):
        if flip:
            torch.manual_seed(pd_seed)
        return fn()

    if flip:
        model.visual.patch_dropout.train()
        grid = (S // vcfg['patch_size']) ** 2
        keep = max(1, int(grid * (1 - vcfg['patch_dropout'])))
        torch.manual_seed(pd_seed)
        idx = torch.randn(batch, grid).topk(keep, dim=-1).indices
        tensors['input.patch_keep_indices'] = idx
        extra['patch_dropout_keep'] = keep
    with torch.no_grad():
        image_features, text_features, logit_scale = image_call(lambda: model(image, text))
        raw_image = image_call(lambda: model.encode_image(image))
        raw_text = model.encode_text(text)
        lpi, lpt = image_call(lambda: model.get_logits(image, text))
        loss = loss_mod.ClipLoss()(image_features, text_features, logit_scale)
    tensors.update({
        'input.image': image, 'input.text': text,
        'expect.image_features': image_features, 'expect.text_features': text_features,
        'expect.image_features_raw': raw_image, 'expect.text_features_raw': raw_text,
        'expect.logit_scale': logit_scale, 'expect.logits_per_image': lpi, 'expect.logits_per_text': lpt,
        'expect.loss': loss,
    })
    v_full = dataclasses.asdict(model_mod.CLIPVisionCfg(**vcfg))
    t_full = dataclasses.asdict(model_mod.CLIPTextCfg(**tcfg))
    config = {
        'embed_dim': cfg['embed_dim'], 'quick_gelu': cfg['quick_gelu'], 'init_logit_bias': None,
        'layernorm_eps': 1e-5, 'logit_scale': float(model.logit_scale), 'sot_token': sot, 'eot_token': eot,
        'vision_cfg': v_full, 'text_cfg': t_full, 'vision_heads': vcfg['width'] // v_full['head_width'], **extra,
    }
    meta = {
        'case': 'clip_model', 'reference': REFERENCE, 'config': json.dumps(config), 'atol': '0.0001', 'rtol': '0.001',
        'layout': 'NCHW', 'seed': str(seed), 'note': NOTE,
    }
    return tensors, meta


CASES = {
    'clip_quickgelu_ls': dict(
        cfg=dict(embed_dim=16, quick_gelu=True,
                 vision_cfg=dict(image_size=24, patch_size=8, width=32, head_width=16, layers=2, mlp_ratio=2.0, ls_init_value=0.1),
                 text_cfg=dict(context_length=7, vocab_size=50, width=32, heads=4, layers=2, mlp_ratio=2.0, ls_init_value=0.1)),
        batch=3, seed=201),
    'clip_attnpool': dict(
        cfg=dict(embed_dim=24, quick_gelu=False,
                 vision_cfg=dict(image_size=16, patch_size=4, width=32, head_width=16, layers=1, attentional_pool=True,
                                 attn_pooler_queries=3, attn_pooler_heads=2),
                 text_cfg=dict(context_length=6, vocab_size=40, width=16, heads=2, layers=1)),
        batch=2, seed=202),
    'clip_attnpool_square': dict(
        cfg=dict(embed_dim=32, quick_gelu=False,
                 vision_cfg=dict(image_size=16, patch_size=8, width=32, head_width=8, layers=1, attentional_pool=True,
                                 attn_pooler_queries=4, attn_pooler_heads=4, pool_type='avg', no_ln_pre=True),
                 text_cfg=dict(context_length=5, vocab_size=30, width=32, heads=2, layers=1)),
        batch=3, seed=203),
    'flip_patch_dropout': dict(
        cfg=dict(embed_dim=16, quick_gelu=False,
                 vision_cfg=dict(image_size=32, patch_size=8, width=32, head_width=16, layers=2, patch_dropout=0.5),
                 text_cfg=dict(context_length=8, vocab_size=60, width=32, heads=2, layers=2)),
        batch=3, seed=204, flip=True),
}


def check_shared(oc, shared_dir):
    """Recomputes the shared clip_model case (float32, its own weights and inputs)."""
    model_mod, transformer_mod, loss_mod = oc
    tensors, meta = load(os.path.join(shared_dir, 'clip_model.safetensors'))
    cfg = json.loads(meta['config'])
    keep = {f.name for f in dataclasses.fields(model_mod.CLIPVisionCfg)}
    vcfg = {k: v for k, v in cfg['vision_cfg'].items() if k in keep}
    keep = {f.name for f in dataclasses.fields(model_mod.CLIPTextCfg)}
    tcfg = {k: v for k, v in cfg['text_cfg'].items() if k in keep}
    model = model_mod.CLIP(cfg['embed_dim'], vcfg, tcfg, quick_gelu=cfg['quick_gelu'])
    for m in model.modules():
        if isinstance(m, transformer_mod.Attention):
            m.use_sdpa = False
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith('param.')})
    model.eval()
    with torch.no_grad():
        img, txt = tensors['input.image'], tensors['input.text']
        got = dict(zip(['image_features', 'text_features', 'logit_scale'], model(img, txt)))
        got['image_features_raw'] = model.encode_image(img)
        got['text_features_raw'] = model.encode_text(txt)
    worst = max(float((got[k] - tensors[f'expect.{k}']).abs().max()) for k in got)
    print(f'shared clip_model recomputed: max_abs_err={worst:.3e}')
    if worst > 1e-5:
        raise SystemExit('the setup does not reproduce the shared case')


def main():
    args = sys.argv[1:]
    shared = None
    if len(args) >= 2 and args[0] == '--check':
        shared, args = args[1], args[2:]
    if len(args) == 1:  # as generate.sh calls it: the pinned checkout from upstream.sh
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import _common  # noqa: E402
        args = [os.path.join(_common.upstream('open_clip'), 'src'), args[0]]
    if len(args) != 2:
        raise SystemExit(__doc__)
    src, out = args
    oc = import_open_clip(src)
    if shared:
        check_shared(oc, shared)
    os.makedirs(out, exist_ok=True)
    for name, spec in CASES.items():
        tensors, meta = run_case(oc, spec['cfg'], spec['batch'], spec['seed'], spec.get('flip', False))
        save(os.path.join(out, f'{name}.safetensors'), tensors, meta)
        print(f'wrote {name}')


if __name__ == '__main__':
    torch.set_num_threads(1)
    main()
