import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { TinyMIM, sequentialDistillation } from '../../src/models/tinymim.js';
import { VisionTransformer, type VisionTransformerConfig } from '../../src/models/vit.js';
import { relations } from '../../src/losses/relation.js';
import { AdamW } from '../../src/train/adamw.js';
import { trainStep } from '../../src/train/train_step.js';
import { expectClose } from '../layers/helpers.js';
import { expectThrowsEarly, train, uniformTensor } from './helpers.js';

const base: VisionTransformerConfig = { imgSize: 8, patchSize: 4, inChans: 1, numHeads: 2 };
const vit = (embedDim: number, depth: number, seed: number, extra: VisionTransformerConfig = {}) =>
  new VisionTransformer({ ...base, embedDim, depth, seed, ...extra });

describe('TinyMIM', () => {
  it("relations of the last blocks equal the hand-written loop (recipes/tinymim.ts), loss = KL(QK) + KL(VV)", () => {
    const teacher = vit(16, 3, 1);
    const student = vit(8, 2, 2);
    const model = new TinyMIM(teacher, student);
    const x = uniformTensor([2, 8, 8, 1], 3);
    const before = tf.memory().numTensors;
    const hand = (v: VisionTransformer) => {
      const h = tf.tidy(() => {
        let t = v.prependClassToken(v.embed(x));
        for (const blk of v.blocks.slice(0, -1)) t = blk.forward(t).out;
        return t;
      });
      const last = v.blocks[v.blocks.length - 1]!;
      const r = relations(h, last.norm1, last.attn.qkv, 2);
      h.dispose();
      return r;
    };
    const ht = hand(teacher);
    const hs = hand(student);
    const t = model.teacherRelations(x);
    expectClose(t.qk, ht.qk, 1e-6, 1e-5);
    expectClose(t.vv, ht.vv, 1e-6, 1e-5);
    const out = model.forward(x);
    const kl = (s: tf.Tensor, w: tf.Tensor) => tf.tidy(() => tf.mean(tf.sum(tf.mul(w, tf.sub(tf.log(w), tf.log(s))), -1)));
    const [qk, vv] = [kl(hs.qk, ht.qk), kl(hs.vv, ht.vv)];
    expectClose(out.qkLoss, qk, 1e-6, 1e-4);
    expectClose(out.vvLoss, vv, 1e-6, 1e-4);
    const sum = tf.add(qk, vv);
    expectClose(out.loss, sum, 1e-6, 1e-4);
    const withGiven = model.forward(x, { teacher: t });
    expectClose(withGiven.loss, out.loss, 0, 0);
    tf.dispose([ht.qk, ht.vv, hs.qk, hs.vv, t.qk, t.vv, out.loss, out.qkLoss, out.vvLoss, qk, vv, sum, withGiven.loss, withGiven.qkLoss, withGiven.vvLoss]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('other blocks and relation heads (block 0 reads the embedded tokens; BEiT-form q/v bias counts)', () => {
    const teacher = vit(16, 2, 1, { numHeads: 4, qkvBias: 'qv' });
    const student = vit(8, 2, 2);
    const model = new TinyMIM(teacher, student, { teacherBlock: 0, studentBlock: 0 });
    expect(model.config).toEqual({ teacherBlock: 0, studentBlock: 0, relationHeads: 4 });
    const x = uniformTensor([2, 8, 8, 1], 3);
    const r = model.relationsOf(teacher, x, 0);
    expect(r.qk.shape).toEqual([2, 4, 5, 5]);
    const out = model.forward(x);
    expect(Number.isFinite(out.loss.dataSync()[0]!)).toBe(true);
    tf.dispose([r.qk, r.vv, out.loss, out.qkLoss, out.vvLoss, x]);
    model.dispose();
  });

  it('trains the student only (teacher frozen, flat tensor count), and the loss falls', () => {
    const teacher = vit(16, 2, 1);
    const student = vit(8, 2, 2);
    const model = new TinyMIM(teacher, student);
    expect([...model.namedWeights()].filter(([, w]) => w.trainable).every(([k]) => k.startsWith('student.'))).toBe(true);
    const t0 = Array.from(teacher.blocks[1]!.attn.qkv.weight.read().dataSync());
    const x = uniformTensor([4, 8, 8, 1], 5);
    const { losses, counts } = train(model, () => model.forward(x).loss, 6, 1e-2);
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    expect(Array.from(teacher.blocks[1]!.attn.qkv.weight.read().dataSync())).toEqual(t0);
    x.dispose();
    model.dispose();
  });

  it('sequentialDistillation: teacher -> medium -> small, each stage trained by the callback', () => {
    const teacher = vit(16, 2, 1);
    const medium = vit(12, 2, 2);
    const small = vit(8, 1, 3);
    const x = uniformTensor([3, 8, 8, 1], 5);
    const seen: string[] = [];
    const out = sequentialDistillation(teacher, [medium, small], (stage, i) => {
      seen.push(`${i}:${stage.teacher.config.embedDim}->${stage.student.config.embedDim}`);
      const opt = new AdamW(stage, { lr: 1e-3 });
      trainStep(() => stage.forward(x).loss, stage, opt);
      opt.dispose();
    });
    expect(seen).toEqual(['0:16->12', '1:12->8']);
    expect(out).toBe(small);
    expect(medium.trainableWeights.length).toBe(0); // it was a teacher
    expect(small.trainableWeights.length).toBeGreaterThan(0);
    x.dispose();
    [teacher, medium, small].forEach((m) => m.dispose());
  });

  it('bad config and input throw before any tensor work', () => {
    const teacher = vit(16, 2, 1);
    const student = vit(8, 2, 2);
    const other = new VisionTransformer({ ...base, imgSize: 12, embedDim: 8, depth: 1, seed: 4 });
    expect(() => new TinyMIM(teacher, other)).toThrow(/same tokens.*got 5 \(teacher\) and 10 \(student\)/);
    expect(() => new TinyMIM(teacher, student, { teacherBlock: 2 })).toThrow(/teacherBlock must be a block index in \[-2, 1\] \(depth 2\), got 2/);
    expect(() => new TinyMIM(teacher, student, { relationHeads: 3 })).toThrow(/relationHeads must be a positive integer dividing the teacher's width 16, got 3/);
    expect(() => new TinyMIM(teacher, teacher)).toThrow(/two different ViTs/);
    expect(() => sequentialDistillation(teacher, [], () => {})).toThrow(/at least one student/);
    const model = new TinyMIM(teacher, student);
    const bad = uniformTensor([2, 8, 8, 3], 1);
    expectThrowsEarly(() => model.forward(bad), /imgs must be \[B, 8, 8, 1\] \(NHWC\), got shape \[2,8,8,3\]/);
    const x = uniformTensor([2, 8, 8, 1], 1);
    const wrong = { qk: tf.zeros([2, 2, 4, 4]), vv: tf.zeros([2, 2, 4, 4]) };
    expectThrowsEarly(() => model.forward(x, { teacher: wrong }), /options.teacher must be \{qk, vv\} of shape \[2, 2, 5, 5\]/);
    tf.dispose([bad, x, wrong.qk, wrong.vv]);
    model.dispose();
    other.dispose();
  });
});
