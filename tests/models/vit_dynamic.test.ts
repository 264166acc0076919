import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { VisionTransformer, type PosEmbedResize, type VisionTransformerConfig } from '../../src/models/vit.js';
import { resamplePosTable } from '../../src/ops/resize.js';
import { expectClose } from '../layers/helpers.js';

const small: VisionTransformerConfig = { imgSize: 32, patchSize: 8, embedDim: 16, depth: 2, numHeads: 2, seed: 3 };

function image(b: number, h: number, w: number): tf.Tensor4D {
  const n = b * h * w * 3;
  return tf.tensor4d(Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)), [b, h, w, 3]);
}

describe('VisionTransformer dynamicImgSize', () => {
  it('off (default): another image size is refused as before', () => {
    const vit = new VisionTransformer(small);
    const x = image(1, 48, 48);
    const before = tf.memory().numTensors;
    expect(() => vit.forwardFeatures(x)).toThrow(/image size 48x48 .* does not match imgSize 32x32/);
    expect(() => vit.posEmbedFor([6, 6])).toThrow(/grid 6x6 differs from the model's 4x4 grid and dynamicImgSize is false/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    vit.dispose();
  });

  it.each([
    [[48, 48], {}],
    [[24, 40], {}],
    [[16, 16], { mode: 'bicubic', antialias: false, scaleOffset: 0.1 }],
    [[48, 32], { mode: 'bilinear', antialias: false }],
  ] as [[number, number], PosEmbedResize][])('at %j with %j equals a model whose table was resized up front', (hw, resize) => {
    const vit = new VisionTransformer({ ...small, dynamicImgSize: true, posEmbedResize: resize });
    const [gh, gw] = [hw[0] / 8, hw[1] / 8];
    const fixed = new VisionTransformer({ ...small, imgSize: [hw[0], hw[1]] });
    // Same weights everywhere, and the up-front resized table.
    const src = vit.namedWeights();
    for (const [k, w] of fixed.namedWeights()) {
      if (k === 'pos_embed') {
        const off = resize.scaleOffset;
        const sf: [number, number] | undefined = off !== undefined ? [(gh + off) / 4, (gw + off) / 4] : undefined;
        w.write(tf.tidy(() => resamplePosTable(src.get(k)!.read(), 4, [gh, gw], { mode: resize.mode ?? 'bicubic', antialias: resize.antialias ?? true, scaleFactor: sf })));
      } else w.write(src.get(k)!.read());
    }
    const x = image(2, hw[0], hw[1]);
    const before = tf.memory().numTensors;
    const got = vit.forward(x);
    expect(got.shape).toEqual([2, 1 + gh * gw, 16]);
    const want = fixed.forward(x);
    expectClose(got, want, 1e-5, 1e-4);
    tf.dispose([got, want]);
    expect(tf.memory().numTensors).toBe(before);
    // At its own size the dynamic model uses the stored table itself.
    const x0 = image(1, 32, 32);
    const a = vit.forward(x0);
    expect(a.shape).toEqual([1, 17, 16]);
    tf.dispose([x, x0, a]);
    vit.dispose();
    fixed.dispose();
  });

  it("the default is timm's dynamic path (bicubic, antialias), DINO's flavour resizes by (g + 0.1) / n", () => {
    const timm = new VisionTransformer({ ...small, dynamicImgSize: true });
    expect(timm.config.posEmbedResize).toEqual({ mode: 'bicubic', antialias: true });
    const t = tf.tidy(() => timm.posEmbedFor([3, 3]));
    const want = tf.tidy(() => resamplePosTable(timm.posEmbed!.read(), 4, 3, { antialias: true }));
    expectClose(t, want, 0, 0);
    const dino = new VisionTransformer({ ...small, dynamicImgSize: true, posEmbedResize: { antialias: false, scaleOffset: 0.1 } });
    dino.posEmbed!.write(timm.posEmbed!.read());
    const d = tf.tidy(() => dino.posEmbedFor([3, 3]));
    const dw = tf.tidy(() => resamplePosTable(timm.posEmbed!.read(), 4, 3, { scaleFactor: 3.1 / 4 }));
    expectClose(d, dw, 0, 0);
    tf.dispose([t, want, d, dw]);
    timm.dispose();
    dino.dispose();
  });

  it('gradients reach pos_embed (every patch row and the class row) at another size', () => {
    const vit = new VisionTransformer({ ...small, dynamicImgSize: true });
    const x = image(2, 24, 40);
    const before = tf.memory().numTensors;
    const { grads, value } = tf.variableGrads(() => tf.sum(tf.square(vit.forward(x))) as tf.Scalar, vit.trainableVariables());
    const g = grads[(vit.posEmbed!.read() as tf.Variable).name]!;
    expect(g.shape).toEqual([1, 17, 16]);
    const rows = tf.tidy(() => tf.sum(tf.abs(g), [0, 2]).dataSync());
    for (let r = 0; r < 17; r++) expect(rows[r]!).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    vit.dispose();
  });

  it('refuses a relative position bias and bad resize options, by name', () => {
    expect(() => new VisionTransformer({ ...small, dynamicImgSize: true, useRelPosBias: true })).toThrow(
      /dynamicImgSize is not available with a relative position bias/,
    );
    expect(() => new VisionTransformer({ ...small, dynamicImgSize: true, posEmbedResize: { mode: 'area' as 'bicubic' } })).toThrow(
      /posEmbedResize.mode must be 'bicubic', 'bilinear' or 'nearest', got 'area'/,
    );
    expect(() => new VisionTransformer({ ...small, dynamicImgSize: true, posEmbedResize: { scaleOffset: 2 } })).toThrow(
      /posEmbedResize.scaleOffset must be a number in \[0, 1\), got 2/,
    );
    const vit = new VisionTransformer({ ...small, dynamicImgSize: true });
    const x = image(1, 20, 24);
    const before = tf.memory().numTensors;
    expect(() => vit.forward(x)).toThrow(/image size 20x24 is not divisible by patchSize 8/);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    vit.dispose();
  });
});
