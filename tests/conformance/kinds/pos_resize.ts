/**
 * `pos_resize`: a checkpoint's position table resized to another patch grid
 * by the upstream code (timm `resample_abs_pos_embed`, MAE
 * `interpolate_pos_embed`, timm `resize_rel_pos_bias_table`), reproduced
 * through the library's one-call load path: a model built for the new grid
 * loads the old table with `loadWeights(..., { resizePosEmbed })` and the
 * converter of that reference (timm: `timmVit`; MAE: `maeEncoderConverter`;
 * BEiT relative tables: `beitEncoderConverter`), so the converters' default
 * interpolation is what is checked. Cases: tests/conformance/gen/pos_resize_cases.py.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beitEncoderConverter, loadWeights, maeEncoderConverter, timmVit } from '../../../src/io/index.js';
import { RelativePositionBias } from '../../../src/layers/rel_pos_bias.js';
import type { Module, Weight } from '../../../src/layers/module.js';
import { VisionTransformer } from '../../../src/models/vit.js';
import { configReader } from '../config.js';
import type { KindRunner } from '../types.js';

const cfgr = configReader('pos_resize');

function pair(cfg: Record<string, unknown>, key: string): [number, number] {
  const v = cfg[key];
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x > 0)) {
    throw new Error(`pos_resize: config.${key} must be [rows, cols], got ${JSON.stringify(v)}`);
  }
  return [v[0] as number, v[1] as number];
}

/** Loads `key` into the module, returns a copy of the loaded weight, disposes the module. */
function loadOne(module: Module, weight: Weight, key: string, value: tf.Tensor, opts: Parameters<typeof loadWeights>[2]): tf.Tensor {
  try {
    const report = loadWeights(module, new Map([[key, value]]), { ...opts, strict: false });
    if (!report.loaded.includes(key) || report.resized.length !== 1) {
      throw new Error(`pos_resize: expected '${key}' to be loaded and resized, got ${JSON.stringify(report)}`);
    }
    return tf.clone(weight.read());
  } finally {
    module.dispose();
  }
}

export const run: KindRunner = (c): Record<string, tf.Tensor> => {
  const cfg = c.config;
  const fn = cfg.function;
  if (fn === 'resample_abs_pos_embed' || fn === 'interpolate_pos_embed') {
    const [nh, nw] = pair(cfg, 'new_size');
    const P = cfgr.int(cfg, 'num_prefix_tokens');
    const D = cfgr.int(cfg, 'embed_dim');
    const antialias = cfgr.flag(cfg, 'antialias', fn === 'resample_abs_pos_embed');
    if (cfg.interpolation !== 'bicubic') throw new Error(`pos_resize: config.interpolation must be 'bicubic', got ${JSON.stringify(cfg.interpolation)}`);
    if (P !== 0 && P !== 1) throw new Error(`pos_resize: config.num_prefix_tokens must be 0 or 1 (a class token), got ${P}`);
    const vit = new VisionTransformer({ imgSize: [nh, nw], patchSize: 1, embedDim: D, depth: 0, numHeads: 1, classToken: P === 1 });
    const converter = fn === 'interpolate_pos_embed' ? maeEncoderConverter : timmVit;
    // `true` = the converter's reference interpolation; override only where the case differs from it.
    const resizePosEmbed = antialias === converter.posEmbedResample.antialias ? true : { antialias };
    return { pos_embed: loadOne(vit, vit.posEmbed!, 'pos_embed', c.tensor('param.pos_embed'), { converter, resizePosEmbed }) };
  }
  if (fn === 'resize_rel_pos_bias_table') {
    const window = pair(cfg, 'new_window');
    if (cfg.scipy !== false) throw new Error(`pos_resize: only timm's scipy-free path is implemented (config.scipy false), got ${JSON.stringify(cfg.scipy)}`);
    const rpb = new RelativePositionBias({ windowSize: window, numHeads: cfgr.int(cfg, 'num_heads') });
    const table = c.tensor('param.relative_position_bias_table');
    return {
      relative_position_bias_table: loadOne(rpb, rpb.table, 'relative_position_bias_table', table, {
        converter: beitEncoderConverter,
        resizePosEmbed: true,
      }),
    };
  }
  throw new Error(`pos_resize: config.function must be resample_abs_pos_embed, interpolate_pos_embed or resize_rel_pos_bias_table, got ${JSON.stringify(fn)}`);
};
