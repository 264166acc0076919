import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AttentionalPooler } from '../../src/layers/attentional_pooler.js';
import { quickGelu } from '../../src/layers/mlp.js';
import { CLIP, FLIP, clipVitB16, clipVitB32, type CLIPConfig } from '../../src/models/clip.js';
import { TextTransformer } from '../../src/models/text_transformer.js';
import { zeroShotClassifier, zeroShotLogits } from '../../src/models/zero_shot.js';
import { WordTokenizer } from '../../src/tokenizers/index.js';
import { exportWeights, loadWeights } from '../../src/io/state_dict.js';
import { openClipConverter, openClipTextConverter } from '../../src/io/converters_clip.js';
import { clampLogitScale } from '../../src/losses/clip.js';
import { Rng } from '../../src/utils/random.js';
import { run as clipKind } from '../conformance/kinds/clip_model.js';
import { CONFORMANCE_DIR, checkKind, expectClose, loadCase, seededNormal } from '../layers/helpers.js';
import { expectEveryGradient, expectSameWeights, expectThrowsEarly, train, uniformTensor } from './helpers.js';

/** A tiny CLIP: 16 px images, patch 4 (16 patches), width 16, one block per tower, E 8, vocabulary 12, context 6. */
const TINY: CLIPConfig = {
  embedDim: 8,
  vision: { imageSize: 16, patchSize: 4, width: 16, layers: 1, headWidth: 8 },
  text: { vocabSize: 12, contextLength: 6, width: 16, heads: 2, layers: 1 },
  seed: 4,
};

/** Caption ids `[B, 6]`: SOT 10, words, EOT 11, zeros. */
function ids(rows: number[][]): tf.Tensor2D {
  return tf.tensor2d(rows.map((r) => [10, ...r, 11, ...Array(4 - r.length).fill(0)]), [rows.length, 6], 'int32');
}

const SHARED = existsSync(join(CONFORMANCE_DIR, 'clip_model.safetensors'));

