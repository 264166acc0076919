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
import type { KindRunner } from '../types.js';

/** A required numeric config entry. */
function num(kind: string, cfg: Record<string, unknown>, key: string): number {
  const v = cfg[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${kind}: config.${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** LayerNorm eps from a `norm_layer` string like `LayerNorm(eps=1e-6)` (1e-6 when absent). */
function normEps(kind: string, normLayer: unknown): number {
  if (normLayer == null) return 1e-6;
  const m = /eps\s*=\s*([0-9.eE+-]+)/.exec(String(normLayer));
  if (!/^LayerNorm/.test(String(normLayer)) || !m) {
    throw new Error(`${kind}: norm_layer must be LayerNorm(eps=...), got ${JSON.stringify(normLayer)}`);
  }
  return Number(m[1]);
}

/** `[H, W]` of the input image, checked against `config.img_size` (number or pair) when given. */
function imageSize(kind: string, cfg: Record<string, unknown>, h: number, w: number): [number, number] {
  const s = cfg.img_size;
  if (s !== undefined) {
    const pair = typeof s === 'number' ? [s, s] : Array.isArray(s) && s.length === 2 ? s : null;
    if (pair === null || pair[0] !== h || pair[1] !== w) {
      throw new Error(`${kind}: config.img_size ${JSON.stringify(s)} does not match the input image ${h}x${w}`);
    }
  }
  return [h, w];
}

export const run: KindRunner = (c) => {
  const cfg = c.config;
  const imgs = c.tensor('input.imgs');
  const [, inChans, h, w] = imgs.shape as [number, number, number, number];
  const model = new MAE({
    imgSize: imageSize('mae', cfg, h, w),
    patchSize: num('mae', cfg, 'patch_size'),
    inChans: cfg.in_chans === undefined ? inChans : num('mae', cfg, 'in_chans'),
    embedDim: num('mae', cfg, 'embed_dim'),
    depth: num('mae', cfg, 'depth'),
    numHeads: num('mae', cfg, 'num_heads'),
    decoderEmbedDim: num('mae', cfg, 'decoder_embed_dim'),
    decoderDepth: num('mae', cfg, 'decoder_depth'),
    decoderNumHeads: num('mae', cfg, 'decoder_num_heads'),
    mlpRatio: cfg.mlp_ratio === undefined ? 4 : num('mae', cfg, 'mlp_ratio'),
    qkvBias: cfg.qkv_bias === false ? 'none' : 'qkv',
    normEps: normEps('mae', cfg.norm_layer),
    maskRatio: num('mae', cfg, 'mask_ratio'),
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
    if (cfg.len_keep !== undefined && out.latent.shape[1] !== num('mae', cfg, 'len_keep') + 1) {
      throw new Error(`mae: kept ${out.latent.shape[1] - 1} patches, config len_keep is ${String(cfg.len_keep)}`);
    }
    tf.dispose([nhwc, noise, imgs]);
    return { ids_restore: out.idsRestore, mask: out.mask, latent: out.latent, pred: out.pred, loss: out.loss };
  } finally {
    model.dispose();
  }
};
