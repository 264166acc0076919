/**
 * `beit_mim`: BEiT masked image modeling (unilm `beit/modeling_pretrain.py`)
 * via the library's `BEiT`. Sizes, heads, depth, patch size, vocabulary and
 * channels come from the config and tensor shapes; layer scale from
 * `init_values` (null: none) and q/v bias from the presence of
 * `attn.q_bias`; LayerNorm eps from `norm_layer`; position from
 * `use_abs_pos_emb`, `use_rel_pos_bias` and `use_shared_rel_pos_bias`
 * (upstream's defaults true, false, false when absent). Weights load
 * strictly with the `beit` converter through `loadMimWeights`, which checks
 * any `relative_position_index` buffer against the model's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BEiT } from '../../../src/models/beit.js';
import { loadMimWeights, beitConverter } from '../../../src/io/converters_mim.js';
import { configReader } from '../config.js';
import type { KindRunner } from '../types.js';

const { num, flag, normEps } = configReader('beit_mim');

export const run: KindRunner = (c) => {
  const cfg = c.config;
  if (cfg.qk_scale != null) throw new Error(`beit_mim: qk_scale ${String(cfg.qk_scale)} is not supported (d^-0.5 only)`);
  const x = c.tensor('input.x');
  const [, inChans, h, w] = x.shape as [number, number, number, number];
  if (cfg.in_chans !== undefined && num(cfg, 'in_chans') !== inChans) {
    throw new Error(`beit_mim: config.in_chans ${String(cfg.in_chans)} does not match input.x's ${inChans} channels`);
  }
  const model = new BEiT({
    imgSize: [h, w],
    patchSize: num(cfg, 'patch_size'),
    inChans,
    embedDim: num(cfg, 'embed_dim'),
    depth: num(cfg, 'depth'),
    numHeads: num(cfg, 'num_heads'),
    mlpRatio: cfg.mlp_ratio === undefined ? 4 : num(cfg, 'mlp_ratio'),
    qkvBias: c.has('param.blocks.0.attn.q_bias') ? 'qv' : 'none',
    initValues: cfg.init_values == null ? null : num(cfg, 'init_values'),
    vocabSize: num(cfg, 'vocab_size'),
    normEps: normEps(cfg.norm_layer),
    useAbsPosEmb: flag(cfg, 'use_abs_pos_emb', true),
    useRelPosBias: flag(cfg, 'use_rel_pos_bias', false),
    useSharedRelPosBias: flag(cfg, 'use_shared_rel_pos_bias', false),
  });
  try {
    const params = c.params();
    try {
      loadMimWeights(model, params, { converter: beitConverter }); // strict; checks relative_position_index buffers
    } finally {
      tf.dispose([...params.values()]);
    }
    const nhwc = tf.transpose(x, [0, 2, 3, 1]);
    const mask = c.tensor('input.bool_masked_pos');
    const labels = c.tensor('input.labels');
    const out = model.forward(nhwc, mask, labels);
    tf.dispose([nhwc, mask, labels, x, out.labels]);
    return { logits: out.logits, loss: out.loss };
  } finally {
    model.dispose();
  }
};
