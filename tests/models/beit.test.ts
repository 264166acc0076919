import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BEiT, beitBasePatch16, beitLargePatch16, beitTiny, type BEiTConfig } from '../../src/models/beit.js';
import { VisionTransformer } from '../../src/models/vit.js';
import { BlockwiseMasker } from '../../src/masking/blockwise_masker.js';
import type { VisualTokenizer } from '../../src/tokenizers/types.js';
import { exportWeights, loadWeights } from '../../src/io/state_dict.js';
import { beitConverter, beitEncoderConverter, exportMimWeights, loadMimWeights, saveMimWeights } from '../../src/io/converters_mim.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { relativePositionIndex } from '../../src/layers/rel_pos_bias.js';
import { run as beitKind } from '../conformance/kinds/beit_mim.js';
import { checkKind, expectClose, loadCase } from '../layers/helpers.js';
import { expectEveryGradient, expectSameWeights, expectThrowsEarly, train, uniformTensor } from './helpers.js';

const V = 24;
const SMALL: BEiTConfig = { imgSize: 16, patchSize: 4, inChans: 3, embedDim: 32, depth: 2, numHeads: 4, vocabSize: V, dropPathRate: 0, seed: 1 };

/** A stand-in tokenizer: patch `l` of sample `b` gets id `(3 b + 5 l) mod vocab` (any VisualTokenizer works the same). */
function stubTokenizer(vocabSize: number, patchSize = 4, inChans = 3): VisualTokenizer & { calls: number } {
  return {
    vocabSize,
    patchSize,
    inChans,
    calls: 0,
    tokenize(imgs: tf.Tensor4D): tf.Tensor2D {
      this.calls++;
      const [b, h, w] = imgs.shape;
      const L = (h / patchSize) * (w / patchSize);
      const ids = new Int32Array(b * L);
      for (let i = 0; i < b; i++) for (let l = 0; l < L; l++) ids[i * L + l] = (3 * i + 5 * l) % vocabSize;
      return tf.tensor2d(ids, [b, L], 'int32');
    },
    dispose(): void {},
  };
}

/** A [2, 16] mask with 3 masked patches in sample 0 and 5 in sample 1. */
function fixedMask(): tf.Tensor2D {
  const m = new Array(32).fill(0);
  for (const i of [1, 6, 11, 16 + 0, 16 + 3, 16 + 8, 16 + 9, 16 + 15]) m[i] = 1;
  return tf.tensor2d(m, [2, 16], 'bool' as 'float32');
}

