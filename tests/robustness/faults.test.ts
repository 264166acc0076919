/**
 * One test per kind of fault found by trying bad input, faults and misuse
 * (issue 7, "Errors leave nothing behind"): each checks the error names what
 * went wrong and that no tensor is left behind.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it, vi } from 'vitest';
import {
  AdamW,
  Attention,
  BEiT,
  Block,
  CONFIG_LIMITS,
  Linear,
  MultiwayBlock,
  PatchEmbed,
  TextMasker,
  VisionTransformer,
  cosineScheduler,
  exportWeights,
  gatherTokens,
  initTensor,
  loadWeights,
  maskedCrossEntropy,
  maskedMseLoss,
  parseSafetensors,
  readSafetensorsFile,
  writeSafetensorsFile,
  trainStep,
  type Init,
} from '../../src/index.js';
import { MICRO_MAE, expectCleanThrow, expectSameWeights, microMae, snapshot } from './helpers.js';

function safetensorsBytes(header: string): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  return out;
}

/** Every step count and moment of an AdamW, as plain numbers. */
function optimiserState(opt: AdamW): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, p] of opt.getState().params) {
    out[k] = Object.fromEntries(
      Object.entries(p).map(([f, v]) => [f, v instanceof tf.Tensor ? Array.from(v.dataSync()) : v]),
    );
  }
  return out;
}

describe('trainStep', () => {
  it('leaks nothing when the loss function throws, even halfway through a forward pass', () => {
    const mae = microMae();
    const opt = new AdamW(mae, { lr: 1e-3 });
    const x = tf.zeros([2, 8, 8, 1]);
    // A user's bug after the forward pass: the tape holds the whole pass.
    expectCleanThrow(
      () =>
        trainStep(() => {
          mae.forward(x);
          throw new Error('user bug');
        }, mae, opt),
      /user bug/,
    );
    // The library's own validation throwing inside the loss function.
    const bad = tf.zeros([2, 8, 8, 1]);
    expectCleanThrow(
      () =>
        trainStep(() => {
          const out = mae.forward(x);
          return tf.add(out.loss, mae.forward(bad, { maskRatio: 2 }).loss) as tf.Scalar;
        }, mae, opt),
      /maskRatio/,
    );
    // Inside tf.tidy too, and a later step still works with a flat count.
    const z2 = tf.zeros([1, 2]);
    const z3 = tf.zeros([3]);
    expectCleanThrow(() => tf.tidy(() => { trainStep(() => maskedMseLoss(z2, z2, z3), mae, opt); }), /mask must have shape/);
    tf.dispose([z2, z3]);
    const r = trainStep(() => mae.forward(x, { seed: 1 }).loss, mae, opt);
    expect(Number.isFinite(r.loss)).toBe(true);
    tf.dispose([x, bad]);
    opt.dispose();
    mae.dispose();
  });

  it('checkFinite refuses a NaN loss or gradient and leaves weights and optimiser state unchanged', () => {
    const mae = microMae();
    const opt = new AdamW(mae, { lr: 1e-2 });
    const good = tf.randomUniform([2, 8, 8, 1], 0, 1, 'float32', 1);
    trainStep(() => mae.forward(good, { seed: 1 }).loss, mae, opt); // optimiser state exists
    const before = snapshot(mae.namedWeights());
    const stateBefore = optimiserState(opt);
    const moments = opt.variables().length;
    const nanImg = tf.tidy(() => tf.tile(tf.where(tf.equal(tf.reshape(tf.range(0, 64), [1, 8, 8, 1]), 5), tf.scalar(NaN), tf.zeros([1, 8, 8, 1])), [2, 1, 1, 1]));
    // mask ratio 0: the NaN pixel is always in the loss.
    expectCleanThrow(
      () => trainStep(() => mae.forward(nanImg, { seed: 1, maskRatio: 0.5 }).loss, mae, opt, { checkFinite: true }),
      /trainStep: (the loss is NaN|non-finite gradient).*checkFinite.*unchanged/,
    );
    expectSameWeights(before, snapshot(mae.namedWeights()));
    expect(optimiserState(opt)).toEqual(stateBefore);
    expect(opt.variables().length).toBe(moments);
    // Without the check the same step poisons the weights (the fault).
    trainStep(() => mae.forward(nanImg, { seed: 1, maskRatio: 0.5 }).loss, mae, opt);
    const poisoned = [...snapshot(mae.namedWeights()).values()].some((v) => v.some((x) => Number.isNaN(x)));
    expect(poisoned).toBe(true);
    expectCleanThrow(() => trainStep(() => tf.scalar(1), mae, opt, { checkFinite: 'yes' as unknown as boolean }), /trainStep: checkFinite must be a boolean, got "yes"/);
    tf.dispose([good, nanImg]);
    opt.dispose();
    mae.dispose();
  });
});

