/**
 * `beit3_model`: unilm's `BEiT3Wrapper(args).beit3` (torchscale `BEiT3`) via
 * the library's `BEiT3`: sizes, vocabulary, text positions, sub-LN and
 * LayerNorm eps from the config (torchscale's `EncoderConfig` names); image,
 * text, text padding and vision mask from whichever inputs the file has;
 * weights loaded strictly through `beit3Converter` (keys `beit3.*`). The
 * split position the model uses must equal the config's
 * `multiway_split_position`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beit3Converter, loadWeights } from '../../../src/io/index.js';
import { BEiT3, type Beit3Inputs } from '../../../src/models/beit3.js';
import { configReader } from '../config.js';
import type { KindRunner } from '../types.js';

const { int, flag, num } = configReader('beit3_model');

export const run: KindRunner = (c) => {
  const cfg = c.config;
  const unsupported: [string, (v: unknown) => boolean][] = [
    ['multiway', (v) => v === false],
    ['deepnorm', (v) => v === true],
    ['encoder_normalize_before', (v) => v === false],
    ['normalize_output', (v) => v === false],
    ['layernorm_embedding', (v) => v === true],
    ['no_scale_embedding', (v) => v === false],
    ['xpos_rel_pos', (v) => v === true],
    ['rel_pos_buckets', (v) => v != null && v !== 0],
    ['position_offset', (v) => v != null && v !== 2],
    ['activation_fn', (v) => v != null && v !== 'gelu'],
  ];
  for (const [key, bad] of unsupported) {
    if (bad(cfg[key])) throw new Error(`beit3_model: config ${key}=${JSON.stringify(cfg[key])} is not supported`);
  }
  const inputs: Beit3Inputs = {};
  for (const [name, key] of [
    ['input.image', 'image'],
    ['input.text', 'text'],
    ['input.text_padding_position', 'textPaddingPosition'],
    ['input.vision_masked_position', 'visionMaskedPosition'],
  ] as const) {
    if (c.has(name)) inputs[key] = c.tensor(name);
  }
  if (inputs.image) {
    const nchw = inputs.image;
    inputs.image = tf.transpose(nchw, [0, 2, 3, 1]);
    nchw.dispose();
  }
  const imgSize = int(cfg, 'img_size');
  const model = new BEiT3({
    imgSize,
    patchSize: int(cfg, 'patch_size'),
    inChans: inputs.image ? inputs.image.shape[3]! : int(cfg, 'in_chans', 3),
    embedDim: int(cfg, 'encoder_embed_dim'),
    layers: int(cfg, 'encoder_layers'),
    heads: int(cfg, 'encoder_attention_heads'),
    ffnDim: int(cfg, 'encoder_ffn_embed_dim'),
    vocabSize: int(cfg, 'vocab_size'),
    maxSourcePositions: int(cfg, 'max_source_positions'),
    subln: flag(cfg, 'subln', true),
    layernormEps: cfg.layernorm_eps === undefined ? 1e-5 : num(cfg, 'layernorm_eps'),
  });
  try {
    if (cfg.num_patches !== undefined && int(cfg, 'num_patches') !== model.numPatches) {
      throw new Error(`beit3_model: config.num_patches ${String(cfg.num_patches)} but the model has ${model.numPatches} patches`);
    }
    const params = c.params();
    try {
      loadWeights(model, params, { converter: beit3Converter }); // strict: every key must match
    } finally {
      tf.dispose([...params.values()]);
    }
    const f = model.forwardFeatures(inputs);
    if (cfg.multiway_split_position !== undefined && int(cfg, 'multiway_split_position') !== f.multiwaySplitPosition) {
      f.encoderOut.dispose();
      throw new Error(
        `beit3_model: config.multiway_split_position ${String(cfg.multiway_split_position)} but the model split at ${f.multiwaySplitPosition}`,
      );
    }
    return { encoder_out: f.encoderOut };
  } finally {
    tf.dispose(Object.values(inputs));
    model.dispose();
  }
};
