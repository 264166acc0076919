import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { TokenHead } from '../decoders/token_head.js';
import { initTensor, type Init } from '../layers/init.js';
import { LayerNorm } from '../layers/layer_norm.js';
import { Linear } from '../layers/linear.js';
import { Module, checkModuleArg, type Weight } from '../layers/module.js';
import { toPair } from '../layers/patch_embed.js';
import { maskedCrossEntropy } from '../losses/masked_cross_entropy.js';
import type { VisualTokenizer } from '../tokenizers/types.js';
import { deriveSeed } from '../utils/random.js';
import { VisionTransformer, type VisionTransformerConfig, type VitBackboneConfig, type VitForwardOptions } from './vit.js';
import { checkVitBackboneConfig } from './vit_config_checks.js';
import { CONFIG_LIMITS, checkConfigObject, checkTensorArg, optionalInt, requireTensor } from '../utils/config.js';
import { hostValues } from '../utils/host_values.js';

/**
 * The BEiT-form encoder pass with a mask token (BEiT `forward_features`,
 * SimMIM `VisionTransformerForSimMIM.forward`): patch embedding, then every
 * masked patch embedding replaced by the learned mask token
 * (`t * (1 - w) + mask_token * w`), BEFORE the class token and the position
 * table are added; blocks; final norm; class token dropped.
 *
 * @param encoder a {@link VisionTransformer} (BEiT form: `qkvBias: 'qv'`,
 *   `layerScaleNaming: 'beit'`, learned `pos_embed` or none, and any relative
 *   position bias, which then covers the class token and every patch).
 * @param maskToken `[1, 1, D]`.
 * @param imgs `[B, H, W, C]`.
 * @param w float32 `[B, L]`, 1 = masked (row-major grid order).
 * @returns `[B, L, D]` patch tokens after the final norm.
 */
export function forwardWithMaskToken(
  encoder: VisionTransformer,
  maskToken: tf.Tensor,
  imgs: tf.Tensor,
  w: tf.Tensor,
  options: VitForwardOptions = {},
): tf.Tensor3D {
  checkModuleArg('forwardWithMaskToken', 'encoder', encoder);
  requireTensor('forwardWithMaskToken', 'maskToken', maskToken);
  return tf.tidy(() => {
    const t = encoder.patchTokens(imgs);
    const [b, L, D] = t.shape;
    if (w.rank !== 2 || w.shape[0] !== b || w.shape[1] !== L) {
      throw new Error(`forwardWithMaskToken: w must be [B=${b}, L=${L}], got shape [${w.shape}]`);
    }
    const wf = tf.expandDims(w.dtype === 'float32' ? w : tf.cast(w, 'float32'), 2);
    const mixed = tf.add(tf.mul(t, tf.sub(1, wf)), tf.mul(maskToken, wf));
    const tokens = encoder.prependClassToken(encoder.addPosEmbed(mixed as tf.Tensor3D));
    const z = encoder.forwardTokens(tokens, { training: options.training, rng: options.rng }).tokens;
    const P = encoder.numPrefixTokens;
    return tf.slice(z, [0, P, 0], [b, L, D]) as tf.Tensor3D;
  });
}

/**
 * BEiT's initialisation (`modeling_pretrain.py`: `_init_weights` applied to
 * every module, then `fix_init_weight`), drawn from `seed`:
 * `trunc_normal(std 0.02)` for the class token, the learned position table,
 * `extraTokens` (mask tokens), every Linear weight (the `lm_head` too) and,
 * with `initPatchEmbed`, the patch projection (BEiT's Conv2d branch; its bias
 * 0); zero Linear biases; LayerNorm 1/0. Then block `i`'s `attn.proj.weight`
 * and `mlp.fc2.weight` are divided by `sqrt(2 (i + 1))`, so every residual
 * branch starts with a variance that shrinks with depth (the sum over
 * branches stays bounded). Relative position tables are zeroed (upstream's
 * `torch.zeros`: every offset starts unbiased); `q_bias`/`v_bias` stay 0 and
 * layer-scale vectors at `initValues`, as upstream.
 *
 * @param model the module whose Linear and LayerNorm sub-modules are
 *   initialised (walked through `children()`).
 * @param encoder the BEiT-form encoder inside `model`.
 */
