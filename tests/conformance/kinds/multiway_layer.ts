/**
 * `multiway_layer`: one torchscale `EncoderLayer` with `multiway=True` via
 * the library's `MultiwayBlock`: width from `encoder_embed_dim` (or the
 * input), heads, FFN width, sub-LN, LayerNorm eps and split position from the
 * config; weights loaded strictly under torchscale's own keys.
 */
import { MultiwayBlock } from '../../../src/layers/multiway.js';
import { loadWeights } from '../../../src/io/index.js';
import type { KindRunner } from '../types.js';

export const run: KindRunner = (c) => {
  const cfg = c.config;
  const unsupported: [string, (v: unknown) => boolean][] = [
    ['multiway', (v) => v === false],
    ['deepnorm', (v) => v === true],
    ['encoder_normalize_before', (v) => v === false],
    ['xpos_rel_pos', (v) => v === true],
    ['activation_fn', (v) => v != null && v !== 'gelu'],
  ];
  for (const [key, bad] of unsupported) {
    if (bad(cfg[key])) throw new Error(`multiway_layer: config ${key}=${JSON.stringify(cfg[key])} is not supported`);
  }
  const x = c.tensor('input.x');
  const embedDim = (cfg.encoder_embed_dim as number | undefined) ?? x.shape[2]!;
  const block = new MultiwayBlock({
    embedDim,
    heads: cfg.encoder_attention_heads as number,
    ffnDim: cfg.encoder_ffn_embed_dim as number,
    subln: cfg.subln !== false,
    layernormEps: (cfg.layernorm_eps as number | undefined) ?? 1e-5,
    vlExpert: c.has('param.ffn.C.fc1.weight'),
  });
  const params = c.params();
  try {
    loadWeights(block, params); // strict: every key must match
    const { out, attn } = block.forward(x, {
      splitPosition: (cfg.multiway_split_position as number | undefined) ?? -1,
      returnAttention: true,
    });
    return { out, attn: attn! };
  } finally {
    for (const t of params.values()) t.dispose();
    x.dispose();
    block.dispose();
  }
};
