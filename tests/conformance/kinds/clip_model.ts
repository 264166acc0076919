/**
 * `clip_model`: a whole open_clip `CLIP` (mlfoundations/open_clip `model.py`,
 * `transformer.py`) via the library's `CLIP`. Every size comes from the
 * case's config in open_clip's own names (`embed_dim`, `quick_gelu`,
 * `vision_cfg`, `text_cfg`, `layernorm_eps`); weights load strictly with the
 * `openClipConverter`. FLIP files give `input.patch_keep_indices`, passed as
 * the image tower's kept patches. Fails on any option the library does not
 * implement rather than ignoring it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CLIP } from '../../../src/models/clip.js';
import { loadWeights } from '../../../src/io/state_dict.js';
import { openClipConverter } from '../../../src/io/converters_clip.js';
import { clipLoss } from '../../../src/losses/clip.js';
import { configReader } from '../config.js';
import type { KindRunner } from '../types.js';

const { num, int, flag } = configReader('clip_model');

/** open_clip options that change the maths; each must be at its default here. */
const UNSUPPORTED_FALSE = ['qk_norm', 'scale_attn', 'scale_attn_inner', 'scale_fc', 'scale_heads', 'scaled_cosine_attn', 'final_ln_after_pool'];

function sub(cfg: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = cfg[key];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`clip_model: config.${key} must be an object, got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

function checkDefaults(where: string, cfg: Record<string, unknown>): void {
  for (const k of UNSUPPORTED_FALSE) {
    if (cfg[k] !== undefined && cfg[k] !== false) throw new Error(`clip_model: config.${where}.${k} = ${JSON.stringify(cfg[k])} is not supported`);
  }
}

export const run: KindRunner = (c) => {
  const cfg = c.config;
  const v = sub(cfg, 'vision_cfg');
  const t = sub(cfg, 'text_cfg');
  checkDefaults('vision_cfg', v);
  checkDefaults('text_cfg', t);
  if (v.pos_embed_type !== undefined && v.pos_embed_type !== 'learnable') {
    throw new Error(`clip_model: vision_cfg.pos_embed_type ${JSON.stringify(v.pos_embed_type)} is not supported`);
  }
  if (typeof v.attentional_pool === 'string') throw new Error(`clip_model: vision_cfg.attentional_pool '${v.attentional_pool}' is not supported`);
  for (const [k, want] of [['text_arch', 'clip'], ['proj_type', 'linear'], ['embed_cls', false], ['proj_bias', false]] as const) {
    if (t[k] !== undefined && t[k] !== want) throw new Error(`clip_model: text_cfg.${k} = ${JSON.stringify(t[k])} is not supported`);
  }
  if (cfg.init_logit_bias != null) throw new Error('clip_model: a logit_bias (SigLIP) is not supported');
  const pool = (t.pool_type ?? 'argmax') as string;
  if (!['argmax', 'first', 'last', 'none'].includes(pool)) throw new Error(`clip_model: text_cfg.pool_type '${pool}' is not supported`);
  const image = c.tensor('input.image');
  const [, , h, w] = image.shape as [number, number, number, number];
  const imageSize = num(v, 'image_size');
  if (h !== imageSize || w !== imageSize) throw new Error(`clip_model: vision_cfg.image_size ${imageSize} does not match the input ${h}x${w}`);
  const width = int(v, 'width');
  const headWidth = int(v, 'head_width', 64);
  if (cfg.vision_heads !== undefined && width / headWidth !== num(cfg, 'vision_heads')) {
    throw new Error(`clip_model: vision_heads ${String(cfg.vision_heads)} is not width / head_width = ${width / headWidth}`);
  }
  const model = new CLIP({
    embedDim: int(cfg, 'embed_dim'),
    quickGelu: flag(cfg, 'quick_gelu', false),
    normEps: cfg.layernorm_eps === undefined ? 1e-5 : num(cfg, 'layernorm_eps'),
    vision: {
      imageSize,
      patchSize: int(v, 'patch_size'),
      width,
      layers: int(v, 'layers'),
      headWidth,
      mlpRatio: v.mlp_ratio === undefined ? 4 : num(v, 'mlp_ratio'),
      lsInitValue: v.ls_init_value == null ? null : num(v, 'ls_init_value'),
      attentionalPool: flag(v, 'attentional_pool', false),
      attnPoolerQueries: int(v, 'attn_pooler_queries', 256),
      attnPoolerHeads: int(v, 'attn_pooler_heads', 8),
      patchDropout: v.patch_dropout === undefined ? 0 : num(v, 'patch_dropout'),
      noLnPre: flag(v, 'no_ln_pre', false),
      poolType: (v.pool_type ?? 'tok') as 'tok' | 'avg',
    },
    text: {
      contextLength: int(t, 'context_length'),
      vocabSize: int(t, 'vocab_size'),
      width: int(t, 'width'),
      heads: int(t, 'heads'),
      layers: int(t, 'layers'),
      mlpRatio: t.mlp_ratio === undefined ? 4 : num(t, 'mlp_ratio'),
      lsInitValue: t.ls_init_value == null ? null : num(t, 'ls_init_value'),
      causal: !flag(t, 'no_causal_mask', false),
      pool: pool as 'argmax',
    },
  });
  try {
    const params = c.params();
    try {
      loadWeights(model, params, { converter: openClipConverter }); // strict
    } finally {
      tf.dispose([...params.values()]);
    }
    const text = c.tensor('input.text');
    const keep = c.has('input.patch_keep_indices') ? c.tensor('input.patch_keep_indices') : undefined;
    if (keep && cfg.patch_dropout_keep !== undefined && keep.shape[1] !== num(cfg, 'patch_dropout_keep')) {
      throw new Error(`clip_model: input.patch_keep_indices keeps ${keep.shape[1]} patches, config patch_dropout_keep is ${String(cfg.patch_dropout_keep)}`);
    }
    try {
      return tf.tidy(() => {
        const nhwc = tf.transpose(image, [0, 2, 3, 1]);
        const imageOpts = keep ? { patchKeepIndices: keep } : {};
        const out = model.forward(nhwc, text, { image: imageOpts });
        const { loss } = clipLoss(out.imageFeatures, out.textFeatures, model.logitScale.read());
        return {
          image_features_raw: model.encodeImage(nhwc, imageOpts),
          text_features_raw: model.encodeText(text),
          image_features: out.imageFeatures,
          text_features: out.textFeatures,
          logit_scale: out.logitScale,
          logits_per_image: out.logitsPerImage,
          logits_per_text: out.logitsPerText,
          loss,
        };
      });
    } finally {
      tf.dispose([image, text, ...(keep ? [keep] : [])]);
    }
  } finally {
    model.dispose();
  }
};
