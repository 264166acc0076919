import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  MAE, SimMIM, VisionTransformer, trainStep, AdamW, resolveCheckpointing, AUTO_CHECKPOINT_BYTES, ACTIVATION_BYTES_PER_ELEMENT,
  BEiT3, CLIP, FLIP, TextTransformer, ClipVisionTransformer, type Block,
} from '../../src/index.js';

/** Gradients of `loss` over `vars` as arrays by variable name. */
function gradsOf(loss: () => tf.Scalar, vars: tf.Variable[]): { value: number; grads: Map<string, Float32Array> } {
  const { value, grads } = tf.variableGrads(loss, vars);
  const out = new Map<string, Float32Array>();
  // A weight the loss does not reach (BEiT-3's mask token without a mask) has no gradient.
  for (const v of vars) if (grads[v.name]) out.set(v.name, grads[v.name]!.dataSync() as Float32Array);
  const l = value.dataSync()[0]!;
  value.dispose();
  tf.dispose(Object.values(grads));
  return { value: l, grads: out };
}

function expectClose(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, x] of a) {
    const y = b.get(k)!;
    let scale = 1e-6;
    for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(x[i]!));
    for (let i = 0; i < x.length; i++) {
      if (Math.abs(x[i]! - y[i]!) > 1e-5 * scale) throw new Error(`${k}[${i}]: ${x[i]} vs ${y[i]} (scale ${scale})`);
    }
  }
}