describe('loadWeights', () => {
  it('a failed load leaves the module unchanged and names the key', () => {
    const src = microMae({ seed: 1 });
    const dst = microMae({ seed: 2 });
    const sd = exportWeights(src);
    const keys = [...sd.keys()].sort();
    // Dispose a tensor late in the load order: earlier ones must not be written.
    const victim = keys[keys.length - 1]!;
    sd.get(victim)!.dispose();
    const before = snapshot(dst.namedWeights());
    expectCleanThrow(() => loadWeights(dst, sd), new RegExp(`cannot read '${victim.replace(/\./g, '\\.')}'.*disposed.*nothing was loaded`));
    expectSameWeights(before, snapshot(dst.namedWeights()));
    tf.dispose([...sd.values()].filter((t) => !t.isDisposed));
    src.dispose();
    dst.dispose();
  });

  it('checkFinite: true refuses NaN/Inf weights (nothing written); "warn" loads and warns', () => {
    const dst = microMae({ seed: 2 });
    const sd = exportWeights(microMae({ seed: 1 }));
    const key = 'norm.weight';
    sd.get(key)!.dispose();
    sd.set(key, tf.tensor1d(new Float32Array(8).fill(Infinity)));
    const before = snapshot(dst.namedWeights());
    expectCleanThrow(() => loadWeights(dst, sd, { checkFinite: true }), /non-finite values in 1 tensor\(s\): 'norm\.weight' \(element 0 is Infinity\); nothing was loaded/);
    expectSameWeights(before, snapshot(dst.namedWeights()));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    loadWeights(dst, sd, { checkFinite: 'warn' });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/norm\.weight/));
    warn.mockRestore();
    expectCleanThrow(() => loadWeights(dst, sd, { checkFinite: 1 as unknown as boolean }), /checkFinite must be true, false or 'warn', got 1/);
    tf.dispose([...sd.values()]);
    dst.dispose();
  });
});

