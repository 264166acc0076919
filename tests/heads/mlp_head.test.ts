import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  MlpHead, byolHeadConfig, mocoV3PredictorConfig, mocoV3ProjectorConfig, simsiamPredictorConfig, simsiamProjectorConfig,
} from '../../src/heads/mlp_head.js';
import { BatchNorm1d } from '../../src/layers/batch_norm.js';
import { expectThrowsEarly, uniformTensor } from '../models/helpers.js';

const bn = (i: number, affine = true) =>
  affine ? [`${i}.weight`, `${i}.bias`, `${i}.running_mean`, `${i}.running_var`] : [`${i}.running_mean`, `${i}.running_var`];

describe('MlpHead', () => {
  it("names layers as nn.Sequential numbers them (MoCo v3 projector: 0 Linear, 1 BN, 3 Linear, 4 BN, 6 Linear, 7 BN without affine)", () => {
    const h = new MlpHead(mocoV3ProjectorConfig(8, 12, 4));
    expect([...h.namedWeights().keys()]).toEqual(['0.weight', ...bn(1), '3.weight', ...bn(4), '6.weight', ...bn(7, false)]);
    expect(h.namedWeights().get('0.weight')!.shape).toEqual([8, 12]); // [in, out] here, [12, 8] in PyTorch
    expect(h.namedLayouts().get('6.weight')).toEqual({ kind: 'linear' });
    expect(h.layers.filter((l) => l === 'relu').length).toBe(2);
    expect(h.layers.filter((l) => l instanceof BatchNorm1d).length).toBe(3);
    h.dispose();
  });

  it('presets: MoCo v3 predictor, SimSiam projector/predictor, BYOL heads', () => {
    const keys = (c: ConstructorParameters<typeof MlpHead>[0]) => {
      const h = new MlpHead(c);
      const k = [...h.namedWeights().keys()];
      h.dispose();
      return k;
    };
    expect(keys(mocoV3PredictorConfig(4, 8))).toEqual(['0.weight', ...bn(1), '3.weight', ...bn(4, false)]);
    expect(keys(simsiamProjectorConfig(6, 4))).toEqual(['0.weight', ...bn(1), '3.weight', ...bn(4), '6.weight', '6.bias', ...bn(7, false)]);
    expect(keys(simsiamPredictorConfig(4, 2))).toEqual(['0.weight', ...bn(1), '3.weight', '3.bias']);
    expect(keys(byolHeadConfig(6, 4, 8))).toEqual(['0.weight', '0.bias', ...bn(1), '3.weight', '3.bias']);
    expect(mocoV3ProjectorConfig(384)).toMatchObject({ hiddenFeatures: 4096, outFeatures: 256, numLayers: 3 });
    expect(simsiamPredictorConfig()).toMatchObject({ inFeatures: 2048, hiddenFeatures: 512 });
  });

  it('maps [N, in] -> [N, out]; a last BN without affine gives zero-mean, unit-variance columns in training', () => {
    const h = new MlpHead({ ...mocoV3ProjectorConfig(8, 16, 4), seed: 3 });
    const x = uniformTensor([6, 8], 1);
    const before = tf.memory().numTensors;
    const y = h.forward(x, { training: true });
    expect(y.shape).toEqual([6, 4]);
    const m = tf.moments(y, 0);
    expect(Math.max(...(m.mean.dataSync() as Float32Array).map(Math.abs))).toBeLessThan(1e-5);
    for (const v of m.variance.dataSync()) expect(v).toBeCloseTo(1, 2);
    tf.dispose([y, m.mean, m.variance]);
    expect(tf.memory().numTensors).toBe(before);
    const e = h.forward(x); // eval: running stats
    expect(e.shape).toEqual([6, 4]);
    tf.dispose([e, x]);
    h.dispose();
  });

  it('siblings start different; bad config and input throw early', () => {
    const h = new MlpHead({ inFeatures: 4, hiddenFeatures: 4, outFeatures: 4, numLayers: 2, seed: 1 });
    const a = h.namedWeights().get('0.weight')!.read().dataSync();
    const b = h.namedWeights().get('3.weight')!.read().dataSync();
    expect(Array.from(a)).not.toEqual(Array.from(b));
    for (const v of a) expect(Math.abs(v)).toBeLessThanOrEqual(0.5); // PyTorch default: U(+-1/sqrt(4))
    const x = tf.zeros([3, 5]);
    const one = tf.zeros([1, 4]);
    expectThrowsEarly(() => h.forward(x), /x must be \[N, inFeatures=4\], got shape \[3,5\]/);
    expectThrowsEarly(() => h.forward(one, { training: true }), /more than one row.*N=1/);
    expect(() => new MlpHead({ inFeatures: 4, hiddenFeatures: 4, outFeatures: 4, numLayers: 0 })).toThrow(/numLayers must be an integer >= 1, got 0/);
    expect(() => new MlpHead({ inFeatures: 4, hiddenFeatures: 4, outFeatures: 4, lastNorm: 'ln' as never })).toThrow(/lastNorm must be/);
    tf.dispose([x, one]);
    h.dispose();
  });
});