export function beitInitWeights(
  model: Module,
  encoder: VisionTransformer,
  extraTokens: Weight[],
  seed: number,
  initPatchEmbed: boolean,
): void {
  checkModuleArg('beitInitWeights', 'model', model);
  const set = (key: string, w: Weight | null, init: Init): void => {
    if (w === null) return;
    const t = initTensor(init, w.shape as number[], deriveSeed(seed, `init/${key}`));
    w.write(t);
    t.dispose();
  };
  const std = { kind: 'truncNormal', std: 0.02 } as const;
  set('cls_token', encoder.clsToken, std);
  if (encoder.config.posEmbed === 'learned') set('pos_embed', encoder.posEmbed, std);
  set('rel_pos_bias.relative_position_bias_table', encoder.relPosBias?.table ?? null, { kind: 'zeros' });
  encoder.blocks.forEach((blk, i) =>
    set(`blocks.${i}.attn.relative_position_bias_table`, blk.attn.relativePositionBiasTable, { kind: 'zeros' }),
  );
  extraTokens.forEach((w, i) => set(`token${i}`, w, std));
  if (initPatchEmbed) {
    set('patch_embed.proj.weight', encoder.patchEmbed.weight, std);
    set('patch_embed.proj.bias', encoder.patchEmbed.bias, { kind: 'zeros' });
  }
  const visit = (prefix: string, m: Module): void => {
    if (m instanceof Linear || m instanceof TokenHead) {
      set(`${prefix}.weight`, m.weight, std);
      set(`${prefix}.bias`, m.bias, { kind: 'zeros' });
    } else if (m instanceof LayerNorm) {
      set(`${prefix}.weight`, m.weight, { kind: 'ones' });
      set(`${prefix}.bias`, m.bias, { kind: 'zeros' });
    }
    for (const [k, child] of m.children()) visit(prefix === '' ? k : `${prefix}.${k}`, child);
  };
  visit('', model);
  encoder.blocks.forEach((blk, i) => {
    for (const w of [blk.attn.proj.weight, blk.mlp.fc2.weight]) {
      const t = tf.tidy(() => tf.div(w.read(), Math.sqrt(2 * (i + 1))));
      w.write(t);
      t.dispose();
    }
  });
}

/**
 * The masked positions of a 0/1 mask, read on the host and validated:
 * `mask` `[B, L]` or `[B, rows, cols]` (float32, int32 or bool; 1 = masked).
 * Throws, naming `name`, unless the shape fits and every value is 0 or 1.
 *
 * @returns `weights` (row-major 0/1 floats `[B * L]`), `rows` (ascending flat
 *   indices `b * L + l` of the masked positions) and per-sample `counts`.
 */
export function readPatchMask(
  who: string,
  name: string,
  mask: tf.Tensor,
  batch: number,
  grid: [number, number],
): { weights: Float32Array; rows: Int32Array; counts: number[] } {
  const L = grid[0] * grid[1];
  if (!(mask instanceof tf.Tensor)) throw new Error(`${who}: ${name} must be a tf.Tensor [B, L] or [B, rows, cols], got ${String(mask)}`);
  const ok =
    mask.shape[0] === batch &&
    ((mask.rank === 2 && mask.shape[1] === L) || (mask.rank === 3 && mask.shape[1] === grid[0] && mask.shape[2] === grid[1]));
  if (!ok) {
    throw new Error(
      `${who}: ${name} has shape [${mask.shape}], expected [B=${batch}, L=${L}] or [B=${batch}, ${grid[0]}, ${grid[1]}] (the patch grid)`,
    );
  }
  if (mask.dtype !== 'float32' && mask.dtype !== 'int32' && mask.dtype !== 'bool') {
    throw new Error(`${who}: ${name} must be float32, int32 or bool, got ${mask.dtype}`);
  }
  const data = hostValues(mask);
  const weights = new Float32Array(data.length);
  const rows: number[] = [];
  const counts = new Array<number>(batch).fill(0);
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (v !== 0 && v !== 1) {
      throw new Error(`${who}: ${name} must hold only 0 and 1 (1 = masked), got ${v} at flat index ${i}`);
    }
    if (v === 1) {
      weights[i] = 1;
      rows.push(i);
      counts[Math.floor(i / L)]!++;
    }
  }
  return { weights, rows: Int32Array.from(rows), counts };
}