describe('constructors', () => {
  it('validate under the user parameter names before building anything', () => {
    expectCleanThrow(() => microMae({ decoderEmbedDim: 6, decoderNumHeads: 4 }), /^MAE: decoderEmbedDim 6 is not divisible by decoderNumHeads 4/);
    expectCleanThrow(() => microMae({ decoderEmbedDim: 6 }), /^MAE: decoderEmbedDim 6 must be a multiple of 4/);
    expectCleanThrow(() => microMae({ decoderEmbedDim: 10, decoderNumHeads: 5 }), /^MAE: decoderEmbedDim 10 must be a multiple of 4/);
    expectCleanThrow(() => microMae({ decoderDepth: -1 }), /^MAE: decoderDepth must be an integer in \[0, 1024\], got -1/);
    expectCleanThrow(() => microMae({ imgSize: 10 }), /^MAE: imgSize 10x10 is not divisible by patchSize 4/);
    expectCleanThrow(() => microMae({ patchSze: 4 } as never), /^MAE: unknown config key 'patchSze'/);
    expectCleanThrow(() => new BEiT({ imgSize: 8, patchSize: 4, embedDim: 8, depth: 1, numHeads: 3 }), /^BEiT: embedDim 8 is not divisible by numHeads 3/);
  });

  it('bound sizes: depth 1e9 and embedDim 1e9 fail at once; a huge parameter count is refused', () => {
    const t0 = Date.now();
    expectCleanThrow(() => microMae({ depth: 1e9 }), /^MAE: depth must be an integer in \[0, 1024\], got 1000000000/);
    expectCleanThrow(() => new VisionTransformer({ embedDim: 1e9 }), /^VisionTransformer: embedDim must be an integer in \[1, 65536\], got 1000000000/);
    expectCleanThrow(() => new VisionTransformer({ embedDim: 65536, depth: 100, numHeads: 16 }), /would need about .* weights, above the limit .*maxParams/);
    expectCleanThrow(() => cosineScheduler({ baseValue: 1, finalValue: 0, epochs: 1e9, nIterPerEpoch: 1e6 }), /exceeds the 100000000 entries/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(CONFIG_LIMITS.maxDepth).toBe(1024);
  });

  it('refuse wrong-typed configs: non-objects, null fields, strings as booleans, bad seeds, unknown init kinds', () => {
    expectCleanThrow(() => new (VisionTransformer as unknown as new (c: unknown) => unknown)('abc'), /VisionTransformer: config must be an object \(or omitted\), got "abc"/);
    expectCleanThrow(() => new (VisionTransformer as unknown as new (c: unknown) => unknown)(null), /VisionTransformer: config must be an object/);
    expectCleanThrow(() => microMae({ embedDim: null } as never), /MAE: embedDim must be an integer in \[1, 65536\], got null/);
    expectCleanThrow(() => microMae({ normPixLoss: 'false' } as never), /MAE: normPixLoss must be a boolean, got "false"/);
    expectCleanThrow(() => new VisionTransformer({ ...MICRO_MAE, decoderDepth: undefined, decoderEmbedDim: undefined, decoderNumHeads: undefined, classToken: 'no' } as never), /VisionTransformer: classToken must be a boolean, got "no"/);
    for (const seed of [NaN, Infinity, 'abc', 0.7]) {
      expectCleanThrow(() => microMae({ seed } as never), /^MAE: seed must be a safe integer, got/);
    }
    expectCleanThrow(() => initTensor({ kind: 'xavier' } as unknown as Init, [2, 2], 0), /initTensor: unknown init kind "xavier"/);
    expectCleanThrow(() => new Block({ dim: 8 } as never), /^Block: numHeads must be an integer in \[1, 1024\], got undefined/);
    expectCleanThrow(() => new Linear(undefined as never), /^Linear: a config object is required/);
  });
});

describe('empty batches, dtypes and ranges', () => {
  it('refuse an empty batch before tensor work (WASM would divide by zero or read stale memory)', () => {
    const mae = microMae();
    const empty = tf.zeros([0, 8, 8, 1]);
    expectCleanThrow(() => mae.forward(empty), /MAE: imgs has an empty batch/);
    expectCleanThrow(() => mae.encoder.forward(empty), /VisionTransformer.forwardFeatures: imgs has an empty batch/);
    const blk = new Block({ dim: 8, numHeads: 2 });
    const e3 = tf.zeros([0, 4, 8]);
    expectCleanThrow(() => blk.forward(e3), /Block.forward: x has an empty batch/);
    expectCleanThrow(() => blk.attn.forward(e3), /Attention.forward: x has an empty batch/);
    const e2 = tf.zeros([0, 4]);
    expectCleanThrow(() => maskedMseLoss(e3, e3, e2), /maskedMseLoss: pred is empty/);
    const logits = tf.zeros([0, 5]);
    const noLabels = tf.zeros([0], 'int32');
    expectCleanThrow(() => maskedCrossEntropy(logits, noLabels), /maskedCrossEntropy: logits is empty/);
    tf.dispose([empty, e3, e2, logits, noLabels]);
    blk.dispose();
    mae.dispose();
  });

  it('refuse int32 and bool inputs consistently', () => {
    const vit = new VisionTransformer({ imgSize: 8, patchSize: 4, inChans: 1, embedDim: 8, depth: 1, numHeads: 2 });
    const beit = new BEiT({ imgSize: 8, patchSize: 4, inChans: 1, embedDim: 8, depth: 1, numHeads: 2, vocabSize: 4 });
    const pe = new PatchEmbed({ imgSize: 8, patchSize: 4, inChans: 1, embedDim: 8 });
    const blk = new Block({ dim: 8, numHeads: 2 });
    const attn = new Attention({ dim: 8, numHeads: 2 });
    const mw = new MultiwayBlock({ embedDim: 8, heads: 2 });
    const imgs = tf.zeros([1, 8, 8, 1], 'int32');
    const tokens = tf.zeros([1, 4, 8], 'bool');
    const mask = tf.zeros([1, 4]);
    expectCleanThrow(() => vit.forward(imgs), /VisionTransformer.forwardFeatures: imgs must be float32, got dtype int32/);
    expectCleanThrow(() => beit.forwardEncoder(imgs, mask), /BEiT: imgs must be float32, got dtype int32/);
    expectCleanThrow(() => pe.forward(imgs), /PatchEmbed.forward: imgs must be float32, got dtype int32/);
    expectCleanThrow(() => blk.forward(tokens), /Block.forward: x must be float32, got dtype bool/);
    expectCleanThrow(() => attn.forward(tokens), /Attention.forward: x must be float32, got dtype bool/);
    expectCleanThrow(() => mw.forward(tokens), /MultiwayBlock.forward: x must be float32, got dtype bool/);
    tf.dispose([imgs, tokens, mask]);
    for (const m of [vit, beit, pe, blk, attn, mw]) m.dispose();
  });

  it('refuse out-of-range ids and labels', () => {
    const logits = tf.zeros([3, 5]);
    const past = tf.tensor1d([0, 5, 1], 'int32');
    expectCleanThrow(() => maskedCrossEntropy(logits, past), /maskedCrossEntropy: label 5 at flat position 1 is outside \[0, 5\)/);
    const ignored = tf.tensor1d([-100, -100, -100], 'int32');
    expectCleanThrow(() => maskedCrossEntropy(logits, ignored), /every one of the 3 labels is ignoreIndex -100/);
    const x = tf.zeros([2, 4, 3]);
    const ids = tf.tensor2d([[0, 1], [2, 4]], [2, 2], 'int32');
    expectCleanThrow(() => gatherTokens(x, ids), /gatherTokens: ids\[1, 1\] = 4 is outside \[0, 4\)/);
    const masker = new TextMasker({ vocabSize: 10, maskTokenId: 3 });
    expect(() => masker.maskArrays([1, 2, 1e9, 4], 4, 0)).toThrow(/TextMasker: ids must be in \[0, vocabSize=10\), got 1000000000/);
    expect(() => masker.maskArrays([1, -5, 2, 4], 4, 0)).toThrow(/got -5/);
    tf.dispose([logits, past, ignored, x, ids]);
  });
});

describe('safetensors reader limits', () => {
  it('refuses a deeply nested header with its own message (no stack overflow)', () => {
    const deep = safetensorsBytes(`{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}`);
    expect(() => parseSafetensors(deep)).toThrow(/^safetensors: header nests deeper than 8 levels/);
  });

  it('refuses a 1,000,000-entry header quickly', () => {
    const entry = '{"dtype":"F32","shape":[0],"data_offsets":[0,0]}';
    const parts: string[] = [];
    for (let i = 0; i < 1_000_000; i++) parts.push(`"t${i}":${entry}`);
    const bytes = safetensorsBytes(`{${parts.join(',')}}`);
    const t0 = Date.now();
    expect(() => parseSafetensors(bytes)).toThrow(/^safetensors: header has more than 100000 entries/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe('async entry points', () => {
  it('readSafetensorsFile / writeSafetensorsFile reject a bad path with a named Error', async () => {
    await expect(readSafetensorsFile(42 as never)).rejects.toThrow(/readSafetensorsFile: path must be a non-empty string, got 42/);
    await expect(writeSafetensorsFile(42 as never, new Map())).rejects.toThrow(/writeSafetensorsFile: path must be a non-empty string, got 42/);
  });
});

describe('dispose', () => {
  it('is idempotent, and any use afterwards names the disposed module', () => {
    const mae = microMae();
    const x = tf.zeros([1, 8, 8, 1]);
    const before = tf.memory().numTensors;
    const first = mae.dispose();
    expect(first.numDisposedVariables).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBeLessThan(before);
    expect(mae.dispose().numDisposedVariables).toBe(0);
    expect(mae.isDisposed).toBe(true);
    expect(mae.encoder.isDisposed).toBe(true);
    expectCleanThrow(() => mae.forward(x), /^MAE '.*' was disposed/);
    expectCleanThrow(() => mae.encoder.forward(x), /was disposed/);
    expectCleanThrow(() => mae.trainableVariables(), /^MAE '.*' was disposed/);
    expectCleanThrow(() => loadWeights(mae, new Map()), /loadWeights: MAE '.*' was disposed/);
    x.dispose();
  });
});
