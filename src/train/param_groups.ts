import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import { Module } from '../layers/module.js';

/**
 * Where an optimiser's parameters come from: a {@link Module} (its trainable
 * weights under their dotted reference names, from `namedWeights()`), or a
 * map from name to variable (tfjs `Variable` or a tfjs-layers weight).
 */
export type NamedVariables = Module | Map<string, tf.Variable | LayerVariable>;

/**
 * The trainable variables of `source`, by name. Non-trainable weights (fixed
 * sine-cosine position tables, frozen patch projections) are left out, as
 * PyTorch's recipes skip parameters with `requires_grad=False`.
 */
export function namedTrainableVariables(source: NamedVariables): Map<string, tf.Variable> {
  return collectVariables('namedTrainableVariables', source, true);
}

/**
 * Every variable of `source` by name, trainable or not (what a momentum
 * encoder copies: PyTorch's `parameters()` includes frozen ones).
 */
export function namedVariables(source: NamedVariables): Map<string, tf.Variable> {
  return collectVariables('namedVariables', source, false);
}

function collectVariables(fn: string, source: NamedVariables, trainableOnly: boolean): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  if (source instanceof Module) {
    if (trainableOnly && !source.trainable) return out;
    for (const [name, w] of source.namedWeights()) {
      if (!trainableOnly || w.trainable) out.set(name, w.read() as tf.Variable);
    }
    return out;
  }
  if (!(source instanceof Map)) {
    throw new Error(`${fn}: source must be a Module or a Map<string, Variable>, got ${typeof source}`);
  }
  for (const [name, w] of source) {
    let v: tf.Variable;
    let trainable: boolean;
    if (w instanceof LayerVariable) {
      v = w.read() as tf.Variable;
      trainable = w.trainable;
    } else if (w instanceof tf.Variable) {
      v = w;
      trainable = w.trainable;
    } else {
      throw new Error(`${fn}: entry '${name}' must be a tf.Variable or a LayerVariable, got ${typeof w}`);
    }
    if (!trainableOnly || trainable) out.set(name, v);
  }
  return out;
}

/**
 * One optimiser's parameters over several modules (PyTorch's
 * `list(a.parameters()) + list(b.parameters())`): the trainable variables of
 * each part (every variable with `all: true`, as a momentum encoder copies
 * them), keyed `<part>.<name>`, so the no-decay rule and the layer-wise
 * decay still see the reference names.
 *
 * @example
 * ```ts
 * import { AdamW, Linear, VisionTransformer, joinParams, paramGroupsWeightDecay } from 'mimkit';
 *
 * const vit = new VisionTransformer({ imgSize: 32, patchSize: 4, embedDim: 64, depth: 2, numHeads: 2, seed: 0 });
 * const head = new Linear({ inFeatures: 64, outFeatures: 10, seed: 1 });
 * const params = joinParams({ visual: vit, head }); // 'visual.cls_token', 'head.weight', ...
 * const opt = new AdamW(paramGroupsWeightDecay(params), { lr: 5e-4 });
 * ```
 */
export function joinParams(parts: Readonly<Record<string, NamedVariables>>, options: { all?: boolean } = {}): Map<string, tf.Variable> {
  if (parts === null || typeof parts !== 'object' || Array.isArray(parts)) {
    throw new Error(`joinParams: parts must be an object of Modules or Maps by name, got ${parts === null ? 'null' : typeof parts}`);
  }
  const collect = options.all === true ? namedVariables : namedTrainableVariables;
  const out = new Map<string, tf.Variable>();
  const owner = new Map<tf.Variable, string>();
  for (const [prefix, part] of Object.entries(parts)) {
    if (prefix === '') throw new Error(`joinParams: part names must be non-empty, got ''`);
    for (const [name, v] of collect(part)) {
      const prev = owner.get(v);
      // One variable in two parts would be updated twice per step.
      if (prev !== undefined) throw new Error(`joinParams: variable '${prefix}.${name}' is also '${prev}'; a weight may belong to one part only`);
      owner.set(v, `${prefix}.${name}`);
      out.set(`${prefix}.${name}`, v);
    }
  }
  return out;
}

