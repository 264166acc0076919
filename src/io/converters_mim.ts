/**
 * Converters for the masked-image-modeling checkpoints: MAE
 * (facebookresearch/mae `models_mae.py`), BEiT (microsoft/unilm
 * `beit/modeling_pretrain.py`) and SimMIM (microsoft/SimMIM
 * `models/simmim.py`). The library's `MAE`, `BEiT` and
 * `SimMIM` use the references' own `state_dict` names, so the full-model
 * converters are identities; the `...Encoder` converters load only the
 * encoder of a pretraining checkpoint into a `VisionTransformer` (for
 * fine-tuning, a linear probe or feature analysis).
 *
 * BEiT's relative position bias (released BEiT and SimMIM checkpoints) comes
 * in as the weights `relative_position_bias_table` (shared `rel_pos_bias.*`
 * or per block `blocks.N.attn.*`). Its buffers `relative_position_index` are
 * constants of the patch grid: the BEiT and SimMIM converters skip them,
 * {@link loadMimWeights} checks them against the model's own, and
 * {@link exportMimWeights} / {@link saveMimWeights} write them back (I64), so
 * PyTorch's strict `load_state_dict` accepts the file.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Attention } from '../layers/attention.js';
import { Module } from '../layers/module.js';
import { RelativePositionBias } from '../layers/rel_pos_bias.js';
import {
  applyRenames,
  composeConverters,
  defineConverter,
  identityConverter,
  toForeignKey,
  toModuleKey,
  type WeightConverter,
} from './converters.js';
import { BEIT_RESAMPLE, MAE_RESAMPLE } from './pos_resize.js';
import { isFloatDtype, parseSafetensors, SafetensorsFile, serializeSafetensors } from './safetensors.js';
import {
  exportWeights,
  loadWeights,
  type ExportWeightsOptions,
  type LoadReport,
  type LoadWeightsOptions,
  type SaveWeightsOptions,
  type StateDictSource,
} from './state_dict.js';

/** `relative_position_index` buffers (BEiT, SimMIM): derived from the grid; checked by {@link loadMimWeights}, never loaded. */
const RELATIVE_POSITION_INDEX_KEY = /(^|\.)relative_position_index$/;

/** MAE pretraining checkpoints (`MaskedAutoencoderViT`) into `MAE`: identical names. */
export const maeConverter: WeightConverter = defineConverter({
  name: 'mae',
  posEmbedResample: MAE_RESAMPLE,
  doc:
    'MAE MaskedAutoencoderViT state_dict (patch_embed.proj, cls_token, pos_embed, blocks.N.*, norm, decoder_embed, ' +
    'mask_token, decoder_pos_embed, decoder_blocks.N.*, decoder_norm, decoder_pred) into MAE: identical names.',
});

/**
 * MAE pretraining checkpoints into a `VisionTransformer` built with
 * `posEmbed: 'sincos'` (timm names): the decoder (`decoder_*`) and the
 * decoder's `mask_token` are skipped.
 */
export const maeEncoderConverter: WeightConverter = defineConverter({
  name: 'mae-encoder',
  posEmbedResample: MAE_RESAMPLE,
  doc: "MAE pretraining state_dict into a VisionTransformer (posEmbed 'sincos'): encoder keys unchanged, decoder_* and mask_token skipped.",
  skip: ['decoder_', 'mask_token'],
});

/**
 * BEiT pretraining checkpoints (`VisionTransformerForMaskedImageModeling`)
 * into `BEiT`: identical names (`cls_token`, `mask_token`, `pos_embed`,
 * `patch_embed.proj`, `rel_pos_bias.relative_position_bias_table`,
 * `blocks.N.{norm1, attn.qkv, attn.q_bias, attn.v_bias,
 * attn.relative_position_bias_table, attn.proj, gamma_1, norm2, mlp.fc1,
 * mlp.fc2, gamma_2}`, `norm`, `lm_head`). The `relative_position_index`
 * buffers are skipped ({@link loadMimWeights} checks them).
 */
export const beitConverter: WeightConverter = defineConverter({
  name: 'beit',
  posEmbedResample: BEIT_RESAMPLE,
  doc:
    'BEiT VisionTransformerForMaskedImageModeling state_dict (cls_token, mask_token, pos_embed, patch_embed.proj, ' +
    'rel_pos_bias.relative_position_bias_table, blocks.N.{attn.q_bias,attn.v_bias,attn.relative_position_bias_table,' +
    'gamma_1,gamma_2,...}, norm, lm_head) into BEiT: identical names; relative_position_index buffers skipped.',
  skip: [RELATIVE_POSITION_INDEX_KEY],
});

