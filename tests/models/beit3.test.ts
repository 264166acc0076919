import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { beit3Converter } from '../../src/io/converters_beit3.js';
import { exportWeights, loadWeights } from '../../src/io/state_dict.js';
import {
  BEiT3,
  BEiT3Mdm,
  beit3BasePatch16,
  beit3LargePatch16,
  resolveBeit3Config,
  type BEiT3Config,
  type Beit3Inputs,
} from '../../src/models/beit3.js';
import type { VisualTokenizer } from '../../src/tokenizers/types.js';
import { expectEveryGradient, expectSameWeights, expectThrowsEarly, train, uniformTensor } from './helpers.js';

const SMALL: BEiT3Config = {
  imgSize: 8, patchSize: 4, inChans: 3, embedDim: 16, layers: 2, heads: 2, ffnDim: 32, vocabSize: 20, maxSourcePositions: 8, seed: 3,
};
const NP = 4; // (8 / 4)^2 patches
const VV = 12; // visual vocabulary

const ids = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');

describe('BEiT3', () => {
  it('image only, text only and image-text: shapes and split positions', () => {
    const model = new BEiT3(SMALL);
    const image = uniformTensor([2, 8, 8, 3], 1);
    const text = ids([[0, 5, 6, 2, 1], [0, 7, 2, 1, 1]]);
    const before = tf.memory().numTensors;
    for (const [inputs, t, split] of [
      [{ image }, 1 + NP, -1],
      [{ text }, 5, 0],
      [{ image, text }, 1 + NP + 5, 1 + NP],
    ] as [Beit3Inputs, number, number][]) {
      const f = model.forwardFeatures(inputs, { returnAttention: true });
      expect(f.encoderOut.shape).toEqual([2, t, 16]);
      expect(f.multiwaySplitPosition).toBe(split);
      expect(f.attentions!.map((a) => a.shape)).toEqual([[2, 2, t, t], [2, 2, t, t]]);
      const parts = model.splitTokens(f.encoderOut, inputs);
      expect(parts.vision?.shape ?? null).toEqual(inputs.image ? [2, 1 + NP, 16] : null);
      expect(parts.text?.shape ?? null).toEqual(inputs.text ? [2, 5, 16] : null);
      tf.dispose([f.encoderOut, ...f.attentions!, parts.vision, parts.text]);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(model.config.ffnDim).toBe(32);
    const keys = [...model.namedWeights().keys()];
    for (const k of [
      'text_embed.weight', 'vision_embed.proj.weight', 'vision_embed.proj.bias', 'vision_embed.cls_token', 'vision_embed.mask_token',
      'encoder.embed_positions.A.weight', 'encoder.embed_positions.B.weight', 'encoder.layers.1.self_attn.q_proj.B.weight',
      'encoder.layers.0.ffn.A.ffn_layernorm.weight', 'encoder.layer_norm.A.weight', 'encoder.layer_norm.B.bias',
    ]) {
      expect(keys).toContain(k);
    }
    expect(model.visionPositions.shape).toEqual([NP + 3, 16]);
    tf.dispose([image, text]);
    model.dispose();
  });

  it('the presets are the published sizes (unilm _get_base_config / _get_large_config)', () => {
    const base = resolveBeit3Config('t', beit3BasePatch16);
    expect([base.embedDim, base.layers, base.heads, base.ffnDim, base.vocabSize, base.maxSourcePositions]).toEqual([768, 12, 12, 3072, 64010, 1024]);
    expect([base.imgSize, base.patchSize, base.subln, base.layernormEps]).toEqual([[224, 224], 16, true, 1e-5]);
    const large = resolveBeit3Config('t', beit3LargePatch16);
    expect([large.embedDim, large.layers, large.heads, large.ffnDim]).toEqual([1024, 24, 16, 4096]);
    expect(resolveBeit3Config('t', {})).toEqual(base);
  });

  it('padded keys get no attention: changing a padded token changes no output, a real token does', () => {
    const model = new BEiT3(SMALL);
    const image = uniformTensor([2, 8, 8, 3], 2);
    const pad = tf.tensor2d([[0, 0, 0, 0, 1], [0, 0, 0, 1, 1]], [2, 5], 'bool');
    const a = ids([[0, 5, 6, 2, 1], [0, 7, 2, 1, 1]]);
    const b = ids([[0, 5, 6, 2, 13], [0, 7, 2, 9, 4]]); // other ids at padded positions only
    const c = ids([[0, 5, 11, 2, 1], [0, 7, 2, 1, 1]]); // a real token changed
    for (const withImage of [false, true]) {
      const run = (text: tf.Tensor) => model.forwardFeatures({ text, textPaddingPosition: pad, ...(withImage ? { image } : {}) }, { returnAttention: true });
      const [fa, fb, fc] = [run(a), run(b), run(c)];
      const [ya, yb, yc] = [fa.encoderOut.dataSync(), fb.encoderOut.dataSync(), fc.encoderOut.dataSync()];
      expect(Array.from(yb)).toEqual(Array.from(ya));
      expect(Array.from(yc)).not.toEqual(Array.from(ya));
      // every query's probability on a padded key is exactly 0
      const off = withImage ? 1 + NP : 0;
      const t = off + 5;
      const probs = fa.attentions![0]!.dataSync();
      for (let q = 0; q < t; q++) {
        for (let h = 0; h < 2; h++) {
          expect(probs[((0 * 2 + h) * t + q) * t + off + 4]).toBe(0);
          expect(probs[((1 * 2 + h) * t + q) * t + off + 3]).toBe(0);
        }
      }
      tf.dispose([fa, fb, fc]);
    }
    tf.dispose([image, pad, a, b, c]);
    model.dispose();
  });

  it('vision_masked_position replaces exactly the masked patch embeddings', () => {
    const model = new BEiT3(SMALL);
    const x1 = uniformTensor([1, 8, 8, 3], 4);
    const data = x1.dataSync().slice();
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let ch = 0; ch < 3; ch++) data[(i * 8 + j) * 3 + ch] = 0.5; // patch 0 changed
    const x2 = tf.tensor4d(data, [1, 8, 8, 3]);
    const mask = tf.tensor2d([[1, 0, 0, 0]], [1, 4], 'bool');
    const y1 = model.forward({ image: x1, visionMaskedPosition: mask });
    const y2 = model.forward({ image: x2, visionMaskedPosition: mask });
    const y3 = model.forward({ image: x2 });
    expect(Array.from(y2.dataSync())).toEqual(Array.from(y1.dataSync()));
    expect(Array.from(y3.dataSync())).not.toEqual(Array.from(y1.dataSync()));
    tf.dispose([x1, x2, mask, y1, y2, y3]);
    model.dispose();
  });

  it('beit3Converter: export writes beit3.* keys, strict import of prefixed and unprefixed keys restores every weight', () => {
    const a = new BEiT3(SMALL);
    const b = new BEiT3({ ...SMALL, seed: 9 });
    const c = new BEiT3({ ...SMALL, seed: 10 });
    const sd = exportWeights(a, { converter: beit3Converter });
    expect([...sd.keys()].every((k) => k.startsWith('beit3.'))).toBe(true);
    expect(sd.get('beit3.vision_embed.proj.weight')!.shape).toEqual([16, 3, 4, 4]);
    loadWeights(b, sd, { converter: beit3Converter });
    expectSameWeights(a, b);
    const bare = new Map([...sd].map(([k, v]) => [k.slice('beit3.'.length), v]));
    loadWeights(c, bare, { converter: beit3Converter });
    expectSameWeights(a, c);
    const extra = new Map([...sd, ['beit3.logit_scale', tf.scalar(1)]]);
    expect(() => loadWeights(b, extra, { converter: beit3Converter })).toThrow(/logit_scale/);
    tf.dispose([...sd.values(), extra.get('beit3.logit_scale')!]);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('bad inputs throw before any tensor work, naming the parameter, the value and what was expected', () => {
    const model = new BEiT3(SMALL);
    const image = uniformTensor([2, 8, 8, 3], 1);
    const text = ids([[0, 5, 6, 2], [0, 7, 2, 1]]);
    const text3 = ids([[0, 5], [0, 7], [0, 2]]);
    const bad = ids([[0, 5, 20, 2], [0, 7, 2, 1]]);
    const neg = ids([[0, -1, 3, 2], [0, 7, 2, 1]]);
    const long = tf.zeros([2, 7], 'int32');
    const floatText = tf.zeros([2, 4]);
    const mask3 = tf.zeros([2, 3], 'bool');
    const padWrong = tf.zeros([2, 5], 'bool');
    const padValues = tf.tensor2d([[0, 0, 2, 0], [0, 0, 0, 0]]);
    const wrongImage = uniformTensor([2, 16, 16, 3], 1);
    const before = tf.memory().numTensors;
    expectThrowsEarly(() => model.forward({}), /an image, a text or both/);
    expectThrowsEarly(() => model.forward({ image, text: text3 }), /batch size 3 but inputs.image has 2/);
    expectThrowsEarly(() => model.forward({ text: bad }), /inputs.text\[0\]\[2\] = 20 is outside the vocabulary \[0, vocabSize=20\)/);
    expectThrowsEarly(() => model.forward({ text: neg }), /inputs.text\[0\]\[1\] = -1/);
    expectThrowsEarly(() => model.forward({ text: long }), /length 7, expected 1 <= L <= maxSourcePositions - 2 = 6/);
    expectThrowsEarly(() => model.forward({ text: floatText }), /int32 tensor \[B, L\].*float32/);
    expectThrowsEarly(() => model.forward({ image: wrongImage }), /inputs.image must be \[B, 8, 8, 3\].*got shape \[2,16,16,3\]/);
    expectThrowsEarly(() => model.forward({ image, visionMaskedPosition: mask3 }), /visionMaskedPosition has shape \[2,3\], expected \[B=2, L=4\]/);
    expectThrowsEarly(() => model.forward({ text, textPaddingPosition: padWrong }), /textPaddingPosition must be \[B=2, L=4\].*got shape \[2,5\]/);
    expectThrowsEarly(() => model.forward({ text, textPaddingPosition: padValues }), /only 0 and 1.*got 2 at \[0\]\[2\]/);
    expectThrowsEarly(() => model.forward({ image, textPaddingPosition: padWrong }), /textPaddingPosition needs inputs.text/);
    expectThrowsEarly(() => model.forward({ text, visionMaskedPosition: mask3 }), /visionMaskedPosition needs inputs.image/);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => new BEiT3({ ...SMALL, heads: 3 })).toThrow(/heads=3 must divide embedDim=16/);
    expect(() => new BEiT3({ ...SMALL, maxSourcePositions: 2 })).toThrow(/maxSourcePositions must be an integer >= 3/);
    tf.dispose([image, text, text3, bad, neg, long, floatText, mask3, padWrong, padValues, wrongImage]);
    model.dispose();
  });
});

/** Patch `l` of sample `b` gets visual token `(3 b + 5 l) mod vocab`. */
function stubTokenizer(vocabSize: number): VisualTokenizer {
  return {
    vocabSize,
    patchSize: 4,
    inChans: 3,
    tokenize(imgs: tf.Tensor4D): tf.Tensor2D {
      const b = imgs.shape[0];
      const out = new Int32Array(b * NP);
      for (let i = 0; i < b; i++) for (let l = 0; l < NP; l++) out[i * NP + l] = (3 * i + 5 * l) % vocabSize;
      return tf.tensor2d(out, [b, NP], 'int32');
    },
    dispose(): void {},
  };
}

describe('BEiT3Mdm', () => {
  const batch = () => ({
    image: uniformTensor([2, 8, 8, 3], 7),
    visionMaskedPosition: tf.tensor2d([[1, 0, 1, 0], [0, 1, 1, 1]], [2, 4], 'bool'),
    visualTokens: tf.tensor2d([[3, 1, 4, 1], [5, 9, 2, 6]], [2, 4], 'int32'),
    text: ids([[0, 19, 6, 2, 1], [0, 19, 19, 2, 1]]), // 19 = [MASK]
    textLabels: ids([[-100, 5, -100, -100, -100], [-100, 8, 11, -100, -100]]),
    textPaddingPosition: tf.tensor2d([[0, 0, 0, 0, 1], [0, 0, 0, 0, 1]], [2, 5], 'bool'),
  });

  it('forwardMdm: logits and labels at the masked positions, loss = image + text cross-entropy', () => {
    const model = new BEiT3Mdm({ ...SMALL, visualVocabSize: VV });
    const inputs = batch();
    const before = tf.memory().numTensors;
    const out = model.forwardMdm(inputs);
    expect(out.imageLogits!.shape).toEqual([5, VV]);
    expect(Array.from(out.imageLabels!.dataSync())).toEqual([3, 4, 9, 2, 6]);
    expect(out.textLogits!.shape).toEqual([3, 20]);
    expect(Array.from(out.textLabels!.dataSync())).toEqual([5, 8, 11]);
    const [l, li, lt] = [out.loss, out.imageLoss!, out.textLoss!].map((s) => s.dataSync()[0]!);
    expect(l).toBeCloseTo(li! + lt!, 5);
    expect(li!).toBeGreaterThan(0.5 * Math.log(VV));
    tf.dispose(out);
    // image only (a tokenizer as targets) and text only
    const img = model.forwardMdm({ image: inputs.image, visionMaskedPosition: inputs.visionMaskedPosition, visualTokens: stubTokenizer(VV) });
    expect(Array.from(img.imageLabels!.dataSync())).toEqual([0, 10, 8, 1, 6]);
    expect(img.textLoss).toBeUndefined();
    const txt = model.forwardMdm({ text: inputs.text, textLabels: inputs.textLabels });
    expect(txt.imageLoss).toBeUndefined();
    expect(txt.textLogits!.shape).toEqual([3, 20]);
    tf.dispose([img, txt]);
    expect(tf.memory().numTensors).toBe(before);
    expect([...model.namedWeights().keys()].filter((k) => !k.startsWith('beit3.'))).toEqual([
      'mim_head.weight', 'mim_head.bias', 'mlm_head.weight', 'mlm_head.bias',
    ]);
    tf.dispose(Object.values(inputs));
    model.dispose();
  });

  it('every trainable weight gets a gradient from an image-text batch', () => {
    const model = new BEiT3Mdm({ ...SMALL, visualVocabSize: VV });
    const inputs = batch();
    const names = expectEveryGradient(model, () => model.forwardMdm(inputs).loss);
    expect(names.length).toBe(model.namedWeights().size);
    tf.dispose(Object.values(inputs));
    model.dispose();
  });

  it('trains (masked data modeling, AdamW) with a flat tensor count and a falling loss', () => {
    const model = new BEiT3Mdm({ ...SMALL, visualVocabSize: VV, dropPathRate: 0.1 });
    const inputs = batch();
    const before = tf.memory().numTensors;
    const { losses, counts } = train(model, () => model.forwardMdm(inputs, { training: true }).loss, 12, 1e-2);
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[11]!).toBeLessThan(0.6 * losses[0]!);
    tf.dispose(Object.values(inputs));
    model.dispose();
  });

  it('bad targets throw before any tensor work', () => {
    const model = new BEiT3Mdm({ ...SMALL, visualVocabSize: VV });
    const inputs = batch();
    const wrongTokens = tf.zeros([2, 3], 'int32');
    const outside = tf.tensor2d([[12, 0, 0, 0], [0, 0, 0, 0]], [2, 4], 'int32');
    const badLabels = ids([[-100, 25, -100, -100, -100], [-100, 8, 11, -100, -100]]);
    const noLabels = tf.fill([2, 5], -100, 'int32');
    const shortLabels = ids([[1, 2], [3, 4]]);
    const image3 = uniformTensor([3, 8, 8, 3], 1);
    const before = tf.memory().numTensors;
    expectThrowsEarly(() => model.forwardMdm({ ...inputs, visualTokens: wrongTokens }), /visualTokens must be int32 \[B=2, Np=4\], got int32 shape \[2,3\]/);
    expectThrowsEarly(() => model.forwardMdm({ ...inputs, visualTokens: outside }), /visual token 12 at masked patch 0 of sample 0 is outside \[0, visualVocabSize=12\)/);
    expectThrowsEarly(() => model.forwardMdm({ ...inputs, visualTokens: stubTokenizer(7) }), /vocabSize 7 does not match visualVocabSize 12/);
    expectThrowsEarly(() => model.forwardMdm({ ...inputs, textLabels: badLabels }), /textLabels\[0\]\[1\] = 25 is neither -100 nor inside \[0, vocabSize=20\)/);
    expectThrowsEarly(() => model.forwardMdm({ ...inputs, textLabels: shortLabels }), /textLabels must be int32 \[B=2, L=5\]/);
    expectThrowsEarly(() => model.forwardMdm({ text: inputs.text, textLabels: noLabels }), /nothing to predict/);
    expectThrowsEarly(() => model.forwardMdm({ ...inputs, image: image3 }), /batch size 2 but inputs.image has 3/);
    expectThrowsEarly(() => model.forwardMdm({ image: inputs.image, visualTokens: inputs.visualTokens }), /visualTokens needs inputs.visionMaskedPosition/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...Object.values(inputs), wrongTokens, outside, badLabels, noLabels, shortLabels, image3]);
    model.dispose();
  });
});
