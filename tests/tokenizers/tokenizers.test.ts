import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  ColorPaletteTokenizer,
  PatchCodebookTokenizer,
  PretrainedTokenizer,
  TOKENIZER_FORMAT,
  type VisualTokenizer,
} from '../../src/tokenizers/index.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import { Rng } from '../../src/utils/random.js';

const PALETTE = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
  [1, 1, 1],
];

/** Images whose pixels are palette colours (+-noise); returns the image tensor and each pixel's colour index. */
function paletteImages(b: number, h: number, w: number, noise: number, seed: number): { imgs: tf.Tensor4D; colour: number[] } {
  const rng = new Rng(seed);
  const colour: number[] = [];
  const data = new Float32Array(b * h * w * 3);
  for (let i = 0; i < b * h * w; i++) {
    const c = rng.randint(0, PALETTE.length - 1);
    colour.push(c);
    for (let t = 0; t < 3; t++) data[i * 3 + t] = PALETTE[c]![t]! + rng.uniformRange(-noise, noise);
  }
  return { imgs: tf.tensor4d(data, [b, h, w, 3]), colour };
}

// Three 2x2 one-channel patch prototypes (MAE patchify order: row in patch, column, channel).
const PROTOS = [
  [1, 0, 0, 1],
  [0, 1, 1, 0],
  [1, 1, 0, 0],
];

/** Images tiled with prototype patches (+ offset per prototype, + noise); returns each patch's prototype id. */
function patchImages(
  b: number,
  gh: number,
  gw: number,
  seed: number,
  protos: number[][] = PROTOS,
  offsets: number[] = protos.map(() => 0),
): { imgs: tf.Tensor4D; proto: number[] } {
  const rng = new Rng(seed);
  const p = 2;
  const h = gh * p;
  const w = gw * p;
  const data = new Float32Array(b * h * w);
  const proto: number[] = [];
  for (let i = 0; i < b; i++) {
    for (let r = 0; r < gh; r++) {
      for (let c = 0; c < gw; c++) {
        const k = rng.randint(0, protos.length - 1);
        proto.push(k);
        for (let y = 0; y < p; y++) {
          for (let x = 0; x < p; x++) {
            data[(i * h + r * p + y) * w + c * p + x] = protos[k]![y * p + x]! + offsets[k]! + rng.uniformRange(-0.05, 0.05);
          }
        }
      }
    }
  }
  return { imgs: tf.tensor4d(data, [b, h, w, 1]), proto };
}

/** Asserts that ids partition the items exactly as the true classes do. */
function expectSamePartition(ids: ArrayLike<number>, truth: number[]): void {
  const map = new Map<number, number>();
  truth.forEach((t, i) => {
    if (!map.has(t)) map.set(t, ids[i]!);
    expect(ids[i]).toBe(map.get(t));
  });
  expect(new Set(map.values()).size).toBe(map.size);
}

function expectIdsInRange(tok: VisualTokenizer, ids: tf.Tensor): void {
  expect(ids.dtype).toBe('int32');
  const v = ids.dataSync();
  for (const id of v) {
    expect(id).toBeGreaterThanOrEqual(0);
    expect(id).toBeLessThan(tok.vocabSize);
  }
}