describe('CLIP', () => {
  it.skipIf(!SHARED)('reproduces the shared clip_model conformance case (open_clip)', async () => {
    const before = tf.memory().numTensors;
    await checkKind('clip_model', clipKind);
    expect(tf.memory().numTensors).toBe(before);
  });

  it.skipIf(!SHARED)("exports exactly open_clip's state_dict keys and shapes", () => {
    const c = loadCase('clip_model');
    const cfg = c.config as { embed_dim: number; vision_cfg: Record<string, number>; text_cfg: Record<string, number> };
    const m = new CLIP({
      embedDim: cfg.embed_dim,
      vision: { imageSize: cfg.vision_cfg.image_size, patchSize: cfg.vision_cfg.patch_size, width: cfg.vision_cfg.width, layers: cfg.vision_cfg.layers, headWidth: cfg.vision_cfg.head_width },
      text: { vocabSize: cfg.text_cfg.vocab_size, contextLength: cfg.text_cfg.context_length, width: cfg.text_cfg.width, heads: cfg.text_cfg.heads, layers: cfg.text_cfg.layers },
    });
    const params = c.params();
    const out = exportWeights(m, { converter: openClipConverter });
    expect([...out.keys()].sort()).toEqual([...params.keys()].sort());
    for (const [k, t] of out) expect(t.shape, k).toEqual(params.get(k)!.shape);
    tf.dispose([...out.values(), ...params.values()]);
    m.dispose();
  });

  it('open_clip names for every option (layer scale, attentional pooler with W != E), round trip strict', () => {
    const cfg: CLIPConfig = { ...TINY, vision: { ...TINY.vision, lsInitValue: 0.1, attentionalPool: true, attnPoolerQueries: 3, attnPoolerHeads: 2 }, text: { ...TINY.text, lsInitValue: 0.1 } };
    const a = new CLIP(cfg);
    const sd = exportWeights(a, { converter: openClipConverter });
    const blk = (p: string) =>
      ['attn.in_proj_bias', 'attn.in_proj_weight', 'attn.out_proj.bias', 'attn.out_proj.weight', 'ln_1.bias', 'ln_1.weight', 'ln_2.bias', 'ln_2.weight', 'ls_1.gamma', 'ls_2.gamma', 'mlp.c_fc.bias', 'mlp.c_fc.weight', 'mlp.c_proj.bias', 'mlp.c_proj.weight'].map((k) => `${p}transformer.resblocks.0.${k}`);
    expect([...sd.keys()].sort()).toEqual(
      [
        ...blk(''), ...blk('visual.'),
        'ln_final.bias', 'ln_final.weight', 'logit_scale', 'positional_embedding', 'text_projection', 'token_embedding.weight',
        'visual.attn_pool.attn.in_proj_bias', 'visual.attn_pool.attn.k_proj_weight', 'visual.attn_pool.attn.out_proj.bias',
        'visual.attn_pool.attn.out_proj.weight', 'visual.attn_pool.attn.q_proj_weight', 'visual.attn_pool.attn.v_proj_weight',
        'visual.attn_pool.ln_k.bias', 'visual.attn_pool.ln_k.weight', 'visual.attn_pool.ln_q.bias', 'visual.attn_pool.ln_q.weight',
        'visual.attn_pool.query', 'visual.class_embedding', 'visual.conv1.weight', 'visual.ln_post.bias', 'visual.ln_post.weight',
        'visual.ln_pre.bias', 'visual.ln_pre.weight', 'visual.positional_embedding', 'visual.proj',
      ].sort(),
    );
    expect(sd.get('visual.conv1.weight')!.shape).toEqual([16, 3, 4, 4]);
    expect(sd.get('transformer.resblocks.0.attn.in_proj_weight')!.shape).toEqual([48, 16]);
    expect(sd.get('visual.attn_pool.attn.k_proj_weight')!.shape).toEqual([8, 16]);
    expect(sd.get('visual.proj')!.shape).toEqual([8, 8]);
    expect(sd.get('text_projection')!.shape).toEqual([16, 8]);
    expect(sd.get('logit_scale')!.shape).toEqual([]);
    const b = new CLIP({ ...cfg, seed: 99 });
    const report = loadWeights(b, sd, { converter: openClipConverter });
    expect(report.missing).toEqual([]);
    expect(report.unexpected).toEqual([]);
    expectSameWeights(a, b);
    // The text tower alone loads from the whole checkpoint.
    const t = new TextTransformer({ ...cfg.text, embedDim: 8, seed: 1 });
    loadWeights(t, sd, { converter: openClipTextConverter });
    expectClose(t.tokenEmbedding.read(), a.text.tokenEmbedding.read(), 0, 0);
    tf.dispose([...sd.values()]);
    [a, b, t].forEach((m) => m.dispose());
  });

  it('init as open_clip: logit_scale ln(1/0.07), token embedding std 0.02, positions std 0.01', () => {
    const m = new CLIP({ ...TINY, text: { ...TINY.text, vocabSize: 400, width: 32 } });
    expect(m.logitScale.read().dataSync()[0]).toBeCloseTo(Math.log(1 / 0.07), 6);
    const std = (t: tf.Tensor) => tf.tidy(() => Math.sqrt(tf.moments(t).variance.dataSync()[0]!));
    expect(std(m.text.tokenEmbedding.read())).toBeCloseTo(0.02, 2);
    expect(std(m.text.positionalEmbedding.read())).toBeCloseTo(0.01, 2);
    expect(std(m.text.blocks[0]!.attn.qkv.weight.read())).toBeCloseTo(32 ** -0.5, 1);
    m.dispose();
  });

  it('forward: normalised features, exp(logit_scale), logits both ways; loss = clipLoss', () => {
    const m = new CLIP(TINY);
    const x = uniformTensor([3, 16, 16, 3], 1);
    const t = ids([[1, 2], [3], [4, 5, 6]]);
    const before = tf.memory().numTensors;
    const out = m.forward(x, t);
    const norms = tf.tidy(() => tf.norm(out.imageFeatures, 'euclidean', 1));
    tf.tidy(() => expectClose(norms, tf.ones([3]), 1e-5, 0));
    expect(out.logitScale.dataSync()[0]).toBeCloseTo(1 / 0.07, 3);
    const want = tf.tidy(() => tf.mul(1 / 0.07, tf.matMul(out.imageFeatures, out.textFeatures, false, true)));
    expectClose(out.logitsPerImage, want, 1e-4, 1e-4);
    tf.tidy(() => expectClose(out.logitsPerText, tf.transpose(want), 1e-4, 1e-4));
    const raw = m.encodeImage(x);
    tf.tidy(() => expectClose(out.imageFeatures, tf.div(raw, tf.norm(raw, 'euclidean', 1, true)), 1e-5, 1e-4));
    const loss = m.loss(x, t);
    expect(Number.isFinite(loss.dataSync()[0]!)).toBe(true);
    tf.dispose([out, norms, want, raw, loss]);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('presets are the open_clip ViT-B/32 and ViT-B/16 configs', () => {
    expect(clipVitB32.vision).toMatchObject({ imageSize: 224, patchSize: 32, width: 768, layers: 12, headWidth: 64 });
    expect(clipVitB16.vision).toMatchObject({ patchSize: 16 });
    expect(clipVitB32.text).toMatchObject({ contextLength: 77, vocabSize: 49408, width: 512, heads: 8, layers: 12 });
  });

  it('every weight gets a gradient; training steps keep the tensor count flat (CLIP and FLIP)', () => {
    const x = uniformTensor([4, 16, 16, 3], 2);
    const t = ids([[1, 2], [3], [4, 5, 6], [7]]);
    const clip = new CLIP(TINY);
    expectEveryGradient(clip, () => clip.loss(x, t));
    const r = train(clip, () => clip.loss(x, t), 4, 3e-3);
    expect(new Set(r.counts).size).toBe(1);
    expect(r.losses[3]!).toBeLessThan(r.losses[0]!);
    clampLogitScale(clip.logitScale);
    const flip = new FLIP({ ...TINY, maskRatio: 0.5 });
    const rng = new Rng(3);
    const rf = train(flip, () => flip.loss(x, t, FLIP.trainingOptions(rng)), 4, 3e-3);
    expect(new Set(rf.counts).size).toBe(1);
    expect(rf.losses.every(Number.isFinite)).toBe(true);
    tf.dispose([x, t]);
    clip.dispose();
    flip.dispose();
  });

  it('bad input throws before any tensor work, naming the value', () => {
    const m = new CLIP(TINY);
    const x = uniformTensor([2, 16, 16, 3], 3);
    const t2 = ids([[1], [2]]);
    const t3 = ids([[1], [2], [3]]);
    expectThrowsEarly(() => m.forward(x, t3), /CLIP: ids must have one row per image \(B=2\), got 3 rows/);
    const oov = tf.tensor2d([[10, 12, 11, 0, 0, 0], [10, 1, 11, 0, 0, 0]], [2, 6], 'int32');
    expectThrowsEarly(() => m.forward(x, oov), /ids\[0\]\[1\] = 12 is outside the vocabulary \[0, vocabSize=12\)/);
    const neg = tf.tensor2d([[10, -1, 11, 0, 0, 0], [10, 1, 11, 0, 0, 0]], [2, 6], 'int32');
    expectThrowsEarly(() => m.loss(x, neg), /= -1 is outside the vocabulary/);
    const flt = tf.zeros([2, 6]);
    expectThrowsEarly(() => m.encodeText(flt), /ids must be an int32 tensor \[B, L\].*got float32/);
    const long = tf.zeros([2, 7], 'int32');
    expectThrowsEarly(() => m.encodeText(long), /1 <= L <= contextLength=6\], got shape \[2,7\]/);
    const small = tf.zeros([2, 8, 8, 3]);
    expectThrowsEarly(() => m.forward(small, t2), /imgs must be \[B, 16, 16, 3\] \(NHWC\), got shape \[2,8,8,3\]/);
    const keepBad = tf.tensor2d([[0, 16]], [1, 2], 'int32');
    expectThrowsEarly(() => m.forward(x, t2, { image: { patchKeepIndices: keepBad } }), /patchKeepIndices must be int32 \[B=2, K\]/);
    const keepOut = tf.tensor2d([[0, 16], [1, 2]], [2, 2], 'int32');
    expectThrowsEarly(() => m.forward(x, t2, { image: { patchKeepIndices: keepOut } }), /holds 16, outside \[0, numPatches=16\)/);
    const pad = tf.zeros([2, 5], 'int32');
    expectThrowsEarly(() => m.forward(x, t2, { text: { padding: pad } }), /options.padding must be a \[B, L\] = \[2,6\] tensor/);
    expectThrowsEarly(() => m.forward(x, t2, { image: { training: true, maskRatio: 1 } }), /maskRatio must be in \[0, 1\), got 1/);
    expect(() => new FLIP({ ...TINY, maskRatio: 1 })).toThrow(/FLIP: maskRatio must be in \[0, 1\), got 1/);
    expect(() => new TextTransformer({ width: 10, heads: 3 })).toThrow(/width 10 is not divisible by heads 3/);
    tf.dispose([x, t2, t3, oov, neg, flt, long, small, keepBad, keepOut, pad]);
    m.dispose();
  });
});

describe('TextTransformer', () => {
  it('no blocks: features = ln_final(token + position at the EOT) @ text_projection (hand computation)', () => {
    const m = new TextTransformer({ vocabSize: 5, contextLength: 4, width: 4, heads: 2, layers: 0, embedDim: 3, seed: 2 });
    const x = tf.tensor2d([[1, 4, 0, 0], [2, 3, 4, 1]], [2, 4], 'int32');
    const E = m.tokenEmbedding.read().arraySync() as number[][];
    const P = m.positionalEmbedding.read().arraySync() as number[][];
    const Wp = m.textProjection!.read().arraySync() as number[][];
    const feat = (tok: number, pos: number) => {
      const v = E[tok]!.map((e, j) => e + P[pos]![j]!);
      const mu = v.reduce((a, b) => a + b, 0) / 4;
      const va = v.reduce((a, b) => a + (b - mu) ** 2, 0) / 4;
      const n = v.map((e) => (e - mu) / Math.sqrt(va + 1e-5));
      return [0, 1, 2].map((k) => n.reduce((s, e, j) => s + e * Wp[j]![k]!, 0));
    };
    const out = m.forward(x);
    expectClose(out, tf.tensor2d([feat(4, 1), feat(4, 2)]), 1e-5, 1e-4);
    const first = new TextTransformer({ ...m.config, pool: 'first' });
    loadWeights(first, exportWeights(m));
    expectClose(first.forward(x), tf.tensor2d([feat(1, 0), feat(2, 0)]), 1e-5, 1e-4);
    const last = new TextTransformer({ ...m.config, pool: 'last' });
    loadWeights(last, exportWeights(m));
    expectClose(last.forward(x), tf.tensor2d([feat(0, 3), feat(1, 3)]), 1e-5, 1e-4);
    const none = new TextTransformer({ ...m.config, pool: 'none' });
    loadWeights(none, exportWeights(m));
    expect(none.forward(x).shape).toEqual([2, 4, 3]);
  });

  it('causal: a token never depends on later tokens', () => {
    const m = new TextTransformer({ vocabSize: 9, contextLength: 5, width: 8, heads: 2, layers: 2, pool: 'none', embedDim: null, seed: 3 });
    const a = m.forward(tf.tensor2d([[1, 2, 3, 4, 5]], [1, 5], 'int32'));
    const b = m.forward(tf.tensor2d([[1, 2, 3, 8, 7]], [1, 5], 'int32'));
    expectClose(tf.slice(a, [0, 0, 0], [1, 3, 8]), tf.slice(b, [0, 0, 0], [1, 3, 8]), 1e-6, 1e-5);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!)).toBeGreaterThan(1e-3);
  });

  it('padding: a non-causal tower ignores padded keys (equal to the unpadded sequence)', () => {
    const m = new TextTransformer({ vocabSize: 9, contextLength: 5, width: 8, heads: 2, layers: 2, causal: false, pool: 'first', embedDim: 4, seed: 5 });
    const x = tf.tensor2d([[1, 2, 3, 0, 0], [4, 5, 6, 7, 8]], [2, 5], 'int32');
    const pad = tf.tensor2d([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], [2, 5], 'bool');
    const out = m.forward(x, { padding: pad });
    const short = m.forward(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'));
    expectClose(tf.slice(out, [0, 0], [1, 4]), short, 1e-5, 1e-4);
    const full = m.forward(tf.tensor2d([[4, 5, 6, 7, 8]], [1, 5], 'int32'));
    expectClose(tf.slice(out, [1, 0], [1, 4]), full, 1e-5, 1e-4);
    // Without the mask the padded words change the result.
    const unmasked = m.forward(x);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(tf.slice(unmasked, [0, 0], [1, 4]), short))).dataSync()[0]!)).toBeGreaterThan(1e-4);
  });

  it('QuickGELU is x * sigmoid(1.702 x) and is used with act quickGelu', () => {
    const x = tf.tensor1d([-2, -0.5, 0, 1, 3]);
    expectClose(quickGelu(x), [-2, -0.5, 0, 1, 3].map((v) => v / (1 + Math.exp(-1.702 * v))), 1e-6, 1e-6);
    const m = new TextTransformer({ vocabSize: 9, contextLength: 4, width: 8, heads: 2, layers: 1, act: 'quickGelu', seed: 1 });
    expect(m.blocks[0]!.mlp.config.act).toBe('quickGelu');
  });
});

