import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  Attention,
  Block,
  RelativePositionBias,
  gatherRelativePositionBias,
  numRelativeDistance,
  relativePositionIndex,
} from '../../src/layers/index.js';
import { VisionTransformer } from '../../src/models/vit.js';
import { setGatherOneHotLimit } from '../../src/ops/gradients/common.js';
import { expectClose, seededNormal } from './helpers.js';

/**
 * `relative_position_index` of a 2x3 window, printed by unilm's
 * `RelativePositionBias((2, 3), num_heads).relative_position_index.tolist()`
 * (beit/modeling_finetune.py, PyTorch).
 */
const TORCH_INDEX_2x3 = [
  [17, 15, 15, 15, 15, 15, 15],
  [16, 7, 6, 5, 2, 1, 0],
  [16, 8, 7, 6, 3, 2, 1],
  [16, 9, 8, 7, 4, 3, 2],
  [16, 12, 11, 10, 7, 6, 5],
  [16, 13, 12, 11, 8, 7, 6],
  [16, 14, 13, 12, 9, 8, 7],
];

/** Table `[R, heads]` with entry `(r, h)` = `100 h + r`, so a gathered value names its row and head. */
function labelledTable(r: number, heads: number): tf.Tensor2D {
  const v: number[] = [];
  for (let i = 0; i < r; i++) for (let h = 0; h < heads; h++) v.push(100 * h + i);
  return tf.tensor2d(v, [r, heads]);
}

/** q = k = v = x and identity output projection, no biases. */
function identityAttention(dim: number, numHeads: number, relPosBias: [number, number] | null): Attention {
  const a = new Attention({ dim, numHeads, qkvBias: 'none', projBias: false, relPosBias });
  const eye = tf.eye(dim);
  a.qkv.weight.write(tf.concat([eye, eye, eye], 1));
  a.proj.weight.write(eye);
  return a;
}