describe('ColorPaletteTokenizer (iGPT)', () => {
  it('fits the palette colours and gives one token per pixel in raster order', () => {
    const { imgs, colour } = paletteImages(3, 6, 5, 0.03, 1);
    const tok = new ColorPaletteTokenizer();
    const before = tf.memory().numTensors;
    const report = tok.fit(imgs, { k: 4, seed: 2 });
    expect(report.converged).toBe(true);
    expect(report.samples).toBe(3 * 6 * 5);
    expect(tf.memory().numTensors).toBe(before + 1); // the codebook
    expect([tok.vocabSize, tok.patchSize, tok.inChans]).toEqual([4, 1, 3]);
    // Each palette colour has one centroid within the noise.
    const cb = tok.getCodebook();
    for (const col of PALETTE) {
      const near = [0, 1, 2, 3].filter((j) => col.every((v, t) => Math.abs(cb[j * 3 + t]! - v) < 0.03));
      expect(near.length).toBe(1);
    }
    const mid = tf.memory().numTensors;
    const ids = tok.tokenize(imgs);
    expect(tf.memory().numTensors).toBe(mid + 1);
    expect(ids.shape).toEqual([3, 30]);
    expectIdsInRange(tok, ids);
    expectSamePartition(ids.dataSync(), colour);
    const back = tok.decodeImages(ids, 6, 5);
    expect(back.shape).toEqual([3, 6, 5, 3]);
    expect(tf.max(tf.abs(tf.sub(back, imgs))).dataSync()[0]).toBeLessThan(0.06);
    const colours = tok.decode(tf.tensor1d([0, 3], 'int32'));
    expect(colours.shape).toEqual([2, 3]);
    expect(Array.from(colours.dataSync())).toEqual([...cb.slice(0, 3), ...cb.slice(9, 12)]);
    tf.dispose([imgs, ids, back, colours]);
    tok.dispose();
  });

  it('re-fitting replaces the codebook without leaking; dispose frees it', () => {
    const { imgs } = paletteImages(1, 4, 4, 0.03, 3);
    const tok = new ColorPaletteTokenizer({ inChans: 3 });
    expect(tok.inChans).toBe(3);
    const before = tf.memory().numTensors;
    tok.fit(imgs, { k: 2 });
    tok.fit(imgs, { k: 3 });
    expect(tok.vocabSize).toBe(3);
    expect(tf.memory().numTensors).toBe(before + 1);
    tok.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(tok.isFitted).toBe(false);
    imgs.dispose();
  });
});

describe('PatchCodebookTokenizer', () => {
  it('recovers patch prototypes on non-square images, row-major grid order', () => {
    const { imgs, proto } = patchImages(5, 2, 3, 4); // 4x6 images, 2x3 grid
    const tok = new PatchCodebookTokenizer({ patchSize: 2 });
    tok.fit(imgs, { k: 3, seed: 1 });
    const ids = tok.tokenize(imgs);
    expect(ids.shape).toEqual([5, 6]);
    expectIdsInRange(tok, ids);
    expectSamePartition(ids.dataSync(), proto);
    // The codebook holds the prototypes (MAE patch order).
    const cb = tok.getCodebook();
    for (const pr of PROTOS) {
      expect([0, 1, 2].some((j) => pr.every((v, t) => Math.abs(cb[j * 4 + t]! - v) < 0.05))).toBe(true);
    }
    const vec = tok.decode(tf.slice(ids, [0, 0], [1, 2]));
    expect(vec.shape).toEqual([1, 2, 4]);
    tf.dispose([imgs, ids, vec]);
    tok.dispose();
  });

  it("patchNorm 'meanStd' ignores a patch's brightness", () => {
    // Prototype 0 and prototype 0 brightened by +0.5 are the same texture.
    const protos = [PROTOS[0]!, PROTOS[0]!, PROTOS[2]!];
    const { imgs, proto } = patchImages(4, 3, 3, 5, protos, [0, 0.5, 0]);
    const texture = proto.map((k) => (k === 2 ? 1 : 0));
    const tok = new PatchCodebookTokenizer({ patchSize: 2, patchNorm: 'meanStd' });
    tok.fit(imgs, { k: 2, seed: 0 });
    const ids = tok.tokenize(imgs);
    expectSamePartition(ids.dataSync(), texture);
    // Without normalisation the brightened copy is a cluster of its own: k = 3 separates all three.
    const plain = new PatchCodebookTokenizer({ patchSize: 2 });
    plain.fit(imgs, { k: 3, seed: 0 });
    const pid = plain.tokenize(imgs);
    expectSamePartition(pid.dataSync(), proto);
    tf.dispose([imgs, ids, pid]);
    tok.dispose();
    plain.dispose();
  });

  it('the same seed gives the same codebook; memory is flat over fit + tokenize', () => {
    const { imgs } = patchImages(4, 4, 4, 6);
    const a = new PatchCodebookTokenizer({ patchSize: 2 });
    const b = new PatchCodebookTokenizer({ patchSize: 2 });
    const before = tf.memory().numTensors;
    a.fit(imgs, { k: 5, seed: 9, sampleSize: 40 });
    b.fit(imgs, { k: 5, seed: 9, sampleSize: 40 });
    expect(Array.from(a.getCodebook())).toEqual(Array.from(b.getCodebook()));
    const ids = a.tokenize(imgs);
    ids.dispose();
    a.dispose();
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
    imgs.dispose();
  });
});