/**
 * BEiT pretraining checkpoints into a `VisionTransformer` built with
 * `qkvBias: 'qv'`, `layerScaleNaming: 'beit'` and the checkpoint's position
 * form (`posEmbed: 'learned'` or `'none'`, `useSharedRelPosBias`,
 * `useRelPosBias`): `mask_token`, `lm_head` and the
 * `relative_position_index` buffers are skipped.
 */
export const beitEncoderConverter: WeightConverter = defineConverter({
  name: 'beit-encoder',
  posEmbedResample: BEIT_RESAMPLE,
  doc:
    'BEiT pretraining state_dict into a BEiT-form VisionTransformer: mask_token, lm_head.* and relative_position_index ' +
    'buffers skipped, other keys unchanged.',
  skip: ['mask_token', 'lm_head.', RELATIVE_POSITION_INDEX_KEY],
});

/**
 * SimMIM pretraining checkpoints (`SimMIM` with `VisionTransformerForSimMIM`)
 * into `SimMIM`: identical names (`encoder.*`, `encoder.mask_token`,
 * `encoder.rel_pos_bias.relative_position_bias_table`, `decoder.0.weight`,
 * `decoder.0.bias`); the `relative_position_index` buffers are skipped.
 */
export const simmimConverter: WeightConverter = defineConverter({
  name: 'simmim',
  posEmbedResample: BEIT_RESAMPLE,
  doc:
    'SimMIM state_dict (encoder.patch_embed.proj, encoder.cls_token, encoder.pos_embed, encoder.rel_pos_bias, ' +
    'encoder.mask_token, encoder.blocks.N.*, encoder.norm, decoder.0) into SimMIM: identical names; ' +
    'relative_position_index buffers skipped.',
  skip: [RELATIVE_POSITION_INDEX_KEY],
});

/**
 * SimMIM pretraining checkpoints into a BEiT-form `VisionTransformer`:
 * the `encoder.` prefix is stripped (added back on export);
 * `encoder.mask_token`, the decoder and the `relative_position_index`
 * buffers are skipped.
 */
export const simmimEncoderConverter: WeightConverter = defineConverter({
  name: 'simmim-encoder',
  posEmbedResample: BEIT_RESAMPLE,
  doc:
    "SimMIM state_dict into a BEiT-form VisionTransformer: 'encoder.' stripped, encoder.mask_token, decoder.* and " +
    'relative_position_index buffers skipped.',
  renames: [[/^encoder\./, '']],
  inverse: [[/^/, 'encoder.']],
  skip: ['decoder.', 'encoder.mask_token', RELATIVE_POSITION_INDEX_KEY],
});

/**
 * Keys of relative position bias parameters and buffers (BEiT/SimMIM:
 * `blocks.N.attn.relative_position_bias_table`,
 * `blocks.N.attn.relative_position_index`, shared
 * `rel_pos_bias.relative_position_bias_table` and
 * `rel_pos_bias.relative_position_index`). The tables are weights of models
 * built with `useRelPosBias` / `useSharedRelPosBias`; the index buffers are
 * checked by {@link loadMimWeights}.
 */
export const RELATIVE_POSITION_BIAS_KEY = /relative_position_bias_table|relative_position_index|(^|\.)rel_pos_bias\./;

/** Weights whose presence depends on a model's position options (`pos_embed`, relative position tables). */
const POSITION_KEY = /(^|\.)(pos_embed|relative_position_bias_table)$/;

/** Options of {@link loadMimWeights}: those of {@link loadWeights}. */
export type LoadMimWeightsOptions = LoadWeightsOptions;

/** A `relative_position_index` buffer of a module: its grid and values. */
interface IndexBuffer {
  windowSize: [number, number];
  index: Int32Array;
}

/**
 * The `relative_position_index` buffers of every relative position bias in a
 * module (shared `RelativePositionBias` and per-layer `Attention` tables),
 * keyed like `namedWeights()` (walked through `children()`).
 */
function indexBuffers(module: Module): Map<string, IndexBuffer> {
  const out = new Map<string, IndexBuffer>();
  const visit = (prefix: string, m: Module): void => {
    const key = `${prefix}relative_position_index`;
    if (m instanceof RelativePositionBias) out.set(key, { windowSize: m.config.windowSize, index: m.index });
    if (m instanceof Attention && m.config.relPosBias && m.relativePositionIndex) {
      out.set(key, { windowSize: m.config.relPosBias, index: m.relativePositionIndex });
    }
    for (const [k, child] of m.children()) visit(`${prefix}${k}.`, child);
  };
  visit('', module);
  return out;
}

