import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { DINOLoss, type DINOLossConfig } from '../../src/losses/index.js';
import { absSum, expectClose, randMatrix } from './helpers.js';

type M = number[][];
const softmax = (r: number[]) => {
  const m = Math.max(...r);
  const e = r.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/** main_dino.py DINOLoss.forward, written out in loops. */
function refDino(student: M, teacher: M, center: number[], ncrops: number, tT: number, tS: number): number {
  const b = teacher.length / 2;
  const logS = student.map((r) => softmax(r.map((v) => v / tS)).map(Math.log));
  const p = teacher.map((r) => softmax(r.map((v, k) => (v - center[k]!) / tT)));
  let total = 0;
  let terms = 0;
  for (let iq = 0; iq < 2; iq++) {
    for (let v = 0; v < ncrops; v++) {
      if (v === iq) continue;
      let l = 0;
      for (let i = 0; i < b; i++) {
        const q = p[iq * b + i]!;
        const s = logS[v * b + i]!;
        l += q.reduce((acc, qk, k) => acc - qk * s[k]!, 0);
      }
      total += l / b;
      terms++;
    }
  }
  return total / terms;
}

/** np.concatenate((np.linspace(w, t, n), np.ones(E - n) * t)). */
function refSchedule(w: number, t: number, n: number, e: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(n === 1 ? w : w + ((t - w) * i) / (n - 1));
  if (n > 1) out[n - 1] = t;
  while (out.length < e) out.push(t);
  return out;
}

const base: DINOLossConfig = {
  outDim: 16,
  ncrops: 4,
  warmupTeacherTemp: 0.04,
  teacherTemp: 0.07,
  warmupTeacherTempEpochs: 30,
  nepochs: 100,
};

describe('DINOLoss', () => {
  it('teacher temperature schedule: linear warm-up then constant (numpy linspace)', () => {
    const l = new DINOLoss(base);
    expect(l.teacherTempSchedule.length).toBe(100);
    expectClose(l.teacherTempSchedule, refSchedule(0.04, 0.07, 30, 100), 1e-15, 0);
    expect(l.teacherTempAt(0)).toBe(0.04);
    expect(l.teacherTempAt(29)).toBe(0.07);
    expect(l.teacherTempAt(10)).toBeCloseTo(0.0503448275862069, 15);
    expect(l.teacherTempAt(99)).toBe(0.07);
    l.dispose();
    const one = new DINOLoss({ ...base, warmupTeacherTempEpochs: 1, nepochs: 3 });
    expect([...one.teacherTempSchedule]).toEqual([0.04, 0.07, 0.07]);
    one.dispose();
    const none = new DINOLoss({ outDim: 4, ncrops: 2, nepochs: 2 });
    expect([...none.teacherTempSchedule]).toEqual([0.04, 0.04]);
    expect(none.config.studentTemp).toBe(0.1);
    expect(none.config.centerMomentum).toBe(0.9);
    none.dispose();
  });

  it.each([
    [2, 1, 5, 0.04, 0.1],
    [4, 3, 16, 0.07, 0.1],
    [6, 2, 8, 0.5, 0.3],
  ])('loss and center match main_dino.py (ncrops=%i B=%i K=%i teacherTemp=%f studentTemp=%f)', (ncrops, b, k, tT, tS) => {
    const loss = new DINOLoss({ outDim: k, ncrops, warmupTeacherTemp: tT, teacherTemp: tT, nepochs: 5, studentTemp: tS, centerMomentum: 0.8 });
    const student = randMatrix(ncrops * 7 + k, ncrops * b, k, 2);
    const teacher = randMatrix(b * 13 + k, 2 * b, k, 0.3);
    const center = randMatrix(k, 1, k, 0.1)[0]!;
    loss.setCenter(tf.tensor1d(center));
    const [st, tt] = [tf.tensor2d(student), tf.tensor2d(teacher)];
    const before = tf.memory().numTensors;
    const value = loss.call(st, tt, 2);
    expectClose(value.dataSync(), [refDino(student, teacher, center, ncrops, tT, tS)], 1e-5, 1e-4);
    value.dispose();
    // call does not move the center; updateCenter does.
    expectClose(loss.center.dataSync(), Float32Array.from(center), 0, 0);
    loss.updateCenter(tt);
    const want = center.map((c, j) => c * 0.8 + (teacher.reduce((s, r) => s + r[j]!, 0) / (2 * b)) * 0.2);
    expectClose(loss.center.dataSync(), want, 1e-6, 1e-5);
    expect(tf.memory().numTensors).toBe(before);
    loss.dispose();
    tf.dispose([st, tt]);
  });

  it('the student gets gradients, the teacher output none; owns and frees one variable', () => {
    const before = tf.memory().numTensors;
    const loss = new DINOLoss({ ...base, outDim: 6 });
    expect(tf.memory().numTensors).toBe(before + 1);
    const st = tf.tensor2d(randMatrix(1, 8, 6));
    const tt = tf.tensor2d(randMatrix(2, 4, 6));
    const g = tf.grads((s: tf.Tensor, t: tf.Tensor) => loss.call(s, t, 0))([st, tt]);
    expect(absSum(g[0]!)).toBeGreaterThan(1e-4);
    expect(absSum(g[1]!)).toBe(0);
    tf.dispose([...g, st, tt]);
    loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad config and input with messages naming the value', () => {
    expect(() => new DINOLoss({ ...base, ncrops: 1 })).toThrow(/DINOLoss: ncrops must be an integer >= 2, got 1/);
    expect(() => new DINOLoss({ ...base, teacherTemp: 0 })).toThrow(/teacherTemp must be a finite number > 0, got 0/);
    expect(() => new DINOLoss({ ...base, studentTemp: -1 })).toThrow(/studentTemp must be a finite number > 0, got -1/);
    expect(() => new DINOLoss({ ...base, warmupTeacherTempEpochs: 200 })).toThrow(/warmupTeacherTempEpochs must be <= nepochs=100, got 200/);
    expect(() => new DINOLoss({ ...base, centerMomentum: 1.5 })).toThrow(/centerMomentum must be in \[0, 1\], got 1.5/);
    const l = new DINOLoss(base);
    const t = tf.zeros([4, 16]);
    expect(() => l.call(tf.zeros([6, 16]), t, 0)).toThrow(
      /studentOutput must be \[ncrops \* B, outDim\] = \[8, 16\] \(ncrops=4, B=2 from teacherOutput\), got \[6, 16\]/,
    );
    expect(() => l.call(tf.zeros([8, 16]), tf.zeros([3, 16]), 0)).toThrow(/teacherOutput must be \[2B, outDim=16\].*got \[3, 16\]/);
    expect(() => l.call(tf.zeros([8, 16]), tf.zeros([4, 15]), 0)).toThrow(/teacherOutput must be \[2B, outDim=16\]/);
    expect(() => l.call(tf.zeros([8, 16]), t, 100)).toThrow(/epoch must be an integer in \[0, nepochs=100\), got 100/);
    expect(() => l.setCenter(tf.zeros([2, 8]))).toThrow(/setCenter: value must have shape \[1, 16\] or \[16\], got \[2, 8\]/);
    l.dispose();
  });
});