describe('activation checkpointing', () => {
  it("defaults to 'auto', which turns on exactly above the memory budget and never with drop path in training", () => {
    const vit = new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 2, numHeads: 2 });
    expect(vit.checkpointing).toBe('auto');
    const mae = new MAE({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 1, numHeads: 2, decoderEmbedDim: 8, decoderDepth: 1, decoderNumHeads: 2 });
    expect(mae.decoder.checkpointing).toBe('auto');
    const blocks = (n: number, dropPath = 0): Block[] => Array.from({ length: n }, () => ({ config: { dropPath } }) as unknown as Block);
    // 12 blocks of width 192: 1664 tokens fit in the budget, 1665 do not.
    const fit = Math.floor(AUTO_CHECKPOINT_BYTES / (12 * 192 * ACTIVATION_BYTES_PER_ELEMENT));
    expect(fit).toBe(1664);
    const small = tf.zeros([2, fit / 2, 192]);
    const large = tf.zeros([1, fit + 1, 192]);
    expect(resolveCheckpointing('auto', blocks(12), small)).toBe(false);
    expect(resolveCheckpointing('auto', blocks(12), large)).toBe(true);
    expect(resolveCheckpointing('auto', blocks(12, 0.1), large, true)).toBe(false);
    expect(resolveCheckpointing('auto', blocks(12, 0.1), large, false)).toBe(true);
    expect(resolveCheckpointing(false, blocks(12), large)).toBe(false);
    expect(resolveCheckpointing(true, blocks(12), small)).toBe(true);
    expect(() => new VisionTransformer({ checkpointing: 'yes' as never })).toThrow(/VisionTransformer: checkpointing must be .*"yes"/);
    tf.dispose([small, large]);
    vit.dispose();
    mae.dispose();
  });


  it('MAE (encoder and decoder blocks): same loss and gradients, tensor count flat', () => {
    const cfg = {
      imgSize: 8, patchSize: 2, embedDim: 16, depth: 2, numHeads: 2,
      decoderEmbedDim: 8, decoderDepth: 2, decoderNumHeads: 2, mlpRatio: 2, seed: 3,
    };
    const plain = new MAE(cfg);
    const ckpt = new MAE({ ...cfg, checkpointing: true });
    expect(ckpt.encoder.checkpointing).toBe(true);
    expect(ckpt.decoder.checkpointing).toBe(true);
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 4);
    const before = tf.memory().numTensors;
    const a = gradsOf(() => plain.forward(x, { seed: 9 }).loss, plain.trainableVariables());
    const b = gradsOf(() => ckpt.forward(x, { seed: 9 }).loss, ckpt.trainableVariables());
    expect(tf.memory().numTensors).toBe(before);
    expect(b.value).toBeCloseTo(a.value, 6);
    // The two models have the same weights under different variable names: compare by position.
    const rename = (m: Map<string, Float32Array>): Map<string, Float32Array> =>
      new Map([...m.values()].map((v, i) => [String(i), v]));
    expectClose(rename(a.grads), rename(b.grads));
    // A training step with checkpointing keeps the count flat.
    const opt = new AdamW(ckpt);
    trainStep(() => ckpt.forward(x, { seed: 1 }).loss, ckpt, opt);
    const n = tf.memory().numTensors;
    trainStep(() => ckpt.forward(x, { seed: 1 }).loss, ckpt, opt);
    expect(tf.memory().numTensors).toBe(n);
    opt.dispose();
    x.dispose();
    plain.dispose();
    ckpt.dispose();
  });

  it('a ViT with a shared relative position bias: gradients reach the shared table', () => {
    const cfg = { imgSize: 8, patchSize: 4, embedDim: 8, depth: 2, numHeads: 2, useSharedRelPosBias: true, seed: 2 };
    const plain = new VisionTransformer(cfg);
    const ckpt = new VisionTransformer({ ...cfg, checkpointing: true });
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 5);
    const loss = (m: VisionTransformer) => (): tf.Scalar => tf.sum(tf.square(m.forward(x))) as tf.Scalar;
    const a = gradsOf(loss(plain), plain.trainableVariables());
    const b = gradsOf(loss(ckpt), ckpt.trainableVariables());
    const rename = (m: Map<string, Float32Array>): Map<string, Float32Array> =>
      new Map([...m.values()].map((v, i) => [String(i), v]));
    expectClose(rename(a.grads), rename(b.grads));
    x.dispose();
    plain.dispose();
    ckpt.dispose();
  });

  it('refuses drop path in training mode (a recomputation would draw another path), leaking nothing', () => {
    const m = new SimMIM({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 2, numHeads: 2, checkpointing: true, dropPathRate: 0.1 });
    const x = tf.randomUniform([1, 8, 8, 3]);
    const before = tf.memory().numTensors;
    expect(() => m.encoder.forward(x, { training: true })).toThrow(/checkpointing: block .* drop path/);
    expect(tf.memory().numTensors).toBe(before);
    // Inference with drop path configured is fine.
    tf.dispose(m.encoder.forward(x));
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    m.dispose();
  });
  /** Loss and gradients of `loss(model)` for a plain and a checkpointed copy (same seed), compared by position. */
  function sameGradients<M extends { trainableVariables(): tf.Variable[]; dispose(): unknown }>(
    make: (checkpointing: boolean) => M,
    loss: (m: M) => tf.Scalar,
  ): void {
    const plain = make(false);
    const ckpt = make(true);
    const before = tf.memory().numTensors;
    const a = gradsOf(() => loss(plain), plain.trainableVariables());
    const b = gradsOf(() => loss(ckpt), ckpt.trainableVariables());
    expect(tf.memory().numTensors).toBe(before);
    expect(b.value).toBeCloseTo(a.value, 5);
    const rename = (m: Map<string, Float32Array>): Map<string, Float32Array> => new Map([...m.values()].map((v, i) => [String(i), v]));
    expectClose(rename(a.grads), rename(b.grads));
    plain.dispose();
    ckpt.dispose();
  }

  it('CLIP and FLIP (image tower, causal text tower with padding): same loss and gradients', () => {
    const cfg = (checkpointing: boolean) => ({
      embedDim: 8,
      vision: { imageSize: 8, patchSize: 4, width: 8, layers: 2, headWidth: 4, checkpointing },
      text: { contextLength: 5, vocabSize: 20, width: 8, heads: 2, layers: 2, checkpointing },
      seed: 4,
    });
    expect(new ClipVisionTransformer({ checkpointing: true, layers: 0, width: 8, headWidth: 4, embedDim: 4, imageSize: 8, patchSize: 4 }).checkpointing).toBe(true);
    expect(() => new TextTransformer({ checkpointing: 1 as never })).toThrow(/TextTransformer: checkpointing must be one of true, false, "auto", got 1/);
    expect(() => new ClipVisionTransformer({ checkpointing: 'on' as never })).toThrow(/ClipVisionTransformer: checkpointing must be/);
    const imgs = tf.randomUniform([3, 8, 8, 3], 0, 1, 'float32', 6);
    const ids = tf.tensor2d([[1, 5, 7, 19, 0], [2, 3, 19, 0, 0], [4, 19, 0, 0, 0]], [3, 5], 'int32');
    const padding = tf.tensor2d([[0, 0, 0, 0, 1], [0, 0, 0, 1, 1], [0, 0, 1, 1, 1]], [3, 5], 'bool');
    sameGradients((c) => new CLIP(cfg(c)), (m) => m.loss(imgs, ids, { text: { padding } }));
    // FLIP: a fixed keep set, so both copies see the same patches.
    const keep = tf.tensor2d([[0, 2], [1, 3], [3, 0]], [3, 2], 'int32');
    sameGradients((c) => new FLIP({ ...cfg(c), maskRatio: 0.5 }), (m) => m.loss(imgs, ids, { image: { training: true, patchKeepIndices: keep } }));
    tf.dispose([imgs, ids, padding, keep]);
  });

  it('BEiT-3 (image and padded text through the Multiway layers): same loss and gradients; drop path in training refused', () => {
    const cfg = { imgSize: 8, patchSize: 4, embedDim: 8, layers: 2, heads: 2, vocabSize: 20, maxSourcePositions: 10, seed: 7 };
    const imgs = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 8);
    const text = tf.tensor2d([[3, 4, 5], [6, 7, 0]], [2, 3], 'int32');
    const textPaddingPosition = tf.tensor2d([[0, 0, 0], [0, 0, 1]], [2, 3], 'int32');
    expect(new BEiT3(cfg).checkpointing).toBe('auto');
    expect(() => new BEiT3({ ...cfg, checkpointing: 'yes' as never })).toThrow(/BEiT3: checkpointing must be/);
    sameGradients(
      (c) => new BEiT3({ ...cfg, checkpointing: c }),
      (m) => tf.tidy(() => tf.sum(tf.square((m as BEiT3).forwardFeatures({ image: imgs, text, textPaddingPosition }).encoderOut)) as tf.Scalar),
    );
    const dp = new BEiT3({ ...cfg, checkpointing: true, dropPathRate: 0.1 });
    const before = tf.memory().numTensors;
    expect(() => dp.forwardFeatures({ image: imgs }, { training: true })).toThrow(/BEiT3 checkpointing: block '.+' has drop path 0\.1 in training mode/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(dp.forwardFeatures({ image: imgs }).encoderOut);
    expect(tf.memory().numTensors).toBe(before);
    dp.dispose();
    tf.dispose([imgs, text, textPaddingPosition]);
  });
});