/**
 * Where BEiT's labels come from:
 * - a tensor: int32 `[M]` token ids of the masked patches in row-major
 *   (sample, patch) order (BEiT's `labels = input_ids[bool_masked_pos]`), or
 *   `[B, L]` ids of every patch (only the masked ones are used);
 * - a {@link VisualTokenizer}: it tokenizes the input images;
 * - `{ tokenizer, images }`: it tokenizes other images (BEiT feeds the dVAE a
 *   second, 112 px view of the same crop), whose token grid must match.
 */
export type BeitTargets = tf.Tensor | VisualTokenizer | { tokenizer: VisualTokenizer; images: tf.Tensor };

/**
 * The BEiT-form encoder options that {@link BEiTConfig} and `SimMIMConfig`
 * share (unilm `beit/modeling_pretrain.py`, SimMIM
 * `models/vision_transformer.py`), on top of {@link VitBackboneConfig}
 * (whose `qkvBias` defaults to `'qv'` here: `q_bias`, `v_bias`, no key bias).
 *
 * Position: the defaults (absolute table, no relative bias) are the form of
 * the conformance cases. The released checkpoints use BEiT's relative
 * position bias instead: BEiT and SimMIM ViT pretraining
 * `{ useAbsPosEmb: false, useSharedRelPosBias: true }` (BEiT's
 * `run_beit_pretraining.py` defaults, SimMIM's `USE_APE: False`,
 * `USE_SHARED_RPB: True`), their fine-tuning
 * `{ useAbsPosEmb: false, useRelPosBias: true }`.
 */
export interface BeitBackboneConfig extends VitBackboneConfig {
  /**
   * Layer-scale init (`gamma_1`/`gamma_2`), `null` for none. Default 0.1
   * (BEiT-Base pretraining, SimMIM's ViT `INIT_VALUES`; BEiT-Large uses 1e-5).
   */
  initValues?: number | null;
  /**
   * Stochastic depth at the last block (linear decay), used with
   * `training: true`. Default 0.1 (BEiT's and SimMIM's ViT-B pretraining).
   */
  dropPathRate?: number;
  /**
   * Learned absolute position table `pos_embed` (`use_abs_pos_emb`). Default
   * `true`; `false` in the released BEiT and SimMIM checkpoints.
   */
  useAbsPosEmb?: boolean;
  /**
   * A relative position bias in every block
   * (`blocks.N.attn.relative_position_bias_table`, `use_rel_pos_bias`).
   * Default `false`; `true` for BEiT and SimMIM fine-tuning.
   */
  useRelPosBias?: boolean;
  /**
   * One relative position bias shared by all blocks
   * (`rel_pos_bias.relative_position_bias_table`,
   * `use_shared_rel_pos_bias`). Default `false`; `true` in the released BEiT
   * and SimMIM pretraining checkpoints.
   */
  useSharedRelPosBias?: boolean;
}

/**
 * Config of {@link BEiT}. Defaults are BEiT-Base/16 pretraining
 * (`beit_base_patch16_224_8k_vocab`) with an absolute position table; the
 * released checkpoint's position form is in the preset {@link beitBasePatch16}.
 */
