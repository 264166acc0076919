/**
 * The examples, run as a user runs them: child processes through tsx, their
 * printed tables and written files checked. Timings are never asserted.
 *
 * Backend: each example runs on the backend of the vitest project
 * (MIMKIT_BACKEND). The MAE demo runs only in the wasm project: on tfjs's
 * plain-JS cpu backend even `--quick` takes minutes (its default is wasm).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionDistanceByLayer, attentionMaps, saveWeights, VisionTransformer } from '../../src/index.js';
import { loadFashionMnist } from '../../examples/lib/fashion-mnist.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const backend = tf.getBackend();

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tsx <script> ...args` from the repository root. */
function runExample(script: string, args: string[], timeoutMs = 90_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(tsx, [join(root, 'examples', script), ...args], { cwd: root, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Rows `L | v | v | ...` of the attention-distance table, as numbers. */
function tableRows(stdout: string): number[][] {
  return stdout
    .split('\n')
    .filter((l) => /^\d+\s+\|/.test(l))
    .map((l) => l.split('|').map((c) => Number(c.trim())));
}

/** Width and height from a PNG's IHDR, after checking the 8-byte signature. */
function pngSize(bytes: Uint8Array): [number, number] {
  expect([...bytes.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  expect(new TextDecoder().decode(bytes.subarray(12, 16))).toBe('IHDR');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [view.getUint32(16), view.getUint32(20)];
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mimkit-examples-'));
});
afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('examples/attention-distance.ts', () => {
  it('prints one row per layer of the shipped checkpoint, a finite pixel distance per head, and their mean', async () => {
    const r = await runExample('attention-distance.ts', ['--backend', backend, '--images', '16']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    // The shipped checkpoint: 16 px, patch 4 (4x4 grid), depth 2, 4 heads (from its metadata).
    expect(r.stdout).toContain('patch 4 (4x4 grid)');
    expect(r.stdout).toContain('4 heads (file metadata)');
    expect(r.stdout).toMatch(/^layer \|\s+head 0 \|\s+head 1 \|\s+head 2 \|\s+head 3 \|\s+mean$/m);
    const rows = tableRows(r.stdout);
    expect(rows.map((row) => row[0])).toEqual([0, 1]);
    const maxDistance = 4 * Math.sqrt(3 * 3 + 3 * 3); // opposite corners of the grid
    for (const row of rows) {
      expect(row).toHaveLength(1 + 4 + 1);
      const heads = row.slice(1, 5);
      for (const v of heads) {
        expect(Number.isFinite(v)).toBe(true);
        expect(v).toBeGreaterThan(0);
        expect(v).toBeLessThanOrEqual(maxDistance);
      }
      expect(row[5]).toBeCloseTo(heads.reduce((a, b) => a + b, 0) / 4, 1);
    }
  });

  it('infers another architecture from a timm-named file and matches the library on the same images', async () => {
    // 1 channel, 32 px, patch 8 (4x4 grid), no class token, no qkv bias, layer scale, MLP ratio 2, 3 heads.
    const config = {
      imgSize: 32, patchSize: 8, inChans: 1, embedDim: 24, depth: 3, numHeads: 3, mlpRatio: 2,
      qkvBias: 'none' as const, initValues: 0.5, classToken: false, normEps: 1e-5, seed: 11,
    };
    const vit = new VisionTransformer(config);
    const path = join(dir, 'vit-other.safetensors');
    await writeFile(path, saveWeights(vit, { metadata: { format: 'pt', config: JSON.stringify({ num_heads: 3, norm_eps: 1e-5 }) } }));
    const count = 8;
    const r = await runExample('attention-distance.ts', [path, '--backend', backend, '--images', String(count)]);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ViT 32x32x1, patch 8 (4x4 grid), width 24, depth 3, 3 heads (file metadata), MLP ratio 2');
    expect(r.stdout).toContain("qkv bias 'none', no class token, layer scale timm");
    expect(r.stdout).toContain('zero-padded to 32x32');
    const rows = tableRows(r.stdout);
    expect(rows).toHaveLength(3);

    // The same numbers computed here: the example pads the first held-out images to 32 px.
    const data = await loadFashionMnist('test', { limit: count, pad: 32 });
    const x = tf.tensor4d(data.images, data.shape);
    const maps = attentionMaps(vit, x);
    const expected = attentionDistanceByLayer(maps, { gridSize: 4, patchSize: 8, numPrefixTokens: 0 });
    const want = expected.arraySync() as number[][];
    tf.dispose([x, ...maps, expected]);
    vit.dispose();
    rows.forEach((row, l) => {
      expect(row[0]).toBe(l);
      for (let h = 0; h < 3; h++) expect(Math.abs(row[1 + h]! - want[l]![h]!)).toBeLessThanOrEqual(0.006);
    });
  });

  it('rejects a bad flag before loading anything, naming the flag and the value', async () => {
    const r = await runExample('attention-distance.ts', ['--backend', 'gpu']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--backend must be 'cpu' or 'wasm', got 'gpu'");
  });
});

describe('examples/mae-fashion-mnist.ts', () => {
  it('rejects a bad flag before any work, naming the flag and the value', async () => {
    const r = await runExample('mae-fashion-mnist.ts', ['--batch', '0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--batch must be an integer >= 1, got '0'");
  });

  it.skipIf(backend !== 'wasm')('--quick trains, reports finite held-out losses and probe accuracies, writes the PNG grid', async () => {
    const png = join(dir, 'rec.png');
    const r = await runExample('mae-fashion-mnist.ts', ['--quick', '--backend', backend, '--out', png, '--ft-seeds', '2']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/held-out loss \(32 images, fixed masks\): epoch 0 \d+\.\d{4}/);
    expect(r.stdout).toMatch(/held-out loss \(32 images, fixed masks\): epoch 1 \d+\.\d{4}/);
    // Not a TTY: plain progress lines, one per step in --quick.
    expect(r.stdout).toMatch(/^epoch 1\/1 4\/4 {2}loss \d+\.\d{4}/m);
    expect(r.stdout).toContain('tensors: flat across steps');
    const line = r.stdout.split('\n').find((l) => l.startsWith('summary-json '));
    expect(line).toBeDefined();
    const s = JSON.parse(line!.slice('summary-json '.length)) as {
      steps: number;
      heldOutLoss: { initial: number; zeroPrediction: number; perEpoch: number[]; final: number };
      knnAccuracy: { pretrained: number; random: number; pixels: number };
      linearProbe: { pretrained: number; random: number; pixels: number };
      fineTune: { pretrained: number; fromInit: number; pretrainedRuns: number[]; fromInitRuns: number[]; labels: number; steps: number };
      tensorsFlat: boolean;
    };
    expect(s.steps).toBe(4);
    expect(s.tensorsFlat).toBe(true);
    const losses = [s.heldOutLoss.initial, s.heldOutLoss.zeroPrediction, ...s.heldOutLoss.perEpoch];
    for (const v of losses) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThan(0);
    }
    expect(s.heldOutLoss.perEpoch).toHaveLength(1);
    // An untrained MAE is far worse than predicting zero; four steps already close most of the gap.
    expect(s.heldOutLoss.initial).toBeGreaterThan(s.heldOutLoss.zeroPrediction);
    expect(s.heldOutLoss.final).toBeLessThan(s.heldOutLoss.initial);
    expect(s.fineTune.labels).toBe(32);
    expect(s.fineTune.steps).toBe(2);
    expect(r.stdout).toMatch(/^fine-tune pretrained \(seed 2\/2\) 2\/2 {2}loss \d+\.\d{4}/m);
    expect(r.stdout).toMatch(/^fine-tune from init \(seed 2\/2\) 2\/2 {2}loss \d+\.\d{4}/m);
    // The compared figures are the means of the runs.
    expect(s.fineTune.pretrainedRuns).toHaveLength(2);
    expect(s.fineTune.pretrained).toBeCloseTo((s.fineTune.pretrainedRuns[0]! + s.fineTune.pretrainedRuns[1]!) / 2, 10);
    expect(s.fineTune.fromInit).toBeCloseTo((s.fineTune.fromInitRuns[0]! + s.fineTune.fromInitRuns[1]!) / 2, 10);
    for (const a of [...Object.values(s.knnAccuracy), ...Object.values(s.linearProbe), s.fineTune.pretrained, s.fineTune.fromInit]) {
      expect(a).toBeGreaterThanOrEqual(0);
      expect(a).toBeLessThanOrEqual(1);
    }
    // 10 images of 32 px in 4 rows, 2 px padding: 2 + 10 * 34 by 2 + 4 * 34.
    expect(pngSize(new Uint8Array(await readFile(png)))).toEqual([342, 138]);
  });
});

describe('examples/bench.ts', () => {
  it('--quick times both mask ratios, prints the tables and writes finite JSON results', async () => {
    const out = join(dir, 'bench.json');
    const r = await runExample('bench.ts', ['--quick', '--backends', backend, '--out', out, '--torch']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^backend \| batch \| ms\/step \(0\.75\) \| img\/s \(0\.75\) \| ms\/step \(0\) \| img\/s \(0\) \| speed-up 0\.75 vs 0/m);
    expect(r.stdout).toMatch(new RegExp(`^${backend}\\s+\\|\\s+8 \\|`, 'm'));
    const json = JSON.parse(await readFile(out, 'utf8')) as {
      results: { backend: string; maskRatio: number; imagesPerSecond: number; medianMs: number; lastLoss: number; stepMs: number[] }[];
      speedUpMask075VsMask0: Record<string, number>;
      wasmTransposeComparison: { explicitTranspose: boolean; maskRatio: number; imagesPerSecond: number }[];
      torchNote: string | null;
    };
    const ours = json.results.filter((m) => m.backend === backend);
    expect(ours.map((m) => m.maskRatio)).toEqual([0.75, 0]);
    for (const m of ours as unknown as { kernelsPerStep: number; gflops: number; peakTensorBytes: number }[]) {
      expect(m.kernelsPerStep).toBeGreaterThan(0);
      expect(m.gflops).toBeGreaterThan(0);
      expect(m.peakTensorBytes).toBeGreaterThan(0);
    }
    expect(r.stdout).toMatch(/^backend \| mask \| GFLOP\/step \| GFLOP\/s \| peak tensors \| wasm heap \| torch RSS \| kernels\/step$/m);
    for (const m of json.results) {
      expect(m.stepMs).toHaveLength(1);
      expect(m.imagesPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(m.imagesPerSecond)).toBe(true);
      // Mask ratio 0 removes nothing: the loss then covers every patch, so it stays finite.
      expect(Number.isFinite(m.lastLoss)).toBe(true);
    }
    expect(json.speedUpMask075VsMask0[backend]).toBeCloseTo(ours[0]!.imagesPerSecond / ours[1]!.imagesPerSecond, 6);
    if (backend === 'wasm') {
      expect(json.wasmTransposeComparison.map((m) => [m.explicitTranspose, m.maskRatio])).toEqual([
        [true, 0.75],
        [true, 0],
        [false, 0.75],
        [false, 0],
      ]);
      expect(r.stdout).toMatch(/^explicit transposes \(default\) \|\s+\d+\.\d \|\s+\d+\.\d$/m);
    } else {
      expect(json.wasmTransposeComparison).toEqual([]);
    }
    // The PyTorch reference runs when /usr/bin/python3 has torch; otherwise the reason is recorded.
    const torch = json.results.filter((m) => m.backend === 'torch');
    if (json.torchNote === null) expect(torch.map((m) => m.maskRatio)).toEqual([0.75, 0]);
    else expect(torch).toEqual([]);
    // The other models: one step each on this backend (and in PyTorch), with the same figures.
    const models = ['simmim', 'beit', 'clip', 'flip', 'dino'];
    const others = (json as unknown as { models: { results: { model: string; backend: string; maskRatio: null; gflops: number; kernelsPerStep: number | null; peakTensorBytes: number; lastLoss: number; stepMs: number[] }[] } }).models.results;
    expect(others.filter((m) => m.backend === backend).map((m) => m.model)).toEqual(models);
    for (const m of others) {
      expect(m.maskRatio).toBeNull();
      expect(m.stepMs).toHaveLength(1);
      expect(Number.isFinite(m.lastLoss)).toBe(true);
      expect(m.gflops).toBeGreaterThan(0);
      if (m.backend !== 'torch') expect(m.kernelsPerStep).toBeGreaterThan(0);
    }
    if (json.torchNote === null) expect(others.filter((m) => m.backend === 'torch').map((m) => m.model)).toEqual(models);
    // Headers are right-aligned to their column's widest value (an img/s of 1031.0 widens its column).
    expect(r.stdout).toMatch(/^model +\| +backend \| +batch \| +ms\/step \| +img\/s \| +GFLOP\/s \| +peak tensors \| +wasm heap \| +torch RSS \| +kernels\/step \| +torch\/this img\/s$/m);
    expect(r.stdout).toMatch(new RegExp(`^DINO \\(2 x 32 px \\+ 4 x 16 px crops, K 64\\) +\\| +${backend} \\| +8 \\|`, 'm'));
  });

  it('refuses an unknown model or checkpointing mode, naming the flag', async () => {
    const a = await runExample('bench.ts', ['--quick', '--models', 'mae,vq']);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/--models must list models of mae, simmim, beit, clip, flip, dino \(or all\), got 'vq'/);
    const b = await runExample('bench.ts', ['--quick', '--checkpointing', 'yes']);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/--checkpointing must be off, on or auto, got 'yes'/);
  });
});

describe('examples/profile-step.ts', () => {
  it('--quick profiles one step: wall time, kernels by name and products by shape with their GFLOP/s', async () => {
    const r = await runExample('profile-step.ts', ['--quick', '--backend', backend, '--top', '5']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^step \d+ ms \(unprofiled\)$/m);
    const kernels = Number(/^(\d+) kernels$/m.exec(r.stdout)?.[1]);
    expect(kernels).toBeGreaterThan(100);
    const byName = r.stdout.split('kernel                        ms   calls\n')[1]!.split('\n\n')[0]!.trim().split('\n');
    expect(byName).toHaveLength(5);
    // A product row: time, calls, GFLOP/s, kernel and its input shapes.
    expect(r.stdout).toMatch(/^\s+\d+\s+\d+\s+\d+\.\d  \S*MatMul\S* \[\[/m);
    const bad = await runExample('profile-step.ts', ['--mask', '1']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--mask must be a number in \[0, 0\.99\], got '1'/);
  });

  it('--model profiles another bench model\'s step (FLIP, quick size); an unknown model is refused by name', async () => {
    const r = await runExample('profile-step.ts', ['--quick', '--backend', backend, '--model', 'flip', '--top', '3']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/; flip, batch 4, checkpointing off$/m);
    expect(Number(/^(\d+) kernels$/m.exec(r.stdout)?.[1])).toBeGreaterThan(100);
    expect(r.stdout).toMatch(/^\s+\d+\s+\d+\s+\d+\.\d  \S*MatMul\S* \[\[/m);
    const bad = await runExample('profile-step.ts', ['--model', 'vit']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--model must be mae or one of simmim, beit, clip, flip, dino, got 'vit'/);
  });
});
