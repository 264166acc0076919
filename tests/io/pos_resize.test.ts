import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  beitConverter,
  loadMimWeights,
  loadWeights,
  maeConverter,
  parseSafetensors,
  resizeRelPosBiasTable,
  saveMimWeights,
  saveWeights,
  timmVit,
} from '../../src/io/index.js';
import { resamplePosEmbed } from '../../src/layers/index.js';
import { BEiT } from '../../src/models/beit.js';
import { MAE } from '../../src/models/mae.js';
import { VisionTransformer, type VisionTransformerConfig } from '../../src/models/vit.js';
import { expectClose } from '../layers/helpers.js';

/** A tiny-width ViT with the published patch and image sizes (timm names). */
const tinyWidth = (imgSize: number): VisionTransformerConfig => ({ imgSize, patchSize: 16, embedDim: 16, depth: 1, numHeads: 2, seed: 1 });

function values(w: { read(): tf.Tensor }): Float32Array {
  return w.read().dataSync() as Float32Array;
}

describe('loadWeights resizePosEmbed', () => {
  it.each([[160, 10], [256, 16]])('a 224 px timm checkpoint loads into a %i px model in one call (timm: bicubic, antialias)', (size, g) => {
    const src = new VisionTransformer(tinyWidth(224));
    const bytes = saveWeights(src, { converter: timmVit });
    const dst = new VisionTransformer({ ...tinyWidth(size), seed: 2 });
    const before = tf.memory().numTensors;
    const report = loadWeights(dst, bytes, { converter: timmVit, resizePosEmbed: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(report.resized).toEqual([`pos_embed: 14x14 -> ${g}x${g}`]);
    expect(report.missing).toEqual([]);
    const want = resamplePosEmbed(src.posEmbed!.read(), 14, g); // timm's default: antialias
    expectClose(dst.posEmbed!.read(), want, 1e-6, 1e-5);
    for (const [k, w] of dst.namedWeights()) if (k !== 'pos_embed') expect(values(w)).toEqual(values(src.namedWeights().get(k)!));
    const x = tf.zeros([1, size, size, 3]);
    const y = dst.forward(x);
    expect(y.shape).toEqual([1, 1 + g * g, 16]);
    tf.dispose([want, x, y]);
    src.dispose();
    dst.dispose();
  });

  it('without the option the size mismatch is refused as before; an override picks another interpolation', () => {
    const src = new VisionTransformer(tinyWidth(224));
    const bytes = saveWeights(src);
    const dst = new VisionTransformer(tinyWidth(160));
    expect(() => loadWeights(dst, bytes, { converter: timmVit })).toThrow(/size mismatch for 'pos_embed'.*\[1,197,16\].*\[1,101,16\]/);
    loadWeights(dst, bytes, { converter: timmVit, resizePosEmbed: { antialias: false } });
    const want = resamplePosEmbed(src.posEmbed!.read(), 14, 10, { antialias: false });
    expectClose(dst.posEmbed!.read(), want, 1e-6, 1e-5);
    expect(() => loadWeights(dst, bytes, { resizePosEmbed: { mode: 'area' as 'bicubic' } })).toThrow(
      /resizePosEmbed.mode must be 'bicubic', 'bilinear' or 'nearest', got 'area'/,
    );
    tf.dispose(want);
    src.dispose();
    dst.dispose();
  });

  it('a failed load leaves the module unchanged (checkpoint grid not square, plus another bad weight)', () => {
    const dst = new VisionTransformer(tinyWidth(160));
    const snapshot = new Map([...dst.namedWeights()].map(([k, w]) => [k, Array.from(values(w))]));
    const src = new VisionTransformer(tinyWidth(224));
    const map = new Map<string, tf.Tensor>();
    for (const [k, w] of src.namedWeights()) map.set(k, w.read());
    const bad = tf.zeros([1, 1 + 15, 16]);
    map.set('pos_embed', bad);
    const before = tf.memory().numTensors;
    expect(() => loadWeights(dst, map, { resizePosEmbed: true })).toThrow(/16 rows minus 1 prefix row\(s\) is not a square grid/);
    expect(tf.memory().numTensors).toBe(before);
    for (const [k, w] of dst.namedWeights()) expect(Array.from(values(w))).toEqual(snapshot.get(k));
    bad.dispose();
    src.dispose();
    dst.dispose();
  });

  it("MAE: pos_embed and decoder_pos_embed resized with MAE's interpolate_pos_embed (bicubic, no antialias)", () => {
    const cfg = { imgSize: 32, patchSize: 4, embedDim: 16, depth: 1, numHeads: 2, decoderEmbedDim: 8, decoderDepth: 1, decoderNumHeads: 2 };
    const src = new MAE(cfg);
    // Make the tables non-trivial (MAE's are fixed sin-cos): a learned-looking table shows the interpolation.
    src.encoder.posEmbed!.write(tf.randomNormal([1, 65, 16], 0, 1, 'float32', 3));
    const bytes = saveWeights(src, { converter: maeConverter });
    const dst = new MAE({ ...cfg, imgSize: 24 });
    const report = loadWeights(dst, bytes, { converter: maeConverter, resizePosEmbed: true });
    expect(report.resized.sort()).toEqual(['decoder_pos_embed: 8x8 -> 6x6', 'pos_embed: 8x8 -> 6x6']);
    const want = resamplePosEmbed(src.encoder.posEmbed!.read(), 8, 6, { antialias: false });
    expectClose(dst.encoder.posEmbed!.read(), want, 1e-6, 1e-5);
    const wantDec = resamplePosEmbed(src.decoder.decoderPosEmbed.read(), 8, 6, { antialias: false });
    expectClose(dst.decoder.decoderPosEmbed.read(), wantDec, 1e-6, 1e-5);
    tf.dispose([want, wantDec]);
    src.dispose();
    dst.dispose();
  });

  it("BEiT: shared and per-block relative tables resized as timm's resize_rel_pos_bias_table; the old index buffers are not compared", () => {
    const cfg = { imgSize: 32, patchSize: 4, embedDim: 16, depth: 2, numHeads: 2, vocabSize: 10, useSharedRelPosBias: true, useRelPosBias: true };
    const src = new BEiT(cfg);
    for (const [k, w] of src.namedWeights()) {
      if (k.endsWith('relative_position_bias_table')) w.write(tf.randomNormal(w.shape as number[], 0, 1, 'float32', 5));
    }
    const bytes = saveMimWeights(src, { converter: beitConverter });
    const dst = new BEiT({ ...cfg, imgSize: 40 });
    expect(() => loadMimWeights(dst, bytes, { converter: beitConverter })).toThrow(/relative_position_index' has shape \[65,65\]/);
    const report = loadMimWeights(dst, parseSafetensors(bytes), { converter: beitConverter, resizePosEmbed: true });
    expect(report.resized.sort()).toEqual([
      'blocks.0.attn.relative_position_bias_table: window 8x8 -> window 10x10',
      'blocks.1.attn.relative_position_bias_table: window 8x8 -> window 10x10',
      'pos_embed: 8x8 -> 10x10',
      'rel_pos_bias.relative_position_bias_table: window 8x8 -> window 10x10',
    ]);
    const s = src.namedWeights();
    const d = dst.namedWeights();
    for (const k of ['rel_pos_bias.relative_position_bias_table', 'blocks.1.attn.relative_position_bias_table']) {
      const want = resizeRelPosBiasTable(s.get(k)!.read(), 8, 10);
      expectClose(d.get(k)!.read(), want, 1e-6, 1e-5);
      // The three class-token rows are kept.
      expect(Array.from(values(d.get(k)!).slice(-6))).toEqual(Array.from(values(s.get(k)!).slice(-6)));
      want.dispose();
    }
    src.dispose();
    dst.dispose();
  });

  it('resizeRelPosBiasTable: identity at the same window, validates its input', () => {
    const t = tf.randomNormal([(2 * 3 - 1) ** 2 + 3, 2], 0, 1, 'float32', 1);
    const same = resizeRelPosBiasTable(t, 3, 3);
    expect(Array.from(same.dataSync())).toEqual(Array.from(t.dataSync()));
    const before = tf.memory().numTensors;
    expect(() => resizeRelPosBiasTable(t, 4, 3)).toThrow(/table must be \[52, heads\] for a 4x4 window, got shape \[28,2\]/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([t, same]);
  });
});

/**
 * Published size, run only where time allows (MIMKIT_SLOW=1): one ViT-B/16
 * forward at 224 px takes minutes on the cpu backend.
 */
describe.skipIf(process.env.MIMKIT_SLOW !== '1')('ViT-B/16 at 224 px round trip (MIMKIT_SLOW=1)', () => {
  it('save (timm names) -> load -> run -> export -> re-read is exact; loads at 160 and 256 px in one call', () => {
    const cfg: VisionTransformerConfig = { imgSize: 224, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12, seed: 7 };
    const a = new VisionTransformer(cfg);
    const bytes = saveWeights(a, { converter: timmVit });
    const b = new VisionTransformer({ ...cfg, seed: 8 });
    const report = loadWeights(b, bytes, { converter: timmVit });
    expect(report.loaded.length).toBe(150); // 4 + 12 blocks x 12 + 2
    const wa = a.namedWeights();
    for (const [k, w] of b.namedWeights()) expect(values(w)).toEqual(values(wa.get(k)!));
    const x = tf.randomNormal([1, 224, 224, 3], 0, 1, 'float32', 2);
    const y = b.forward(x);
    expect(y.shape).toEqual([1, 197, 768]);
    expect(Number.isFinite(tf.tidy(() => tf.sum(y)).dataSync()[0]!)).toBe(true);
    const again = saveWeights(b, { converter: timmVit });
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
    expect(parseSafetensors(again).info('pos_embed').shape).toEqual([1, 197, 768]);
    for (const [size, g] of [[160, 10], [256, 16]] as const) {
      const c = new VisionTransformer({ ...cfg, imgSize: size });
      expect(loadWeights(c, bytes, { converter: timmVit, resizePosEmbed: true }).resized).toEqual([`pos_embed: 14x14 -> ${g}x${g}`]);
      expect(c.posEmbed!.shape).toEqual([1, 1 + g * g, 768]);
      c.dispose();
    }
    tf.dispose([x, y]);
    a.dispose();
    b.dispose();
  }, 1_800_000);
});
