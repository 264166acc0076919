/**
 * Converters and BatchNorm-aware import/export for the Siamese
 * self-supervised models (MoCo v3, SimSiam, BYOL). Their `state_dict`s hold
 * BatchNorm's int64 `num_batches_tracked` buffers, which the library keeps as
 * plain counters ({@link BatchNorm1d.numBatchesTracked}), not float weights:
 * {@link loadWeightsWithBatchNorm} reads them beside {@link loadWeights}, and
 * {@link exportWeightsWithBatchNorm} / {@link saveWeightsWithBatchNorm}
 * write them back as I64, so PyTorch's strict `load_state_dict` accepts the
 * file.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchNormModules } from '../layers/batch_norm.js';
import { Module } from '../layers/module.js';
import { describeValue } from '../utils/config.js';
import { composeConverters, defineConverter, identityConverter, toForeignKey, type WeightConverter } from './converters.js';
import { parseSafetensors, SafetensorsFile, serializeSafetensors } from './safetensors.js';
import {
  exportWeights,
  loadWeights,
  type ExportWeightsOptions,
  type LoadReport,
  type LoadWeightsOptions,
  type SaveWeightsOptions,
  type StateDictSource,
} from './state_dict.js';

const NUM_BATCHES_TRACKED = /(^|\.)num_batches_tracked$/;

/**
 * moco-v3 `MoCo_ViT` checkpoints (`moco/builder.py`, `vits.py`) into
 * `MoCoV3`: identical names (`base_encoder.*`, `momentum_encoder.*` with the
 * timm ViT keys and the projector `head.<i>`, `predictor.<i>`). A released
 * checkpoint keeps them under `state_dict` with a DDP `module.` prefix: pass
 * `prefix: 'module.'`.
 */
export const mocoV3Converter: WeightConverter = defineConverter({
  name: 'moco-v3',
  doc:
    'moco-v3 MoCo_ViT state_dict (base_encoder.*, momentum_encoder.* = timm ViT keys + head.<i> projector, predictor.<i>) ' +
    'into MoCoV3: identical names; num_batches_tracked handled by loadWeightsWithBatchNorm.',
});

/**
 * moco-v3 checkpoints into a `VisionTransformer` (`posEmbed: 'sincosRowFirst'`)
 * for a linear probe or fine-tuning: the base encoder's ViT keys, without the
 * projector, the momentum encoder or the predictor (what moco-v3's
 * `main_lincls.py` keeps). Use with `prefix: 'base_encoder.'` (or
 * `'module.base_encoder.'`).
 */
export const mocoV3EncoderConverter: WeightConverter = defineConverter({
  name: 'moco-v3-encoder',
  doc: "moco-v3 base_encoder into a VisionTransformer (posEmbed 'sincosRowFirst'); use prefix 'base_encoder.'; head.* skipped.",
  skip: ['head.'],
});

function sourceFile(source: StateDictSource): SafetensorsFile | Map<string, tf.Tensor> {
  if (source instanceof Map || source instanceof SafetensorsFile) return source;
  return parseSafetensors(source);
}

function readCount(src: SafetensorsFile | Map<string, tf.Tensor>, key: string): { shape: number[]; value: number } {
  if (src instanceof SafetensorsFile) {
    const info = src.info(key);
    const v = info.dtype === 'F32' || info.dtype === 'F16' || info.dtype === 'BF16' ? src.float32(key) : src.int32(key);
    return { shape: info.shape, value: v.length === 1 ? v[0]! : NaN };
  }
  const t = src.get(key)!;
  const v = t.dataSync();
  return { shape: [...t.shape], value: v.length === 1 ? v[0]! : NaN };
}

/**
 * {@link loadWeights} for models with {@link layers.BatchNorm1d | BatchNorm1d}: the
 * `num_batches_tracked` buffers are skipped by the weight loader and read
 * into the modules' counters (each must be a scalar non-negative integer;
 * in strict mode, the default, every BatchNorm must have one). Everything is
 * checked before anything is written.
 *
 * @example
 * loadWeightsWithBatchNorm(model, bytes, { converter: mocoV3Converter });
 */