/**
 * Default keywords of parameters that never decay: class, mask,
 * distillation and register tokens (`cls_token`, `mask_token`, `dist_token`,
 * `reg_token`), absolute position tables (`pos_embed`, `decoder_pos_embed`)
 * and relative position tables (`relative_position_bias_table`, as
 * Swin/SimMIM's `no_weight_decay_keywords`). This extends timm's
 * `no_weight_decay()` list (`pos_embed`, `cls_token`, `dist_token`) and MAE's
 * (`decoder_pos_embed`, `mask_token`). A vocabulary such as open_clip's
 * `token_embedding` is a weight matrix and decays, as open_clip decays it.
 */
export const DEFAULT_NO_WEIGHT_DECAY: readonly string[] = [
  'cls_token',
  'mask_token',
  'dist_token',
  'reg_token',
  'pos_embed',
  'relative_position_bias_table',
];

/**
 * The no-decay rule: weights with two or more dimensions decay; biases, norms,
 * position tables, class and mask tokens do not.
 *
 * As timm's `param_groups_weight_decay` (used by MAE and BEiT): no decay when
 * `ndim <= 1`, or the name ends in `.bias`, or a keyword of `noDecay` equals
 * the full name or occurs in the local name (the part after the last dot).
 *
 * @param name dotted reference name (`blocks.0.attn.qkv.weight`).
 * @param shape the parameter's shape.
 * @param noDecay keywords; default {@link DEFAULT_NO_WEIGHT_DECAY}.
 */
export function decays(name: string, shape: readonly number[], noDecay: readonly string[] = DEFAULT_NO_WEIGHT_DECAY): boolean {
  if (shape.length <= 1) return false;
  if (name === 'bias' || name.endsWith('.bias')) return false;
  const local = name.slice(name.lastIndexOf('.') + 1);
  return !noDecay.some((k) => k === name || local.includes(k));
}

/**
 * A set of parameters that share a weight decay and a learning-rate scale
 * (PyTorch's `param_groups` entry).
 */
export interface ParamGroup {
  /** Label of the group (`decay`, `no_decay`, `layer_3_decay`, ...). */
  name?: string;
  /**
   * The group's parameters by dotted name (non-trainable variables are
   * skipped, as everywhere in the optimiser).
   */
  params: Map<string, tf.Variable | LayerVariable>;
  /**
   * Decoupled weight decay of the group. Default: the optimiser's
   * `weightDecay`.
   */
  weightDecay?: number;
  /**
   * Factor on the optimiser's learning rate (MAE's `lr_scale`, used for
   * layer-wise decay). Default 1.
   */
  lrScale?: number;
}

/** Options of {@link paramGroupsWeightDecay}. */
export interface WeightDecayGroupsConfig {
  /** Weight decay of the decaying group. Default 0.05 (MAE pretraining). */
  weightDecay?: number;
  /** No-decay keywords; default {@link DEFAULT_NO_WEIGHT_DECAY}. */
  noDecay?: readonly string[];
}

function checkWeightDecay(fn: string, wd: number): void {
  if (!Number.isFinite(wd) || wd < 0) {
    throw new Error(`${fn}: weightDecay must be a finite number >= 0, got ${wd}`);
  }
}

/**
 * Splits parameters into a decaying group and a non-decaying one by the rule
 * of {@link decays} (timm's `param_groups_weight_decay`, as MAE pretraining
 * builds its AdamW groups). Both groups are always returned, possibly empty,
 * decaying first.
 */
export function paramGroupsWeightDecay(source: NamedVariables, config: WeightDecayGroupsConfig = {}): ParamGroup[] {
  const weightDecay = config.weightDecay ?? 0.05;
  checkWeightDecay('paramGroupsWeightDecay', weightDecay);
  const decay = new Map<string, tf.Variable>();
  const noDecay = new Map<string, tf.Variable>();
  for (const [name, v] of namedTrainableVariables(source)) {
    (decays(name, v.shape, config.noDecay) ? decay : noDecay).set(name, v);
  }
  return [
    { name: 'decay', params: decay, weightDecay },
    { name: 'no_decay', params: noDecay, weightDecay: 0 },
  ];
}

function checkNumLayers(fn: string, numLayers: number): void {
  if (!Number.isInteger(numLayers) || numLayers < 0) {
    throw new Error(`${fn}: numLayers must be an integer >= 0, got ${numLayers}`);
  }
}

