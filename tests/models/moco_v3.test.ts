import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MoCoV3, mocoV3VitBase, mocoV3VitSmall, type MoCoV3Config } from '../../src/models/moco_v3.js';
import { VisionTransformer } from '../../src/models/vit.js';
import { sincosPosEmbed2dData } from '../../src/layers/pos_embed.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { loadWeights } from '../../src/io/state_dict.js';
import {
  exportWeightsWithBatchNorm, loadWeightsWithBatchNorm, mocoV3Converter, mocoV3EncoderConverter, saveWeightsWithBatchNorm,
} from '../../src/io/converters_ssl.js';
import { runConformance } from '../conformance/runner.js';
import { run as mocoKind } from '../conformance/kinds/moco_v3_model.js';
import { CONFORMANCE_DIR, checkKind, expectClose } from '../layers/helpers.js';
import { expectEveryGradient, expectSameWeights, expectThrowsEarly, train, uniformTensor } from './helpers.js';

const SMALL: MoCoV3Config = {
  imgSize: 8, patchSize: 4, inChans: 1, embedDim: 16, depth: 1, numHeads: 2, dim: 8, mlpDim: 16, seed: 7,
};
const CASES = fileURLToPath(new URL('../conformance/cases/', import.meta.url));

const views = (n: number, seed: number): [tf.Tensor4D, tf.Tensor4D] => [
  uniformTensor([n, 8, 8, 1], seed) as tf.Tensor4D,
  uniformTensor([n, 8, 8, 1], seed + 1) as tf.Tensor4D,
];
const values = (m: Map<string, { read(): tf.Tensor }>) => new Map([...m].map(([k, w]) => [k, Array.from(w.read().dataSync())]));

