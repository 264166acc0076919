#!/usr/bin/env python3
"""Extra conformance cases for the `mae`, `simmim` and `beit_mim` kinds.

A small PyTorch reimplementation that follows ../shared/conformance/README.md
step by step (not the upstream code), in float64, with configurations that the
shared cases do not cover: one and two channel images, non-square images,
other patch sizes, dims, heads, depths and MLP ratios, MAE without
norm_pix_loss and without qkv bias, SimMIM and BEiT without layer scale
(init_values null) or without q/v bias, other vocabularies, per-sample mask
counts, and BEiT's relative position bias (shared `rel_pos_bias`, with no
absolute table, as the released BEiT and SimMIM pretraining; per block, as
their fine-tuning; both at once) on non-square grids, with the
`relative_position_index` buffers in the params as upstream's state_dict
holds them. Every weight (biases, layer scale, tokens, relative position
tables) is random so that a missing term shows up.

    /usr/bin/python3 tests/conformance/gen/mim_cases.py OUT_DIR
    npx tsx tests/conformance/run.ts OUT_DIR [--backend wasm]

(`npm run conformance:gen` runs it with the other generators, into
tests/conformance/cases/.)

`--check DIR` recomputes the `mae.safetensors`, `simmim.safetensors` and
`beit_mim.safetensors` cases of DIR (outputs of the upstream code) with the
same functions, proving the reimplementation; `npm run conformance:gen` runs
it on the in-repo upstream cases (written by gen/mae.py, gen/simmim.py,
gen/beit_mim.py), and it reproduces the shared ones too:

    /usr/bin/python3 tests/conformance/gen/mim_cases.py --check tests/conformance/cases
    /usr/bin/python3 tests/conformance/gen/mim_cases.py --check ../shared/conformance

Needs torch and numpy only (the safetensors writer is inlined).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

# --------------------------------------------------------------------------- io

_DT = {torch.float32: 'F32', torch.int64: 'I64', torch.bool: 'BOOL'}


def save(path, tensors, metadata):
    """Writes a plain safetensors file (sorted keys, 8-byte aligned)."""
    header = {'__metadata__': {k: str(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.dtype == torch.float64:
            t = t.to(torch.float32)
        data = t.numpy().astype(np.uint8).tobytes() if t.dtype == torch.bool else t.numpy().tobytes()
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


# ------------------------------------------------------------------ primitives


def linear(x, p, key):
    y = x @ p[key + '.weight'].T
    b = p.get(key + '.bias')
    return y if b is None else y + b


def layer_norm(x, p, key, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * p[key + '.weight'] + p[key + '.bias']


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def relative_position_index(window_size):
    """unilm beit/modeling_finetune.py `RelativePositionBias.__init__` (SimMIM's
    models/vision_transformer.py is identical), copied; only `indexing='ij'`
    is spelled out (torch.meshgrid's default, which newer torch warns about)."""
    num_relative_distance = (2 * window_size[0] - 1) * (2 * window_size[1] - 1) + 3
    coords_h = torch.arange(window_size[0])
    coords_w = torch.arange(window_size[1])
    coords = torch.stack(torch.meshgrid([coords_h, coords_w], indexing='ij'))  # 2, Wh, Ww
    coords_flatten = torch.flatten(coords, 1)  # 2, Wh*Ww
    relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]  # 2, Wh*Ww, Wh*Ww
    relative_coords = relative_coords.permute(1, 2, 0).contiguous()  # Wh*Ww, Wh*Ww, 2
    relative_coords[:, :, 0] += window_size[0] - 1  # shift to start from 0
    relative_coords[:, :, 1] += window_size[1] - 1
    relative_coords[:, :, 0] *= 2 * window_size[1] - 1
    relative_position_index = \
        torch.zeros(size=(window_size[0] * window_size[1] + 1,) * 2, dtype=relative_coords.dtype)
    relative_position_index[1:, 1:] = relative_coords.sum(-1)  # Wh*Ww, Wh*Ww
    relative_position_index[0, 0:] = num_relative_distance - 3
    relative_position_index[0:, 0] = num_relative_distance - 2
    relative_position_index[0, 0] = num_relative_distance - 1
    return relative_position_index


