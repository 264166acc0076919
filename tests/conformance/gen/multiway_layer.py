#!/usr/bin/env python3
"""`multiway_layer` cases from torchscale's `torchscale/architecture/encoder.py` `EncoderLayer`
with `multiway=True` (BEiT-3's layer), called as `EncoderLayer(args, depth=0)(x,
encoder_padding_mask=None, multiway_split_position=s)`; `expect.attn` is the attention module's
returned probabilities, reshaped from `[B*heads, T, T]`. timm 0.6.13 as torchscale pins it
(only `drop_path` is used).

    /usr/bin/python3 tests/conformance/gen/multiway_layer.py [OUT_DIR]
"""
from _common import generator, install_einops_shim, meta, pin, randn, randomize, reference, state, stub_modules, use, \
    write, out_dir

install_einops_shim()
stub_modules('fairscale', 'torchvision')
use('torchscale', 'timm-0.6.13')
import torch  # noqa: E402
from torchscale.architecture.config import EncoderConfig  # noqa: E402
from torchscale.architecture.encoder import EncoderLayer  # noqa: E402

REF = reference('torchscale', 'torchscale/architecture/encoder.py')
NOTE = ('called as EncoderLayer(args, depth=0)(x, encoder_padding_mask=None, multiway_split_position=...); einops is '
        'not packaged here, so tests/conformance/gen/_common.py rearrange stands in (reshape + permute); fairscale '
        f'(checkpoint/FSDP only) is stubbed; timm 0.6.13 ({pin("timm-0.6.13")}) (torchscale pin, only drop_path is '
        'used); expect.attn captured from self_attn\'s returned weights, reshaped from [B*heads,T,T]')


def case(out, name, seed, B, T, D, heads, ffn, subln, split):
    g = generator(seed)
    args = EncoderConfig(encoder_embed_dim=D, encoder_attention_heads=heads, encoder_ffn_embed_dim=ffn, multiway=True,
                         subln=subln, layernorm_eps=1e-5, dropout=0.0, drop_path_rate=0.0, activation_fn='gelu',
                         encoder_normalize_before=True, deepnorm=False)
    m = EncoderLayer(args, depth=0).eval()
    randomize(m, g)
    x = randn(g, B, T, D)
    got = {}
    attn_forward = m.self_attn.forward

    def capture(*a, **k):
        out_, w = attn_forward(*a, **k)
        got['attn'] = w.detach().reshape(B, heads, T, T).clone()
        return out_, w

    m.self_attn.forward = capture
    with torch.no_grad():
        y = m(x, encoder_padding_mask=None, multiway_split_position=split)
    y = y[0] if isinstance(y, tuple) else y
    cfg = {'encoder_embed_dim': D, 'encoder_attention_heads': heads, 'encoder_ffn_embed_dim': ffn, 'subln': subln,
           'layernorm_eps': 1e-5, 'multiway': True, 'multiway_split_position': split, 'tokens': T,
           'activation_fn': 'gelu', 'encoder_normalize_before': True, 'deepnorm': False, 'dropout': 0.0,
           'drop_path_rate': 0.0, 'xpos_rel_pos': False, 'flash_attention': False}
    write(out, name, {**state(m), 'input.x': x, 'expect.out': y, 'expect.attn': got['attn']},
          meta('multiway_layer', REF, cfg, seed, NOTE))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'multiway_layer', 1501, B=2, T=6, D=8, heads=2, ffn=16, subln=True, split=4)
    case(out, 'multiway_layer_nosubln_text', 1502, B=1, T=5, D=12, heads=3, ffn=20, subln=False, split=0)