export function loadWeightsWithBatchNorm(module: Module, source: StateDictSource, options: LoadWeightsOptions = {}): LoadReport {
  if (!(module instanceof Module)) throw new Error(`loadWeightsWithBatchNorm: module must be a Module, got ${describeValue(module)}`);
  const converter = options.converter ?? identityConverter;
  const prefix = options.prefix ?? '';
  const strict = options.strict ?? true;
  const src = sourceFile(source);
  const names = new Set(src instanceof SafetensorsFile ? src.names() : src.keys());
  const counts = new Map<string, number>();
  const problems: string[] = [];
  for (const p of batchNormModules(module).keys()) {
    const moduleKey = p === '' ? 'num_batches_tracked' : `${p}.num_batches_tracked`;
    const key = prefix + (converter.inverse === null ? moduleKey : toForeignKey(converter, moduleKey));
    if (!names.has(key)) {
      if (strict) problems.push(`missing key '${key}' (BatchNorm buffer)`);
      continue;
    }
    const { shape, value } = readCount(src, key);
    if (shape.length !== 0 || !Number.isInteger(value) || value < 0) {
      problems.push(`'${key}' must be a scalar non-negative integer, got shape [${shape}] value ${value}`);
      continue;
    }
    counts.set(p, value);
  }
  if (problems.length > 0) {
    throw new Error(`loadWeightsWithBatchNorm(${module.getClassName()}, converter '${converter.name}'): ${problems.join('; ')}`);
  }
  const withSkip = composeConverters(
    converter.name,
    converter.doc,
    converter,
    defineConverter({ name: 'num_batches_tracked', doc: 'BatchNorm counters, read separately', skip: [NUM_BATCHES_TRACKED] }),
  );
  const report = loadWeights(module, src, { ...options, converter: withSkip });
  const bns = batchNormModules(module);
  for (const [p, n] of counts) bns.get(p)!.numBatchesTracked = n;
  return report;
}

/**
 * {@link exportWeights} plus every BatchNorm's `num_batches_tracked`
 * (an int32 scalar) under PyTorch's key. New tensors: the caller disposes them.
 */
export function exportWeightsWithBatchNorm(module: Module, options: ExportWeightsOptions = {}): Map<string, tf.Tensor> {
  if (!(module instanceof Module)) throw new Error(`exportWeightsWithBatchNorm: module must be a Module, got ${describeValue(module)}`);
  const converter = options.converter ?? identityConverter;
  const prefix = options.prefix ?? '';
  const out = exportWeights(module, options);
  for (const [p, bn] of batchNormModules(module)) {
    const key = prefix + toForeignKey(converter, p === '' ? 'num_batches_tracked' : `${p}.num_batches_tracked`);
    if (out.has(key)) {
      tf.dispose([...out.values()]);
      throw new Error(`exportWeightsWithBatchNorm: converter '${converter.name}' maps a num_batches_tracked buffer onto the weight '${key}'`);
    }
    out.set(key, tf.scalar(bn.numBatchesTracked, 'int32'));
  }
  return out;
}

/**
 * {@link exportWeightsWithBatchNorm} as safetensors bytes: weights as
 * `options.dtype` (default F32), `num_batches_tracked` as I64 (PyTorch's dtype).
 */
export function saveWeightsWithBatchNorm(module: Module, options: SaveWeightsOptions = {}): Uint8Array {
  if (!(module instanceof Module)) throw new Error(`saveWeightsWithBatchNorm: module must be a Module, got ${describeValue(module)}`);
  const dtype = options.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw new Error(`saveWeightsWithBatchNorm: dtype must be F32, F16 or BF16, got '${String(dtype)}'`);
  }
  const tensors = exportWeightsWithBatchNorm(module, options);
  try {
    return serializeSafetensors(tensors, options.metadata ?? { format: 'pt' }, { floatDtype: dtype, intDtype: 'I64' });
  } finally {
    tf.dispose([...tensors.values()]);
  }
}
