import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { AdamW, adamWStateFromTensors, adamWStateToTensors, paramGroupsWeightDecay } from '../../src/index.js';
import { maxDiff, moduleFromNames } from './helpers.js';

/**
 * Independent reference: PyTorch AdamW's update on plain arrays, in double
 * precision (torch/optim/_functional.py `_single_tensor_adamw`, no amsgrad).
 */
function refAdamW(
  p: number[],
  grads: number[][],
  lrs: number[],
  opts: { b1: number; b2: number; eps: number; wd: number },
): { p: number[]; m: number[]; v: number[] } {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const x = [...p];
  grads.forEach((g, s) => {
    const t = s + 1;
    const lr = lrs[s]!;
    for (let i = 0; i < x.length; i++) {
      x[i] = x[i]! * (1 - lr * opts.wd);
      m[i] = opts.b1 * m[i]! + (1 - opts.b1) * g[i]!;
      v[i] = opts.b2 * v[i]! + (1 - opts.b2) * g[i]! * g[i]!;
      const mHat = m[i]! / (1 - opts.b1 ** t);
      const vHat = v[i]! / (1 - opts.b2 ** t);
      x[i] = x[i]! - (lr * mHat) / (Math.sqrt(vHat) + opts.eps);
    }
  });
  return { p: x, m, v };
}

const W0 = [0.5, -1.0, 2.0, 0.25];
const B0 = [0.1, -0.3];
const GW = [
  [0.1, -0.2, 0.3, 0.05],
  [-0.4, 0.1, 0.2, 0.0],
];
const GB = [
  [0.5, -0.5],
  [0.01, 1.0],
];

/*
 * Reference from torch.optim.AdamW (torch 1.13.1, Debian python3-torch):
 *
 *   W = torch.nn.Parameter(torch.tensor([[0.5, -1.0], [2.0, 0.25]]))
 *   b = torch.nn.Parameter(torch.tensor([0.1, -0.3]))
 *   opt = torch.optim.AdamW([{'params': [W], 'weight_decay': 0.05, 'lr_scale': 1.0},
 *                            {'params': [b], 'weight_decay': 0.0, 'lr_scale': 0.5}],
 *                           lr=0.1, betas=(0.9, 0.95), eps=1e-8)
 *   gW = [[[0.1, -0.2], [0.3, 0.05]], [[-0.4, 0.1], [0.2, 0.0]]]
 *   gb = [[0.5, -0.5], [0.01, 1.0]]
 *   for step, lr in enumerate([0.1, 0.05]):
 *       for g in opt.param_groups: g['lr'] = lr * g['lr_scale']
 *       W.grad = torch.tensor(gW[step]); b.grad = torch.tensor(gb[step])
 *       opt.step()
 *       print(step + 1, W.flatten().tolist(), b.tolist())
 *   print(opt.state[W]['exp_avg'].flatten().tolist(), opt.state[W]['exp_avg_sq'].flatten().tolist())
 */
const TORCH = {
  step1W: [0.39750000834465027, -0.8949999809265137, 1.8899999856948853, 0.14875000715255737],
  step1b: [0.05000000074505806, -0.25],
  step2W: [0.42417633533477783, -0.8793439865112305, 1.836521029472351, 0.1144457533955574],
  step2b: [0.032660432159900665, -0.2590843439102173],
  mW: [-0.03100000135600567, -0.00800000037997961, 0.04700000211596489, 0.004500000271946192],
  vW: [0.008475000970065594, 0.002400000113993883, 0.006275000516325235, 0.00011875000200234354],
};

function setup(): { W: tf.Variable; b: tf.Variable; opt: AdamW } {
  const W = tf.variable(tf.tensor2d(W0, [2, 2]));
  const b = tf.variable(tf.tensor1d(B0));
  const opt = new AdamW(
    [
      { name: 'decay', params: new Map([['W', W]]), weightDecay: 0.05 },
      { name: 'no_decay', params: new Map([['b', b]]), weightDecay: 0, lrScale: 0.5 },
    ],
    { lr: 0.1, betas: [0.9, 0.95], eps: 1e-8 },
  );
  return { W, b, opt };
}

function grads(W: tf.Variable, b: tf.Variable, s: number): tf.NamedTensorMap {
  return { [W.name]: tf.tensor2d(GW[s]!, [2, 2]), [b.name]: tf.tensor1d(GB[s]!) };
}