export interface BEiTConfig extends BeitBackboneConfig {
  /** Visual-token vocabulary, the `lm_head` width. Default 8192 (DALL-E's dVAE). */
  vocabSize?: number;
}

/** A {@link BeitBackboneConfig} with every default filled in and `imgSize` as `[height, width]`. */
export type ResolvedBeitBackboneConfig = Required<Omit<BeitBackboneConfig, 'name' | 'imgSize'>> & {
  imgSize: [number, number];
};

/**
 * Fills in the BEiT-form backbone defaults shared by {@link BEiT} and SimMIM
 * (ViT-B/16 at 224 px, q/v bias, layer scale 0.1, drop path 0.1, absolute
 * table, no relative bias); `who` names the model in error messages.
 */
export function resolveBeitBackbone(who: string, config: BeitBackboneConfig): ResolvedBeitBackboneConfig {
  checkVitBackboneConfig(who, config, { embedDim: 768, depth: 12, numHeads: 12, qkvBias: 'qv' });
  return {
    imgSize: toPair('imgSize', who, config.imgSize ?? 224),
    patchSize: config.patchSize ?? 16,
    inChans: config.inChans ?? 3,
    embedDim: config.embedDim ?? 768,
    depth: config.depth ?? 12,
    numHeads: config.numHeads ?? 12,
    mlpRatio: config.mlpRatio ?? 4,
    qkvBias: config.qkvBias ?? 'qv',
    initValues: config.initValues === undefined ? 0.1 : config.initValues,
    dropPathRate: config.dropPathRate ?? 0.1,
    normEps: config.normEps ?? 1e-6,
    useAbsPosEmb: config.useAbsPosEmb ?? true,
    useRelPosBias: config.useRelPosBias ?? false,
    useSharedRelPosBias: config.useSharedRelPosBias ?? false,
    checkpointing: config.checkpointing ?? 'auto',
    seed: config.seed ?? 0,
  };
}

/**
 * The {@link VisionTransformer} config of a BEiT-form encoder (BEiT, SimMIM)
 * from a resolved {@link BeitBackboneConfig}: `'beit'` layer-scale names,
 * learned or no absolute table, relative position bias as asked.
 */
export function beitEncoderConfig(who: string, c: ResolvedBeitBackboneConfig, seed: number): VisionTransformerConfig {
  for (const k of ['useAbsPosEmb', 'useRelPosBias', 'useSharedRelPosBias'] as const) {
    if (typeof c[k] !== 'boolean') throw new Error(`${who}: ${k} must be a boolean, got ${String(c[k])}`);
  }
  return {
    imgSize: c.imgSize,
    patchSize: c.patchSize,
    inChans: c.inChans,
    embedDim: c.embedDim,
    depth: c.depth,
    numHeads: c.numHeads,
    mlpRatio: c.mlpRatio,
    qkvBias: c.qkvBias,
    initValues: c.initValues,
    layerScaleNaming: 'beit',
    posEmbed: c.useAbsPosEmb ? 'learned' : 'none',
    useRelPosBias: c.useRelPosBias,
    useSharedRelPosBias: c.useSharedRelPosBias,
    dropPathRate: c.dropPathRate,
    normEps: c.normEps,
    checkpointing: c.checkpointing,
    seed,
  };
}

/** Output of {@link BEiT.forward}: new tensors, the caller disposes them (`tf.dispose(out)`). */
export type BeitOutput = {
  /** Scalar: mean cross-entropy over the masked patches. */
  loss: tf.Scalar;
  /** `[M, V]` logits of the masked patches, row-major (sample, patch) order. */
  logits: tf.Tensor2D;
  /** int32 `[M]` the labels used, same order. */
  labels: tf.Tensor1D;
};

/** The config with every default filled in and the image/grid size as `[height, width]`. */
export type ResolvedBEiTConfig = Required<Omit<BEiTConfig, 'name' | 'imgSize'>> & { imgSize: [number, number] };