describe('BEiT', () => {
  it('reproduces the beit_mim conformance case (logits at masked patches, loss)', async () => {
    const before = tf.memory().numTensors;
    await checkKind('beit_mim', beitKind);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("names every weight as BEiT's state_dict", () => {
    const c = loadCase('beit_mim');
    // The names depend on the depth and the options, not on the sizes.
    const model = new BEiT({ ...SMALL, depth: c.config.depth as number, vocabSize: c.config.vocab_size as number });
    const params = c.params();
    expect([...model.namedWeights().keys()].sort()).toEqual([...params.keys()].sort());
    expect(model.namedLayouts().get('lm_head.weight')).toEqual({ kind: 'linear' });
    tf.dispose([...params.values()]);
    model.dispose();
  });

  it('logits are the lm_head of the masked tokens in row-major (sample, patch) order; labels from [M], [B, L] or a tokenizer agree', () => {
    const model = new BEiT(SMALL);
    const x = uniformTensor([2, 16, 16, 3], 2);
    const mask = fixedMask();
    const rows = [1, 6, 11, 16, 19, 24, 25, 31];
    const tok = stubTokenizer(V);
    const map = tok.tokenize(x as tf.Tensor4D);
    const mapData = map.dataSync();
    const picked = tf.tensor1d(rows.map((r) => mapData[r]!), 'int32');
    const a = model.forward(x, mask, picked);
    const b = model.forward(x, mask, map);
    const c = model.forward(x, mask, tok);
    const d = model.forward(x, mask, { tokenizer: tok, images: x });
    expect(a.logits.shape).toEqual([8, V]);
    for (const o of [b, c, d]) {
      expect(o.loss.dataSync()[0]).toBe(a.loss.dataSync()[0]);
      expect(Array.from(o.labels.dataSync())).toEqual(Array.from(picked.dataSync()));
    }
    // Row k of the logits is lm_head(token rows[k]) of the encoder output.
    const tokens = model.forwardEncoder(x, mask);
    const flat = tf.reshape(tokens, [32, 32]);
    const want = model.lmHead.forward(tf.gather(flat, tf.tensor1d(rows, 'int32')));
    expectClose(a.logits, want, 1e-5, 1e-4);
    // The loss is the mean cross-entropy of those rows, computed here by hand.
    const lg = a.logits.arraySync() as number[][];
    const lb = Array.from(picked.dataSync());
    let ce = 0;
    lg.forEach((row, k) => {
      const mx = Math.max(...row);
      const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
      ce += lse - row[lb[k]!]!;
    });
    expect(a.loss.dataSync()[0]!).toBeCloseTo(ce / 8, 5);
    tf.dispose([x, mask, map, picked, a, b, c, d, tokens, flat, want]);
    model.dispose();
  });

  it('works with BlockwiseMasker masks (different counts per sample), a [B, h, w] mask, 1 channel, non-square', () => {
    const model = new BEiT({ ...SMALL, imgSize: [8, 16], inChans: 1 });
    const x = uniformTensor([3, 8, 16, 1], 3);
    const masker = new BlockwiseMasker({ height: 2, width: 4, numMaskingPatches: 3, minNumPatches: 1 });
    const m = masker.mask(3, 11);
    const M = m.counts.reduce((s, v) => s + v, 0);
    const labels = tf.tensor1d(Array.from({ length: M }, (_, i) => i % V), 'int32');
    const out = model.forward(x, m.mask, labels);
    expect(out.logits.shape).toEqual([M, V]);
    const grid = tf.reshape(m.mask, [3, 2, 4]);
    const out2 = model.forward(x, grid, labels);
    expect(out2.loss.dataSync()[0]).toBe(out.loss.dataSync()[0]);
    tf.dispose([x, m.mask, labels, out, grid, out2]);
    model.dispose();
  });

  it('every trainable variable gets a non-zero gradient (mask token, gammas, q/v bias, lm_head)', () => {
    const model = new BEiT(SMALL);
    const x = uniformTensor([2, 16, 16, 3], 4);
    const mask = fixedMask();
    const tok = stubTokenizer(V);
    const names = expectEveryGradient(model, () => model.forward(x, mask, tok).loss);
    for (const k of ['mask_token', 'cls_token', 'pos_embed', 'blocks.1.gamma_2', 'blocks.0.attn.q_bias', 'lm_head.weight']) {
      expect(names).toContain(k);
    }
    tf.dispose([x, mask]);
    model.dispose();
  });

  it('trains with AdamW: tensor count flat, loss decreases on a fixed batch, mask and labels', () => {
    const model = new BEiT(SMALL);
    const x = uniformTensor([2, 16, 16, 3], 5);
    const mask = fixedMask();
    const labels = tf.tensor1d([3, 7, 1, 0, 9, 3, 22, 5], 'int32');
    const before = tf.memory().numTensors;
    const { losses, counts } = train(model, () => model.forward(x, mask, labels, { training: true }).loss, 20, 3e-3);
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[0]!).toBeGreaterThan(0.8 * Math.log(V));
    expect(losses[19]!).toBeLessThan(0.5 * losses[0]!);
    tf.dispose([x, mask, labels]);
    model.dispose();
  });

  it('is deterministic and initialises as BEiT', () => {
    const a = new BEiT(SMALL);
    const b = new BEiT(SMALL);
    expectSameWeights(a, b);
    const x = uniformTensor([2, 16, 16, 3], 6);
    const mask = fixedMask();
    const tok = stubTokenizer(V);
    const la = a.forward(x, mask, tok);
    const lb = b.forward(x, mask, tok);
    expect(la.loss.dataSync()[0]).toBe(lb.loss.dataSync()[0]);
    const w = a.namedWeights();
    expect(Array.from(w.get('blocks.0.attn.q_bias')!.read().dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(w.get('lm_head.bias')!.read().dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(w.get('patch_embed.proj.bias')!.read().dataSync()).every((v) => v === 0)).toBe(true);
    const max = Math.max(...Array.from(w.get('mask_token')!.read().dataSync()).map(Math.abs));
    expect(max).toBeLessThanOrEqual(0.04); // truncated normal, std 0.02
    expect(max).toBeGreaterThan(0.01);
    tf.dispose([x, mask, la, lb]);
    a.dispose();
    b.dispose();
  });

  it('rejects bad input before any tensor work, naming the parameter, the value and what was expected', () => {
    const model = new BEiT(SMALL);
    const x = uniformTensor([2, 16, 16, 3], 1);
    const gray = uniformTensor([2, 16, 16, 1], 1);
    const mask = fixedMask();
    const none = tf.zeros([2, 16]);
    const two = tf.fill([2, 16], 2);
    const wrongShape = tf.zeros([2, 15]);
    const seven = tf.tensor1d([0, 1, 2, 3, 4, 5, 6], 'int32');
    const outside = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, V], 'int32');
    const negative = tf.tensor1d([0, 1, -1, 3, 4, 5, 6, 7], 'int32');
    const floats = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'float32');
    const labels = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
    const tok = stubTokenizer(V + 1);
    expectThrowsEarly(() => model.forward(x, mask, tok), /BEiT: tokenizer.vocabSize 25 does not match the lm_head's vocabSize 24/);
    expect(tok.calls).toBe(0);
    expectThrowsEarly(() => model.forward(x, mask, seven), /labels has 7 entries, expected one per masked patch: 8 \(the 1s of boolMaskedPos\)/);
    expectThrowsEarly(() => model.forward(x, mask, outside), /label 24 \(masked patch 7, flat position 31\) is outside \[0, vocabSize=24\)/);
    expectThrowsEarly(() => model.forward(x, mask, negative), /label -1 \(masked patch 2, flat position 11\) is outside \[0, vocabSize=24\)/);
    expectThrowsEarly(() => model.forward(x, mask, floats), /labels must be int32 token ids, got dtype float32/);
    expectThrowsEarly(() => model.forward(x, none, labels), /boolMaskedPos masks no patch/);
    expectThrowsEarly(() => model.forward(x, two, labels), /boolMaskedPos must hold only 0 and 1 \(1 = masked\), got 2 at flat index 0/);
    expectThrowsEarly(() => model.forward(x, wrongShape, labels), /boolMaskedPos has shape \[2,15\], expected \[B=2, L=16\] or \[B=2, 4, 4\]/);
    expectThrowsEarly(() => model.forward(gray, mask, labels), /BEiT: imgs has shape \[2,16,16,1\], expected \[B, 16, 16, 3\]/);
    const tok8 = stubTokenizer(V, 8);
    expectThrowsEarly(() => model.forward(x, mask, tok8), /tokenizer images have shape \[2,16,16,3\], expected \[B=2, 32, 32, 3\] \(the model's 4x4 patch grid at tokenizer patch size 8\)/);
    expect(() => new BEiT({ ...SMALL, vocabSize: 1 })).toThrow(/vocabSize must be an integer (>= 2|in \[2, \d+\]), got 1/);
    tf.dispose([x, gray, mask, none, two, wrongShape, seven, outside, negative, floats, labels]);
    model.dispose();
  });

  it('beit-encoder converter loads the encoder into a VisionTransformer; a checkpoint with relative position bias needs a model with it; presets', () => {
    const model = new BEiT(SMALL);
    const sd = exportWeights(model, { converter: beitConverter });
    const vit = new VisionTransformer({ imgSize: 16, patchSize: 4, embedDim: 32, depth: 2, numHeads: 4, qkvBias: 'qv', initValues: 0.1, layerScaleNaming: 'beit' });
    const report = loadWeights(vit, sd, { converter: beitEncoderConverter });
    expect(report.skipped.sort()).toEqual(['lm_head.bias', 'lm_head.weight', 'mask_token']);
    const x = uniformTensor([1, 16, 16, 3], 7);
    const none = tf.zeros([1, 16]);
    const z = model.forwardEncoder(x, none);
    const f = vit.forward(x);
    expectClose(z, tf.slice(f, [0, 1, 0], [1, 16, 32]), 1e-5, 1e-4);
    sd.set('blocks.0.attn.relative_position_index', tf.tensor2d(relativePositionIndex([4, 4]), [17, 17], 'int32'));
    sd.set('blocks.0.attn.relative_position_bias_table', tf.zeros([52, 4]));
    expect(() => loadMimWeights(model, sd, { converter: beitConverter })).toThrow(
      /the checkpoint has blocks.0.attn.relative_position_bias_table, blocks.0.attn.relative_position_index, which the model lacks\. Build the model as the checkpoint was trained: .*useRelPosBias for blocks.N.attn.relative_position_bias_table/,
    );
    // Not strict: the table is reported unexpected, the buffer skipped, the rest loads.
    const r = loadMimWeights(model, sd, { converter: beitConverter, strict: false });
    expect(r.unexpected).toEqual(['blocks.0.attn.relative_position_bias_table']);
    expect(r.skipped).toEqual(['blocks.0.attn.relative_position_index']);
    tf.dispose([...sd.values(), x, none, z, f]);
    model.dispose();
    vit.dispose();
    expect(beitBasePatch16).toMatchObject({
      embedDim: 768, depth: 12, numHeads: 12, vocabSize: 8192, initValues: 0.1, useAbsPosEmb: false, useSharedRelPosBias: true,
    });
    expect(beitLargePatch16).toMatchObject({ embedDim: 1024, depth: 24, initValues: 1e-5, useAbsPosEmb: false, useSharedRelPosBias: true });
    expect(beitTiny).toMatchObject({ imgSize: 32, patchSize: 4, vocabSize: 512 });
  });

  it("BEiT's released form (shared relative position bias, no pos_embed): names as unilm, every gradient, trains with flat memory", () => {
    const cfg: BEiTConfig = { ...SMALL, imgSize: [8, 16], useAbsPosEmb: false, useSharedRelPosBias: true };
    const model = new BEiT(cfg);
    const keys = [...model.namedWeights().keys()];
    expect(keys).toContain('rel_pos_bias.relative_position_bias_table');
    expect(keys).not.toContain('pos_embed');
    expect(keys.filter((k) => k.includes('relative'))).toEqual(['rel_pos_bias.relative_position_bias_table']);
    const table = model.namedWeights().get('rel_pos_bias.relative_position_bias_table')!;
    expect(table.shape).toEqual([3 * 7 + 3, 4]);
    expect(Array.from(table.read().dataSync()).every((v) => v === 0)).toBe(true); // upstream's zeros
    const x = uniformTensor([2, 8, 16, 3], 8);
    const mask = tf.tensor2d([[1, 0, 0, 1, 0, 1, 1, 0], [0, 1, 1, 0, 0, 0, 1, 1]], [2, 8], 'bool' as 'float32');
    const labels = tf.tensor1d([3, 7, 1, 0, 9, 3, 22, 5], 'int32');
    const names = expectEveryGradient(model, () => model.forward(x, mask, labels).loss);
    expect(names).toContain('rel_pos_bias.relative_position_bias_table');
    const before = tf.memory().numTensors;
    const { losses, counts } = train(model, () => model.forward(x, mask, labels, { training: true }).loss, 15, 3e-3);
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(losses[14]!).toBeLessThan(0.7 * losses[0]!);
    expect(Array.from(table.read().dataSync()).some((v) => v !== 0)).toBe(true); // the table trained
    // Per-block tables instead (fine-tuning form), with the absolute table: unilm's keys.
    const perBlock = new BEiT({ ...SMALL, useRelPosBias: true });
    expect([...perBlock.namedWeights().keys()].filter((k) => k.includes('relative'))).toEqual([
      'blocks.0.attn.relative_position_bias_table',
      'blocks.1.attn.relative_position_bias_table',
    ]);
    tf.dispose([x, mask, labels]);
    model.dispose();
    perBlock.dispose();
  });

  it('imports and exports a state_dict with relative position keys: I64 index buffers written, checked on import', () => {
    const cfg: BEiTConfig = { ...SMALL, imgSize: [12, 8], useAbsPosEmb: false, useSharedRelPosBias: true, useRelPosBias: true };
    const model = new BEiT(cfg);
    // Random tables, so a wrong copy would show.
    for (const [k, w] of model.namedWeights()) if (k.endsWith('relative_position_bias_table')) w.write(uniformTensor(w.shape as number[], k.length));
    const sd = exportMimWeights(model, { converter: beitConverter });
    const index = relativePositionIndex([3, 2]);
    for (const k of ['rel_pos_bias.relative_position_index', 'blocks.0.attn.relative_position_index', 'blocks.1.attn.relative_position_index']) {
      expect(sd.get(k)!.dtype).toBe('int32');
      expect(sd.get(k)!.shape).toEqual([7, 7]);
      expect(Array.from(sd.get(k)!.dataSync())).toEqual(Array.from(index));
    }
    const bytes = saveMimWeights(model, { converter: beitConverter });
    expect(parseSafetensors(bytes).info('rel_pos_bias.relative_position_index').dtype).toBe('I64');
    const other = new BEiT({ ...cfg, seed: 7 });
    for (const src of [sd, bytes]) {
      const fresh = new BEiT({ ...cfg, seed: 8 });
      const r = loadMimWeights(fresh, src, { converter: beitConverter });
      expect(r.skipped.sort()).toEqual(['blocks.0.attn.relative_position_index', 'blocks.1.attn.relative_position_index', 'rel_pos_bias.relative_position_index']);
      expectSameWeights(model, fresh);
      fresh.dispose();
    }
    // A checkpoint without the buffers loads too (upstream's fine-tuning code drops them).
    const noBuffers = new Map([...sd].filter(([k]) => !k.endsWith('relative_position_index')));
    expect(loadMimWeights(other, noBuffers, { converter: beitConverter }).loaded.length).toBe(model.namedWeights().size);
    // A buffer that does not match the model's grid: a model built for the transposed image (8x12) has the same table shapes.
    const transposed = new BEiT({ ...cfg, imgSize: [8, 12] });
    expect(() => loadMimWeights(transposed, sd, { converter: beitConverter })).toThrow(
      /'blocks.0.attn.relative_position_index' differs from the index of the model's 2x3 patch grid at \[1, 3\]: 4 in the checkpoint, 5 expected/,
    );
    const bad = new Map(sd);
    bad.set('rel_pos_bias.relative_position_index', tf.zeros([5, 5], 'int32'));
    expect(() => loadMimWeights(other, bad, { converter: beitConverter })).toThrow(
      /'rel_pos_bias.relative_position_index' has shape \[5,5\], but the model's 3x2 patch grid gives \[7, 7\]/,
    );
    tf.dispose([...sd.values(), bad.get('rel_pos_bias.relative_position_index')!]);
    for (const m of [model, other, transposed]) m.dispose();
  });
});
