/**
 * `mae`: MAE's full pretraining forward (facebookresearch/mae
 * `models_mae.py`) via the library's `MAE`, masking driven by `input.noise`.
 * Every size comes from the case: dims, depths, heads, patch size, mask
 * ratio, norm_pix_loss and qkv_bias from the config; channels and image size
 * from `input.imgs` (checked against the config); LayerNorm eps from
 * `norm_layer`. Weights load strictly with the `mae` converter.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MAE } from '../../../src/models/mae.js';
import { loadWeights } from '../../../src/io/state_dict.js';
import { maeConverter } from '../../../src/io/converters_mim.js';
import { configReader } from '../config.js';
import type { KindRunner } from '../types.js';

const { num, normEps, imageSize } = configReader('mae');

export const run: KindRunner = (c) => {
  const cfg = c.config;
  const imgs = c.tensor('input.imgs');
  const [, inChans, h, w] = imgs.shape as [number, number, number, number];
  const model = new MAE({
    imgSize: imageSize(cfg, h, w),
    patchSize: num(cfg, 'patch_size'),
    inChans: cfg.in_chans === undefined ? inChans : num(cfg, 'in_chans'),
    embedDim: num(cfg, 'embed_dim'),
    depth: num(cfg, 'depth'),
    numHeads: num(cfg, 'num_heads'),
    decoderEmbedDim: num(cfg, 'decoder_embed_dim'),
    decoderDepth: num(cfg, 'decoder_depth'),
    decoderNumHeads: num(cfg, 'decoder_num_heads'),
    mlpRatio: cfg.mlp_ratio === undefined ? 4 : num(cfg, 'mlp_ratio'),
    qkvBias: cfg.qkv_bias === false ? 'none' : 'qkv',
    normEps: normEps(cfg.norm_layer),
    maskRatio: num(cfg, 'mask_ratio'),
    normPixLoss: cfg.norm_pix_loss === true,
  });
  try {
    const params = c.params();
    try {
      loadWeights(model, params, { converter: maeConverter }); // strict
    } finally {
      tf.dispose([...params.values()]);
    }
    const nhwc = tf.transpose(imgs, [0, 2, 3, 1]);
    const noise = c.tensor('input.noise');
    const out = model.forward(nhwc, { noise });
    if (cfg.len_keep !== undefined && out.latent.shape[1] !== num(cfg, 'len_keep') + 1) {
      throw new Error(`mae: kept ${out.latent.shape[1] - 1} patches, config len_keep is ${String(cfg.len_keep)}`);
    }
    tf.dispose([nhwc, noise, imgs]);
    return { ids_restore: out.idsRestore, mask: out.mask, latent: out.latent, pred: out.pred, loss: out.loss };
  } finally {
    model.dispose();
  }
};