/**
 * BEiT masked image modeling (Bao et al. 2021, "BEiT: BERT Pre-Training of
 * Image Transformers"; unilm `beit/modeling_pretrain.py`
 * `VisionTransformerForMaskedImageModeling`): a BEiT-form ViT sees the image
 * with the masked patch embeddings replaced by a learned `mask_token` and
 * predicts, at the masked patches only, the visual token that a tokenizer
 * assigns to each (`lm_head` over `vocabSize`, mean cross-entropy).
 *
 * MASK CONVENTION: 1 (true) = masked, 0 = visible. BEiT masks about 40% of
 * the patches block-wise (`BlockwiseMasker`); the count may differ per sample.
 *
 * Position: a learned absolute table `pos_embed` (`useAbsPosEmb`, the
 * default) and/or BEiT's relative position bias, shared by all blocks
 * (`useSharedRelPosBias`, as the released pretraining checkpoints) or one per
 * block (`useRelPosBias`).
 *
 * Weights (BEiT's names, spliced at the top level): `cls_token`,
 * `mask_token`, `pos_embed`, `rel_pos_bias.relative_position_bias_table`,
 * `patch_embed.proj`, `blocks.N.*` (`attn.q_bias`, `attn.v_bias`,
 * `attn.relative_position_bias_table`, `gamma_1`, `gamma_2`), `norm`,
 * `lm_head`. The `relative_position_index` buffers of a checkpoint are
 * checked, not loaded (`loadMimWeights`).
 *
 * Shapes: `imgs: [B, H, W, C]`, mask `[B, L]` or `[B, H/p, W/p]` ->
 * `logits [M, V]`, `M` = number of masked patches in the batch.
 */
export class BEiT extends Module {
  static readonly className = 'MimkitBEiT';
  /** Resolved config. */
  readonly config: ResolvedBEiTConfig;
  /** The BEiT-form encoder. */
  readonly encoder: VisionTransformer;
  /** `mask_token` `[1, 1, D]`. */
  readonly maskToken: Weight;
  /** `lm_head`. */
  readonly lmHead: TokenHead;

  constructor(config: BEiTConfig = {}) {
    checkConfigObject('BEiT', config);
    optionalInt('BEiT', 'vocabSize', config.vocabSize, 8192, { min: 2, max: CONFIG_LIMITS.maxDim * 16 });
    resolveBeitBackbone('BEiT', config);
    super({ name: config.name, seed: config.seed });
    const c: ResolvedBEiTConfig = { ...resolveBeitBackbone('BEiT', config), vocabSize: config.vocabSize ?? 8192 };
    // BEiT keeps the encoder's weights at the top of its state_dict.
    this.encoder = this.addModule('encoder', new VisionTransformer(beitEncoderConfig('BEiT', c, this.childSeed('encoder'))), {
      spliceKeys: true,
    });
    this.config = c;
    this.maskToken = this.addParam('mask_token', [1, 1, c.embedDim], { kind: 'truncNormal', std: 0.02 });
    this.lmHead = this.addModule('lm_head', new TokenHead({ inFeatures: c.embedDim, vocabSize: c.vocabSize, seed: this.childSeed('lm_head') }));
    this.initializeWeights();
  }

  /** A re-seeded model redoes its own initialisation from the new seed. */
  protected override onReseed(): void {
    this.initializeWeights();
  }

  /** BEiT's `_init_weights` + `fix_init_weight` (see {@link beitInitWeights}), drawn from the model seed. */
  initializeWeights(): void {
    beitInitWeights(this, this.encoder, [this.maskToken], this.seed, true);
  }

  /** Throws, before any tensor work, unless `imgs` is `[B, H, W, C]` at the configured size. */
  private checkImages(imgs: tf.Tensor): void {
    this.checkNotDisposed();
    checkTensorArg('BEiT', 'imgs', imgs, { rank: 4, what: '[B, H, W, C] images (NHWC)' });
    const [h, w] = this.config.imgSize;
    const C = this.config.inChans;
    if (!(imgs instanceof tf.Tensor) || imgs.rank !== 4 || imgs.shape[1] !== h || imgs.shape[2] !== w || imgs.shape[3] !== C) {
      throw new Error(
        `BEiT: imgs has ${imgs instanceof tf.Tensor ? `shape [${imgs.shape}]` : String(imgs)}, expected [B, ${h}, ${w}, ${C}] (imgSize ${h}x${w}, inChans ${C}, NHWC)`,
      );
    }
  }