describe('save / load as PretrainedTokenizer', () => {
  for (const patchNorm of ['none', 'meanStd'] as const) {
    it(`round trip gives identical tokens (patchNorm ${patchNorm})`, () => {
      const { imgs } = patchImages(3, 2, 2, 7);
      const tok = new PatchCodebookTokenizer({ patchSize: 2, patchNorm });
      tok.fit(imgs, { k: 4, seed: 3 });
      const bytes = tok.toSafetensors();
      const file = parseSafetensors(bytes);
      expect(file.metadata.format).toBe(TOKENIZER_FORMAT);
      expect(JSON.parse(file.metadata.config!)).toMatchObject({
        tokenizer: 'patch_kmeans',
        vocab_size: 4,
        embed_dim: 4,
        patch_size: 2,
        in_chans: 1,
        patch_norm: patchNorm === 'meanStd' ? 'mean_std' : 'none',
        l2_normalize: false,
      });
      expect(file.info('codebook').shape).toEqual([4, 4]);
      const loaded = PretrainedTokenizer.fromSafetensors(bytes);
      expect([loaded.vocabSize, loaded.patchSize, loaded.inChans, loaded.patchNorm]).toEqual([4, 2, 1, patchNorm]);
      expect(Array.from(loaded.getCodebook())).toEqual(Array.from(tok.getCodebook()));
      const { imgs: other } = patchImages(2, 3, 2, 8);
      const t1 = tok.tokenize(other);
      const t2 = loaded.tokenize(other);
      expect(Array.from(t2.dataSync())).toEqual(Array.from(t1.dataSync()));
      tf.dispose([imgs, other, t1, t2]);
      tok.dispose();
      loaded.dispose();
    });
  }

  it('a palette reloads with patchSize 1', () => {
    const { imgs } = paletteImages(1, 4, 4, 0.02, 9);
    const pal = new ColorPaletteTokenizer();
    pal.fit(imgs, { k: 4 });
    const loaded = PretrainedTokenizer.fromSafetensors(pal.toSafetensors());
    expect(loaded.kind).toBe('color_palette');
    const a = pal.tokenize(imgs);
    const b = loaded.tokenize(imgs);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([imgs, a, b]);
    pal.dispose();
    loaded.dispose();
  });
});

