import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  AdamW,
  DINO,
  VisionTransformer,
  dinoBackboneConverter,
  dinoCheckpointConverter,
  dinoConverter,
  dinoVitBasePatch16,
  dinoVitBasePatch8,
  resolveDinoConfig,
  dinoVitSmallPatch16,
  exportWeights,
  loadWeights,
  trainStep,
  type DINOConfig,
} from '../../src/index.js';

const TINY: DINOConfig = {
  imgSize: 16, patchSize: 8, inChans: 1, embedDim: 16, depth: 1, numHeads: 2,
  outDim: 32, headLayers: 2, headHiddenDim: 24, headBottleneckDim: 8,
  localCropsNumber: 2, epochs: 4, warmupTeacherTempEpochs: 2, dropPathRate: 0.1, seed: 5,
};

/** 2 global 16 px crops and 2 local 8 px crops of `b` random grey images. */
function crops(b: number, seed = 1): tf.Tensor4D[] {
  return [16, 16, 8, 8].map((s, i) => tf.randomUniform([b, s, s, 1], 0, 1, 'float32', seed * 10 + i) as tf.Tensor4D);
}

/** max |a - b| as a number (no tensor left behind). */
const maxDiff = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

const values = (m: Map<string, tf.Variable>): Map<string, Float32Array> =>
  new Map([...m].map(([k, v]) => [k, Float32Array.from(v.dataSync())]));

