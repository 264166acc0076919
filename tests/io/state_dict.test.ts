import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  composeConverters,
  defineConverter,
  exportWeights,
  f16BitsToNumber,
  fromTorchLayout,
  identityConverter,
  LayerNorm,
  Linear,
  loadWeights,
  Module,
  numberToF16Bits,
  parseSafetensors,
  saveWeights,
  serializeSafetensors,
  timmVit,
  toForeignKey,
  toModuleKey,
  torchShape,
  toTorchLayout,
  type SafetensorsEntry,
  type Weight,
} from '../../src/index.js';
import { Rng } from '../../src/utils/random.js';

const KH = 2;
const KW = 3;
const CIN = 2;
const D = 4;

/** Test-only module: a conv kernel stored as a matrix, a token, a Linear and a LayerNorm. */
class TinyNet extends Module {
  static readonly className = 'TestTinyNet';
  readonly conv: Weight;
  readonly cls: Weight;
  readonly fc: Linear;
  readonly norm: LayerNorm;
  constructor(seed = 0) {
    super({ seed });
    this.conv = this.addParam('conv_weight', [KH * KW * CIN, D], { kind: 'normal', std: 1 }, {
      layout: { kind: 'convMatrix', kh: KH, kw: KW, inChannels: CIN },
    });
    this.cls = this.addParam('cls_token', [1, 1, D], { kind: 'normal', std: 1 });
    this.fc = this.addModule('fc', new Linear({ inFeatures: D, outFeatures: 3, seed: this.childSeed('fc') }));
    this.norm = this.addModule('norm', new LayerNorm({ dim: 3, eps: 1e-6, seed: this.childSeed('norm') }));
  }
}

/** A PyTorch-layout state_dict for TinyNet with random values. */
function torchStateDict(seed: number, keyOf: (k: string) => string = (k) => k): Record<string, SafetensorsEntry> {
  const rng = new Rng(seed);
  const rand = (shape: number[]): SafetensorsEntry => ({
    dtype: 'F32',
    shape,
    data: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
  });
  return {
    [keyOf('conv_weight')]: rand([D, CIN, KH, KW]),
    [keyOf('cls_token')]: rand([1, 1, D]),
    [keyOf('fc.weight')]: rand([3, D]),
    [keyOf('fc.bias')]: rand([3]),
    [keyOf('norm.weight')]: rand([3]),
    [keyOf('norm.bias')]: rand([3]),
  };
}

const values = (w: Weight): number[] => Array.from(w.read().dataSync());

