import * as tf from '@tensorflow/tfjs-core';
import { Module, checkModuleArg, type TorchLayout } from '../layers/module.js';
import { describeValue } from '../utils/config.js';
import { identityConverter, toForeignKey, toModuleKey, type WeightConverter } from './converters.js';
import { planPositionResize, positionTargets, type PosEmbedResample, type ResizePlan } from './pos_resize.js';
import { isFloatDtype, parseSafetensors, SafetensorsFile, serializeSafetensors, type SafetensorsEntry } from './safetensors.js';

/**
 * PyTorch `state_dict` import and export for {@link Module}s. This is the one
 * place where PyTorch layouts become the library's (NHWC) layouts and back:
 * a `linear` weight `[out, in]` is transposed to `[in, out]`; a `convMatrix`
 * weight `[out, in, kh, kw]` becomes `[kh * kw * in, out]` (transposed to
 * `[kh, kw, in, out]`, then flattened). Conversions are exact (pure data
 * movement on the CPU, whatever the backend).
 */

/** Where weights come from: a safetensors file (parsed or as bytes) or tensors in PyTorch layout by key. */
export type StateDictSource = SafetensorsFile | Uint8Array | ArrayBuffer | Map<string, tf.Tensor>;

/** Options of {@link loadWeights}. */
export interface LoadWeightsOptions {
  /** Key mapping. Default {@link identityConverter} (the file uses the module's names). */
  converter?: WeightConverter;
  /**
   * Like PyTorch's `load_state_dict(strict=True)` (the default): any missing
   * module weight or unexpected checkpoint key is an error, and nothing is
   * loaded. With `false` they are only reported. Shape mismatches are always
   * errors (as in PyTorch).
   */
  strict?: boolean;
  /**
   * Only checkpoint keys starting with this prefix are considered, and the
   * prefix is removed before the converter's renames (e.g. `'encoder.'` to
   * load SimMIM's encoder, `'module.'` for a DDP checkpoint). Default `''`.
   */
  prefix?: string;
  /**
   * Load a checkpoint made at another image size: a position weight whose
   * row count differs from the model's is resized to the model's patch grid
   * instead of being refused, as the references' loaders do. Absolute tables
   * (`pos_embed`, `decoder_pos_embed`; prefix rows kept) with `F.interpolate`:
   * `true` uses the interpolation of the converter's reference
   * (`converter.posEmbedResample`: timm's `checkpoint_filter_fn` bicubic
   * with antialias; MAE's `interpolate_pos_embed` and BEiT's/SimMIM's
   * loaders bicubic without), an object overrides it. BEiT relative tables
   * (`relative_position_bias_table`) with timm's `resize_rel_pos_bias_table`.
   * The checkpoint's grid is taken as square, as every reference does.
   * Default `false` (a size mismatch is an error).
   */
  resizePosEmbed?: boolean | PosEmbedResample;
  /**
   * What to do with a checkpoint value that is NaN or +-Infinity: `true`
   * refuses the load (naming the key; nothing is written), `'warn'` loads
   * and reports the keys through `console.warn`, `false` (the default) loads
   * silently. The values are on the CPU at this point, so the check costs one
   * pass over them.
   */
  checkFinite?: boolean | 'warn';
}

/** What {@link loadWeights} did, by key. */
export interface LoadReport {
  /** Module keys that received a value. */
  loaded: string[];
  /** Module keys with no checkpoint value (left as they were). */
  missing: string[];
  /** Checkpoint keys (as in the file, prefix included) that match no module weight. */
  unexpected: string[];
  /** Checkpoint keys (as in the file) that the converter skips on purpose. */
  skipped: string[];
  /** Module keys whose checkpoint value was resized (`resizePosEmbed`), with the grids, e.g. `pos_embed: 14x14 -> 10x10`. */
  resized: string[];
}