describe('DINO', () => {
  it('config defaults are the paper\'s; presets are dino\'s ViT-S/16 and ViT-B/16', () => {
    expect(resolveDinoConfig()).toEqual({
      imgSize: [224, 224], patchSize: 16, inChans: 3, embedDim: 384, depth: 12, numHeads: 6, mlpRatio: 4, qkvBias: 'qkv', normEps: 1e-6,
      dropPathRate: 0.1, outDim: 65536, headLayers: 3, headHiddenDim: 2048, headBottleneckDim: 256, normLastLayer: true,
      localCropsNumber: 8, epochs: 100, warmupTeacherTemp: 0.04, teacherTemp: 0.07, warmupTeacherTempEpochs: 30, studentTemp: 0.1,
      centerMomentum: 0.9, momentumTeacher: 0.996, freezeLastLayer: 1, seed: 0, checkpointing: 'auto',
    });
    const d = new DINO({ ...TINY, localCropsNumber: undefined, epochs: undefined, warmupTeacherTempEpochs: undefined });
    expect(d.ncrops).toBe(10);
    expect(d.dinoLoss.teacherTempAt(0)).toBeCloseTo(0.04, 10);
    expect(d.dinoLoss.teacherTempAt(29)).toBeCloseTo(0.07, 10);
    expect(d.dinoLoss.teacherTempAt(99)).toBeCloseTo(0.07, 10);
    expect(d.teacherMomentum(0, 100)).toBeCloseTo(0.996, 10);
    expect(d.teacherMomentum(100, 100)).toBe(1);
    expect(d.student.backbone.config.posEmbedResize).toEqual({ mode: 'bicubic', antialias: false, scaleOffset: 0.1 });
    expect(d.student.backbone.config.dropPathRate).toBe(0.1);
    expect(d.teacher.backbone.config.dropPathRate).toBe(0);
    d.dispose();
    expect(dinoVitSmallPatch16).toMatchObject({ patchSize: 16, embedDim: 384, depth: 12, numHeads: 6 });
    expect(dinoVitBasePatch16).toMatchObject({ patchSize: 16, embedDim: 768, depth: 12, numHeads: 12 });
    expect(resolveDinoConfig(dinoVitBasePatch8)).toMatchObject({ patchSize: 8, embedDim: 768, outDim: 65536 });
  });

  it('shapes: student on all crops, teacher on the global ones, features at any multiple of the patch', () => {
    const before = tf.memory().numTensors;
    const d = new DINO(TINY);
    const x = crops(3);
    const s = d.forwardCrops(x);
    expect(s.shape).toEqual([12, 32]);
    const t = d.forwardTeacher(x.slice(0, 2));
    expect(t.shape).toEqual([6, 32]);
    const e = d.encode(x[2]!);
    expect(e.shape).toEqual([3, 16]);
    const z = tf.zeros([2, 24, 32, 1]);
    const f = d.forwardFeatures(z, { network: 'student' });
    expect(f.tokens.shape).toEqual([2, 1 + 3 * 4, 16]);
    const out = d.forward(x, 1);
    expect(out.loss.shape).toEqual([]);
    expect(Number.isFinite(out.loss.dataSync()[0]!)).toBe(true);
    tf.dispose([...x, z, s, t, e, f.tokens, out.loss, out.studentOutput, out.teacherOutput]);
    d.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('groups crops by resolution: one pass per run of equal sizes gives the same rows as one pass per crop', () => {
    const d = new DINO(TINY);
    const x = crops(2, 3);
    const all = d.student.forward(x);
    const each = tf.concat(x.map((c) => d.student.forward([c])), 0);
    expect(maxDiff(all, each)).toBeLessThan(1e-5);
    tf.dispose([...x, all, each]);
    d.dispose();
  });

  it('the teacher starts as a copy of the student, is frozen, and follows it by EMA', () => {
    const d = new DINO(TINY);
    const s = [...d.student.namedWeights()];
    const t = d.teacher.namedWeights();
    expect([...t.keys()]).toEqual(s.map(([k]) => k));
    for (const [k, w] of s) expect([...t.get(k)!.read().dataSync()]).toEqual([...w.read().dataSync()]);
    expect([...t.values()].some((w) => w.trainable)).toBe(false);
    const names = [...d.studentVariables().keys()];
    expect(names.some((n) => n.startsWith('teacher'))).toBe(false);
    expect(names).toContain('backbone.pos_embed');
    expect(names).not.toContain('head.last_layer.weight_g'); // normLastLayer
    // Move the student, then one EMA step by hand.
    const sv = d.student.namedWeights().get('head.mlp.0.weight')!;
    const tv = t.get('head.mlp.0.weight')!;
    tf.tidy(() => {
      sv.write(tf.add(sv.read(), 1));
    });
    const sBefore = sv.read().dataSync().slice();
    const tBefore = tv.read().dataSync().slice();
    d.updateTeacher(0.9);
    const tAfter = tv.read().dataSync();
    for (let i = 0; i < tAfter.length; i += 17) expect(tAfter[i]).toBeCloseTo(0.9 * tBefore[i]! + 0.1 * sBefore[i]!, 5);
    d.dispose();
  });

  it('gradients reach every student weight (backbone incl. pos_embed through the resize, head), never the teacher', () => {
    const d = new DINO({ ...TINY, normLastLayer: false, dropPathRate: 0 });
    const x = crops(4, 5);
    const teacherBefore = values(new Map([...d.teacher.namedWeights()].map(([k, w]) => [k, w.read() as tf.Variable])));
    const t = d.forwardTeacher(x.slice(0, 2));
    // A teacher output distinct from the center so every term is active.
    const vars = d.studentVariables(1);
    const { value, grads } = tf.variableGrads(() => d.loss(d.forwardCrops(x), t, 0), [...vars.values()]);
    expect(Object.keys(grads)).toHaveLength(vars.size);
    for (const [name, v] of vars) {
      const g = grads[v.name]!;
      expect(tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]), name).toBeGreaterThan(0);
      expect(tf.tidy(() => tf.any(tf.isNaN(g)).dataSync()[0]), name).toBe(0);
    }
    for (const [k, w] of d.teacher.namedWeights()) expect(w.read().dataSync(), k).toEqual(teacherBefore.get(k));
    tf.dispose([...x, t, value, ...Object.values(grads)]);
    d.dispose();
  });

  it('freezeLastLayer: in the first epochs the last layer is left out of the step and stays put', () => {
    const d = new DINO({ ...TINY, normLastLayer: false, freezeLastLayer: 1 });
    expect(d.lastLayerFrozen(0)).toBe(true);
    expect(d.lastLayerFrozen(1)).toBe(false);
    expect([...d.studentVariables(0).keys()].filter((k) => k.includes('last_layer'))).toEqual([]);
    expect([...d.studentVariables(1).keys()].filter((k) => k.includes('last_layer'))).toEqual(['head.last_layer.weight_v', 'head.last_layer.weight_g']);
    const opt = new AdamW(d.studentVariables(), { lr: 1e-2, weightDecay: 0.04 });
    const x = crops(2, 7);
    const step = (epoch: number) => {
      const t = d.forwardTeacher(x.slice(0, 2));
      trainStep(() => d.loss(d.forwardCrops(x, { training: true }), t, epoch), d.studentVariables(epoch), opt, { clipNorm: 3 });
      d.updateCenter(t);
      t.dispose();
    };
    const v = d.student.namedWeights().get('head.last_layer.weight_v')!;
    const q = d.student.namedWeights().get('backbone.blocks.0.attn.qkv.weight')!;
    const v0 = v.read().dataSync().slice();
    const q0 = q.read().dataSync().slice();
    step(0);
    expect(v.read().dataSync()).toEqual(v0);
    expect(q.read().dataSync()).not.toEqual(q0);
    step(1);
    expect(v.read().dataSync()).not.toEqual(v0);
    tf.dispose(x);
    opt.dispose();
    d.dispose();
  });

  it('trains a few steps with a flat tensor count; the loss moves and stays finite', () => {
    const start = tf.memory().numTensors;
    const d = new DINO(TINY);
    const opt = new AdamW(d.studentVariables(), { lr: 5e-3, weightDecay: 0.04 });
    const counts: number[] = [];
    const losses: number[] = [];
    const total = 4;
    for (let it = 0; it < total; it++) {
      const x = crops(4, it);
      const t = d.forwardTeacher(x.slice(0, 2));
      const { loss } = trainStep(() => d.loss(d.forwardCrops(x, { training: true }), t, it), d.studentVariables(it), opt, { clipNorm: 3 });
      d.updateCenter(t);
      d.updateTeacher(d.teacherMomentum(it, total));
      tf.dispose([t, ...x]);
      losses.push(loss);
      counts.push(tf.memory().numTensors);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(counts[3]).toBe(counts[2]);
    expect(tf.memory().numTensors).toBe(counts[1]);
    opt.dispose();
    d.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('converters: dino names, a student round-trips into a fresh model, the backbone loads into a ViT', () => {
    const before = tf.memory().numTensors;
    const a = new DINO({ ...TINY, normLastLayer: false, seed: 1 });
    const b = new DINO({ ...TINY, normLastLayer: false, seed: 2 });
    const sd = exportWeights(a.student, { converter: dinoConverter });
    expect(sd.get('head.last_layer.weight_v')!.shape).toEqual([32, 8]);
    expect(sd.get('head.last_layer.weight_g')!.shape).toEqual([32, 1]);
    expect(sd.get('head.mlp.0.weight')!.shape).toEqual([24, 16]);
    expect(sd.get('backbone.patch_embed.proj.weight')!.shape).toEqual([16, 1, 8, 8]);
    const ddp = new Map([...sd].map(([k, v]) => [`module.${k}`, v]));
    loadWeights(b.student, ddp, { converter: dinoConverter, prefix: 'module.' });
    const x = crops(2, 9);
    const ya = a.student.forward(x);
    const yb = b.student.forward(x);
    expect(maxDiff(ya, yb)).toBe(0);
    const vit = new VisionTransformer({ imgSize: 16, patchSize: 8, inChans: 1, embedDim: 16, depth: 1, numHeads: 2, dynamicImgSize: true,
      posEmbedResize: { mode: 'bicubic', antialias: false, scaleOffset: 0.1 } });
    const r = loadWeights(vit, sd, { converter: dinoBackboneConverter });
    expect(r.skipped.filter((k) => k.startsWith('head.'))).toHaveLength(6);
    const back = exportWeights(vit, { converter: dinoBackboneConverter });
    expect([...back.keys()].every((k) => k.startsWith('backbone.'))).toBe(true);
    const ea = a.encode(x[2]!, { network: 'student' });
    const ev = tf.tidy(() => tf.squeeze(tf.slice(vit.forward(x[2]!), [0, 0, 0], [-1, 1, -1]), [1]));
    expect(maxDiff(ea, ev)).toBe(0);
    // A whole checkpoint flattened: student.module.*, teacher.*, dino_loss.center.
    const whole = exportWeights(a, { converter: dinoCheckpointConverter });
    expect([...whole.keys()].filter((k) => k.startsWith('student.')).every((k) => k.startsWith('student.module.'))).toBe(true);
    const center = tf.ones([1, 32]);
    whole.set('dino_loss.center', center);
    const rep = loadWeights(b, whole, { converter: dinoCheckpointConverter });
    expect(rep.skipped).toEqual(['dino_loss.center']);
    tf.dispose([...sd.values(), ...x, ya, yb, ea, ev, ...back.values(), ...whole.values()]);
    [a, b, vit].forEach((m) => m.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('bad input: errors name the parameter, the value and what was expected, before any tensor work, leaking nothing', () => {
    const before = tf.memory().numTensors;
    expect(() => new DINO({ ...TINY, teacherTemp: 0 })).toThrow(/teacherTemp must be a finite number > 0, got 0/);
    expect(() => new DINO({ ...TINY, studentTemp: -0.1 })).toThrow(/studentTemp must be a finite number > 0, got -0.1/);
    expect(() => new DINO({ ...TINY, localCropsNumber: -1 })).toThrow(/localCropsNumber must be an integer >= 0, got -1/);
    expect(() => new DINO({ ...TINY, momentumTeacher: 1.5 })).toThrow(/momentumTeacher must be in \[0, 1\], got 1.5/);
    expect(() => new DINO({ ...TINY, numHeads: 3 })).toThrow(/embedDim 16 is not divisible by numHeads 3/);
    expect(() => new DINO({ ...TINY, headLayers: 0 })).toThrow(/nlayers must be a positive integer, got 0/);
    expect(tf.memory().numTensors).toBe(before);
    const d = new DINO(TINY);
    const n = tf.memory().numTensors;
    const x = crops(2);
    const odd = tf.zeros([2, 12, 12, 1]) as tf.Tensor4D;
    const rgb = tf.zeros([2, 16, 16, 3]) as tf.Tensor4D;
    const b3 = tf.zeros([3, 8, 8, 1]) as tf.Tensor4D;
    expect(() => d.forwardCrops(x.slice(0, 3))).toThrow(/crops must be an array of 4 tensors \(2 global \+ localCropsNumber=2 local crops\), got 3/);
    expect(() => d.forwardTeacher(x)).toThrow(/DINO.forwardTeacher: crops must be an array of 2 tensors \(the two global crops\), got 4/);
    expect(() => d.forwardCrops([x[0]!, x[1]!, odd, x[3]!])).toThrow(/crops\[2\] is 12x12 px, but crop sides must be positive multiples of the patch size 8/);
    expect(() => d.forwardCrops([x[0]!, rgb, x[2]!, x[3]!])).toThrow(/crops\[1\] has 3 channels .* inChans=1/);
    expect(() => d.forwardCrops([x[0]!, x[1]!, x[2]!, b3])).toThrow(/crops\[3\] has batch 3, but crops\[0\] has 2/);
    expect(() => d.forward(x, 4)).toThrow(/epoch must be an integer in \[0, nepochs=4\), got 4/);
    expect(() => d.encode(odd)).toThrow(/12x12 px/);
    expect(() => d.encode(x[0]!, { network: 'ema' as 'teacher' })).toThrow(/network must be 'student' or 'teacher', got 'ema'/);
    const t = d.forwardTeacher(x.slice(0, 2));
    const s = d.forwardCrops(x);
    const bad = tf.slice(s, 0, 6);
    const nn = tf.memory().numTensors;
    expect(() => d.loss(bad, t, 0)).toThrow(/studentOutput must be \[ncrops \* B, outDim\] = \[8, 32\]/);
    expect(tf.memory().numTensors).toBe(nn);
    tf.dispose([...x, odd, rgb, b3, t, s, bad]);
    expect(tf.memory().numTensors).toBe(n);
    d.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