describe('relative position bias (BEiT)', () => {
  it('relativePositionIndex equals PyTorch (2x3 window) and a hand rule on a 3x2 window', () => {
    expect(numRelativeDistance([2, 3])).toBe(3 * 5 + 3);
    expect(Array.from(relativePositionIndex([2, 3]))).toEqual(TORCH_INDEX_2x3.flat());
    // 3x2 (rows != cols, the transpose of the window above): patch n at (n // 2, n % 2).
    const idx = relativePositionIndex([3, 2]);
    const R = numRelativeDistance([3, 2]); // 5 * 3 + 3 = 18
    expect(idx.length).toBe(49);
    for (let i = 0; i < 7; i++) {
      for (let j = 0; j < 7; j++) {
        let want: number;
        if (i === 0 && j === 0) want = R - 1;
        else if (j === 0) want = R - 2;
        else if (i === 0) want = R - 3;
        else {
          const [ri, ci, rj, cj] = [Math.floor((i - 1) / 2), (i - 1) % 2, Math.floor((j - 1) / 2), (j - 1) % 2];
          want = (ri - rj + 2) * 3 + (ci - cj + 1);
        }
        expect(idx[i * 7 + j], `[${i}, ${j}]`).toBe(want);
      }
    }
    // Every offset row of the table is used, each entry is in range.
    expect(new Set(idx).size).toBe(R);
    expect(() => relativePositionIndex([0, 3])).toThrow(/windowSize must hold positive integers, got \[0,3\]/);
  });

  it('RelativePositionBias: table [R, heads] named as BEiT, zeros at first, forward = table[index] as [heads, T, T]; no leaks', () => {
    const rpb = new RelativePositionBias({ windowSize: [2, 3], numHeads: 2 });
    expect([...rpb.namedWeights().keys()]).toEqual(['relative_position_bias_table']);
    expect(rpb.table.shape).toEqual([18, 2]);
    expect(rpb.table.trainable).toBe(true);
    expect(Array.from(rpb.table.read().dataSync()).every((v) => v === 0)).toBe(true);
    rpb.table.write(labelledTable(18, 2));
    const before = tf.memory().numTensors;
    const bias = rpb.forward();
    expect(bias.shape).toEqual([2, 7, 7]);
    const b = bias.arraySync();
    for (let h = 0; h < 2; h++) for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) {
      expect(b[h]![i]![j]).toBe(100 * h + TORCH_INDEX_2x3[i]![j]!);
    }
    bias.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(rpb.getConfig()).toMatchObject({ windowSize: [2, 3], numHeads: 2 });
    expect(() => new RelativePositionBias({ windowSize: [2, 3], numHeads: 0 })).toThrow(/numHeads must be an integer in \[1, 1024\], got 0/);
    expect(() => new RelativePositionBias({ windowSize: 2.5, numHeads: 2 })).toThrow(/windowSize must be an integer in \[1, 1024\] or \[height, width\] of such, got 2.5/);
    rpb.dispose();
  });

  it('Attention adds its own table and an external bias to the logits: zero input gives softmax(bias) rows (hand example)', () => {
    // x = 0 -> q = k = 0 -> logits are the bias alone.
    const a = identityAttention(4, 2, [1, 2]);
    expect([...a.namedWeights().keys()].sort()).toEqual(['proj.weight', 'qkv.weight', 'relative_position_bias_table']);
    const R = numRelativeDistance([1, 2]); // 1 * 3 + 3 = 6
    const table = labelledTable(R, 2);
    a.relativePositionBiasTable!.write(tf.div(table, 100));
    const x = tf.zeros([1, 3, 4]);
    const idx = relativePositionIndex([1, 2]);
    const softmaxRow = (row: number[]) => {
      const e = row.map(Math.exp);
      const s = e.reduce((p, q) => p + q, 0);
      return e.map((v) => v / s);
    };
    const want: number[] = [];
    for (let h = 0; h < 2; h++) for (let i = 0; i < 3; i++) {
      want.push(...softmaxRow([0, 1, 2].map((j) => (100 * h + idx[i * 3 + j]!) / 100)));
    }
    const own = a.forward(x, { returnAttention: true });
    expectClose(own.attn!, want, 1e-6, 1e-5);
    // An external bias is added on top: adding the same bias again doubles the logits.
    const ext = gatherRelativePositionBias(a.relativePositionBiasTable!.read(), idx);
    const both = a.forward(x, { returnAttention: true, relPosBias: ext });
    const want2: number[] = [];
    for (let h = 0; h < 2; h++) for (let i = 0; i < 3; i++) {
      want2.push(...softmaxRow([0, 1, 2].map((j) => (2 * (100 * h + idx[i * 3 + j]!)) / 100)));
    }
    expectClose(both.attn!, want2, 1e-6, 1e-5);
    tf.dispose([table, x, own.out, own.attn!, ext, both.out, both.attn!]);
    a.dispose();
  });

  it('own table == the same bias passed from outside == no bias when the table is zero', () => {
    const withTable = new Attention({ dim: 8, numHeads: 2, qkvBias: 'qv', relPosBias: [2, 2], seed: 3 });
    const plain = new Attention({ dim: 8, numHeads: 2, qkvBias: 'qv', seed: 3 });
    for (const [k, w] of plain.namedWeights()) w.write(withTable.namedWeights().get(k)!.read());
    const x = seededNormal([2, 5, 8], 1);
    const zero = withTable.forward(x, { returnAttention: true });
    const ref = plain.forward(x, { returnAttention: true });
    expectClose(zero.attn!, ref.attn!, 1e-6, 1e-5); // zeros at first: no effect
    withTable.relativePositionBiasTable!.write(seededNormal([numRelativeDistance([2, 2]), 2], 2));
    const bias = gatherRelativePositionBias(withTable.relativePositionBiasTable!.read(), withTable.relativePositionIndex!);
    const a = withTable.forward(x, { returnAttention: true });
    const b = plain.forward(x, { returnAttention: true, relPosBias: bias });
    expectClose(a.out, b.out, 1e-6, 1e-5);
    expectClose(a.attn!, b.attn!, 1e-6, 1e-5);
    const diff = tf.max(tf.abs(tf.sub(a.attn!, ref.attn!))).dataSync()[0]!;
    expect(diff).toBeGreaterThan(1e-3);
    tf.dispose([x, zero.out, zero.attn!, ref.out, ref.attn!, bias, a.out, a.attn!, b.out, b.attn!]);
    withTable.dispose();
    plain.dispose();
  });

  it(`gradients reach the table: equal to the external bias's gradient summed by index (${tf.getBackend()}); memory flat`, () => {
    const attn = new Attention({ dim: 6, numHeads: 3, qkvBias: 'qv', relPosBias: [2, 3], seed: 4 });
    const R = numRelativeDistance([2, 3]);
    attn.relativePositionBiasTable!.write(seededNormal([R, 3], 5));
    const x = seededNormal([2, 7, 6], 6);
    const w = seededNormal([2, 7, 6], 7);
    const table = attn.relativePositionBiasTable!.read() as tf.Variable;
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(attn.forward(x).out, w)) as tf.Scalar, [table]);
    const g = grads[table.name]!;
    expect(g.shape).toEqual([R, 3]);
    tf.dispose([value, g]);
    expect(tf.memory().numTensors).toBe(before);
    // The same function of an external bias E (no table): d/dE, then summed over the entries that read each table row.
    const plain = new Attention({ dim: 6, numHeads: 3, qkvBias: 'qv', seed: 4 });
    for (const [k, v] of plain.namedWeights()) v.write(attn.namedWeights().get(k)!.read());
    const bias = gatherRelativePositionBias(table, attn.relativePositionIndex!);
    const dE = tf.grad((e: tf.Tensor) => tf.sum(tf.mul(plain.forward(x, { relPosBias: e }).out, w)))(bias).arraySync() as number[][][];
    const want = new Float64Array(R * 3);
    const idx = attn.relativePositionIndex!;
    for (let h = 0; h < 3; h++) for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) want[idx[i * 7 + j]! * 3 + h]! += dE[h]![i]![j]!;
    // Both forms of the library's gather gradient: one-hot product (small tables) and ScatterNd (large ones).
    for (const limit of [1 << 16, 0]) {
      const old = setGatherOneHotLimit(limit);
      try {
        const got = tf.variableGrads(() => tf.sum(tf.mul(attn.forward(x).out, w)) as tf.Scalar, [table]);
        expectClose(got.grads[table.name]!, want, 1e-6, 1e-4);
        expect(Array.from(got.grads[table.name]!.dataSync()).every((v) => v !== 0)).toBe(true); // every row is used
        tf.dispose([got.value, got.grads[table.name]!]);
      } finally {
        setGatherOneHotLimit(old);
      }
    }
    tf.dispose([x, w, bias]);
    attn.dispose();
    plain.dispose();
  });

  it('Block passes the shared bias to its attention; a VisionTransformer with a shared bias trains it (gradient on every backend)', () => {
    const blk = new Block({ dim: 8, numHeads: 2, relPosBias: [2, 2], seed: 1 });
    expect([...blk.namedWeights().keys()]).toContain('attn.relative_position_bias_table');
    expect(blk.config.relPosBias).toEqual([2, 2]);
    blk.dispose();
    const vit = new VisionTransformer({
      imgSize: [8, 12], patchSize: 4, embedDim: 8, depth: 2, numHeads: 2, posEmbed: 'none', useSharedRelPosBias: true, useRelPosBias: true, seed: 2,
    });
    const keys = [...vit.namedWeights().keys()];
    expect(keys).toContain('rel_pos_bias.relative_position_bias_table');
    expect(keys).toContain('blocks.1.attn.relative_position_bias_table');
    expect(keys).not.toContain('pos_embed');
    expect(vit.relPosBias!.table.shape).toEqual([numRelativeDistance([2, 3]), 2]);
    const imgs = seededNormal([2, 8, 12, 3], 3);
    const tables = [vit.relPosBias!.table, vit.blocks[0]!.attn.relativePositionBiasTable!].map((t) => t.read() as tf.Variable);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(vit.forward(imgs))) as tf.Scalar, tables);
    for (const t of tables) {
      const g = grads[t.name]!.dataSync();
      expect(g.some((v) => v !== 0) && g.every(Number.isFinite)).toBe(true);
    }
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    // Attention maps include the bias: a large class-to-class entry pulls the class token's attention onto itself.
    const R = numRelativeDistance([2, 3]);
    vit.relPosBias!.table.write(tf.concat([tf.zeros([R - 1, 2]), tf.fill([1, 2], 50)]));
    const f = vit.forwardFeatures(imgs, { returnAttention: true });
    expect(f.attentions![0]!.arraySync()[0]![1]![0]![0]).toBeGreaterThan(0.99);
    tf.dispose([imgs, f.tokens, ...f.attentions!]);
    vit.dispose();
  });

  it('an option that is off costs nothing: no weights, identical outputs', () => {
    const base = { imgSize: 8, patchSize: 4, embedDim: 8, depth: 1, numHeads: 2, seed: 5 };
    const off = new VisionTransformer(base);
    const explicit = new VisionTransformer({ ...base, useRelPosBias: false, useSharedRelPosBias: false });
    expect([...off.namedWeights().keys()].some((k) => /relative|rel_pos/.test(k))).toBe(false);
    expect(off.relPosBias).toBeNull();
    expect(off.blocks[0]!.attn.relativePositionBiasTable).toBeNull();
    const x = seededNormal([1, 8, 8, 3], 1);
    const a = off.forward(x);
    const b = explicit.forward(x);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([x, a, b]);
    off.dispose();
    explicit.dispose();
  });

  it('rejects bad input before any tensor work, naming the parameter, the value and what was expected', () => {
    const a = new Attention({ dim: 8, numHeads: 2, relPosBias: [2, 2] });
    const five = tf.zeros([1, 5, 8]);
    const four = tf.zeros([1, 4, 8]);
    const wrong = tf.zeros([2, 4, 5]);
    const blk = new Block({ dim: 8, numHeads: 2 });
    const vit = new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 1, numHeads: 2, useSharedRelPosBias: true });
    const before = tf.memory().numTensors;
    expect(() => a.forward(four)).toThrow(/x has 4 tokens, but the relative position bias of this layer \(relPosBias 2x2\) needs the class token and 4 patches: 5 tokens/);
    expect(() => a.forward(five, { relPosBias: wrong })).toThrow(/options.relPosBias must be a tensor \[heads=2, N=5, N=5\], got shape \[2,4,5\]/);
    expect(() => blk.forward(five, { relPosBias: wrong })).toThrow(/options.relPosBias must be a tensor \[heads=2, N=5, N=5\], got shape \[2,4,5\]/);
    expect(() => new Attention({ dim: 8, numHeads: 2, relPosBias: [2, 0] })).toThrow(/Attention: relPosBias must hold positive integers, got \[2,0\]/);
    expect(() => vit.forwardTokens(four)).toThrow(/got 4 tokens, but the relative position bias needs the class token and all 4 patches of the 2x2 grid \(T = 5\)/);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 1, numHeads: 2, classToken: false, useRelPosBias: true })).toThrow(
      /useRelPosBias needs the class token .* but classToken is false/,
    );
    expect(() => new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 1, numHeads: 2, useSharedRelPosBias: 1 as unknown as boolean })).toThrow(
      /useSharedRelPosBias must be a boolean, got 1/,
    );
    tf.dispose([five, four, wrong]);
    a.dispose();
    blk.dispose();
    vit.dispose();
  });
});