/**
 * The shape a weight has in PyTorch, given its shape here and its layout
 * (`linear`: `[in, out]` -> `[out, in]`; `convMatrix`:
 * `[kh*kw*in, out]` -> `[out, in, kh, kw]`).
 */
export function torchShape(shape: readonly number[], layout: TorchLayout): number[] {
  switch (layout.kind) {
    case 'same':
      return [...shape];
    case 'linear':
      if (shape.length !== 2) throw new Error(`torchShape: a 'linear' weight must be rank 2, got [${shape}]`);
      return [shape[1]!, shape[0]!];
    case 'convMatrix': {
      const { kh, kw, inChannels } = layout;
      if (shape.length !== 2 || shape[0] !== kh * kw * inChannels) {
        throw new Error(
          `torchShape: a convMatrix weight (kh=${kh}, kw=${kw}, inChannels=${inChannels}) must be ` +
            `[${kh * kw * inChannels}, out], got [${shape}]`,
        );
      }
      return [shape[1]!, inChannels, kh, kw];
    }
  }
}

/** Row-major permutation of an N-d array: `out.shape[i] = shape[perm[i]]`. */
function permute(src: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  const n = src.length;
  const out = new Float32Array(n);
  if (n === 0) return out;
  const srcStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    srcStrides[i] = s;
    s *= shape[i]!;
  }
  const outShape = perm.map((p) => shape[p]!);
  const stepStrides = perm.map((p) => srcStrides[p]!);
  const idx = new Array<number>(rank).fill(0);
  let srcIndex = 0;
  for (let o = 0; o < n; o++) {
    out[o] = src[srcIndex]!;
    // Odometer increment over the output index, tracking the source offset.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      srcIndex += stepStrides[d]!;
      if (idx[d]! < outShape[d]!) break;
      srcIndex -= stepStrides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/** PyTorch-layout values -> the library's layout (`shape` is the library shape). */
export function fromTorchLayout(data: Float32Array, shape: readonly number[], layout: TorchLayout): Float32Array {
  const ts = torchShape(shape, layout);
  switch (layout.kind) {
    case 'same':
      return data.slice();
    case 'linear':
      return permute(data, ts, [1, 0]);
    case 'convMatrix':
      // [out, in, kh, kw] -> [kh, kw, in, out], read as [kh*kw*in, out].
      return permute(data, ts, [2, 3, 1, 0]);
  }
}

/** The library's layout -> PyTorch's (`shape` is the library shape). */
export function toTorchLayout(data: Float32Array, shape: readonly number[], layout: TorchLayout): Float32Array {
  switch (layout.kind) {
    case 'same':
      return data.slice();
    case 'linear':
      return permute(data, shape, [1, 0]);
    case 'convMatrix': {
      const ts = torchShape(shape, layout);
      // [kh*kw*in, out] seen as [kh, kw, in, out] -> [out, in, kh, kw].
      return permute(data, [ts[2]!, ts[3]!, ts[1]!, ts[0]!], [3, 2, 0, 1]);
    }
  }
}

interface SourceTensor {
  shape: number[];
  dtype: string;
  read(): Float32Array;
}

function sourceTensors(source: StateDictSource): Map<string, SourceTensor> {
  const out = new Map<string, SourceTensor>();
  if (source instanceof Map) {
    for (const [k, t] of source) {
      if (!(t instanceof tf.Tensor)) throw new Error(`loadWeights: source entry '${k}' is not a tf.Tensor`);
      out.set(k, {
        shape: [...t.shape],
        dtype: t.dtype,
        read: () => {
          if (t.isDisposed) throw new Error(`source tensor '${k}' is disposed`);
          return Float32Array.from(t.dataSync() as ArrayLike<number>);
        },
      });
    }
    return out;
  }
  const file = source instanceof SafetensorsFile ? source : parseSafetensors(source);
  for (const k of file.names()) {
    const info = file.info(k);
    // Every float dtype is read as float32 (F64 rounded: see safetensors.ts).
    const dtype = isFloatDtype(info.dtype) ? 'float32' : info.dtype;
    out.set(k, { shape: info.shape, dtype, read: () => file.float32(k) });
  }
  return out;
}

const shapeStr = (s: readonly number[]): string => `[${s.join(',')}]`;

function layoutStr(layout: TorchLayout): string {
  return layout.kind === 'convMatrix'
    ? `convMatrix kh=${layout.kh} kw=${layout.kw} in=${layout.inChannels}`
    : layout.kind;
}

/**
 * Loads a PyTorch `state_dict` (safetensors) into a module, converting keys
 * with the converter and layouts with each weight's recorded layout.
 * Everything is checked before any weight is written, so a failed load
 * leaves the module unchanged. Errors name every missing and unexpected key
 * (strict mode) and, for a shape mismatch, the key and both shapes in PyTorch
 * layout plus the shape stored here.
 *
 * @returns which keys were loaded, missing, unexpected or skipped.
 */
export function loadWeights(module: Module, source: StateDictSource, options: LoadWeightsOptions = {}): LoadReport {
  const converter = options.converter ?? identityConverter;
  const strict = options.strict ?? true;
  const prefix = options.prefix ?? '';
  if (typeof strict !== 'boolean') throw new Error(`loadWeights: strict must be a boolean, got ${String(strict)}`);
  if (typeof prefix !== 'string') throw new Error(`loadWeights: prefix must be a string, got ${String(prefix)}`);
  const checkFinite = options.checkFinite ?? false;
  if (checkFinite !== true && checkFinite !== false && checkFinite !== 'warn') {
    throw new Error(`loadWeights: checkFinite must be true, false or 'warn', got ${describeValue(checkFinite)}`);
  }
  if (!(module instanceof Module)) throw new Error(`loadWeights: module must be a Module, got ${describeValue(module)}`);
  if (module.isDisposed) throw new Error(`loadWeights: ${module.constructor.name} '${module.name}' was disposed`);
  if (!(source instanceof Map) && !(source instanceof SafetensorsFile) && !(source instanceof Uint8Array) && !(source instanceof ArrayBuffer)) {
    throw new Error(`loadWeights: source must be a SafetensorsFile, bytes or a Map<string, tf.Tensor>, got ${describeValue(source)}`);
  }
  const resize = resolveResize(options.resizePosEmbed, converter);
  const targets = resize ? positionTargets(module) : new Map();
  const plans = new Map<string, Extract<ResizePlan, { from: string }>>(); // module key -> resize
  const weights = module.namedWeights();
  const layouts = module.namedLayouts();
  const tensors = sourceTensors(source);

  const assigned = new Map<string, string>(); // module key -> file key
  const unexpected: string[] = [];
  const skipped: string[] = [];
  const problems: string[] = [];
  for (const fileKey of [...tensors.keys()].sort()) {
    if (!fileKey.startsWith(prefix)) continue;
    const moduleKey = toModuleKey(converter, fileKey.slice(prefix.length));
    if (moduleKey === null) {
      skipped.push(fileKey);
      continue;
    }
    if (!weights.has(moduleKey)) {
      unexpected.push(fileKey);
      continue;
    }
    const other = assigned.get(moduleKey);
    if (other !== undefined) {
      problems.push(`checkpoint keys '${other}' and '${fileKey}' both map to '${moduleKey}'`);
      continue;
    }
    assigned.set(moduleKey, fileKey);
    const src = tensors.get(fileKey)!;
    const weight = weights.get(moduleKey)!;
    const layout = layouts.get(moduleKey) ?? { kind: 'same' };
    const ours = weight.shape as number[];
    const want = torchShape(ours, layout);
    if (src.dtype !== 'float32') {
      problems.push(`'${fileKey}' is ${src.dtype}, but weight '${moduleKey}' needs floats (F64, F32, F16, BF16 or F8)`);
    } else if (shapeStr(src.shape) !== shapeStr(want)) {
      const plan = resize ? planPositionResize(targets, moduleKey, src.shape, want, resize) : null;
      if (plan && 'ok' in plan) {
        plans.set(moduleKey, plan);
        continue;
      }
      if (plan) {
        problems.push(plan.error);
        continue;
      }
      problems.push(
        `size mismatch for '${moduleKey}'${fileKey === moduleKey ? '' : ` (checkpoint key '${fileKey}')`}: ` +
          `the checkpoint has ${shapeStr(src.shape)} in PyTorch layout, the module expects ${shapeStr(want)} ` +
          `in PyTorch layout (${layoutStr(layout)}), stored here as ${shapeStr(ours)}`,
      );
    }
  }
  const missing = [...weights.keys()].filter((k) => !assigned.has(k));
  const where = `loadWeights(${module.getClassName()}, converter '${converter.name}'${prefix ? `, prefix '${prefix}'` : ''})`;
  if (strict && (missing.length > 0 || unexpected.length > 0)) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing keys (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length > 0) parts.push(`unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
    problems.push(...parts);
  }
  if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`);

  // Every value is read (and checked) before the first write, so a source
  // that fails halfway (a disposed tensor, a corrupt F16 block, a NaN) leaves
  // the module exactly as it was.
  const values = new Map<string, Float32Array>();
  const nonFinite: string[] = [];
  for (const [moduleKey, fileKey] of assigned) {
    const weight = weights.get(moduleKey)!;
    const layout = layouts.get(moduleKey) ?? { kind: 'same' };
    let raw: Float32Array;
    try {
      const read = tensors.get(fileKey)!.read();
      const plan = plans.get(moduleKey);
      raw = plan ? plan.ok(read) : read;
    } catch (e) {
      throw new Error(`${where}: cannot read '${fileKey}' (for '${moduleKey}'): ${e instanceof Error ? e.message : String(e)}; nothing was loaded`);
    }
    if (checkFinite !== false) {
      const i = raw.findIndex((v) => !Number.isFinite(v));
      if (i >= 0) nonFinite.push(`'${fileKey}' (element ${i} is ${raw[i]})`);
    }
    values.set(moduleKey, fromTorchLayout(raw, weight.shape as number[], layout));
  }
  if (nonFinite.length > 0) {
    const msg = `non-finite values in ${nonFinite.length} tensor(s): ${nonFinite.slice(0, 10).join(', ')}${nonFinite.length > 10 ? ', ...' : ''}`;
    if (checkFinite === true) throw new Error(`${where}: ${msg}; nothing was loaded (checkFinite)`);
    console.warn(`${where}: ${msg}`);
  }

  const loaded: string[] = [];
  for (const [moduleKey, data] of values) {
    const weight = weights.get(moduleKey)!;
    const t = tf.tensor(data, weight.shape as number[], 'float32');
    try {
      weight.write(t);
    } finally {
      t.dispose();
    }
    loaded.push(moduleKey);
  }
  const resized = [...plans].map(([k, p]) => `${k}: ${p.from} -> ${p.to}`);
  return { loaded, missing, unexpected, skipped, resized };
}

/** The interpolation of `resizePosEmbed`, or null when off. */
function resolveResize(opt: LoadWeightsOptions['resizePosEmbed'], converter: WeightConverter): Required<PosEmbedResample> | null {
  if (opt === undefined || opt === false) return null;
  const ref = converter.posEmbedResample;
  if (opt === true) return { mode: ref.mode, antialias: ref.antialias, alignCorners: ref.alignCorners };
  if (typeof opt !== 'object' || opt === null) {
    throw new Error(`loadWeights: resizePosEmbed must be a boolean or { mode, antialias, alignCorners }, got ${String(opt)}`);
  }
  const r = { mode: opt.mode ?? ref.mode, antialias: opt.antialias ?? ref.antialias, alignCorners: opt.alignCorners ?? ref.alignCorners };
  if (r.mode !== 'bicubic' && r.mode !== 'bilinear' && r.mode !== 'nearest') {
    throw new Error(`loadWeights: resizePosEmbed.mode must be 'bicubic', 'bilinear' or 'nearest', got '${String(r.mode)}'`);
  }
  if (typeof r.antialias !== 'boolean' || typeof r.alignCorners !== 'boolean') {
    throw new Error(`loadWeights: resizePosEmbed.antialias and .alignCorners must be booleans, got ${String(r.antialias)}, ${String(r.alignCorners)}`);
  }
  if (r.mode === 'nearest' && (r.antialias || r.alignCorners)) {
    throw new Error("loadWeights: resizePosEmbed mode 'nearest' takes neither antialias nor alignCorners");
  }
  return r;
}

/** Options of {@link exportWeights}. */
export interface ExportWeightsOptions {
  /** Key mapping (its inverse renames are used). Default {@link identityConverter}. */
  converter?: WeightConverter;
  /** Prepended to every exported key (e.g. `'encoder.'`). Default `''`. */
  prefix?: string;
}

function exportArrays(module: Module, options: ExportWeightsOptions, fn = 'exportWeights'): Map<string, { shape: number[]; data: Float32Array }> {
  if (!(module instanceof Module)) throw new Error(`${fn}: module must be a Module, got ${describeValue(module)}`);
  const converter = options.converter ?? identityConverter;
  const prefix = options.prefix ?? '';
  const layouts = module.namedLayouts();
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const from = new Map<string, string>();
  for (const [moduleKey, weight] of module.namedWeights()) {
    const key = prefix + toForeignKey(converter, moduleKey);
    if (from.has(key)) {
      throw new Error(
        `exportWeights: converter '${converter.name}' maps both '${from.get(key)}' and '${moduleKey}' to '${key}'`,
      );
    }
    from.set(key, moduleKey);
    const layout = layouts.get(moduleKey) ?? { kind: 'same' };
    const shape = weight.shape as number[];
    const data = weight.read().dataSync() as Float32Array;
    out.set(key, { shape: torchShape(shape, layout), data: toTorchLayout(data, shape, layout) });
  }
  return out;
}

/**
 * A module's weights as a PyTorch `state_dict`: keys through the converter's
 * inverse renames, values in PyTorch layouts. New tensors: the caller
 * disposes them.
 */
export function exportWeights(module: Module, options: ExportWeightsOptions = {}): Map<string, tf.Tensor> {
  checkModuleArg('exportWeights', 'module', module);
  const arrays = exportArrays(module, options);
  const out = new Map<string, tf.Tensor>();
  for (const [k, { shape, data }] of arrays) out.set(k, tf.tensor(data, shape, 'float32'));
  return out;
}

/** Options of {@link saveWeights}. */
export interface SaveWeightsOptions extends ExportWeightsOptions {
  /** `__metadata__` of the file. Default `{ format: 'pt' }` (what PyTorch's `save_file` users write). */
  metadata?: Record<string, string>;
  /** Stored float type. Default `'F32'` (lossless); F16/BF16 round to nearest even. */
  dtype?: 'F32' | 'F16' | 'BF16';
}

/**
 * A module's weights as safetensors bytes that PyTorch's
 * `safetensors.torch.load_file` + `load_state_dict` accept (PyTorch names
 * and layouts).
 */
export function saveWeights(module: Module, options: SaveWeightsOptions = {}): Uint8Array {
  checkModuleArg('saveWeights', 'module', module);
  const dtype = options.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw new Error(`saveWeights: dtype must be F32, F16 or BF16, got '${String(dtype)}'`);
  }
  const entries = new Map<string, SafetensorsEntry>();
  for (const [k, { shape, data }] of exportArrays(module, options, 'saveWeights')) entries.set(k, { dtype, shape, data });
  return serializeSafetensors(entries, options.metadata ?? { format: 'pt' });
}