describe('AdamW', () => {
  const created: tf.Variable[] = [];
  afterEach(() => {
    created.splice(0).forEach((v) => v.dispose());
  });

  it('matches a hand computation and torch.optim.AdamW over two steps with groups and a changing lr', () => {
    const { W, b, opt } = setup();
    created.push(W, b);
    const lrs = [0.1, 0.05];
    const g1 = grads(W, b, 0);
    opt.step(g1, lrs[0]);
    tf.dispose(g1);
    // Step 1 by hand: m_hat = g, v_hat = g^2 so the Adam step is lr * sign(g) (up to eps).
    // W[0] = 0.5 * (1 - 0.1 * 0.05) - 0.1 = 0.3975; b[0] = 0.1 - 0.05 * 1 = 0.05.
    expect(maxDiff(W, [0.3975, -0.895, 1.89, 0.14875])).toBeLessThan(1e-6);
    expect(maxDiff(b, [0.05, -0.25])).toBeLessThan(1e-6);
    expect(maxDiff(W, TORCH.step1W)).toBeLessThan(1e-6);
    expect(maxDiff(b, TORCH.step1b)).toBeLessThan(1e-6);

    const g2 = grads(W, b, 1);
    opt.step(g2, lrs[1]);
    tf.dispose(g2);
    const refW = refAdamW(W0, GW, lrs, { b1: 0.9, b2: 0.95, eps: 1e-8, wd: 0.05 });
    const refB = refAdamW(B0, GB, lrs.map((l) => l * 0.5), { b1: 0.9, b2: 0.95, eps: 1e-8, wd: 0 });
    expect(maxDiff(W, refW.p)).toBeLessThan(2e-6);
    expect(maxDiff(b, refB.p)).toBeLessThan(2e-6);
    expect(maxDiff(W, TORCH.step2W)).toBeLessThan(2e-6);
    expect(maxDiff(b, TORCH.step2b)).toBeLessThan(2e-6);
    // Hand reference and torch agree with each other too (the test's own check).
    refW.p.forEach((x, i) => expect(Math.abs(x - TORCH.step2W[i]!)).toBeLessThan(1e-6));

    const state = opt.getState();
    expect(state.lr).toBe(0.05);
    expect(state.params.get('W')!.step).toBe(2);
    expect(maxDiff(state.params.get('W')!.expAvg, TORCH.mW)).toBeLessThan(1e-7);
    expect(maxDiff(state.params.get('W')!.expAvgSq, TORCH.vW)).toBeLessThan(1e-7);
    expect(maxDiff(state.params.get('W')!.expAvg, refW.m)).toBeLessThan(1e-7);
    for (const s of state.params.values()) tf.dispose([s.expAvg, s.expAvgSq]);
    opt.dispose();
  });

  it('restores exported state so that a resumed run equals an uninterrupted one', () => {
    const a = setup();
    const c = setup();
    created.push(a.W, a.b, c.W, c.b);
    const g1a = grads(a.W, a.b, 0);
    a.opt.step(g1a, 0.1);
    tf.dispose(g1a);
    // Through the flat checkpoint form, as a file would hold it.
    const flat = adamWStateToTensors(a.opt.getState());
    expect([...flat.keys()].sort()).toEqual(['W.exp_avg', 'W.exp_avg_sq', 'W.step', 'b.exp_avg', 'b.exp_avg_sq', 'b.step', 'lr']);
    expect(flat.get('W.step')!.dtype).toBe('int32');
    const state = adamWStateFromTensors(flat);
    expect(state.params.get('b')!.step).toBe(1);
    expect(state.lr).toBeCloseTo(0.1, 7);
    tf.dispose([flat.get('lr')!, flat.get('W.step')!, flat.get('b.step')!]);
    // Resume in c: same weights, imported state, then step 2 in both.
    c.W.assign(a.W);
    c.b.assign(a.b);
    c.opt.setState(state);
    for (const s of state.params.values()) tf.dispose([s.expAvg, s.expAvgSq]);
    const g2a = grads(a.W, a.b, 1);
    const g2c = grads(c.W, c.b, 1);
    a.opt.step(g2a, 0.05);
    c.opt.step(g2c, 0.05);
    tf.dispose([g2a, g2c]);
    expect(maxDiff(c.W, TORCH.step2W)).toBeLessThan(2e-6);
    expect(Array.from(c.W.dataSync())).toEqual(Array.from(a.W.dataSync()));
    expect(Array.from(c.b.dataSync())).toEqual(Array.from(a.b.dataSync()));
    a.opt.dispose();
    c.opt.dispose();
  });

  it('creates moments lazily, frees them on dispose, and leaves params without gradient alone', () => {
    const { W, b, opt } = setup();
    created.push(W, b);
    const before = tf.memory().numTensors;
    const g = { W: tf.tensor2d(GW[0]!, [2, 2]) }; // keyed by parameter name
    opt.step(g);
    tf.dispose(g);
    expect(tf.memory().numTensors).toBe(before + 2); // exp_avg, exp_avg_sq of W only
    expect(Array.from(b.dataSync())).toEqual(Array.from(Float32Array.from(B0)));
    const st = opt.getState();
    expect([...st.params.keys()]).toEqual(['W']);
    tf.dispose([...st.params.values()].flatMap((s) => [s.expAvg, s.expAvgSq]));
    const g2 = { W: tf.tensor2d(GW[1]!, [2, 2]) };
    opt.step(g2);
    tf.dispose(g2);
    expect(tf.memory().numTensors).toBe(before + 2);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('builds no-decay groups from a Module and decays only matrices', () => {
    const m = moduleFromNames({ 'fc.weight': [2, 2], 'fc.bias': [2], pos_embed: [1, 2, 2] });
    for (const w of m.namedWeights().values()) {
      const one = tf.onesLike(w.read());
      w.write(one);
      one.dispose();
    }
    const opt = new AdamW(m, { lr: 0.5, weightDecay: 0.1 });
    expect(opt.groups.map((g) => [g.name, [...g.params.keys()], g.weightDecay])).toEqual([
      ['decay', ['fc.weight'], 0.1],
      ['no_decay', ['pos_embed', 'fc.bias'], 0],
    ]);
    // Zero gradients: the Adam term is 0, only the decoupled decay acts: 1 * (1 - 0.5 * 0.1).
    const zeros: tf.NamedTensorMap = {};
    for (const [n, w] of m.namedWeights()) zeros[n] = tf.zerosLike(w.read());
    opt.step(zeros);
    tf.dispose(zeros);
    const w = m.namedWeights();
    expect(maxDiff(w.get('fc.weight')!.read(), [0.95, 0.95, 0.95, 0.95])).toBeLessThan(1e-7);
    expect(Array.from(w.get('fc.bias')!.read().dataSync())).toEqual([1, 1]);
    expect(Array.from(w.get('pos_embed')!.read().dataSync())).toEqual([1, 1, 1, 1]);
    opt.setWeightDecay(0.2);
    expect(opt.groups.map((g) => g.weightDecay)).toEqual([0.2, 0]);
    opt.dispose();
    m.dispose();
  });

  it('accepts a name map of variables and equal groups from paramGroupsWeightDecay', () => {
    const W = tf.variable(tf.ones([2, 3]));
    const bias = tf.variable(tf.ones([3]));
    created.push(W, bias);
    const groups = paramGroupsWeightDecay(new Map([['head.weight', W], ['head.bias', bias]]), { weightDecay: 0.3 });
    expect(groups.map((g) => [g.name, [...g.params.keys()], g.weightDecay])).toEqual([
      ['decay', ['head.weight'], 0.3],
      ['no_decay', ['head.bias'], 0],
    ]);
    const opt = new AdamW(groups);
    expect(opt.names()).toEqual(['head.weight', 'head.bias']);
    expect(opt.variables()).toEqual([W, bias]);
    opt.dispose();
  });

  it('rejects bad configs and gradients before touching tensors', () => {
    const W = tf.variable(tf.ones([2, 2]));
    created.push(W);
    const one = new Map([['W', W]]);
    expect(() => new AdamW(one, { lr: -1 })).toThrow(/lr must be a finite number >= 0, got -1/);
    expect(() => new AdamW(one, { betas: [0.9, 1] })).toThrow(/betas\[1\] must be in \[0, 1\), got 1/);
    expect(() => new AdamW(one, { betas: [-0.1, 0.9] })).toThrow(/betas\[0\] must be in \[0, 1\), got -0.1/);
    expect(() => new AdamW(one, { eps: -1 })).toThrow(/eps must be a finite number >= 0, got -1/);
    expect(() => new AdamW(one, { weightDecay: -0.1 })).toThrow(/weightDecay must be a finite number >= 0, got -0.1/);
    expect(() => new AdamW([{ params: one, lrScale: -2 }])).toThrow(/lrScale must be a finite number >= 0, got -2/);
    expect(() => new AdamW([{ params: one }, { params: one }])).toThrow(/'W' appears in more than one group/);
    const opt = new AdamW(one);
    expect(() => opt.setLearningRate(Number.NaN)).toThrow(/lr must be a finite number >= 0, got NaN/);
    const before = tf.memory().numTensors;
    const bad = tf.zeros([3]);
    expect(() => opt.step({ W: bad })).toThrow(/gradient of 'W' must have shape \[2,2\], got \[3\]/);
    expect(() => opt.step({ nope: bad })).toThrow(/gradient 'nope' matches no parameter/);
    expect(() => adamWStateFromTensors(new Map([['lr', bad]]))).toThrow(/scalar 'lr', got shape \[3\]/);
    const lr = tf.scalar(0.1);
    expect(() => adamWStateFromTensors(new Map([['lr', lr], ['W.exp_avg', bad]]))).toThrow(/parameter 'W' needs 'W.exp_avg', 'W.exp_avg_sq' and a scalar 'W.step'/);
    expect(() => adamWStateFromTensors(new Map([['lr', lr], ['W.moment', bad]]))).toThrow(/unexpected key 'W.moment'/);
    const st = { lr: 0.1, params: new Map([['W', { step: 1, expAvg: bad, expAvgSq: bad }]]) };
    expect(() => opt.setState(st)).toThrow(/expAvg of 'W' must have shape \[2,2\], got \[3\]/);
    lr.dispose();
    bad.dispose();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
  });
});
