/**
 * `moco_v3_model`: one training forward of moco-v3's `MoCo_ViT`
 * (`loss = model(x1, x2, m)`) via the library's `MoCoV3`: BatchNorm with batch
 * statistics, the momentum update before the momentum encoder runs, the
 * 2T-scaled symmetric loss. Sizes, T, m, head depths and BN eps come from the
 * config; the image size and channels from `input.x1`. The weights (both
 * encoders, predictor, BatchNorm buffers and counters) load strictly with
 * `mocoV3Converter` through `loadWeightsWithBatchNorm`, so `momentum_init`
 * (copy or random) is whatever the file holds.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MoCoV3 } from '../../../src/models/moco_v3.js';
import { loadWeightsWithBatchNorm, mocoV3Converter } from '../../../src/io/converters_ssl.js';
import { configReader } from '../config.js';
import type { KindRunner } from '../types.js';

const { num, int, flag, normEps, imageSize } = configReader('moco_v3_model');

export const run: KindRunner = (c) => {
  const cfg = c.config;
  if (cfg.training === false) throw new Error('moco_v3_model: config.training false is not a MoCo training forward');
  const x1 = c.tensor('input.x1');
  const x2 = c.tensor('input.x2');
  const [, inChans, h, w] = x1.shape as [number, number, number, number];
  const model = new MoCoV3({
    imgSize: imageSize(cfg, h, w),
    patchSize: int(cfg, 'patch_size'),
    inChans,
    embedDim: int(cfg, 'embed_dim'),
    depth: int(cfg, 'depth'),
    numHeads: int(cfg, 'num_heads'),
    mlpRatio: cfg.mlp_ratio === undefined ? 4 : num(cfg, 'mlp_ratio'),
    qkvBias: flag(cfg, 'qkv_bias', true) ? 'qkv' : 'none',
    normEps: normEps(cfg.norm_layer),
    dim: int(cfg, 'dim'),
    mlpDim: int(cfg, 'mlp_dim'),
    T: num(cfg, 'T'),
    momentum: num(cfg, 'm'),
    stopGradConv1: flag(cfg, 'stop_grad_conv1', false),
    projectorLayers: int(cfg, 'projector_layers', 3),
    predictorLayers: int(cfg, 'predictor_layers', 2),
    bnEps: cfg.bn_eps === undefined ? 1e-5 : num(cfg, 'bn_eps'),
  });
  try {
    const params = c.params();
    try {
      loadWeightsWithBatchNorm(model, params, { converter: mocoV3Converter }); // strict
    } finally {
      tf.dispose([...params.values()]);
    }
    const v1 = tf.transpose(x1, [0, 2, 3, 1]);
    const v2 = tf.transpose(x2, [0, 2, 3, 1]);
    const out = model.forward(v1, v2, num(cfg, 'm'), { training: true });
    tf.dispose([v1, v2, x1, x2]);
    return {
      loss: out.loss, loss_q1k2: out.lossQ1K2, loss_q2k1: out.lossQ2K1,
      z1: out.z1, z2: out.z2, q1: out.q1, q2: out.q2, k1: out.k1, k2: out.k2,
    };
  } finally {
    model.dispose();
  }
};