  /**
   * The encoder with mask tokens ({@link forwardWithMaskToken}).
   *
   * @param imgs `[B, H, W, C]`.
   * @param boolMaskedPos `[B, L]` or `[B, H/p, W/p]`, 1/true = masked.
   * @returns patch tokens `[B, L, D]` after the final norm.
   */
  forwardEncoder(imgs: tf.Tensor, boolMaskedPos: tf.Tensor, options: VitForwardOptions = {}): tf.Tensor3D {
    this.checkImages(imgs);
    const B = imgs.shape[0]!;
    const { weights } = readPatchMask('BEiT', 'boolMaskedPos', boolMaskedPos, B, this.encoder.gridSize);
    return tf.tidy(() =>
      forwardWithMaskToken(this.encoder, this.maskToken.read(), imgs, tf.tensor2d(weights, [B, this.encoder.numPatches]), options),
    );
  }

  /** The token ids `[M]` of the masked patches, validated (see {@link BeitTargets}). */
  private resolveLabels(targets: BeitTargets, imgs: tf.Tensor, rows: Int32Array): tf.Tensor1D {
    const V = this.config.vocabSize;
    const B = imgs.shape[0]!;
    const L = this.encoder.numPatches;
    let ids: ArrayLike<number>;
    let fromMap: boolean;
    if (targets instanceof tf.Tensor) {
      if (targets.dtype !== 'int32') throw new Error(`BEiT: labels must be int32 token ids, got dtype ${targets.dtype}`);
      if (targets.rank === 1) {
        if (targets.shape[0] !== rows.length) {
          throw new Error(
            `BEiT: labels has ${targets.shape[0]} entries, expected one per masked patch: ${rows.length} (the 1s of boolMaskedPos)`,
          );
        }
        fromMap = false;
      } else if (targets.rank === 2 && targets.shape[0] === B && targets.shape[1] === L) {
        fromMap = true;
      } else {
        throw new Error(`BEiT: labels must be [M=${rows.length}] (masked patches) or [B=${B}, L=${L}], got shape [${targets.shape}]`);
      }
      ids = hostValues(targets);
    } else {
      const tok = 'tokenize' in targets ? targets : targets.tokenizer;
      const images = 'tokenize' in targets ? imgs : targets.images;
      if (tok.vocabSize !== V) {
        throw new Error(`BEiT: tokenizer.vocabSize ${tok.vocabSize} does not match the lm_head's vocabSize ${V}`);
      }
      const [gh, gw] = this.encoder.gridSize;
      if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.shape[0] !== B || images.shape[3] !== tok.inChans ||
          images.shape[1]! / tok.patchSize !== gh || images.shape[2]! / tok.patchSize !== gw) {
        throw new Error(
          `BEiT: tokenizer images have ${images instanceof tf.Tensor ? `shape [${images.shape}]` : String(images)}, expected ` +
            `[B=${B}, ${gh * tok.patchSize}, ${gw * tok.patchSize}, ${tok.inChans}] (the model's ${gh}x${gw} patch grid at tokenizer patch size ${tok.patchSize})`,
        );
      }
      const t = tok.tokenize(images as tf.Tensor4D);
      ids = t.dataSync();
      t.dispose();
      fromMap = true;
    }
    const labels = new Int32Array(rows.length);
    for (let k = 0; k < rows.length; k++) {
      const v = ids[fromMap ? rows[k]! : k]!;
      if (!Number.isInteger(v) || v < 0 || v >= V) {
        throw new Error(`BEiT: label ${v} (masked patch ${k}, flat position ${rows[k]}) is outside [0, vocabSize=${V})`);
      }
      labels[k] = v;
    }
    return tf.tensor1d(labels, 'int32');
  }

  /**
   * BEiT's pretraining forward and loss.
   *
   * @param imgs `[B, H, W, C]`.
   * @param boolMaskedPos `[B, L]` or `[B, H/p, W/p]` 0/1 (float32, int32 or
   *   bool), 1 = masked; at least one masked patch in the batch.
   * @param targets the visual tokens, see {@link BeitTargets}.
   * @returns `{ loss, logits [M, V], labels [M] }` (new tensors).
   */
  forward(imgs: tf.Tensor, boolMaskedPos: tf.Tensor, targets: BeitTargets, options: VitForwardOptions = {}): BeitOutput {
    this.checkImages(imgs);
    const B = imgs.shape[0]!;
    const { weights, rows } = readPatchMask('BEiT', 'boolMaskedPos', boolMaskedPos, B, this.encoder.gridSize);
    if (rows.length === 0) throw new Error('BEiT: boolMaskedPos masks no patch; the loss needs at least one masked patch');
    if (targets === null || typeof targets !== 'object') {
      throw new Error(`BEiT: targets must be a label tensor, a VisualTokenizer or { tokenizer, images }, got ${String(targets)}`);
    }
    const labels = this.resolveLabels(targets, imgs, rows);
    const r = tf.tidy(() => {
      const w = tf.tensor2d(weights, [B, this.encoder.numPatches]);
      const tokens = forwardWithMaskToken(this.encoder, this.maskToken.read(), imgs, w, options);
      const logits = this.lmHead.forwardMasked(tokens, tf.tensor1d(rows, 'int32'));
      return { logits, loss: this.forwardLoss(logits, labels) };
    });
    return { loss: r.loss, logits: r.logits, labels };
  }

  /** Mean cross-entropy of `logits [M, V]` against `labels` int32 `[M]` (BEiT's `CrossEntropyLoss`). */
  forwardLoss(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    return maskedCrossEntropy(logits, labels);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 3) throw new Error('BEiT.call: inputs must be [imgs, boolMaskedPos, labels]');
    const out = this.forward(inputs[0]!, inputs[1]!, inputs[2]!, { training: kwargs.training });
    tf.dispose([out.logits, out.labels]);
    return out.loss;
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(BEiT);