/**
 * The layer of a ViT parameter for layer-wise learning-rate decay (MAE's
 * `get_layer_id_for_vit`, BEiT's `get_num_layer_for_vit`): the embedding
 * (`cls_token`, `mask_token`, `dist_token`, `pos_embed`, `patch_embed.*`) is
 * layer 0, `blocks.i.*` is layer `i + 1`, and everything after the blocks
 * (final norm, head, a shared relative position bias) is `numLayers + 1`.
 *
 * @param name dotted reference name, without a model prefix.
 * @param numLayers number of transformer blocks (the model's depth).
 */
export function layerId(name: string, numLayers: number): number {
  if (typeof name !== 'string') throw new Error(`layerId: name must be a parameter name string, got ${name === null ? 'null' : typeof name}`);
  checkNumLayers('layerId', numLayers);
  if (['cls_token', 'mask_token', 'dist_token', 'pos_embed'].includes(name)) return 0;
  if (name === 'patch_embed' || name.startsWith('patch_embed.')) return 0;
  const m = /^blocks\.(\d+)(\.|$)/.exec(name);
  if (m) {
    const i = Number(m[1]);
    if (i >= numLayers) {
      throw new Error(`layerId: block index ${i} of '${name}' must be < numLayers=${numLayers}`);
    }
    return i + 1;
  }
  return numLayers + 1;
}

function checkLayerDecay(fn: string, decay: number): void {
  if (!Number.isFinite(decay) || decay <= 0 || decay > 1) {
    throw new Error(`${fn}: layerDecay must be in (0, 1], got ${decay}`);
  }
}

/**
 * Layer-wise learning-rate scales (BEiT, MAE fine-tuning): a parameter of
 * layer `l` (see {@link layerId}) has scale `decay^(numLayers + 1 - l)`, so the
 * head trains at the full rate and each block below it at `decay` times the
 * rate of the block above.
 *
 * @returns scale by name, in the order of `names`.
 */
export function layerwiseLrScales(names: Iterable<string>, numLayers: number, decay: number): Map<string, number> {
  checkNumLayers('layerwiseLrScales', numLayers);
  checkLayerDecay('layerwiseLrScales', decay);
  const out = new Map<string, number>();
  for (const n of names) out.set(n, decay ** (numLayers + 1 - layerId(n, numLayers)));
  return out;
}

/** Options of {@link paramGroupsLrd}. */
export interface LayerDecayGroupsConfig {
  /** Number of transformer blocks (the model's depth). */
  numLayers: number;
  /**
   * Layer-wise decay factor. Default 0.75 (MAE fine-tuning of ViT-B; BEiT
   * uses 0.65 for ViT-B).
   */
  layerDecay?: number;
  /** Weight decay of decaying parameters. Default 0.05 (MAE fine-tuning). */
  weightDecay?: number;
  /** No-decay keywords; default {@link DEFAULT_NO_WEIGHT_DECAY}. */
  noDecay?: readonly string[];
}

/**
 * Parameter groups for fine-tuning with layer-wise learning-rate decay (MAE's
 * `param_groups_lrd`): one group per (layer, decay or not), named
 * `layer_<id>_decay` / `layer_<id>_no_decay`, with `lrScale` from
 * {@link layerwiseLrScales} and weight decay from the rule of {@link decays}.
 * Groups appear in the order their first parameter does.
 */
export function paramGroupsLrd(source: NamedVariables, config: LayerDecayGroupsConfig): ParamGroup[] {
  const weightDecay = config.weightDecay ?? 0.05;
  const layerDecay = config.layerDecay ?? 0.75;
  checkWeightDecay('paramGroupsLrd', weightDecay);
  checkNumLayers('paramGroupsLrd', config.numLayers);
  checkLayerDecay('paramGroupsLrd', layerDecay);
  const groups = new Map<string, ParamGroup>();
  for (const [name, v] of namedTrainableVariables(source)) {
    const id = layerId(name, config.numLayers);
    const d = decays(name, v.shape, config.noDecay);
    const key = `layer_${id}_${d ? 'decay' : 'no_decay'}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = {
        name: key,
        params: new Map(),
        weightDecay: d ? weightDecay : 0,
        lrScale: layerDecay ** (config.numLayers + 1 - id),
      };
      groups.set(key, g);
    }
    g.params.set(name, v);
  }
  return [...groups.values()];
}