describe('loadWeights', () => {
  it('converts PyTorch layouts once: Linear [out,in] -> [in,out], Conv2d [out,in,kh,kw] -> [kh*kw*in, out]', () => {
    const sd = torchStateDict(1);
    const net = new TinyNet();
    const before = tf.memory().numTensors;
    const report = loadWeights(net, serializeSafetensors(sd));
    expect(tf.memory().numTensors).toBe(before);
    expect(report.loaded.sort()).toEqual(['cls_token', 'conv_weight', 'fc.bias', 'fc.weight', 'norm.bias', 'norm.weight']);
    expect(report.missing).toEqual([]);
    expect(report.unexpected).toEqual([]);

    const torchConv = sd['conv_weight']!.data as number[];
    const conv = net.conv.read().arraySync() as number[][];
    const f32 = (v: number): number => Math.fround(v);
    for (let o = 0; o < D; o++)
      for (let c = 0; c < CIN; c++)
        for (let i = 0; i < KH; i++)
          for (let j = 0; j < KW; j++) {
            expect(conv[(i * KW + j) * CIN + c]![o]).toBe(f32(torchConv[((o * CIN + c) * KH + i) * KW + j]!));
          }

    // y = x W^T + b with W as PyTorch stores it, by hand.
    const W = sd['fc.weight']!.data as number[];
    const b = sd['fc.bias']!.data as number[];
    const x = [0.5, -1, 2, 0.25];
    const y = tf.tidy(() => Array.from(net.fc.forward(tf.tensor2d([x])).dataSync()));
    for (let o = 0; o < 3; o++) {
      let want = f32(b[o]!);
      for (let i = 0; i < D; i++) want += f32(W[o * D + i]!) * x[i]!;
      expect(y[o]).toBeCloseTo(want, 5);
    }
    expect(values(net.cls)).toEqual((sd['cls_token']!.data as number[]).map(f32));
    net.dispose();
  });

  it('round trip: import -> export -> serialize -> re-read gives byte-identical tensors', () => {
    const original = parseSafetensors(serializeSafetensors(torchStateDict(2)));
    const net = new TinyNet();
    loadWeights(net, original);
    const saved = parseSafetensors(saveWeights(net));
    expect(saved.names()).toEqual(original.names());
    for (const k of original.names()) {
      expect(saved.info(k)).toEqual(original.info(k));
      expect(Array.from(saved.raw(k)), k).toEqual(Array.from(original.raw(k)));
    }
    expect(saved.metadata).toEqual({ format: 'pt' });

    const before = tf.memory().numTensors;
    const exported = exportWeights(net);
    expect(exported.get('conv_weight')!.shape).toEqual([D, CIN, KH, KW]);
    expect(exported.get('fc.weight')!.shape).toEqual([3, D]);
    expect(Array.from(exported.get('fc.weight')!.dataSync())).toEqual(Array.from(original.float32('fc.weight')));
    // A Map of tensors is a source too.
    const other = new TinyNet(9);
    loadWeights(other, exported);
    expect(values(other.conv)).toEqual(values(net.conv));
    tf.dispose([...exported.values()]);
    other.dispose();
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });

  it('strict: names every missing and unexpected key and leaves the module unchanged', () => {
    const sd = torchStateDict(3);
    delete sd['norm.bias'];
    delete sd['cls_token'];
    sd['head.weight'] = { dtype: 'F32', shape: [2], data: [1, 2] };
    const net = new TinyNet();
    const conv = values(net.conv);
    expect(() => loadWeights(net, serializeSafetensors(sd))).toThrow(
      "loadWeights(TestTinyNet, converter 'identity'): missing keys (2): cls_token, norm.bias; unexpected keys (1): head.weight",
    );
    expect(values(net.conv)).toEqual(conv);

    const report = loadWeights(net, serializeSafetensors(sd), { strict: false });
    expect(report.missing).toEqual(['cls_token', 'norm.bias']);
    expect(report.unexpected).toEqual(['head.weight']);
    expect(report.loaded).toHaveLength(4);
    expect(values(net.conv)).not.toEqual(conv);
    net.dispose();
  });

  it('shape mismatches name the key and both shapes (PyTorch layout and ours), even when not strict', () => {
    const sd = torchStateDict(4);
    sd['fc.weight'] = { dtype: 'F32', shape: [D, 3], data: new Array(12).fill(0) };
    sd['conv_weight'] = { dtype: 'F32', shape: [D, CIN, KW, KH], data: new Array(48).fill(0) };
    const net = new TinyNet();
    let msg = '';
    try {
      loadWeights(net, serializeSafetensors(sd), { strict: false });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain(
      "size mismatch for 'fc.weight': the checkpoint has [4,3] in PyTorch layout, the module expects [3,4] in PyTorch layout (linear), stored here as [4,3]",
    );
    expect(msg).toContain(
      "size mismatch for 'conv_weight': the checkpoint has [4,2,3,2] in PyTorch layout, the module expects [4,2,2,3] in PyTorch layout (convMatrix kh=2 kw=3 in=2), stored here as [12,4]",
    );
    net.dispose();
  });

  it('reads F16/BF16 checkpoints, rejects integer ones for weights', () => {
    const sd = torchStateDict(5);
    sd['norm.weight'] = { dtype: 'F16', shape: [3], data: [0.1, 2, -3] };
    sd['norm.bias'] = { dtype: 'I64', shape: [3], data: [1, 2, 3] };
    const net = new TinyNet();
    expect(() => loadWeights(net, serializeSafetensors(sd))).toThrow(
      /'norm.bias' is I64, but weight 'norm.bias' needs floats \(F64, F32, F16, BF16 or F8\)/,
    );
    sd['norm.bias'] = { dtype: 'BF16', shape: [3], data: [1, 2, 3] };
    loadWeights(net, serializeSafetensors(sd));
    expect(values(net.norm.weight!)).toEqual([f16BitsToNumber(numberToF16Bits(0.1)), 2, -3]);
    net.dispose();
  });

  it('converter renames, skip patterns and prefix; export inverts them', () => {
    const conv = defineConverter({
      name: 'test-head',
      doc: 'Checkpoint calls the Linear `head` and the norm `fc_norm`; decoder weights are ignored.',
      renames: [
        ['head.', 'fc.'],
        [/^fc_norm\.(weight|bias)$/, 'norm.$1'],
      ],
      inverse: [
        [/^fc\./, 'head.'],
        [/^norm\./, 'fc_norm.'],
      ],
      skip: ['decoder', /mask_token$/],
    });
    const rename = (k: string): string => `encoder.${k.replace('fc.', 'head.').replace('norm.', 'fc_norm.')}`;
    const sd = torchStateDict(6, rename);
    sd['encoder.decoder_pred.weight'] = { dtype: 'F32', shape: [1], data: [0] };
    sd['encoder.mask_token'] = { dtype: 'F32', shape: [1], data: [0] };
    sd['teacher.cls_token'] = { dtype: 'F32', shape: [7], data: new Array(7).fill(0) };
    const net = new TinyNet();
    const report = loadWeights(net, serializeSafetensors(sd), { converter: conv, prefix: 'encoder.' });
    expect(report.skipped).toEqual(['encoder.decoder_pred.weight', 'encoder.mask_token']);
    expect(report.unexpected).toEqual([]);
    expect(values(net.norm.bias!)).toEqual((sd['encoder.fc_norm.bias']!.data as number[]).map(Math.fround));
    const out = parseSafetensors(saveWeights(net, { converter: conv, prefix: 'encoder.' }));
    expect(out.names()).toEqual(
      ['encoder.cls_token', 'encoder.conv_weight', 'encoder.fc_norm.bias', 'encoder.fc_norm.weight', 'encoder.head.bias', 'encoder.head.weight'],
    );
    const orig = parseSafetensors(serializeSafetensors(sd));
    for (const k of out.names()) expect(Array.from(out.raw(k))).toEqual(Array.from(orig.raw(k)));
    net.dispose();
  });

  it('rejects two checkpoint keys mapping to one weight', () => {
    const conv = defineConverter({ name: 'dup', doc: 'test', renames: [['old_', '']], inverse: [] });
    const sd = torchStateDict(7);
    sd['old_cls_token'] = sd['cls_token']!;
    const net = new TinyNet();
    expect(() => loadWeights(net, serializeSafetensors(sd), { converter: conv })).toThrow(
      /checkpoint keys 'cls_token' and 'old_cls_token' both map to 'cls_token'/,
    );
    net.dispose();
  });

  it('saveWeights in F16 rounds to nearest even', () => {
    const net = new TinyNet(11);
    const f = parseSafetensors(saveWeights(net, { dtype: 'F16', metadata: { note: 'half' } }));
    expect(f.info('fc.bias').dtype).toBe('F16');
    expect(f.metadata).toEqual({ note: 'half' });
    const want = values(net.cls).map((v) => f16BitsToNumber(numberToF16Bits(v)));
    expect(Array.from(f.float32('cls_token'))).toEqual(want);
    expect(() => saveWeights(net, { dtype: 'F64' as 'F32' })).toThrow(/dtype must be F32, F16 or BF16, got 'F64'/);
    net.dispose();
  });
});

describe('layouts', () => {
  it('toTorchLayout inverts fromTorchLayout for any convMatrix and linear shape', () => {
    const rng = new Rng(8);
    for (let t = 0; t < 20; t++) {
      const kh = rng.randint(1, 4);
      const kw = rng.randint(1, 4);
      const cin = rng.randint(1, 3);
      const out = rng.randint(1, 5);
      const layout = { kind: 'convMatrix' as const, kh, kw, inChannels: cin };
      const ours = [kh * kw * cin, out];
      expect(torchShape(ours, layout)).toEqual([out, cin, kh, kw]);
      const torch = Float32Array.from({ length: out * cin * kh * kw }, (_, i) => i);
      const mine = fromTorchLayout(torch, ours, layout);
      // Element (o, c, i, j) lands at row (i*kw + j)*cin + c, column o.
      const [o, c, i, j] = [rng.randint(0, out - 1), rng.randint(0, cin - 1), rng.randint(0, kh - 1), rng.randint(0, kw - 1)];
      expect(mine[((i * kw + j) * cin + c) * out + o]).toBe(((o * cin + c) * kh + i) * kw + j);
      expect(Array.from(toTorchLayout(mine, ours, layout))).toEqual(Array.from(torch));
      const lin = Float32Array.from({ length: out * cin }, (_, i) => i);
      const linOurs = fromTorchLayout(lin, [cin, out], { kind: 'linear' });
      expect(linOurs[c * out + o]).toBe(o * cin + c); // torch [o, c] -> ours [c, o]
      expect(Array.from(toTorchLayout(linOurs, [cin, out], { kind: 'linear' }))).toEqual(Array.from(lin));
    }
    expect(() => torchShape([5, 2], { kind: 'convMatrix', kh: 2, kw: 2, inChannels: 1 })).toThrow(/must be \[4, out\], got \[5,2\]/);
  });
});

describe('converters', () => {
  it('derive inverses of literal tables, compose in order, refuse what cannot be inverted', () => {
    const beitNames = defineConverter({
      name: 'ls',
      doc: 'gamma_1/gamma_2 -> ls1.gamma/ls2.gamma',
      renames: [
        ['gamma_1', 'ls1.gamma'],
        ['gamma_2', 'ls2.gamma'],
      ],
    });
    expect(toModuleKey(beitNames, 'blocks.3.gamma_2')).toBe('blocks.3.ls2.gamma');
    expect(toForeignKey(beitNames, 'blocks.3.ls2.gamma')).toBe('blocks.3.gamma_2');
    const enc = defineConverter({ name: 'enc', doc: 'drop encoder.', renames: [[/^encoder\./, '']], inverse: [[/^/, 'encoder.']], skip: ['decoder.'] });
    const both = composeConverters('simmim-like', 'encoder. prefix and BEiT layer scale', enc, beitNames);
    expect(toModuleKey(both, 'encoder.blocks.0.gamma_1')).toBe('blocks.0.ls1.gamma');
    expect(toForeignKey(both, 'blocks.0.ls1.gamma')).toBe('encoder.blocks.0.gamma_1');
    expect(toModuleKey(both, 'decoder.0.weight')).toBeNull();
    expect(() => defineConverter({ name: 'r', doc: 'x', renames: [[/a/, 'b']] })).toThrow(
      /rename \/a\/ is a RegExp, so the inverse cannot be derived/,
    );
    const importOnly = defineConverter({ name: 'io', doc: 'x', renames: [[/a/, 'b']], inverse: null });
    expect(() => toForeignKey(importOnly, 'b')).toThrow(/converter 'io' is import-only/);
    expect(composeConverters('c', 'd', importOnly, beitNames).inverse).toBeNull();
    expect(() => defineConverter({ name: '', doc: 'x' })).toThrow(/name must be a non-empty string/);
    expect(() => defineConverter({ name: 'n', doc: ' ' })).toThrow(/doc must say what checkpoints it converts/);
    expect(() => defineConverter({ name: 'n', doc: 'd', renames: [['', 'x']] })).toThrow(/renames\[0\] must be/);
    expect(() => defineConverter({ name: 'n', doc: 'd', skip: [''] })).toThrow(/skip\[0\] must be a non-empty string or a RegExp/);
  });

  it('timmVit is the identity on timm ViT keys', () => {
    for (const k of ['patch_embed.proj.weight', 'cls_token', 'pos_embed', 'blocks.11.attn.qkv.bias', 'blocks.0.ls1.gamma', 'norm.bias']) {
      expect(toModuleKey(timmVit, k)).toBe(k);
      expect(toForeignKey(timmVit, k)).toBe(k);
    }
    expect(timmVit.name).toBe('timm-vit');
    expect(identityConverter.skip).toEqual([]);
  });
});