def relative_position_bias(p, key):
    """`RelativePositionBias.forward` on the table and index buffer stored under `key`: [heads, T, T]."""
    table, index = p[key + '.relative_position_bias_table'], p[key + '.relative_position_index']
    t = index.shape[0]
    return table[index.view(-1)].view(t, t, -1).permute(2, 0, 1).contiguous()


def attention(x, p, key, heads, rel_pos_bias=None):
    """Fused qkv; timm form (`qkv.bias`) or BEiT form (`q_bias`, `v_bias`); BEiT's
    own relative position table (`relative_position_bias_table`) and a shared
    `rel_pos_bias` added to the logits, in upstream's order."""
    B, N, D = x.shape
    qkv = x @ p[key + '.qkv.weight'].T
    if key + '.qkv.bias' in p:
        qkv = qkv + p[key + '.qkv.bias']
    if key + '.q_bias' in p:
        qkv = qkv + torch.cat([p[key + '.q_bias'], torch.zeros(D), p[key + '.v_bias']])
    d = D // heads
    qkv = qkv.reshape(B, N, 3, heads, d).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    logits = (q * d ** -0.5) @ k.transpose(-1, -2)
    if key + '.relative_position_bias_table' in p:
        logits = logits + relative_position_bias(p, key).unsqueeze(0)
    if rel_pos_bias is not None:
        logits = logits + rel_pos_bias
    probs = torch.softmax(logits, -1)
    o = (probs @ v).transpose(1, 2).reshape(B, N, D)
    return linear(o, p, key + '.proj')


def block(x, p, key, heads, eps, rel_pos_bias=None):
    g1 = p.get(key + '.gamma_1', p.get(key + '.ls1.gamma'))
    g2 = p.get(key + '.gamma_2', p.get(key + '.ls2.gamma'))
    a = attention(layer_norm(x, p, key + '.norm1', eps), p, key + '.attn', heads, rel_pos_bias)
    x = x + (a if g1 is None else g1 * a)
    m = linear(gelu(linear(layer_norm(x, p, key + '.norm2', eps), p, key + '.mlp.fc1')), p, key + '.mlp.fc2')
    return x + (m if g2 is None else g2 * m)


def patch_embed(imgs, p, key, patch):
    """Conv with kernel = stride = patch, tokens row-major: [B, N, D]."""
    y = torch.nn.functional.conv2d(imgs, p[key + '.weight'], p[key + '.bias'], stride=patch)
    return y.flatten(2).transpose(1, 2)