/** Shape and values (as numbers) of a checkpoint tensor, integer or float. */
function readIndex(src: SafetensorsFile | Map<string, tf.Tensor>, key: string): { shape: number[]; values: ArrayLike<number> } {
  if (src instanceof SafetensorsFile) {
    const info = src.info(key);
    const values = isFloatDtype(info.dtype) ? src.float32(key) : src.int32(key);
    return { shape: info.shape, values };
  }
  const t = src.get(key)!;
  return { shape: [...t.shape], values: t.dataSync() as ArrayLike<number> };
}

/**
 * {@link loadWeights} for BEiT/SimMIM/MAE checkpoints, with the checks that
 * relative position bias needs:
 * - every `relative_position_index` buffer of the checkpoint must equal the
 *   one the model computes for its patch grid (a model built for another
 *   image size, or with height and width swapped, would load the tables and
 *   give wrong outputs); the buffers are then skipped (they are not weights);
 *   a checkpoint without them is fine;
 * - in strict mode (the default) the checkpoint and the model must agree on
 *   the position weights (`pos_embed`, the relative position tables); if not,
 *   the error names the keys on each side and the config options to set
 *   (released BEiT and SimMIM pretraining: `useSharedRelPosBias: true,
 *   useAbsPosEmb: false`);
 * - with `resizePosEmbed`, a checkpoint made for another grid loads: its
 *   `relative_position_index` buffers are not compared (the model keeps its
 *   own), `pos_embed` and the relative tables are resized (see
 *   {@link loadWeights}).
 *
 * @example
 * loadMimWeights(new BEiT(beitBasePatch16), bytes, { converter: beitConverter });
 * loadMimWeights(vit, bytes, { converter: simmimEncoderConverter });
 */
export function loadMimWeights(module: Module, source: StateDictSource, options: LoadMimWeightsOptions = {}): LoadReport {
  if (!(module instanceof Module)) throw new Error(`loadMimWeights: module must be a Module, got ${module === null ? 'null' : typeof module}`);
  const converter = options.converter ?? identityConverter;
  const strict = options.strict ?? true;
  const prefix = options.prefix ?? '';
  const where = `loadMimWeights(${module.getClassName()})`;
  if (typeof strict !== 'boolean') throw new Error(`${where}: strict must be a boolean, got ${String(strict)}`);
  if (typeof prefix !== 'string') throw new Error(`${where}: prefix must be a string, got ${String(prefix)}`);
  const src = source instanceof Uint8Array || source instanceof ArrayBuffer ? parseSafetensors(source) : source;
  if (!(src instanceof SafetensorsFile) && !(src instanceof Map)) {
    throw new Error(`${where}: source must be safetensors bytes, a SafetensorsFile or a Map of tensors, got ${String(source)}`);
  }
  const keys = (src instanceof SafetensorsFile ? src.names() : [...src.keys()]).filter((k) => k.startsWith(prefix)).sort();
  const weights = module.namedWeights();
  const buffers = indexBuffers(module);
  const problems: string[] = [];
  const fileOnly: string[] = [];
  const covered = new Set<string>();
  let indexKeysLoaded = false;
  for (const k of keys) {
    const local = k.slice(prefix.length);
    if (RELATIVE_POSITION_INDEX_KEY.test(local)) {
      const moduleKey = applyRenames(local, converter.renames);
      const buf = buffers.get(moduleKey);
      if (toModuleKey(converter, local) !== null) indexKeysLoaded = true;
      if (!buf) {
        fileOnly.push(k);
        continue;
      }
      const t = buf.windowSize[0] * buf.windowSize[1] + 1;
      const { shape, values } = readIndex(src, k);
      const grid = `${buf.windowSize[0]}x${buf.windowSize[1]}`;
      if (shape.length !== 2 || shape[0] !== t || shape[1] !== t) {
        // A checkpoint made for another grid: its tables are resized and the model keeps its own index.
        if (options.resizePosEmbed) continue;
        problems.push(`'${k}' has shape [${shape}], but the model's ${grid} patch grid gives [${t}, ${t}]`);
        continue;
      }
      const bad = buf.index.findIndex((v, i) => v !== values[i]);
      if (bad >= 0) {
        problems.push(
          `'${k}' differs from the index of the model's ${grid} patch grid at [${Math.floor(bad / t)}, ${bad % t}]: ` +
            `${values[bad]} in the checkpoint, ${buf.index[bad]} expected (build the model with the checkpoint's image and patch size, [height, width] in that order)`,
        );
      }
      continue;
    }
    const moduleKey = toModuleKey(converter, local);
    if (moduleKey === null) continue;
    covered.add(moduleKey);
    if (POSITION_KEY.test(moduleKey) && !weights.has(moduleKey)) fileOnly.push(k);
  }
  const moduleOnly = [...weights.keys()].filter((k) => POSITION_KEY.test(k) && !covered.has(k));
  if (strict && (fileOnly.length > 0 || moduleOnly.length > 0)) {
    const list = (a: string[]): string => a.slice(0, 4).join(', ') + (a.length > 4 ? `, ... (${a.length} keys)` : '');
    const sides: string[] = [];
    if (fileOnly.length > 0) sides.push(`the checkpoint has ${list(fileOnly)}, which the model lacks`);
    if (moduleOnly.length > 0) sides.push(`the model has ${list(moduleOnly)}, which the checkpoint lacks`);
    problems.push(
      `the checkpoint and the model use different position embeddings: ${sides.join('; ')}. Build the model as the ` +
        'checkpoint was trained: useAbsPosEmb for pos_embed, useSharedRelPosBias for rel_pos_bias.*, useRelPosBias for ' +
        'blocks.N.attn.relative_position_bias_table (released BEiT and SimMIM pretraining: useSharedRelPosBias: true, ' +
        'useAbsPosEmb: false)',
    );
  }
  if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`);
  const finalConverter = indexKeysLoaded
    ? composeConverters(
        `${converter.name}+skip-relative-position-index`,
        `${converter.doc} relative_position_index buffers skipped (checked against the model's).`,
        converter,
        defineConverter({ name: 'skip-relative-position-index', doc: 'Skips relative_position_index buffers.', skip: [RELATIVE_POSITION_INDEX_KEY] }),
      )
    : converter;
  return loadWeights(module, src, { ...options, converter: finalConverter });
}

