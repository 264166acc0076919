import { describe, expect, it } from 'vitest';
import { LayerNorm, Linear, Module } from '../../src/layers/index.js';

class Pair extends Module {
  constructor(splice: boolean, clash = false) {
    super({ name: 'pair' });
    this.addModule('enc', new Linear({ inFeatures: 2, outFeatures: 3 }), { spliceKeys: splice });
    this.addModule(clash ? 'dec' : 'norm', new LayerNorm({ dim: 3, eps: 1e-6 }), { spliceKeys: clash });
  }
}

describe('Module.addModule spliceKeys', () => {
  it('puts a spliced sub-module at the parent key level, in weights, layouts and children', () => {
    const m = new Pair(true);
    expect([...m.namedWeights().keys()]).toEqual(['weight', 'bias', 'norm.weight', 'norm.bias']);
    expect([...m.namedWeights('model').keys()]).toEqual(['model.weight', 'model.bias', 'model.norm.weight', 'model.norm.bias']);
    expect(m.namedLayouts().get('weight')).toEqual({ kind: 'linear' });
    expect([...m.children().keys()]).toEqual(['norm']);
    m.dispose();
  });

  it('keeps the prefix without the option', () => {
    const m = new Pair(false);
    expect([...m.namedWeights().keys()]).toEqual(['enc.weight', 'enc.bias', 'norm.weight', 'norm.bias']);
    expect([...m.children().keys()]).toEqual(['enc', 'norm']);
    m.dispose();
  });

  it('refuses, at construction, a spliced sub-module whose keys clash', () => {
    expect(() => new Pair(true, true)).toThrow(/sub-module 'dec' brings weight key 'weight', which this module already has/);
  });
});
