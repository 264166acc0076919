/**
 * `dino_model`: dino's student network, `utils.MultiCropWrapper(
 * VisionTransformer, DINOHead)` on `[global_crop, local_crop]`, via the
 * library's `DINO` (its `student`). Every size comes from the case: the ViT
 * and head sizes, `norm_last_layer` and the position resize (`bicubic`,
 * offset `interpolate_offset`) from the config, channels and crop sizes from
 * the inputs (checked against `global_size`, `local_size`). Weights load
 * strictly with the `dino` converter. Both crops go through one
 * `forwardFeatures` / `forward` call, so equal sizes share one backbone pass
 * as in dino.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dinoConverter } from '../../../src/io/converters_dino.js';
import { loadWeights } from '../../../src/io/state_dict.js';
import { DINO } from '../../../src/models/dino.js';
import { configReader } from '../config.js';
import type { KindRunner } from '../types.js';

const { num, int, flag, normEps } = configReader('dino_model');

export const run: KindRunner = (c) => {
  const cfg = c.config;
  if (flag(cfg, 'use_bn', false)) throw new Error('dino_model: config.use_bn true (BatchNorm in the head) is not supported');
  if (cfg.interpolate_mode !== undefined && cfg.interpolate_mode !== 'bicubic') {
    throw new Error(`dino_model: config.interpolate_mode must be 'bicubic', got ${JSON.stringify(cfg.interpolate_mode)}`);
  }
  const imgSize = cfg.img_size;
  if (!Array.isArray(imgSize) || imgSize.length !== 1 || typeof imgSize[0] !== 'number') {
    throw new Error(`dino_model: config.img_size must be a one-element list [size], got ${JSON.stringify(imgSize)}`);
  }
  const global = c.tensor('input.global_crop');
  const local = c.tensor('input.local_crop');
  const inChans = global.shape[1]!;
  for (const [t, key] of [[global, 'global_size'], [local, 'local_size']] as const) {
    const s = int(cfg, key);
    if (t.shape[2] !== s || t.shape[3] !== s) throw new Error(`dino_model: input of shape [${t.shape}] does not match config.${key} ${s}`);
  }
  const model = new DINO({
    imgSize: imgSize[0],
    patchSize: int(cfg, 'patch_size'),
    inChans: int(cfg, 'in_chans', inChans),
    embedDim: int(cfg, 'embed_dim'),
    depth: int(cfg, 'depth'),
    numHeads: int(cfg, 'num_heads'),
    mlpRatio: cfg.mlp_ratio === undefined ? 4 : num(cfg, 'mlp_ratio'),
    qkvBias: flag(cfg, 'qkv_bias', true) ? 'qkv' : 'none',
    normEps: normEps(cfg.norm_layer),
    outDim: int(cfg, 'out_dim'),
    headLayers: int(cfg, 'nlayers'),
    headHiddenDim: int(cfg, 'hidden_dim'),
    headBottleneckDim: int(cfg, 'bottleneck_dim'),
    normLastLayer: flag(cfg, 'norm_last_layer', true),
    localCropsNumber: 0,
    epochs: 1,
    warmupTeacherTempEpochs: 0,
  });
  try {
    const offset = cfg.interpolate_offset === undefined ? 0.1 : num(cfg, 'interpolate_offset');
    if (model.student.backbone.config.posEmbedResize.scaleOffset !== offset) {
      throw new Error(`dino_model: the model resizes with offset ${model.student.backbone.config.posEmbedResize.scaleOffset}, config.interpolate_offset is ${offset}`);
    }
    const params = c.params();
    try {
      loadWeights(model.student, params, { converter: dinoConverter }); // strict
    } finally {
      tf.dispose([...params.values()]);
    }
    const b = global.shape[0]!;
    const crops = [tf.transpose(global, [0, 2, 3, 1]), tf.transpose(local, [0, 2, 3, 1])] as tf.Tensor4D[];
    const backbone = model.student.backbone;
    const pos = crops.map((x) => tf.clone(backbone.posEmbedFor(backbone.gridOf(x))));
    const cls = model.student.forwardFeatures(crops);
    const out = model.student.forward(crops);
    const rows = (t: tf.Tensor, i: number) => tf.slice(t, [i * b, 0], [b, -1]);
    const result = {
      global_pos_embed: pos[0]!,
      local_pos_embed: pos[1]!,
      global_cls: rows(cls, 0),
      local_cls: rows(cls, 1),
      global_output: rows(out, 0),
      local_output: rows(out, 1),
    };
    tf.dispose([global, local, ...crops, cls, out]);
    return result;
  } finally {
    model.dispose();
  }
};
