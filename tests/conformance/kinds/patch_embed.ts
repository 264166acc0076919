/**
 * `patch_embed`: timm `PatchEmbed` (conv with kernel = stride = patch) on an
 * NCHW image, via the library's `PatchEmbed` (patchify + linear, NHWC).
 * Every size is read from the case: patch size from the config, channels and
 * width from `param.proj.weight`, image size from `input.x`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PatchEmbed } from '../../../src/layers/index.js';
import { loadWeights } from '../../../src/io/index.js';
import type { KindRunner } from '../types.js';

function squarePatch(v: unknown): number {
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.length === 2 && v[0] === v[1]) return v[0] as number;
  throw new Error(`patch_embed: patch_size must be a number or a square pair, got ${JSON.stringify(v)}`);
}

export const run: KindRunner = (c) => {
  const cfg = c.config;
  if (cfg.norm_layer != null) throw new Error(`patch_embed: norm_layer ${JSON.stringify(cfg.norm_layer)} is not supported`);
  if (cfg.flatten === false) throw new Error('patch_embed: flatten=false is not supported (tokens are always [B, N, D])');
  const p = squarePatch(cfg.patch_size);
  const x = c.tensor('input.x');
  const w = c.tensor('param.proj.weight');
  const [embedDim, inChans] = w.shape as [number, number, number, number];
  w.dispose();
  const [, , h, wd] = x.shape as [number, number, number, number];
  const pe = new PatchEmbed({
    imgSize: [h, wd],
    patchSize: p,
    inChans,
    embedDim,
    bias: c.has('param.proj.bias'),
  });
  try {
    loadWeights(pe, c.params());
    const nhwc = tf.transpose(x, [0, 2, 3, 1]);
    const out = pe.forward(nhwc);
    nhwc.dispose();
    x.dispose();
    return { out };
  } finally {
    pe.dispose();
  }
};
