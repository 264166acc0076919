/**
 * Composing modules as safely as in PyTorch: unseeded parts get their seed
 * from the parent and their key, a parent's seed decides them, re-seeding a
 * library module equals building it with that seed, freezing propagates,
 * containers key their parts as nn.ModuleList/ModuleDict/Sequential do, and a
 * user's subclass needs no name.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  Attention,
  BEiT,
  Block,
  LayerNorm,
  Linear,
  MAE,
  maeMicro,
  Mlp,
  Module,
  ModuleDict,
  ModuleList,
  MultiwayBlock,
  Sequential,
  SimMIM,
  VisionTransformer,
  deriveSeed,
  joinParams,
  namedTrainableVariables,
  paramGroupsWeightDecay,
} from '../../src/index.js';

function values(m: Module): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, w] of m.namedWeights()) out.set(k, w.read().dataSync() as Float32Array);
  return out;
}

function expectSameWeights(a: Module, b: Module): void {
  const va = values(a);
  const vb = values(b);
  expect([...va.keys()]).toEqual([...vb.keys()]);
  for (const [k, x] of va) expect(Array.from(vb.get(k)!), k).toEqual(Array.from(x));
}

/** A user's module: two unseeded sibling Linears, no name, no className. */
class TwoHeads extends Module {
  readonly a: Linear;
  readonly b: Linear;
  constructor(seed?: number) {
    super({ seed });
    this.a = this.addModule('a', new Linear({ inFeatures: 4, outFeatures: 3 }));
    this.b = this.addModule('b', new Linear({ inFeatures: 4, outFeatures: 3 }));
  }
}

