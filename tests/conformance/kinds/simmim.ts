/**
 * `simmim`: SimMIM (microsoft/SimMIM `models/simmim.py`, ViT encoder) via the
 * library's `SimMIM`. Sizes, heads, depth, patch size and channels come from
 * the config and tensor shapes; layer scale from `init_values` (null: none)
 * and q/v bias from the presence of `attn.q_bias`; LayerNorm eps from
 * `norm_layer`; position from `use_abs_pos_emb`, `use_rel_pos_bias` and
 * `use_shared_rel_pos_bias` (upstream's defaults true, false, false when
 * absent). `encoder_stride` must equal the patch size (a ViT encoder).
 * Weights load strictly with the `simmim` converter through
 * `loadMimWeights`, which checks any `relative_position_index` buffer
 * against the model's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SimMIM } from '../../../src/models/simmim.js';
import { loadMimWeights, simmimConverter } from '../../../src/io/converters_mim.js';
import { configReader } from '../config.js';
import type { KindRunner } from '../types.js';

const { num, flag, normEps } = configReader('simmim');

export const run: KindRunner = (c) => {
  const cfg = c.config;
  if (cfg.use_mean_pooling === true) throw new Error('simmim: use_mean_pooling=true is not supported');
  const p = num(cfg, 'patch_size');
  const stride = cfg.encoder_stride === undefined ? p : num(cfg, 'encoder_stride');
  if (stride !== p) throw new Error(`simmim: encoder_stride ${stride} must equal patch_size ${p} for a ViT encoder`);
  const x = c.tensor('input.x');
  const [, inChans, h, w] = x.shape as [number, number, number, number];
  if (cfg.in_chans !== undefined && num(cfg, 'in_chans') !== inChans) {
    throw new Error(`simmim: config.in_chans ${String(cfg.in_chans)} does not match input.x's ${inChans} channels`);
  }
  const model = new SimMIM({
    imgSize: [h, w],
    patchSize: p,
    inChans,
    embedDim: num(cfg, 'embed_dim'),
    depth: num(cfg, 'depth'),
    numHeads: num(cfg, 'num_heads'),
    mlpRatio: cfg.mlp_ratio === undefined ? 4 : num(cfg, 'mlp_ratio'),
    qkvBias: c.has('param.encoder.blocks.0.attn.q_bias') ? 'qv' : 'none',
    initValues: cfg.init_values == null ? null : num(cfg, 'init_values'),
    normEps: normEps(cfg.norm_layer),
    useAbsPosEmb: flag(cfg, 'use_abs_pos_emb', true),
    useRelPosBias: flag(cfg, 'use_rel_pos_bias', false),
    useSharedRelPosBias: flag(cfg, 'use_shared_rel_pos_bias', false),
  });
  try {
    const params = c.params();
    try {
      loadMimWeights(model, params, { converter: simmimConverter }); // strict; checks relative_position_index buffers
    } finally {
      tf.dispose([...params.values()]);
    }
    const nhwc = tf.transpose(x, [0, 2, 3, 1]);
    const mask = c.tensor('input.mask');
    const out = model.forward(nhwc, mask);
    const xRec = tf.transpose(out.xRec, [0, 3, 1, 2]);
    tf.dispose([nhwc, mask, x, out.xRec]);
    return { x_rec: xRec, loss: out.loss };
  } finally {
    model.dispose();
  }
};