describe('PretrainedTokenizer', () => {
  // p = 1, C = 2: a patch is a pixel (a, b). proj (PyTorch [out, in]) swaps the
  // channels and adds bias [1, 0]: feature = (b + 1, a).
  const config = {
    codebook: new Float32Array([1, 0, 0, 2, -1, -1]),
    vocabSize: 3,
    patchSize: 1,
    inChans: 2,
    proj: { weight: new Float32Array([0, 1, 1, 0]), bias: new Float32Array([1, 0]) },
  };
  // Pixels -> features (1,0), (1,3), (-2,0), (0.9,1.1).
  const pixels = [0, 0, 3, 0, 0, -3, 1.1, -0.1];

  it('projects, then looks up by cosine with l2Normalize (hand example)', () => {
    const tok = new PretrainedTokenizer({ ...config, l2Normalize: true });
    const imgs = tf.tensor4d(pixels, [1, 1, 4, 2]);
    const before = tf.memory().numTensors;
    const ids = tok.tokenize(imgs);
    expect(tf.memory().numTensors).toBe(before + 1);
    // cos with (1,0), (0,1), (-1,-1)/sqrt2: (0.9,1.1) is closer in angle to (0, 2).
    expect(Array.from(ids.dataSync())).toEqual([0, 1, 2, 1]);
    const f = tok.features(imgs);
    expect(f.shape).toEqual([1, 4, 2]);
    const fv = f.dataSync();
    expect(fv[2]).toBeCloseTo(1 / Math.sqrt(10), 6);
    expect(fv[3]).toBeCloseTo(3 / Math.sqrt(10), 6);
    tf.dispose([imgs, ids, f]);
    tok.dispose();
  });

  it('looks up by Euclidean distance without l2Normalize (hand example)', () => {
    const tok = new PretrainedTokenizer(config);
    const imgs = tf.tensor4d(pixels, [1, 2, 2, 2]);
    const ids = tok.tokenize(imgs);
    // (0.9,1.1): |.-(1,0)|^2 = 1.22 < |.-(0,2)|^2 = 1.62.
    expect(ids.shape).toEqual([1, 4]);
    expect(Array.from(ids.dataSync())).toEqual([0, 1, 2, 0]);
    const dec = tok.decode(tf.tensor2d([[2, 0]], [1, 2], 'int32'));
    expect(dec.shape).toEqual([1, 2, 2]);
    expect(Array.from(dec.dataSync())).toEqual([-1, -1, 1, 0]);
    tf.dispose([imgs, ids, dec]);
    tok.dispose();
  });

  it('saves and reloads the projection and l2 flag; reads foreign files with options', () => {
    const tok = new PretrainedTokenizer({ ...config, l2Normalize: true });
    const loaded = PretrainedTokenizer.fromSafetensors(tok.toSafetensors());
    expect(loaded.l2Normalize).toBe(true);
    const imgs = tf.tensor4d(pixels, [1, 1, 4, 2]);
    const ids = loaded.tokenize(imgs);
    expect(Array.from(ids.dataSync())).toEqual([0, 1, 2, 1]);
    // A foreign file: codebook under BEiT v2's key, no config.
    const foreign = serializeSafetensors({
      'quantize.embedding.weight': { dtype: 'F16', shape: [2, 2], data: [1, 0, 0, 1] },
    });
    expect(() => PretrainedTokenizer.fromSafetensors(foreign)).toThrow(/no codebook tensor 'codebook'/);
    expect(() => PretrainedTokenizer.fromSafetensors(foreign, { codebookKey: 'quantize.embedding.weight' })).toThrow(
      /patchSize is missing: the file's config has no patch_size; pass options.patchSize/,
    );
    const f = PretrainedTokenizer.fromSafetensors(foreign, { codebookKey: 'quantize.embedding.weight', patchSize: 1, inChans: 2 });
    const fid = f.tokenize(tf.tensor4d([0.9, 0.1, 0.2, 0.7], [1, 1, 2, 2]));
    expect(Array.from(fid.dataSync())).toEqual([0, 1]);
    tf.dispose([imgs, ids, fid]);
    tok.dispose();
    loaded.dispose();
    f.dispose();
  });

  it('rejects inconsistent configs and files', () => {
    expect(() => new PretrainedTokenizer({ ...config, proj: undefined })).not.toThrow(); // d = 2 = 1*1*2
    expect(() => new PretrainedTokenizer({ ...config, proj: undefined, patchSize: 2 })).toThrow(
      /codebook has embedDim 2 but patches have patchSize\*patchSize\*inChans = 8 values and no proj is given/,
    );
    expect(() => new PretrainedTokenizer({ ...config, vocabSize: 4 })).toThrow(
      /codebook must be a Float32Array of vocabSize \* embedDim values, got 6 values for vocabSize 4/,
    );
    expect(() => new PretrainedTokenizer({ ...config, proj: { weight: new Float32Array(3) } })).toThrow(
      /proj.weight must be a Float32Array \[embedDim, p\*p\*C\] = \[2, 2\], got 3 values/,
    );
    expect(() => new PretrainedTokenizer({ ...config, patchNorm: 'l2' as 'none' })).toThrow(/patchNorm must be 'none' or 'meanStd', got "l2"/);
    expect(() => new PretrainedTokenizer({ ...config, inChans: 1, proj: undefined, codebook: new Float32Array(3), patchNorm: 'meanStd' })).toThrow(
      /patchNorm 'meanStd' needs at least 2 values per patch/,
    );
    const badCfg = serializeSafetensors({ codebook: { dtype: 'F32', shape: [1, 1], data: [0] } }, { config: '[1,2]' });
    expect(() => PretrainedTokenizer.fromSafetensors(badCfg)).toThrow(/__metadata__.config must be a JSON object/);
    const tok = new PretrainedTokenizer(config);
    const ids = tf.tensor1d([0, 7], 'int32');
    expect(() => tok.decode(ids)).toThrow(/ids must be in \[0, 3\), got 7 at flat index 1/);
    tok.dispose();
    const imgs = tf.zeros([1, 1, 1, 2]) as tf.Tensor4D;
    expect(() => tok.tokenize(imgs)).toThrow(/the tokenizer has been disposed/);
    tf.dispose([ids, imgs]);
  });
});