describe('AttentionalPooler', () => {
  it('matches a plain-JS reference (W != E: separate q/k/v weights, 2 heads, 2 queries)', () => {
    const p = new AttentionalPooler({ dim: 4, contextDim: 6, numHeads: 2, numQueries: 2, seed: 1 });
    p.inProjBias.write(seededNormal([12], 2));
    p.lnK.weight!.write(seededNormal([6], 3));
    p.lnQ.bias!.write(seededNormal([4], 4));
    const x = seededNormal([2, 3, 6], 5);
    type M = number[][];
    const arr = (t: tf.Tensor) => t.arraySync() as M;
    const ln = (v: number[], g: number[], b: number[]) => {
      const mu = v.reduce((s, e) => s + e, 0) / v.length;
      const va = v.reduce((s, e) => s + (e - mu) ** 2, 0) / v.length;
      return v.map((e, i) => ((e - mu) / Math.sqrt(va + 1e-5)) * g[i]! + b[i]!);
    };
    const lin = (v: number[], w: M, b: number[]) => w[0]!.map((_, o) => v.reduce((s, e, i) => s + e * w[i]![o]!, b[o]!));
    const [wq, wk, wv] = p.qkvProjWeights!.map((w) => arr(w.read()));
    const bias = Array.from(p.inProjBias.read().dataSync());
    const gq = Array.from(p.lnQ.weight!.read().dataSync()), bq = Array.from(p.lnQ.bias!.read().dataSync());
    const gk = Array.from(p.lnK.weight!.read().dataSync()), bk = Array.from(p.lnK.bias!.read().dataSync());
    const wo = arr(p.outProj.weight.read()), bo = Array.from(p.outProj.bias!.read().dataSync());
    const queries = arr(p.query.read()).map((q) => lin(ln(q, gq, bq), wq!, bias.slice(0, 4)));
    const xs = x.arraySync() as number[][][];
    const want = xs.map((tokens) => {
      const kv = tokens.map((t) => ln(t, gk, bk));
      const K = kv.map((t) => lin(t, wk!, bias.slice(4, 8)));
      const V = kv.map((t) => lin(t, wv!, bias.slice(8, 12)));
      return queries.map((q) => {
        const o: number[] = [];
        for (const h of [0, 1]) {
          const sl = (v: number[]) => v.slice(2 * h, 2 * h + 2);
          const logits = K.map((k) => sl(q).reduce((s, e, i) => s + e * sl(k)[i]!, 0) / Math.SQRT2);
          const m = Math.max(...logits);
          const e = logits.map((l) => Math.exp(l - m));
          const z = e.reduce((s, v) => s + v, 0);
          for (const j of [0, 1]) o.push(V.reduce((s, v, n) => s + (e[n]! / z) * sl(v)[j]!, 0));
        }
        return lin(o, wo, bo);
      });
    });
    expectClose(p.forward(x), tf.tensor3d(want), 1e-5, 1e-4);
    expect(() => p.forward(tf.zeros([2, 3, 4]))).toThrow(/x must be \[B, N, contextDim=6\], got shape \[2,3,4\]/);
  });
});