/**
 * {@link exportWeights} plus the `relative_position_index` buffers (int32
 * `[T, T]`, `T = rows * cols + 1`) of every relative position bias, under
 * the keys PyTorch's `state_dict` has them (through the converter's inverse
 * renames and the prefix), so the map is the reference's whole `state_dict`.
 * New tensors: the caller disposes them.
 */
export function exportMimWeights(module: Module, options: ExportWeightsOptions = {}): Map<string, tf.Tensor> {
  if (!(module instanceof Module)) throw new Error(`exportMimWeights: module must be a Module, got ${module === null ? 'null' : typeof module}`);
  const converter = options.converter ?? identityConverter;
  const prefix = options.prefix ?? '';
  const buffers = indexBuffers(module);
  const keys = [...buffers.keys()].map((k) => [k, prefix + toForeignKey(converter, k)] as const);
  const out = exportWeights(module, options);
  for (const [moduleKey, key] of keys) {
    if (out.has(key)) {
      tf.dispose([...out.values()]);
      throw new Error(`exportMimWeights: converter '${converter.name}' maps the buffer '${moduleKey}' onto the weight '${key}'`);
    }
    const { windowSize, index } = buffers.get(moduleKey)!;
    const t = windowSize[0] * windowSize[1] + 1;
    out.set(key, tf.tensor2d(index, [t, t], 'int32'));
  }
  return out;
}

/**
 * {@link exportMimWeights} as safetensors bytes: weights as `options.dtype`
 * (default F32), `relative_position_index` buffers as I64 (PyTorch's dtype),
 * so PyTorch's `load_file` + strict `load_state_dict` accept them.
 */
export function saveMimWeights(module: Module, options: SaveWeightsOptions = {}): Uint8Array {
  if (!(module instanceof Module)) throw new Error(`saveMimWeights: module must be a Module, got ${module === null ? 'null' : typeof module}`);
  const dtype = options.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw new Error(`saveMimWeights: dtype must be F32, F16 or BF16, got '${String(dtype)}'`);
  }
  const tensors = exportMimWeights(module, options);
  try {
    return serializeSafetensors(tensors, options.metadata ?? { format: 'pt' }, { floatDtype: dtype, intDtype: 'I64' });
  } finally {
    tf.dispose([...tensors.values()]);
  }
}