describe('input validation (before any tensor work)', () => {
  it('names the parameter, the value and what was expected', () => {
    expect(() => new PatchCodebookTokenizer({ patchSize: 0 })).toThrow(/PatchCodebookTokenizer: patchSize must be a positive integer, got 0/);
    expect(() => new PatchCodebookTokenizer({ patchSize: 2, inChans: 0 })).toThrow(/inChans must be a positive integer, got 0/);
    const tok = new PatchCodebookTokenizer({ patchSize: 2 });
    const rgb = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    const odd = tf.zeros([1, 5, 4, 1]) as tf.Tensor4D;
    const gray = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
    const r3 = tf.zeros([4, 4, 1]) as unknown as tf.Tensor4D;
    const before = tf.memory().numTensors;
    expect(() => tok.tokenize(gray)).toThrow(/PatchCodebookTokenizer.tokenize: the tokenizer is not fitted; call fit\(imgs\) first/);
    expect(() => tok.vocabSize).toThrow(/not fitted/);
    expect(() => tok.toSafetensors()).toThrow(/not fitted/);
    expect(() => tok.fit(odd)).toThrow(/image size 5x4 is not divisible by patchSize 2/);
    expect(() => tok.fit(r3)).toThrow(/imgs must be a \[B, H, W, C\] tensor, got shape \[4,4,1\]/);
    expect(() => tok.fit(gray, { k: 0 })).toThrow(/k must be a positive integer, got 0/);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => tok.fit(gray, { k: 5 })).toThrow(/k must be at most the number of patches clustered \(4\), got 5/);
    expect(tf.memory().numTensors).toBe(before);
    tok.fit(gray, { k: 1 });
    expect(() => tok.tokenize(rgb)).toThrow(/imgs has 3 channels \(shape \[1,4,4,3\]\), expected inChans = 1/);
    const pal = new ColorPaletteTokenizer({ inChans: 3 });
    expect(() => pal.fit(gray)).toThrow(/imgs has 1 channels .* expected inChans = 3/);
    expect(() => pal.fit(rgb, { k: 17 })).toThrow(/k must be at most the number of pixels clustered \(16\), got 17/);
    const meanStd = new PatchCodebookTokenizer({ patchSize: 1, patchNorm: 'meanStd' });
    expect(() => meanStd.fit(gray)).toThrow(/patchNorm 'meanStd' needs at least 2 values per patch, got patchSize\*patchSize\*inChans = 1/);
    tok.dispose();
    tf.dispose([rgb, odd, gray, r3]);
  });
});
