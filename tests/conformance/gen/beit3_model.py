#!/usr/bin/env python3
"""Extra `beit3_model` conformance cases, computed by the upstream torchscale code.

The model is microsoft/torchscale `torchscale/model/BEiT3.py` `BEiT3` at the
pinned commit 4d1e0e82e5adf86dd424f1463192635b73fc8efc (the commit of the
shared `beit3_model` case), built from an `EncoderConfig` exactly as
microsoft/unilm `beit3/modeling_utils.py` `_get_base_config` sets it at
768a3c873f598bb9b4d4dfb9267b099e35f8fe56 (multiway, no embedding LayerNorm,
normalized output, no output layer; tiny sizes), imported from the path given
as the first argument (a torchscale checkout; never vendored here). unilm's
`BEiT3Wrapper` itself only adds timm's `trunc_normal_` initialisation, which
the random weights below replace, and the `beit3.` key prefix, which the
files carry. Configurations the shared case does not cover:

- `beit3_image_masked`: image only (split -1, every token through the vision
  experts `A`), `vision_masked_position`, no sub-LN, 3 layers, 3 heads;
- `beit3_text_padding`: text only (split 0, all `B`) with padded rows of
  different lengths, sub-LN, 2 heads;
- `beit3_pair_gray_nosubln`: image-text with padding and a vision mask,
  one-channel images, patch 2, no sub-LN;
- `beit3_pair_nopad_eps`: image-text without a padding input, one layer,
  `layernorm_eps` 1e-6, FFN narrower than D.

Every weight is random (biases, LayerNorm affine, class and mask tokens,
both position tables), computed in float64 and stored as F32. Needs torch (>=
1.13) and numpy only: `einops.rearrange` (the four patterns torchscale's
attention uses), `fairscale.nn` (activation checkpointing / FSDP, unused
here) and timm's `drop_path` (rate 0) are shimmed.

    git -C TORCHSCALE checkout 4d1e0e82e5adf86dd424f1463192635b73fc8efc
    /usr/bin/python3 tests/conformance/gen/beit3_model.py TORCHSCALE tests/conformance/cases [--check ../shared/conformance]
    npx tsx tests/conformance/run.ts tests/conformance/cases [--backend wasm]

`--check SHARED_DIR` first recomputes the shared `beit3_model` case from its
own weights and inputs with the same code, proving the setup.
"""
import json
import os
import struct
import sys
import types

import numpy as np
import torch

COMMIT = '4d1e0e82e5adf86dd424f1463192635b73fc8efc'
UNILM_COMMIT = '768a3c873f598bb9b4d4dfb9267b099e35f8fe56'
REFERENCE = f'microsoft/torchscale torchscale/model/BEiT3.py@{COMMIT}'
NOTE = (
    f'torchscale BEiT3(EncoderConfig as unilm beit3/modeling_utils.py@{UNILM_COMMIT} _get_base_config sets it, with tiny '
    'sizes), called as beit3(textual_tokens=..., visual_tokens=..., text_padding_position=..., '
    'vision_masked_position=...); expect.encoder_out = its ["encoder_out"]; keys prefixed with beit3. as BEiT3Wrapper '
    'holds them; einops.rearrange, fairscale.nn and timm drop_path shimmed (generator tests/conformance/gen/beit3_model.py); '
    'computed in float64'
)