/**
 * BEiT-Base/16 pretraining as released (`beit_base_patch16_224_8k_vocab`
 * with `run_beit_pretraining.py`'s defaults): D 768, depth 12, 12 heads,
 * vocab 8192, layer scale 0.1, a shared relative position bias and no
 * absolute table, so the released checkpoint loads.
 */
export const beitBasePatch16: Readonly<BEiTConfig> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12, mlpRatio: 4, initValues: 0.1, vocabSize: 8192,
  useAbsPosEmb: false, useSharedRelPosBias: true,
});
/**
 * BEiT-Large/16 pretraining as released (`beit_large_patch16_224_8k_vocab`):
 * D 1024, depth 24, 16 heads, layer scale 1e-5, a shared relative position
 * bias and no absolute table.
 */
export const beitLargePatch16: Readonly<BEiTConfig> = Object.freeze({
  imgSize: 224, patchSize: 16, embedDim: 1024, depth: 24, numHeads: 16, mlpRatio: 4, initValues: 1e-5, vocabSize: 8192,
  useAbsPosEmb: false, useSharedRelPosBias: true,
});
/** A tiny BEiT for 32 px images (patch 4, 64 patches): D 192, depth 12, 3 heads, vocabulary 512 (e.g. a k-means or colour-palette tokenizer). */
export const beitTiny: Readonly<BEiTConfig> = Object.freeze({
  imgSize: 32, patchSize: 4, embedDim: 192, depth: 12, numHeads: 3, mlpRatio: 4, initValues: 0.1, vocabSize: 512,
});