describe('MoCoV3', () => {
  it.skipIf(!existsSync(`${CONFORMANCE_DIR}/moco_v3_model.safetensors`))('reproduces the shared moco_v3_model case', async () => {
    const before = tf.memory().numTensors;
    await checkKind('moco_v3_model', mocoKind);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('passes the in-repo cases from upstream moco-v3 (momentum 0.5/0.9/1, copy and random init, depths 1-3, grey, other head depths)', async () => {
    const before = tf.memory().numTensors;
    const run = await runConformance(CASES);
    const moco = run.results.filter((r) => r.kind === 'moco_v3_model');
    expect(moco.map((r) => r.name)).toEqual(['moco_v3_copy_m05_depth1', 'moco_v3_gray_patch2_m1', 'moco_v3_random_depth3']);
    expect(moco.filter((r) => !r.passed).map((r) => r.line)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("has moco-v3's state_dict names, the row-first sincos table, and a momentum encoder that is never trainable", () => {
    const m = new MoCoV3(SMALL);
    const keys = [...m.namedWeights().keys()];
    expect(keys.filter((k) => k.startsWith('base_encoder.head.')).length).toBe(13); // 3 Linears, 2 BN x4, last BN x2
    expect(keys).toContain('momentum_encoder.head.7.running_var');
    expect(keys).toContain('predictor.4.running_mean');
    expect(keys).not.toContain('predictor.4.weight');
    const pe = m.baseEncoder.vit.posEmbed!;
    expect(pe.trainable).toBe(false);
    expectClose(pe.read(), sincosPosEmbed2dData(16, 2, 1, true), 1e-7, 0);
    // row first: token 1 (row 0, col 1) has the same first half as token 0 (row 0, col 0).
    const t = pe.read().dataSync();
    expect(Array.from(t.slice(16 + 0, 16 + 8))).toEqual(Array.from(t.slice(32, 32 + 8)));
    const trainable = [...m.namedWeights()].filter(([, w]) => w.trainable).map(([k]) => k);
    expect(trainable.some((k) => k.startsWith('momentum_encoder.'))).toBe(false);
    expect(trainable.some((k) => k.startsWith('base_encoder.patch_embed.'))).toBe(false); // stopGradConv1 default
    expect(trainable.some((k) => /running_/.test(k))).toBe(false);
    expect(mocoV3VitSmall).toMatchObject({ embedDim: 384, numHeads: 12, dim: 256, mlpDim: 4096, T: 0.2, momentum: 0.99 });
    expect(mocoV3VitBase).toMatchObject({ embedDim: 768, numHeads: 12 });
    m.dispose();
  });

  it("momentumInit 'copy' starts equal; the momentum update averages parameters, not the BatchNorm buffers", () => {
    const m = new MoCoV3({ ...SMALL, momentumInit: 'copy' });
    const base = m.baseEncoder.namedWeights();
    const mom = m.momentumEncoder.namedWeights();
    for (const [k, w] of base) if (!/running_/.test(k)) expect(Array.from(mom.get(k)!.read().dataSync()), k).toEqual(Array.from(w.read().dataSync()));
    const r = new MoCoV3({ ...SMALL, momentumInit: 'random' });
    expect(Array.from(r.momentumEncoder.namedWeights().get('blocks.0.attn.qkv.weight')!.read().dataSync()))
      .not.toEqual(Array.from(r.baseEncoder.namedWeights().get('blocks.0.attn.qkv.weight')!.read().dataSync()));
    // Make every base value differ from the momentum one, then update with m = 0.25.
    for (const w of r.momentumEncoder.namedWeights().values()) w.write(tf.tidy(() => tf.add(w.read(), 0.5)));
    const b0 = values(r.baseEncoder.namedWeights());
    const m0 = values(r.momentumEncoder.namedWeights());
    const before = tf.memory().numTensors;
    r.updateMomentumEncoder(0.25);
    expect(tf.memory().numTensors).toBe(before);
    for (const [k, w] of r.momentumEncoder.namedWeights()) {
      const got = Array.from(w.read().dataSync());
      const want = /running_/.test(k) ? m0.get(k)! : m0.get(k)!.map((v, i) => 0.25 * v + 0.75 * b0.get(k)![i]!);
      expectClose(got, want, 1e-6, 1e-6);
    }
    const m1 = values(r.momentumEncoder.namedWeights());
    const [v1, v2] = views(3, 1);
    tf.dispose(tf.tidy(() => Object.values(r.forward(v1, v2, 1)))); // m = 1 leaves parameters unchanged
    expectClose(r.momentumEncoder.namedWeights().get('norm.weight')!.read(), m1.get('norm.weight')!, 0, 0);
    tf.dispose([v1, v2]);
    expect(r.momentumAt(0, 10)).toBeCloseTo(0.99, 12);
    expect(r.momentumAt(10, 10)).toBe(1);
    expect(r.momentumAt(5, 10)).toBeCloseTo(0.995, 12);
    m.dispose();
    r.dispose();
  });

  it('gradients reach the base encoder and predictor only (not the momentum encoder, not a frozen patch projection)', () => {
    const [x1, x2] = views(3, 4);
    const frozen = new MoCoV3(SMALL);
    const names = expectEveryGradient(frozen, () => frozen.forward(x1, x2, 0.99).loss);
    expect(names.some((k) => k.startsWith('momentum_encoder.') || k.startsWith('base_encoder.patch_embed.'))).toBe(false);
    expect(names).toContain('predictor.0.weight');
    expect(names).toContain('base_encoder.cls_token');
    const free = new MoCoV3({ ...SMALL, stopGradConv1: false });
    const names2 = expectEveryGradient(free, () => free.forward(x1, x2, 0.99).loss);
    expect(names2).toContain('base_encoder.patch_embed.proj.weight');
    tf.dispose([x1, x2]);
    frozen.dispose();
    free.dispose();
  });

  it('trains a few steps with a flat tensor count; the frozen patch projection never moves; eval changes no buffer', () => {
    const m = new MoCoV3(SMALL);
    const [x1, x2] = views(4, 9);
    const pe = Array.from(m.baseEncoder.vit.patchEmbed.weight.read().dataSync());
    let step = 0;
    const { losses, counts } = train(m, () => m.forward(x1, x2, m.momentumAt(step++, 4)).loss, 4, 1e-3);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(new Set(counts).size).toBe(1);
    expect(Array.from(m.baseEncoder.vit.patchEmbed.weight.read().dataSync())).toEqual(pe);
    expect(m.predictor.layers.find((l) => typeof l !== 'string' && 'numBatchesTracked' in l)).toMatchObject({ numBatchesTracked: 8 });
    const rm = values(m.namedWeights());
    const before = tf.memory().numTensors;
    tf.dispose(tf.tidy(() => Object.values(m.forward(x1, x2, 1, { training: false }))));
    expect(tf.memory().numTensors).toBe(before);
    for (const [k, v] of values(m.namedWeights())) expect(v, k).toEqual(rm.get(k));
    tf.dispose([x1, x2]);
    m.dispose();
  });

  it('saves and loads its whole state_dict (num_batches_tracked as I64), and its base encoder into a ViT', () => {
    const a = new MoCoV3({ ...SMALL, momentumInit: 'random' });
    const [x1, x2] = views(3, 2);
    tf.dispose(tf.tidy(() => Object.values(a.forward(x1, x2, 0.9))));
    const bytes = saveWeightsWithBatchNorm(a, { converter: mocoV3Converter });
    const file = parseSafetensors(bytes);
    expect(file.info('base_encoder.head.1.num_batches_tracked')).toMatchObject({ dtype: 'I64', shape: [] });
    expect(file.int32('predictor.1.num_batches_tracked')[0]).toBe(2);
    expect(file.info('base_encoder.head.0.weight').shape).toEqual([16, 16]);
    const b = new MoCoV3({ ...SMALL, seed: 99 });
    loadWeightsWithBatchNorm(b, bytes, { converter: mocoV3Converter });
    expectSameWeights(a, b);
    expect(b.predictor.layers.filter((l) => typeof l !== 'string' && 'numBatchesTracked' in l).map((l) => (l as { numBatchesTracked: number }).numBatchesTracked)).toEqual([2, 2]);
    // strict: a missing counter is an error, and nothing is written
    const exported = exportWeightsWithBatchNorm(a, { converter: mocoV3Converter });
    exported.get('predictor.4.num_batches_tracked')!.dispose();
    exported.delete('predictor.4.num_batches_tracked');
    const c = new MoCoV3({ ...SMALL, seed: 5 });
    const cBefore = values(c.namedWeights());
    expect(() => loadWeightsWithBatchNorm(c, exported, { converter: mocoV3Converter })).toThrow(/missing key 'predictor.4.num_batches_tracked'/);
    expect(values(c.namedWeights())).toEqual(cBefore);
    tf.dispose([...exported.values()]);
    const vit = new VisionTransformer({ imgSize: 8, patchSize: 4, inChans: 1, embedDim: 16, depth: 1, numHeads: 2, posEmbed: 'sincosRowFirst' });
    loadWeights(vit, file, { converter: mocoV3EncoderConverter, prefix: 'base_encoder.' });
    expectClose(vit.namedWeights().get('blocks.0.attn.qkv.weight')!.read(), a.baseEncoder.vit.blocks[0]!.attn.qkv.weight.read(), 0, 0);
    tf.dispose([x1, x2]);
    [a, b, c, vit].forEach((m) => m.dispose());
  });

  it('bad input throws before any tensor work, naming the parameter and value', () => {
    expect(() => new MoCoV3({ ...SMALL, T: 0 })).toThrow(/T \(temperature\) must be a finite number > 0, got 0/);
    expect(() => new MoCoV3({ ...SMALL, T: -1 })).toThrow(/got -1/);
    expect(() => new MoCoV3({ ...SMALL, momentum: 1.2 })).toThrow(/momentum \(momentum\) must be a number in \[0, 1\], got 1.2/);
    expect(() => new MoCoV3({ ...SMALL, momentumInit: 'zeros' as never })).toThrow(/momentumInit must be 'copy' or 'random', got 'zeros'/);
    const m = new MoCoV3(SMALL);
    const [x1, x2] = views(3, 1);
    const short = uniformTensor([2, 8, 8, 1], 3);
    const one = uniformTensor([1, 8, 8, 1], 3);
    const rgb = uniformTensor([3, 8, 8, 3], 3);
    expectThrowsEarly(() => m.forward(x1, short, 0.99), /x1 and x2 must be two views of the same batch, got 3 and 2 images/);
    expectThrowsEarly(() => m.forward(x1, x2, 1.5), /m \(momentum\) must be a number in \[0, 1\], got 1.5/);
    expectThrowsEarly(() => m.forward(x1, x2, -0.1), /got -0.1/);
    expectThrowsEarly(() => m.forward(x1, rgb, 0.9), /x2 must be \[N, 8, 8, 1\] \(NHWC\), got shape \[3,8,8,3\]/);
    expectThrowsEarly(() => m.forward(one, one, 0.9), /at least 2 images per view/);
    expectThrowsEarly(() => m.updateMomentumEncoder(Number.NaN), /got NaN/);
    expectThrowsEarly(() => m.momentumAt(11, 10), /step must be in \[0, total=10\], got 11/);
    tf.dispose([x1, x2, short, one, rgb]);
    m.dispose();
  });
});