def shim_imports():
    """einops / fairscale / timm stand-ins: only what torchscale's BEiT3 path touches."""

    def rearrange(x, pattern, h=None):
        if pattern == 'b l (h d) -> (b h) l d':
            b, l, hd = x.shape
            return x.reshape(b, l, h, hd // h).permute(0, 2, 1, 3).reshape(b * h, l, hd // h)
        if pattern == '(b h) t s -> b h t s':
            return x.reshape(-1, h, *x.shape[1:])
        if pattern == 'b h t s -> (b h) t s':
            return x.reshape(-1, *x.shape[2:])
        if pattern == '(b h) l d -> b l (h d)':
            bh, l, d = x.shape
            return x.reshape(bh // h, h, l, d).permute(0, 2, 1, 3).reshape(bh // h, l, h * d)
        raise NotImplementedError(pattern)

    einops = types.ModuleType('einops')
    einops.rearrange = rearrange
    fairscale = types.ModuleType('fairscale')
    fairscale_nn = types.ModuleType('fairscale.nn')
    fairscale_nn.checkpoint_wrapper = lambda m, *a, **k: m
    fairscale_nn.wrap = lambda m, *a, **k: m
    fairscale.nn = fairscale_nn
    timm = types.ModuleType('timm')
    timm_models = types.ModuleType('timm.models')
    timm_layers = types.ModuleType('timm.models.layers')

    def drop_path(x, drop_prob=0.0, training=False):
        assert drop_prob == 0.0 or not training
        return x

    timm_layers.drop_path = drop_path
    timm_layers.trunc_normal_ = torch.nn.init.trunc_normal_
    timm.models, timm_models.layers = timm_models, timm_layers
    sys.modules.update({
        'einops': einops, 'fairscale': fairscale, 'fairscale.nn': fairscale_nn,
        'timm': timm, 'timm.models': timm_models, 'timm.models.layers': timm_layers,
    })


def import_torchscale(root):
    shim_imports()
    sys.path.insert(0, root)
    from torchscale.architecture.config import EncoderConfig  # noqa: E402
    from torchscale.model.BEiT3 import BEiT3  # noqa: E402
    return EncoderConfig, BEiT3


def base_config(EncoderConfig, c):
    """unilm `_get_base_config` with the case's sizes."""
    return EncoderConfig(
        img_size=c['img_size'], patch_size=c['patch_size'], vocab_size=c['vocab_size'], multiway=True,
        layernorm_embedding=False, normalize_output=True, no_output_layer=True, drop_path_rate=0,
        encoder_embed_dim=c['encoder_embed_dim'], encoder_attention_heads=c['encoder_attention_heads'],
        encoder_ffn_embed_dim=c['encoder_ffn_embed_dim'], encoder_layers=c['encoder_layers'], checkpoint_activations=None,
        max_source_positions=c['max_source_positions'], subln=c['subln'], layernorm_eps=c['layernorm_eps'],
        in_chans=c.get('in_chans', 3),
    )


# --------------------------------------------------------------------------- io

_DT = {torch.float32: 'F32', torch.int64: 'I64', torch.bool: 'BOOL'}


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
        pad = (8 - offset % 8) % 8
        if pad:
            blobs.append(b'\0' * pad)
            offset += pad
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
    np_dt = {'F32': np.float32, 'I64': np.int64, 'F16': np.float16, 'BOOL': np.bool_}
    out = {}
    for k, v in header.items():
        a, b = v['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np_dt[v['dtype']]).reshape(v['shape']).copy())
    return out, meta


# ------------------------------------------------------------------------ cases

def run_model(model, inputs):
    with torch.no_grad():
        out = model(
            textual_tokens=inputs.get('input.text'),
            visual_tokens=inputs['input.image'].double() if 'input.image' in inputs else None,
            text_padding_position=inputs.get('input.text_padding_position'),
            vision_masked_position=inputs.get('input.vision_masked_position'),
        )
    return out['encoder_out'], out['multiway_split_position']


def randomize(model, g):
    """Every weight random: LayerNorm weight 1 + 0.2 N, everything else 0.3 N (tokens, tables, biases included)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('.weight') and p.dim() == 1:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g, dtype=torch.float64))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=torch.float64))


def text_batch(g, batch, length, vocab, lengths):
    """`<s>` = 0, content ids in [3, vocab), `</s>` = 2, then `<pad>` = 1; padding true after each row's length."""
    ids = torch.randint(3, vocab, (batch, length), generator=g)
    pad = torch.zeros(batch, length, dtype=torch.bool)
    for b, n in enumerate(lengths):
        ids[b, 0] = 0
        ids[b, n - 1] = 2
        ids[b, n:] = 1
        pad[b, n:] = True
    return ids, pad


CASES = [
    dict(name='beit3_image_masked', seed=301, img_size=12, patch_size=4, in_chans=3, encoder_embed_dim=24,
         encoder_attention_heads=3, encoder_ffn_embed_dim=40, encoder_layers=3, vocab_size=30, max_source_positions=8,
         subln=False, layernorm_eps=1e-5, batch=2, image=True, text=None, masked=True, padding=False),
    dict(name='beit3_text_padding', seed=302, img_size=8, patch_size=4, in_chans=3, encoder_embed_dim=16,
         encoder_attention_heads=2, encoder_ffn_embed_dim=48, encoder_layers=2, vocab_size=50, max_source_positions=12,
         subln=True, layernorm_eps=1e-5, batch=3, image=False, text=(7, [7, 4, 2]), masked=False, padding=True),
    dict(name='beit3_pair_gray_nosubln', seed=303, img_size=8, patch_size=2, in_chans=1, encoder_embed_dim=16,
         encoder_attention_heads=4, encoder_ffn_embed_dim=32, encoder_layers=2, vocab_size=40, max_source_positions=10,
         subln=False, layernorm_eps=1e-5, batch=2, image=True, text=(5, [3, 5]), masked=True, padding=True),
    dict(name='beit3_pair_nopad_eps', seed=304, img_size=8, patch_size=4, in_chans=3, encoder_embed_dim=20,
         encoder_attention_heads=5, encoder_ffn_embed_dim=12, encoder_layers=1, vocab_size=25, max_source_positions=9,
         subln=True, layernorm_eps=1e-6, batch=2, image=True, text=(4, [4, 4]), masked=False, padding=False),
]


def make_case(EncoderConfig, BEiT3, c, out_dir):
    torch.manual_seed(c['seed'])
    g = torch.Generator().manual_seed(c['seed'])
    args = base_config(EncoderConfig, c)
    model = BEiT3(args).double().eval()
    randomize(model, g)
    inputs = {}
    b = c['batch']
    np_ = (c['img_size'] // c['patch_size']) ** 2
    if c['image']:
        inputs['input.image'] = torch.randn(b, c['in_chans'], c['img_size'], c['img_size'], generator=g, dtype=torch.float64).float()
        if c['masked']:
            m = torch.rand(b, np_, generator=g) < 0.4
            m[0, 0] = True
            inputs['input.vision_masked_position'] = m
    if c['text'] is not None:
        length, lengths = c['text']
        ids, pad = text_batch(g, b, length, c['vocab_size'], lengths)
        inputs['input.text'] = ids
        if c['padding']:
            inputs['input.text_padding_position'] = pad
    enc, split = run_model(model, inputs)
    config = {
        'activation_fn': 'gelu', 'deepnorm': False, 'encoder_normalize_before': True, 'layernorm_embedding': False,
        'multiway': True, 'no_output_layer': True, 'no_scale_embedding': True, 'normalize_output': True,
        'position_offset': 2, 'rel_pos_buckets': 0, 'num_patches': np_, 'multiway_split_position': split,
        **{k: c[k] for k in ('encoder_attention_heads', 'encoder_embed_dim', 'encoder_ffn_embed_dim', 'encoder_layers',
                             'img_size', 'in_chans', 'layernorm_eps', 'max_source_positions', 'patch_size', 'subln',
                             'vocab_size')},
    }
    tensors = {f'param.beit3.{k}': v for k, v in model.state_dict().items()}
    tensors.update(inputs)
    tensors['expect.encoder_out'] = enc
    meta = {
        'case': 'beit3_model', 'reference': REFERENCE, 'config': json.dumps(config, sort_keys=True),
        'atol': '1e-4', 'rtol': '1e-3', 'layout': 'NCHW', 'seed': str(c['seed']), 'note': NOTE,
    }
    path = os.path.join(out_dir, f"{c['name']}.safetensors")
    save(path, tensors, meta)
    print(f"wrote {path}: encoder_out {list(enc.shape)}, split {split}")


def check_shared(EncoderConfig, BEiT3, shared_dir):
    tensors, meta = load(os.path.join(shared_dir, 'beit3_model.safetensors'))
    cfg = json.loads(meta['config'])
    model = BEiT3(base_config(EncoderConfig, cfg)).double().eval()
    prefix = 'param.beit3.'
    sd = {k[len(prefix):]: v.double() for k, v in tensors.items() if k.startswith(prefix)}
    model.load_state_dict(sd, strict=True)
    enc, split = run_model(model, {k: v for k, v in tensors.items() if k.startswith('input.')})
    err = (enc.float() - tensors['expect.encoder_out']).abs().max().item()
    assert split == cfg['multiway_split_position'], (split, cfg['multiway_split_position'])
    assert err < 1e-5, f'shared beit3_model case not reproduced: max abs err {err}'
    print(f'check: shared beit3_model reproduced, max abs err {err:.2e}')


def main():
    argv = sys.argv[1:]
    shared = None
    if '--check' in argv:
        i = argv.index('--check')
        shared = argv[i + 1]
        del argv[i:i + 2]
    if len(argv) != 2:
        sys.exit('usage: beit3_model.py TORCHSCALE_DIR OUT_DIR [--check SHARED_DIR]')
    root, out_dir = argv
    EncoderConfig, BEiT3 = import_torchscale(root)
    if shared:
        check_shared(EncoderConfig, BEiT3, shared)
    os.makedirs(out_dir, exist_ok=True)
    for c in CASES:
        make_case(EncoderConfig, BEiT3, c, out_dir)


if __name__ == '__main__':
    main()