def sincos(dim, rows, cols, cls):
    """README `sincos_pos_embed`, generalised to a rows x cols grid."""
    w = 1.0 / 10000 ** (np.arange(dim // 4, dtype=np.float64) / (dim / 4))
    out = []
    for r in range(rows):
        for c in range(cols):
            out.append(np.concatenate([np.sin(c * w), np.cos(c * w), np.sin(r * w), np.cos(r * w)]))
    out = np.array(out)
    if cls:
        out = np.concatenate([np.zeros((1, dim)), out], 0)
    return torch.tensor(out)[None]


# ----------------------------------------------------------------- parameters


class Params(dict):
    def __init__(self, gen):
        super().__init__()
        self.gen = gen

    def rand(self, key, *shape, scale=0.3):
        self[key] = torch.randn(*shape, generator=self.gen) * scale

    def linear(self, key, fin, fout, bias=True):
        self.rand(key + '.weight', fout, fin, scale=1 / math.sqrt(fin))
        if bias:
            self.rand(key + '.bias', fout, scale=0.1)

    def norm(self, key, dim):
        self[key + '.weight'] = 1 + torch.randn(dim, generator=self.gen) * 0.1
        self.rand(key + '.bias', dim, scale=0.1)

    def block(self, key, dim, mlp_ratio, qkv, layer_scale):
        """qkv: 'qkv' | 'none' | 'qv'; layer_scale: None | 'timm' | 'beit'."""
        self.norm(key + '.norm1', dim)
        self.linear(key + '.attn.qkv', dim, 3 * dim, bias=qkv == 'qkv')
        if qkv == 'qv':
            self.rand(key + '.attn.q_bias', dim, scale=0.1)
            self.rand(key + '.attn.v_bias', dim, scale=0.1)
        self.linear(key + '.attn.proj', dim, dim)
        self.norm(key + '.norm2', dim)
        hidden = int(dim * mlp_ratio)
        self.linear(key + '.mlp.fc1', dim, hidden)
        self.linear(key + '.mlp.fc2', hidden, dim)
        if layer_scale == 'timm':
            self.rand(key + '.ls1.gamma', dim, scale=0.5)
            self.rand(key + '.ls2.gamma', dim, scale=0.5)
        elif layer_scale == 'beit':
            self.rand(key + '.gamma_1', dim, scale=0.5)
            self.rand(key + '.gamma_2', dim, scale=0.5)


def meta(kind, cfg, seed, reference):
    return {
        'case': kind,
        'reference': 'none: tests/conformance/gen/mim_cases.py, a float64 reimplementation of the README text (' + reference + ')',
        'config': json.dumps(cfg, sort_keys=True),
        'atol': '0.0001',
        'rtol': '0.001',
        'layout': 'NCHW',
        'seed': str(seed),
    }


# ------------------------------------------------------------------------ MAE


def mae_case(out, name, seed, B, C, H, W, patch, D, depth, heads, Dd, ddepth, dheads, mlp_ratio, mask_ratio, norm_pix, qkv_bias):
    g = torch.Generator().manual_seed(seed)
    p = Params(g)
    gh, gw = H // patch, W // patch
    L = gh * gw
    p.rand('patch_embed.proj.weight', D, C, patch, patch, scale=1 / math.sqrt(C * patch * patch))
    p.rand('patch_embed.proj.bias', D, scale=0.1)
    p.rand('cls_token', 1, 1, D)
    p['pos_embed'] = sincos(D, gh, gw, True)
    for i in range(depth):
        p.block(f'blocks.{i}', D, mlp_ratio, 'qkv' if qkv_bias else 'none', None)
    p.norm('norm', D)
    p.linear('decoder_embed', D, Dd)
    p.rand('mask_token', 1, 1, Dd)
    p['decoder_pos_embed'] = sincos(Dd, gh, gw, True)
    for i in range(ddepth):
        p.block(f'decoder_blocks.{i}', Dd, mlp_ratio, 'qkv' if qkv_bias else 'none', None)
    p.norm('decoder_norm', Dd)
    p.linear('decoder_pred', Dd, patch * patch * C)

    imgs = torch.randn(B, C, H, W, generator=g)
    noise = torch.rand(B, L, generator=g).to(torch.float32).to(torch.float64)
    eps = 1e-6
    # 1-2
    t = patch_embed(imgs, p, 'patch_embed.proj', patch) + p['pos_embed'][:, 1:]
    len_keep = int(L * (1 - mask_ratio))
    # 3-4
    ids_shuffle = torch.argsort(noise, dim=1, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1, stable=True)
    kept = torch.gather(t, 1, ids_shuffle[:, :len_keep, None].expand(-1, -1, D))
    mask = (ids_restore >= len_keep).to(torch.float64)
    # 5
    cls = (p['cls_token'] + p['pos_embed'][:, :1]).expand(B, -1, -1)
    x = torch.cat([cls, kept], 1)
    for i in range(depth):
        x = block(x, p, f'blocks.{i}', heads, eps)
    latent = layer_norm(x, p, 'norm', eps)
    # 6
    y = linear(latent, p, 'decoder_embed')
    full = torch.cat([y[:, 1:], p['mask_token'].expand(B, L - len_keep, -1)], 1)
    full = torch.gather(full, 1, ids_restore[:, :, None].expand(-1, -1, Dd))
    y = torch.cat([y[:, :1], full], 1) + p['decoder_pos_embed']
    for i in range(ddepth):
        y = block(y, p, f'decoder_blocks.{i}', dheads, eps)
    pred = linear(layer_norm(y, p, 'decoder_norm', eps), p, 'decoder_pred')[:, 1:]
    # 7-8
    target = imgs.reshape(B, C, gh, patch, gw, patch).permute(0, 2, 4, 3, 5, 1).reshape(B, L, patch * patch * C)
    if norm_pix:
        m = target.mean(-1, keepdim=True)
        v = target.var(-1, keepdim=True, unbiased=True)
        target = (target - m) / (v + 1e-6) ** 0.5
    loss = (((pred - target) ** 2).mean(-1) * mask).sum() / mask.sum()

    cfg = dict(img_size=[H, W] if H != W else H, patch_size=patch, in_chans=C, embed_dim=D, depth=depth, num_heads=heads,
               decoder_embed_dim=Dd, decoder_depth=ddepth, decoder_num_heads=dheads, mlp_ratio=mlp_ratio,
               norm_layer='LayerNorm(eps=1e-6)', norm_pix_loss=norm_pix, mask_ratio=mask_ratio, len_keep=len_keep,
               qkv_bias=qkv_bias)
    tensors = {f'param.{k}': v for k, v in p.items()}
    tensors.update({'input.imgs': imgs, 'input.noise': noise, 'expect.ids_restore': ids_restore, 'expect.mask': mask,
                    'expect.latent': latent, 'expect.pred': pred, 'expect.loss': loss})
    save(os.path.join(out, name + '.safetensors'), tensors, meta('mae', cfg, seed, 'MAE models_mae.py semantics'))


# --------------------------------------------------------------- BEiT / SimMIM


def rel_pos_params(p, key, grid, heads):
    """A random `relative_position_bias_table` (upstream starts at zeros; random here so that
    a wrong index shows up) and upstream's `relative_position_index` buffer."""
    p.rand(key + '.relative_position_bias_table', (2 * grid[0] - 1) * (2 * grid[1] - 1) + 3, heads, scale=0.5)
    p[key + '.relative_position_index'] = relative_position_index(grid)


def beit_encoder_params(p, prefix, C, patch, D, depth, L, mlp_ratio, qv_bias, layer_scale,
                        abs_pos=True, rel_pos=False, shared_rel_pos=False, grid=None, heads=None):
    p.rand(prefix + 'patch_embed.proj.weight', D, C, patch, patch, scale=1 / math.sqrt(C * patch * patch))
    p.rand(prefix + 'patch_embed.proj.bias', D, scale=0.1)
    p.rand(prefix + 'cls_token', 1, 1, D)
    p.rand(prefix + 'mask_token', 1, 1, D)
    if abs_pos:
        p.rand(prefix + 'pos_embed', 1, 1 + L, D)
    if shared_rel_pos:
        rel_pos_params(p, prefix + 'rel_pos_bias', grid, heads)
    for i in range(depth):
        p.block(f'{prefix}blocks.{i}', D, mlp_ratio, 'qv' if qv_bias else 'none', 'beit' if layer_scale else None)
        if rel_pos:
            rel_pos_params(p, f'{prefix}blocks.{i}.attn', grid, heads)
    p.norm(prefix + 'norm', D)


def beit_encoder(x, w, p, prefix, patch, depth, heads):
    """README `simmim` steps 1-2 (and `beit_mim` step 1): [B, L, D] after norm, class token dropped.
    The position terms follow upstream's `forward_features`: `pos_embed` when the params hold it,
    the shared `rel_pos_bias()` computed once and passed to every block when they hold its table."""
    t = patch_embed(x, p, prefix + 'patch_embed.proj', patch)
    w = w[:, :, None]
    t = t * (1 - w) + p[prefix + 'mask_token'] * w
    B = t.shape[0]
    t = torch.cat([p[prefix + 'cls_token'].expand(B, -1, -1), t], 1)
    if prefix + 'pos_embed' in p:
        t = t + p[prefix + 'pos_embed']
    shared = None
    if prefix + 'rel_pos_bias.relative_position_bias_table' in p:
        shared = relative_position_bias(p, prefix + 'rel_pos_bias')
    for i in range(depth):
        t = block(t, p, f'{prefix}blocks.{i}', heads, 1e-6, shared)
    return layer_norm(t, p, prefix + 'norm', 1e-6)[:, 1:]


def simmim_case(out, name, seed, B, C, H, W, patch, D, depth, heads, mlp_ratio, init_values, qv_bias, mask_patch,
                abs_pos=True, rel_pos=False, shared_rel_pos=False):
    g = torch.Generator().manual_seed(seed)
    p = Params(g)
    gh, gw = H // patch, W // patch
    L = gh * gw
    beit_encoder_params(p, 'encoder.', C, patch, D, depth, L, mlp_ratio, qv_bias, init_values is not None,
                        abs_pos, rel_pos, shared_rel_pos, (gh, gw), heads)
    r = patch
    p.rand('decoder.0.weight', r * r * C, D, 1, 1, scale=1 / math.sqrt(D))
    p.rand('decoder.0.bias', r * r * C, scale=0.1)
    x = torch.randn(B, C, H, W, generator=g)
    # SimMIM-style mask: units of mask_patch pixels, repeated to the patch grid.
    s = mask_patch // patch
    units = (torch.rand(B, H // mask_patch, W // mask_patch, generator=g) < 0.6).to(torch.float64)
    units[:, 0, 0] = 1
    mask = units.repeat_interleave(s, 1).repeat_interleave(s, 2)
    z = beit_encoder(x, mask.reshape(B, L), p, 'encoder.', patch, depth, heads)
    fmap = z.transpose(1, 2).reshape(B, D, gh, gw)
    y = torch.nn.functional.conv2d(fmap, p['decoder.0.weight'], p['decoder.0.bias'])
    x_rec = torch.nn.functional.pixel_shuffle(y, r)
    m = mask.repeat_interleave(patch, 1).repeat_interleave(patch, 2)[:, None]
    loss = ((x - x_rec).abs() * m).sum() / (m.sum() + 1e-5) / C

    cfg = dict(img_size=[H, W] if H != W else H, patch_size=patch, in_chans=C, embed_dim=D, depth=depth, num_heads=heads,
               mlp_ratio=mlp_ratio, init_values=init_values, qkv_bias=qv_bias, encoder_stride=patch,
               mask_patch_size=mask_patch, norm_layer='LayerNorm(eps=1e-6)', use_abs_pos_emb=abs_pos,
               use_rel_pos_bias=rel_pos, use_shared_rel_pos_bias=shared_rel_pos, use_mean_pooling=False, num_classes=0)
    tensors = {f'param.{k}': v for k, v in p.items()}
    tensors.update({'input.x': x, 'input.mask': mask, 'expect.x_rec': x_rec, 'expect.loss': loss})
    save(os.path.join(out, name + '.safetensors'), tensors, meta('simmim', cfg, seed, 'SimMIM models/simmim.py semantics'))


def beit_case(out, name, seed, B, C, H, W, patch, D, depth, heads, mlp_ratio, init_values, qv_bias, vocab,
              abs_pos=True, rel_pos=False, shared_rel_pos=False):
    g = torch.Generator().manual_seed(seed)
    p = Params(g)
    gh, gw = H // patch, W // patch
    L = gh * gw
    beit_encoder_params(p, '', C, patch, D, depth, L, mlp_ratio, qv_bias, init_values is not None,
                        abs_pos, rel_pos, shared_rel_pos, (gh, gw), heads)
    p.linear('lm_head', D, vocab)
    x = torch.randn(B, C, H, W, generator=g)
    bool_masked_pos = torch.rand(B, L, generator=g) < 0.4
    bool_masked_pos[:, 0] = True  # at least one per sample; counts still differ
    bool_masked_pos[0, 1:3] = True
    z = beit_encoder(x, bool_masked_pos.to(torch.float64), p, '', patch, depth, heads)
    logits = linear(z[bool_masked_pos], p, 'lm_head')
    labels = torch.randint(0, vocab, (int(bool_masked_pos.sum()),), generator=g)
    loss = torch.nn.functional.cross_entropy(logits, labels)

    cfg = dict(img_size=[H, W] if H != W else H, patch_size=patch, in_chans=C, embed_dim=D, depth=depth, num_heads=heads,
               mlp_ratio=mlp_ratio, init_values=init_values, qkv_bias=qv_bias, vocab_size=vocab, qk_scale=None,
               norm_layer='LayerNorm(eps=1e-6)', use_abs_pos_emb=abs_pos, use_rel_pos_bias=rel_pos,
               use_shared_rel_pos_bias=shared_rel_pos)
    tensors = {f'param.{k}': v for k, v in p.items()}
    tensors.update({'input.x': x, 'input.bool_masked_pos': bool_masked_pos, 'input.labels': labels,
                    'expect.logits': logits, 'expect.loss': loss})
    save(os.path.join(out, name + '.safetensors'), tensors, meta('beit_mim', cfg, seed, 'BEiT modeling_pretrain.py semantics'))


def load(path):
    """Reads a safetensors file: (tensors as float64/int64/bool torch tensors, metadata)."""
    with open(path, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    md = header.pop('__metadata__', {})
    np_dt = {'F32': np.float32, 'I64': np.int64, 'BOOL': np.bool_}
    out = {}
    for k, v in header.items():
        a, b = v['data_offsets']
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np_dt[v['dtype']]).reshape(v['shape'])
        t = torch.from_numpy(arr.copy())
        out[k] = t.to(torch.float64) if t.dtype == torch.float32 else t
    return out, md


def check(shared):
    """Recomputes the mae/simmim/beit_mim cases' outputs of folder `shared` (made by the upstream code) with this
    file's functions (validates the generator)."""
    worst = 0.0
    t, md = load(os.path.join(shared, 'mae.safetensors'))
    c = json.loads(md['config'])
    p = {k[6:]: v for k, v in t.items() if k.startswith('param.')}
    imgs, noise = t['input.imgs'], t['input.noise']
    B, C, H, W = imgs.shape
    patch, D, Dd = c['patch_size'], c['embed_dim'], c['decoder_embed_dim']
    L = (H // patch) * (W // patch)
    x = patch_embed(imgs, p, 'patch_embed.proj', patch) + p['pos_embed'][:, 1:]
    ids_shuffle = torch.argsort(noise, dim=1, stable=True)
    ids_restore = torch.argsort(ids_shuffle, dim=1, stable=True)
    assert torch.equal(ids_restore, t['expect.ids_restore'])
    k = c['len_keep']
    x = torch.cat([(p['cls_token'] + p['pos_embed'][:, :1]).expand(B, -1, -1),
                   torch.gather(x, 1, ids_shuffle[:, :k, None].expand(-1, -1, D))], 1)
    for i in range(c['depth']):
        x = block(x, p, f'blocks.{i}', c['num_heads'], 1e-6)
    latent = layer_norm(x, p, 'norm', 1e-6)
    worst = max(worst, (latent - t['expect.latent']).abs().max().item())
    y = linear(latent, p, 'decoder_embed')
    full = torch.gather(torch.cat([y[:, 1:], p['mask_token'].expand(B, L - k, -1)], 1), 1, ids_restore[:, :, None].expand(-1, -1, Dd))
    y = torch.cat([y[:, :1], full], 1) + p['decoder_pos_embed']
    for i in range(c['decoder_depth']):
        y = block(y, p, f'decoder_blocks.{i}', c['decoder_num_heads'], 1e-6)
    pred = linear(layer_norm(y, p, 'decoder_norm', 1e-6), p, 'decoder_pred')[:, 1:]
    worst = max(worst, (pred - t['expect.pred']).abs().max().item())

    t, md = load(os.path.join(shared, 'simmim.safetensors'))
    c = json.loads(md['config'])
    p = {k[6:]: v for k, v in t.items() if k.startswith('param.')}
    x, mask = t['input.x'], t['input.mask']
    B, C, H, W = x.shape
    patch = c['patch_size']
    z = beit_encoder(x, mask.reshape(B, -1), p, 'encoder.', patch, c['depth'], c['num_heads'])
    fmap = z.transpose(1, 2).reshape(B, c['embed_dim'], H // patch, W // patch)
    x_rec = torch.nn.functional.pixel_shuffle(
        torch.nn.functional.conv2d(fmap, p['decoder.0.weight'], p['decoder.0.bias']), c['encoder_stride'])
    worst = max(worst, (x_rec - t['expect.x_rec']).abs().max().item())

    t, md = load(os.path.join(shared, 'beit_mim.safetensors'))
    c = json.loads(md['config'])
    p = {k[6:]: v for k, v in t.items() if k.startswith('param.')}
    bm = t['input.bool_masked_pos']
    z = beit_encoder(t['input.x'], bm.to(torch.float64), p, '', c['patch_size'], c['depth'], c['num_heads'])
    logits = linear(z[bm], p, 'lm_head')
    worst = max(worst, (logits - t['expect.logits']).abs().max().item())
    loss = torch.nn.functional.cross_entropy(logits, t['input.labels'])
    worst = max(worst, abs(loss.item() - t['expect.loss'].item()))
    print(f'mae, simmim, beit_mim of {shared} reproduced, max abs err {worst:.3e}')
    assert worst < 1e-5


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--check':
        check(sys.argv[2])
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    # MAE: grey non-square images, no norm_pix_loss, no qkv bias, mlp ratio 2.
    mae_case(out, 'mae_gray_nonsquare', 201, B=2, C=1, H=12, W=16, patch=4, D=16, depth=2, heads=2, Dd=12, ddepth=2,
             dheads=3, mlp_ratio=2.0, mask_ratio=0.6, norm_pix=False, qkv_bias=False)
    # MAE: patch 2, 3 samples, norm_pix_loss, mask ratio 0.5, a decoder wider than the encoder.
    mae_case(out, 'mae_patch2', 202, B=3, C=3, H=8, W=8, patch=2, D=16, depth=1, heads=4, Dd=20, ddepth=1, dheads=5,
             mlp_ratio=4.0, mask_ratio=0.5, norm_pix=True, qkv_bias=True)
    # SimMIM: no layer scale, no q/v bias, one channel, non-square.
    simmim_case(out, 'simmim_plain_gray', 203, B=2, C=1, H=16, W=8, patch=4, D=12, depth=3, heads=3, mlp_ratio=2.0,
                init_values=None, qv_bias=False, mask_patch=8)
    # SimMIM: patch 2 (r = 2), two channels, layer scale and q/v bias.
    simmim_case(out, 'simmim_patch2', 204, B=3, C=2, H=8, W=8, patch=2, D=16, depth=1, heads=2, mlp_ratio=4.0,
                init_values=0.5, qv_bias=True, mask_patch=4)
    # BEiT: vocabulary 100, no layer scale, 2 channels, non-square.
    beit_case(out, 'beit_vocab100', 205, B=2, C=2, H=12, W=8, patch=4, D=16, depth=2, heads=2, mlp_ratio=3.0,
              init_values=None, qv_bias=True, vocab=100)
    # BEiT: no q/v bias, layer scale, vocabulary 17, patch 2.
    beit_case(out, 'beit_noqv', 206, B=3, C=3, H=8, W=8, patch=2, D=12, depth=3, heads=3, mlp_ratio=4.0,
              init_values=0.2, qv_bias=False, vocab=17)
    # BEiT as released: shared relative position bias, no absolute table; a 2x4 grid (rows != cols).
    beit_case(out, 'beit_shared_relpos', 207, B=2, C=3, H=8, W=16, patch=4, D=16, depth=2, heads=4, mlp_ratio=4.0,
              init_values=0.1, qv_bias=True, vocab=20, abs_pos=False, shared_rel_pos=True)
    # BEiT fine-tuning form: a relative position table per block, with the absolute table; a 3x2 grid.
    beit_case(out, 'beit_layer_relpos', 208, B=2, C=1, H=12, W=8, patch=4, D=12, depth=2, heads=3, mlp_ratio=2.0,
              init_values=None, qv_bias=True, vocab=30, abs_pos=True, rel_pos=True)
    # SimMIM as released (USE_APE False, USE_SHARED_RPB True) on a 2x4 grid.
    simmim_case(out, 'simmim_shared_relpos', 209, B=2, C=3, H=8, W=16, patch=4, D=16, depth=2, heads=2, mlp_ratio=4.0,
                init_values=0.1, qv_bias=True, mask_patch=8, abs_pos=False, shared_rel_pos=True)
    # SimMIM with both a per-block and a shared relative position bias, no absolute table, no q/v bias; a 2x3 grid.
    simmim_case(out, 'simmim_layer_relpos', 210, B=2, C=2, H=8, W=12, patch=4, D=12, depth=2, heads=3, mlp_ratio=2.0,
                init_values=None, qv_bias=False, mask_patch=4, abs_pos=False, rel_pos=True, shared_rel_pos=True)
    print(f'wrote 10 cases to {out}')


if __name__ == '__main__':
    main()