describe('FLIP', () => {
  it('patchKeepIndices: the tower sees the class token and the listed patches only (order irrelevant)', () => {
    const f = new FLIP({ ...TINY, maskRatio: 0.75 });
    const x = uniformTensor([2, 16, 16, 3], 4);
    const keep = tf.tensor2d([[0, 5, 9, 15], [3, 2, 1, 0]], [2, 4], 'int32');
    const keepRev = tf.tensor2d([[15, 9, 5, 0], [0, 1, 2, 3]], [2, 4], 'int32');
    const a = f.encodeImage(x, { patchKeepIndices: keep });
    const b = f.encodeImage(x, { patchKeepIndices: keepRev });
    expectClose(a, b, 1e-5, 1e-4);
    // Same as running the tower by hand on the kept tokens.
    const want = tf.tidy(() => {
      const v = f.visual;
      let t = v.keepPatches(v.embed(x), keep);
      t = v.lnPre!.forward(t) as tf.Tensor3D;
      for (const blk of v.blocks) t = blk.forward(t).out;
      const cls = tf.reshape(tf.slice(v.lnPost.forward(t), [0, 0, 0], [2, 1, 16]), [2, 16]);
      return tf.matMul(cls, v.proj.read());
    });
    expectClose(a, want, 1e-5, 1e-4);
    expect(f.visual.numKept(0.75)).toBe(4);
  });

  it('masks only in training; unmasked tuning and eval see every patch', () => {
    const f = new FLIP({ ...TINY, maskRatio: 0.5 });
    const x = uniformTensor([2, 16, 16, 3], 5);
    const t = ids([[1], [2]]);
    const evalF = f.encodeImage(x);
    const masked1 = f.encodeImage(x, { training: true, maskRatio: 0.5, random: 1 });
    const masked2 = f.encodeImage(x, { training: true, maskRatio: 0.5, random: 2 });
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(masked1, masked2))).dataSync()[0]!)).toBeGreaterThan(1e-4);
    const before = tf.memory().numTensors;
    f.unmasked = true;
    const lossUnmasked = f.loss(x, t, FLIP.trainingOptions(7));
    f.unmasked = false;
    const lossEval = f.loss(x, t);
    expectClose(lossUnmasked, lossEval, 1e-6, 1e-5);
    tf.dispose([lossUnmasked, lossEval]);
    expect(tf.memory().numTensors).toBe(before);
    expect(evalF.shape).toEqual([2, 8]);
  });
});