describe('seeds of composed modules', () => {
  it('unseeded siblings differ, and equal a Linear built with deriveSeed(parent, key)', () => {
    const before = tf.memory().numTensors;
    const m = new TwoHeads(7);
    const a = m.a.weight.read().dataSync();
    const b = m.b.weight.read().dataSync();
    expect(Array.from(a)).not.toEqual(Array.from(b));
    const ref = new Linear({ inFeatures: 4, outFeatures: 3, seed: deriveSeed(7, 'a') });
    expect(Array.from(a)).toEqual(Array.from(ref.weight.read().dataSync()));
    m.dispose();
    ref.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("the parent's seed changes its unseeded parts, and the same seed gives the same weights", () => {
    const m1 = new TwoHeads(1);
    const m2 = new TwoHeads(2);
    const m1b = new TwoHeads(1);
    expect(Array.from(m1.a.weight.read().dataSync())).not.toEqual(Array.from(m2.a.weight.read().dataSync()));
    expectSameWeights(m1, m1b);
    for (const m of [m1, m2, m1b]) m.dispose();
  });

  it('an unseeded user module adopted by a parent is re-drawn from the parent, recursively', () => {
    class Outer extends Module {
      readonly left: TwoHeads;
      readonly right: TwoHeads;
      constructor(seed: number) {
        super({ seed });
        this.left = this.addModule('left', new TwoHeads());
        this.right = this.addModule('right', new TwoHeads());
      }
    }
    const o = new Outer(3);
    expect(Array.from(o.left.a.weight.read().dataSync())).not.toEqual(Array.from(o.right.a.weight.read().dataSync()));
    const ref = new TwoHeads(deriveSeed(3, 'right'));
    expectSameWeights(o.right, ref);
    // Keys as PyTorch names them.
    expect([...o.namedWeights().keys()]).toEqual([
      'left.a.weight', 'left.a.bias', 'left.b.weight', 'left.b.bias',
      'right.a.weight', 'right.a.bias', 'right.b.weight', 'right.b.bias',
    ]);
    o.dispose();
    ref.dispose();
  });

  it('an explicitly seeded part keeps its seed when adopted', () => {
    class Keep extends Module {
      readonly a: Linear;
      constructor() {
        super({ seed: 5 });
        this.a = this.addModule('a', new Linear({ inFeatures: 2, outFeatures: 2, seed: 11 }));
      }
    }
    const k = new Keep();
    const ref = new Linear({ inFeatures: 2, outFeatures: 2, seed: 11 });
    expect(Array.from(k.a.weight.read().dataSync())).toEqual(Array.from(ref.weight.read().dataSync()));
    k.dispose();
    ref.dispose();
  });

  // reseed(s) must equal construction with seed s for every library module:
  // otherwise an adopted part's weights would depend on how it was built.
  const cases: [string, (seed: number) => Module][] = [
    ['Linear', (seed) => new Linear({ inFeatures: 5, outFeatures: 3, seed })],
    ['Mlp', (seed) => new Mlp({ inFeatures: 8, seed })],
    ['Attention', (seed) => new Attention({ dim: 8, numHeads: 2, qkvBias: 'qv', relPosBias: 2, seed })],
    ['Block', (seed) => new Block({ dim: 8, numHeads: 2, initValues: 0.1, seed })],
    ['VisionTransformer', (seed) => new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 2, numHeads: 2, seed })],
    ['MultiwayBlock', (seed) => new MultiwayBlock({ embedDim: 8, heads: 2, seed })],
    ['MAE', (seed) => new MAE({ ...maeMicro, imgSize: 8, embedDim: 16, depth: 1, decoderEmbedDim: 8, decoderDepth: 1, seed })],
    ['BEiT', (seed) => new BEiT({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 2, numHeads: 2, vocabSize: 5, seed })],
    ['SimMIM', (seed) => new SimMIM({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 2, numHeads: 2, seed })],
  ];
  it.each(cases)('%s: reseed(s) equals building with seed s', (_name, make) => {
    const before = tf.memory().numTensors;
    const want = make(21);
    const got = make(4);
    got.reseed(21);
    expectSameWeights(got, want);
    want.dispose();
    got.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('freezing', () => {
  it('trainable = false freezes every weight below, and true restores all but fixed ones', () => {
    const vit = new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 1, numHeads: 2, posEmbed: 'sincos', seed: 1 });
    const all = namedTrainableVariables(vit).size;
    expect(vit.namedWeights().get('pos_embed')!.trainable).toBe(false);
    vit.patchEmbed.trainable = false;
    const names = [...namedTrainableVariables(vit).keys()];
    expect(names.some((n) => n.startsWith('patch_embed.'))).toBe(false);
    expect(names.length).toBe(all - 2);
    expect(vit.trainableWeights.length).toBe(all - 2);
    vit.freeze();
    expect(namedTrainableVariables(vit).size).toBe(0);
    vit.unfreeze();
    expect(namedTrainableVariables(vit).size).toBe(all);
    // The fixed sine-cosine table stays fixed.
    expect(vit.namedWeights().get('pos_embed')!.trainable).toBe(false);
    vit.dispose();
  });

  it('a frozen part gets no gradient from trainStep-style variableGrads over the parent', () => {
    const m = new TwoHeads(3);
    m.a.freeze();
    const x = tf.ones([2, 4]);
    const vars = [...namedTrainableVariables(m).values()];
    const { grads, value } = tf.variableGrads(() => tf.sum(tf.add(m.a.forward(x), m.b.forward(x))) as tf.Scalar, vars);
    expect(Object.keys(grads).sort()).toEqual(vars.map((v) => v.name).sort());
    expect(vars.length).toBe(2);
    tf.dispose([x, value, ...Object.values(grads)]);
    m.dispose();
  });

  it('a frozen parent freezes the parts it adopts afterwards', () => {
    class Late extends Module {
      constructor() {
        super({ seed: 1, trainable: false });
        this.addModule('a', new Linear({ inFeatures: 2, outFeatures: 2 }));
      }
    }
    const l = new Late();
    expect(namedTrainableVariables(l).size).toBe(0);
    expect([...l.namedWeights().values()].every((w) => !w.trainable)).toBe(true);
    l.dispose();
  });

  it('rejects a non-boolean', () => {
    const l = new Linear({ inFeatures: 2, outFeatures: 2, seed: 1 });
    expect(() => {
      (l as unknown as { trainable: unknown }).trainable = 'no';
    }).toThrow(/trainable must be a boolean, got no/);
    l.dispose();
  });
});

describe('containers', () => {
  it('ModuleList keys parts 0, 1, ... and gives unseeded parts distinct seeds', () => {
    const list = new ModuleList([new Linear({ inFeatures: 2, outFeatures: 2 }), new Linear({ inFeatures: 2, outFeatures: 2 })], { seed: 9 });
    expect([...list.namedWeights().keys()]).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
    expect(list.length).toBe(2);
    expect(list.get(-1)).toBe(list.get(1));
    expect([...list].length).toBe(2);
    expect(Array.from(list.get(0).weight.read().dataSync())).not.toEqual(Array.from(list.get(1).weight.read().dataSync()));
    expect(() => list.get(2)).toThrow(/index must be an integer in \[-2, 2\), got 2/);
    list.dispose();
  });

  it('ModuleDict keys parts by name and refuses taken or dotted keys', () => {
    const d = new ModuleDict({ q: new Linear({ inFeatures: 2, outFeatures: 2 }), k: new LayerNorm({ dim: 2, eps: 1e-6 }) }, { seed: 2 });
    expect([...d.namedWeights().keys()]).toEqual(['q.weight', 'q.bias', 'k.weight', 'k.bias']);
    expect(d.keys()).toEqual(['q', 'k']);
    expect(() => d.set('q', new LayerNorm({ dim: 2, eps: 1e-6 }))).toThrow(/key 'q' is already taken/);
    expect(() => d.set('a.b', new LayerNorm({ dim: 2, eps: 1e-6 }))).toThrow(/without '\.'/);
    expect(() => d.get('z')).toThrow(/no module under key 'z'/);
    d.dispose();
  });

  it("Sequential numbers weightless steps like nn.Sequential and computes the chain", () => {
    const before = tf.memory().numTensors;
    const seq = new Sequential([new Linear({ inFeatures: 3, outFeatures: 4, bias: false }), tf.relu, new Linear({ inFeatures: 4, outFeatures: 2 })], { seed: 4 });
    expect([...seq.namedWeights().keys()]).toEqual(['0.weight', '2.weight', '2.bias']);
    const x = tf.tensor2d([[1, -2, 3], [0.5, 0, -1]]);
    const l0 = seq.steps[0] as Linear;
    const l2 = seq.steps[2] as Linear;
    const want = tf.tidy(() => l2.forward(tf.relu(l0.forward(x))));
    const got = seq.forward(x);
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
    tf.dispose([x, want, got]);
    seq.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Sequential rejects a step that is neither a tensor module nor a function', () => {
    expect(() => new Sequential([3 as unknown as Linear])).toThrow(/steps\[0\] must be a Module with forward\(x\) or a function/);
  });
});

describe('a user subclass', () => {
  it('needs neither name nor className, and gets a unique default name', () => {
    class Plain extends Module {
      constructor() {
        super();
      }
    }
    const a = new Plain();
    const b = new Plain();
    expect(a.getClassName()).toBe('Plain');
    expect(a.name).not.toBe(b.name);
    expect(new Linear({ inFeatures: 1, outFeatures: 1, seed: 1 }).getClassName()).toBe('MimkitLinear');
  });
});

describe('joinParams', () => {
  it('prefixes each part, keeps trainable only unless all, and refuses a shared variable', () => {
    const vit = new VisionTransformer({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 1, numHeads: 2, posEmbed: 'sincos', seed: 1 });
    const head = new Linear({ inFeatures: 8, outFeatures: 3, seed: 2 });
    const p = joinParams({ visual: vit, head });
    expect(p.has('visual.cls_token')).toBe(true);
    expect(p.has('visual.pos_embed')).toBe(false);
    expect(p.has('head.weight')).toBe(true);
    expect(joinParams({ visual: vit }, { all: true }).has('visual.pos_embed')).toBe(true);
    expect(() => joinParams({ a: head, b: head })).toThrow(/variable 'b.weight' is also 'a.weight'/);
    // The no-decay rule still reads the reference names through the prefix.
    const [decay, noDecay] = paramGroupsWeightDecay(p);
    expect(noDecay!.params.has('visual.cls_token')).toBe(true);
    expect(decay!.params.has('head.weight')).toBe(true);
    vit.dispose();
    head.dispose();
  });
});