describe('zeroShotClassifier', () => {
  it('class rows = normalize(mean over templates of normalised text features); logits = 100 cos', () => {
    const tok = WordTokenizer.fromTexts(['a photo of a red circle', 'a drawing of the blue square']);
    const m = new CLIP({ ...TINY, text: { ...TINY.text, vocabSize: tok.vocabSize, contextLength: 8 } });
    const classes = ['red circle', 'blue square', 'red square'];
    const templates = ['a photo of a {}', (c: string) => `a drawing of the ${c}`];
    const before = tf.memory().numTensors;
    const cls = zeroShotClassifier(m, tok, classes, templates, { classesPerBatch: 2 });
    expect(cls.shape).toEqual([3, 8]);
    const want = tf.tidy(() => {
      const rows = classes.map((c) => {
        const { ids } = tok.batch([`a photo of a ${c}`, `a drawing of the ${c}`], 8);
        const f = m.encodeText(ids, { normalize: true });
        const mean = tf.mean(f, 0);
        return tf.div(mean, tf.norm(mean));
      });
      return tf.stack(rows);
    });
    expectClose(cls, want, 1e-6, 1e-5);
    const x = uniformTensor([2, 16, 16, 3], 9);
    const logits = zeroShotLogits(m, x, cls);
    const img = m.encodeImage(x, { normalize: true });
    tf.tidy(() => expectClose(logits, tf.mul(tf.matMul(img, cls, false, true), 100), 1e-4, 1e-4));
    tf.dispose([want, x, logits, img, cls]);
    expect(tf.memory().numTensors).toBe(before);
    expectThrowsEarly(() => zeroShotClassifier(m, tok, [], templates), /classnames must be a non-empty array of strings/);
    expectThrowsEarly(() => zeroShotClassifier(m, tok, classes, ['no placeholder']), /templates\[0\] must be a string with '\{\}'/);
    const badCls = tf.zeros([3, 5]);
    const x2 = uniformTensor([1, 16, 16, 3], 1);
    expectThrowsEarly(() => zeroShotLogits(m, x2, badCls), /classifier must be \[C, E=8\].*got shape \[3,5\]/);
    tf.dispose([badCls, x2]);
    m.dispose();
  });
});
