/**
 * Benchmark of one MAE pretraining step (forward, backward, AdamW update) on
 * the tfjs backends available in Node without native add-ons (cpu, wasm):
 *
 *     npm run bench                         # both backends, a few minutes
 *     npm run bench -- --quick              # smoke run (tiny model, 1 step)
 *     npm run bench -- --backends wasm --steps 10 --torch
 *     npm run bench -- --backends wasm --threads 2   # multi-threaded wasm
 *
 * Config: `maeTiny` (32 px, 3 channels, patch 4 so 64 patches, encoder
 * D 192 x 12 blocks x 3 heads, decoder 128 x 4 blocks x 4 heads), batch 16
 * (8 on cpu), with mask ratio 0.75 (the encoder sees 16 patches + class token) and 0 (it
 * sees all 64): MAE's claim is that dropping the masked patches from the
 * encoder makes pretraining about 3x faster (the paper measures 2.8-4.1x on
 * ViT-L/H). Steps after the warm-up are timed one by one; the median is
 * reported as images/s.
 *
 * Then one training step of each other model (`--models`; all by default),
 * the same encoder size: SimMIM and BEiT (the encoder sees every patch, with
 * mask tokens), CLIP and FLIP (image and text towers, contrastive loss; FLIP
 * drops half of the patches) and DINO (student on 2 global + 4 local crops,
 * EMA teacher); see `examples/lib/bench-models.ts`. For every step: median
 * ms and images/s, achieved GFLOP/s (model FLOPs), peak live tensor bytes,
 * the WASM heap and kernel launches per step.
 *
 * A second table compares, on wasm, the library's explicit transposes
 * before matMul (the default there) against tfjs's transpose flags
 * (`setExplicitTranspose(false)`). With `--torch`, the same step in PyTorch on
 * one CPU thread (`examples/bench_torch.py`, `/usr/bin/python3`) is timed in
 * the same run, for a ratio against a reference implementation.
 *
 * `--threads N` runs wasm with N XNNPACK threads (tfjs's threaded build, Node
 * worker_threads; see examples/lib/runtime.ts). The default, 1, is the
 * single-threaded reference every other figure uses; cpu is always one thread.
 *
 * Results: a table on stdout and JSON in `bench-results/mae-step.json`
 * (`--out`). No timing is asserted anywhere: numbers depend on the machine
 * and on what else runs on it.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, MAE, maeTiny, setExplicitTranspose, trainStep, type Checkpointing, type MAEConfig } from '../src/index.js';
import { BENCH_MODELS, BENCH_SIZE, QUICK_SIZE, benchModelFlops, benchModelLabel, benchModelSpec, buildBenchStep, type BenchModel, type StepRunner } from './lib/bench-models.js';
import { describeBackend, EXAMPLE_BACKENDS, intFlag, parseThreads, useBackend, type ExampleBackend } from './lib/runtime.js';

const USAGE = `usage: tsx examples/bench.ts [options]
  --backends LIST    comma-separated, of cpu,wasm (default cpu,wasm)
  --batch N          images per step (default 16: at mask ratio 0 a step of
                     this model needs ~150 MB per image on wasm, whose heap
                     stops at 4 GB; batch 32 aborts there)
  --cpu-batch N      images per step on cpu (default 8: cpu is ~50x slower than wasm)
  --steps N          timed steps per measurement on wasm and torch (default 3)
  --cpu-steps N      timed steps per measurement on cpu (default 1)
  --warmup N         untimed steps before timing (default 1)
  --no-transpose-table  skip the explicit-transpose vs flags comparison
  --threads N        wasm threads, 1-8 (default 1: the single-threaded reference;
                     cpu and torch stay on one thread)
  --models LIST      comma-separated, of mae,${BENCH_MODELS.join(',')}, or all
                     (default all): MAE's step at mask 0.75 and 0, then one
                     step of each other model (examples/lib/bench-models.ts)
  --checkpointing M  activation checkpointing: auto (default, the library's
                     default: on for a stack whose estimated training memory
                     exceeds 1 GiB, e.g. MAE's encoder at mask 0 and batch 64,
                     and DINO's, which does not fit WASM's 4 GB heap
                     without it), off (no recomputation anywhere), or on
  --torch            also time PyTorch (one thread) with examples/bench_torch.py
  --out PATH         JSON results (default bench-results/mae-step.json)
  --quick            smoke run: a tiny model, batch 8, 1 timed step
  --help`;

/** One timed configuration. */
interface Measurement {
  /** `mae`, or one of the other models (`examples/lib/bench-models.ts`). */
  model: string;
  /** `cpu`, `wasm` or `torch`. */
  backend: string;
  /** MAE's mask ratio; null for the other models (their masking is fixed, see bench-models.ts). */
  maskRatio: number | null;
  /** Images per step. */
  batch: number;
  /** Whether matMul used explicit transposes (tfjs backends only). */
  explicitTranspose: boolean | null;
  /** Per timed step, milliseconds. */
  stepMs: number[];
  medianMs: number;
  imagesPerSecond: number;
  /** Loss of the last step (a sanity check: finite). */
  lastLoss: number;
  /** Activation checkpointing setting (tfjs backends only). */
  checkpointing: Checkpointing | null;
  /** Model FLOPs of one step (forward + backward = 3x the forward's matrix products), per {@link maeStepFlops}. */
  flopsPerStep: number | null;
  /** Achieved GFLOP/s at the median step time. */
  gflops: number | null;
  /** Peak bytes of live tensors during a timed step (tfjs's own count). */
  peakTensorBytes: number | null;
  /** Size of the WASM heap after the steps (it only grows: the peak), bytes; null off wasm. */
  wasmHeapBytes: number | null;
  /** Kernels dispatched by the engine per step (tfjs ops, including the optimiser's). */
  kernelsPerStep: number | null;
}

/**
 * Multiply-add FLOPs (2 per multiply-add) of one MAE training step: the
 * matrix products of the forward pass (patch embedding, q/k/v, attention's
 * two products, projection, MLP, decoder embedding and prediction) times 3
 * for forward + backward, the usual model-FLOPs convention (recomputation
 * under checkpointing is not counted). Element-wise work is left out.
 */
export function maeStepFlops(c: Required<Pick<MAEConfig, 'patchSize' | 'embedDim' | 'depth' | 'decoderEmbedDim' | 'decoderDepth' | 'mlpRatio'>> & { imgSize: [number, number]; inChans: number }, batch: number, maskRatio: number): number {
  const L = (c.imgSize[0] / c.patchSize) * (c.imgSize[1] / c.patchSize);
  const kept = Math.floor(L * (1 - maskRatio));
  const block = (n: number, d: number): number => 2 * n * d * d * (4 + 2 * c.mlpRatio) + 2 * 2 * n * n * d;
  const pp = c.patchSize * c.patchSize * c.inChans;
  const enc = 2 * L * pp * c.embedDim * (kept / L) + c.depth * block(kept + 1, c.embedDim);
  const dec = 2 * (kept + 1) * c.embedDim * c.decoderEmbedDim + c.decoderDepth * block(L + 1, c.decoderEmbedDim) + 2 * (L + 1) * c.decoderEmbedDim * pp;
  return 3 * batch * (enc + dec);
}

/** Counts engine-dispatched kernels and tracks the peak of live tensor bytes while installed. */
class KernelMeter {
  kernels = 0;
  peakBytes = 0;
  private readonly engine = tf.engine() as unknown as { runKernel: (...a: unknown[]) => unknown; state: { numBytes: number } };
  private readonly original = this.engine.runKernel;
  install(): void {
    const self = this;
    const orig = this.original;
    this.engine.runKernel = function (this: unknown, ...a: unknown[]): unknown {
      const r = orig.apply(this, a);
      self.kernels++;
      if (self.engine.state.numBytes > self.peakBytes) self.peakBytes = self.engine.state.numBytes;
      return r;
    };
  }
  uninstall(): void {
    this.engine.runKernel = this.original;
  }
}

function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.buffer.byteLength ?? null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The pretraining loss of one step. With mask ratio 0 no patch is removed,
 * so MAE's loss (mean over removed patches) would be 0/0; the loss is then
 * taken over every patch, which costs the same and keeps the step a real one.
 */
function stepLoss(model: MAE, x: tf.Tensor): tf.Scalar {
  if (model.config.maskRatio > 0) return model.forward(x).loss;
  const enc = model.forwardEncoder(x);
  const pred = model.forwardDecoder(enc.latent, enc.idsRestore);
  return model.forwardLoss(x, pred, tf.onesLike(enc.mask));
}

/** Times `steps` training steps after `warmup` untimed ones on the active backend. */
interface Timed {
  stepMs: number[];
  lastLoss: number;
  peakTensorBytes?: number;
  kernelsPerStep?: number;
  wasmHeapBytes?: number | null;
}

function timeSteps(config: MAEConfig, batch: number, steps: number, warmup: number): Timed {
  const model = new MAE(config);
  const optimizer = new AdamW(model, { lr: 1.5e-4, betas: [0.9, 0.95], weightDecay: 0.05 });
  const [h, w] = typeof config.imgSize === 'number' ? [config.imgSize, config.imgSize] : config.imgSize!;
  const x = tf.randomUniform([batch, h, w, config.inChans ?? 3], 0, 1, 'float32', 1);
  return timeRunner(
    {
      // trainStep reads the loss back (dataSync), so the step has finished when it returns.
      step: () => trainStep(() => stepLoss(model, x), model, optimizer).loss,
      dispose: () => {
        x.dispose();
        optimizer.dispose();
        model.dispose();
      },
    },
    steps,
    warmup,
  );
}

/** Times `steps` calls of `runner.step` after `warmup` untimed ones, metering the last; disposes the runner. */
function timeRunner(runner: StepRunner, steps: number, warmup: number): Timed {
  const stepMs: number[] = [];
  let lastLoss = NaN;
  const meter = new KernelMeter();
  let kernelsPerStep = 0;
  try {
    for (let i = 0; i < warmup + steps; i++) {
      // The last timed step is metered too: the hook is one counter per
      // kernel (thousands per step), nothing next to a step's seconds.
      const metered = i === warmup + steps - 1;
      if (metered) meter.install();
      const t0 = performance.now();
      lastLoss = runner.step();
      const ms = performance.now() - t0;
      if (metered) {
        meter.uninstall();
        kernelsPerStep = meter.kernels;
      }
      if (i >= warmup) stepMs.push(ms);
    }
  } finally {
    meter.uninstall();
    try {
      runner.dispose();
    } catch {
      // After a failed step (typically the WASM heap's abort) the backend is
      // unusable and freeing throws too; the step's own error is the one to report.
    }
  }
  return { stepMs, lastLoss, peakTensorBytes: meter.peakBytes || undefined, kernelsPerStep: kernelsPerStep || undefined, wasmHeapBytes: wasmHeapBytes() };
}

function measurement(
  model: string,
  backend: string,
  maskRatio: number | null,
  explicit: boolean | null,
  batch: number,
  r: Timed & { peakBytes?: number | null },
  flops: number | null,
  checkpointing: Checkpointing | null,
): Measurement {
  const medianMs = median(r.stepMs);
  return {
    model, backend, maskRatio, batch, explicitTranspose: explicit, stepMs: r.stepMs, medianMs,
    imagesPerSecond: (1000 * batch) / medianMs, lastLoss: r.lastLoss, checkpointing,
    flopsPerStep: flops, gflops: flops === null ? null : flops / (medianMs * 1e6),
    peakTensorBytes: r.peakTensorBytes ?? r.peakBytes ?? null, wasmHeapBytes: r.wasmHeapBytes ?? null,
    kernelsPerStep: r.kernelsPerStep ?? null,
  };
}

/** The resolved config (defaults filled in) of an MAE config, without keeping a model. */
function resolved(config: MAEConfig): MAE['config'] {
  const m = new MAE(config);
  const c = m.config;
  m.dispose();
  return c;
}

/** Runs `examples/bench_torch.py` (MAE's step, or `model`'s) and reads its JSON line, or explains why not. */
function torchBench(
  config: MAEConfig | Record<string, unknown>,
  batch: number,
  steps: number,
  warmup: number,
  maskRatios: number[],
  model = 'mae',
): { info: string; results: Measurement[] } | string {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'bench_torch.py');
  const args = [
    script,
    '--config', JSON.stringify(config),
    '--batch', String(batch),
    '--steps', String(steps),
    '--warmup', String(warmup),
    '--mask-ratios', maskRatios.join(','),
    '--model', model,
  ];
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' } });
  if (r.error) return `could not run /usr/bin/python3: ${r.error.message}`;
  if (r.status !== 0) return `bench_torch.py failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`;
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) return `bench_torch.py printed no JSON: ${r.stdout.trim().slice(0, 200)}`;
  const parsed = JSON.parse(line) as { torch: string; blas: string | null; results: { maskRatio: number | null; stepMs: number[]; lastLoss: number; peakRssBytes?: number }[] };
  return {
    info: `torch ${parsed.torch}, 1 thread, BLAS ${parsed.blas ?? '?'}${parsed.blas !== 'openblas' ? ' (not OpenBLAS: install libopenblas0-pthread for a fair reference)' : ''}`,
    results: parsed.results.map((m) =>
      measurement(model, 'torch', m.maskRatio ?? null, null, batch, { ...m, peakBytes: m.peakRssBytes ?? null }, model === 'mae' ? maeStepFlops(resolved(config as MAEConfig), batch, m.maskRatio!) : null, null),
    ),
  };
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));

function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      backends: { type: 'string' },
      batch: { type: 'string' },
      steps: { type: 'string' },
      'cpu-steps': { type: 'string' },
      'cpu-batch': { type: 'string' },
      warmup: { type: 'string' },
      threads: { type: 'string' },
      'no-transpose-table': { type: 'boolean' },
      checkpointing: { type: 'string' },
      models: { type: 'string' },
      torch: { type: 'boolean' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const quick = values.quick === true;
  const backends = (values.backends ?? EXAMPLE_BACKENDS.join(',')).split(',').map((s) => s.trim());
  for (const b of backends) {
    if (!EXAMPLE_BACKENDS.includes(b as ExampleBackend)) {
      throw new Error(`--backends must list backends of ${EXAMPLE_BACKENDS.join(', ')}, got '${b}' in '${values.backends}'`);
    }
  }
  const batch = intFlag('batch', values.batch, quick ? 8 : 16);
  const cpuBatch = intFlag('cpu-batch', values['cpu-batch'], quick ? 8 : 8);
  const steps = intFlag('steps', values.steps, quick ? 1 : 3);
  const cpuSteps = intFlag('cpu-steps', values['cpu-steps'], 1);
  const warmup = intFlag('warmup', values.warmup, 1, 0);
  const threads = parseThreads(values.threads);
  const out = values.out ?? 'bench-results/mae-step.json';
  const config: MAEConfig = quick
    ? { ...maeTiny, embedDim: 32, depth: 2, numHeads: 2, decoderEmbedDim: 16, decoderDepth: 1, decoderNumHeads: 2, seed: 0 }
    : { ...maeTiny, seed: 0 };
  const maskRatios = [0.75, 0];
  const ckptFlag = values.checkpointing ?? 'auto';
  const CKPT: Record<string, Checkpointing> = { off: false, on: true, auto: 'auto' };
  if (!(ckptFlag in CKPT)) throw new Error(`--checkpointing must be off, on or auto, got '${ckptFlag}'`);
  const checkpointing = CKPT[ckptFlag]!;
  const allModels = ['mae', ...BENCH_MODELS];
  const models = values.models === undefined || values.models === 'all' ? allModels : values.models.split(',').map((m) => m.trim());
  for (const m of models) {
    if (!allModels.includes(m)) throw new Error(`--models must list models of ${allModels.join(', ')} (or all), got '${m}' in '${values.models}'`);
  }
  const others = models.filter((m): m is BenchModel => m !== 'mae');
  const size = quick ? QUICK_SIZE : BENCH_SIZE;
  await useBackend(backends[0] as ExampleBackend, { threads });
  const model = new MAE(config);
  const c = model.config;
  model.dispose();
  const configText =
    `MAE ${c.imgSize[0]} px x ${c.inChans} ch, patch ${c.patchSize} (${(c.imgSize[0] / c.patchSize) ** 2} patches), ` +
    `encoder D ${c.embedDim} x ${c.depth} blocks x ${c.numHeads} heads, decoder ${c.decoderEmbedDim} x ${c.decoderDepth} x ${c.decoderNumHeads} heads`;
  console.log(`${configText}; batch ${batch} (cpu: ${cpuBatch}); median of ${steps} (cpu: ${cpuSteps}) timed steps after ${warmup} warm-up step(s)`);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Node ${process.version}`);

  const results: Measurement[] = [];
  const transposeResults: Measurement[] = [];
  const modelResults: Measurement[] = [];
  const failures: { backend: string; model: string; maskRatio: number | null; explicitTranspose: boolean | null; batch: number; error: string }[] = [];
  for (const b of backends as ExampleBackend[]) {
    await useBackend(b, { threads });
    console.log(`backend ${await describeBackend()}`);
    const n = b === 'cpu' ? cpuSteps : steps;
    const bs = b === 'cpu' ? cpuBatch : batch;
    // Default mode first (explicit transposes on wasm), then wasm with transpose flags.
    const modes: (boolean | undefined)[] = !models.includes('mae') ? [] : b === 'wasm' && values['no-transpose-table'] !== true ? [undefined, false] : [undefined];
    try {
      for (const mode of modes) {
        setExplicitTranspose(mode);
        const explicit = b === 'wasm' ? mode !== false : null;
        for (const maskRatio of maskRatios) {
          let m: Measurement;
          try {
            m = measurement('mae', b, maskRatio, explicit, bs, timeSteps({ ...config, maskRatio, checkpointing }, bs, n, warmup), maeStepFlops(c, bs, maskRatio), checkpointing);
          } catch (e) {
            // Typically the wasm heap (4 GB) running out; the backend is unusable afterwards.
            const error = e instanceof Error ? e.message : String(e);
            failures.push({ backend: b, model: 'mae', maskRatio, explicitTranspose: explicit, batch: bs, error });
            console.log(`  ${b} mask ${maskRatio}: FAILED (${error}); skipping the rest of ${b}`);
            throw e;
          }
          const label = mode === false ? `${b} (transpose flags)` : b;
          console.log(`  ${label} mask ${maskRatio}: median ${m.medianMs.toFixed(0)} ms/step, ${m.imagesPerSecond.toFixed(1)} img/s (loss ${m.lastLoss.toFixed(3)})`);
          if (mode === undefined) results.push(m);
          if (b === 'wasm' && modes.length > 1) transposeResults.push(m);
        }
      }
      for (const name of others) {
        let m: Measurement;
        try {
          m = measurement(name, b, null, null, bs, timeRunner(buildBenchStep(name, bs, checkpointing, size), n, warmup), benchModelFlops(name, bs, size), checkpointing);
        } catch (e) {
          const error = e instanceof Error ? e.message : String(e);
          failures.push({ backend: b, model: name, maskRatio: null, explicitTranspose: null, batch: bs, error });
          console.log(`  ${b} ${name}: FAILED (${error}); skipping the rest of ${b}`);
          throw e;
        }
        console.log(`  ${b} ${benchModelLabel(name, size)}: median ${m.medianMs.toFixed(0)} ms/step, ${m.imagesPerSecond.toFixed(1)} img/s (loss ${m.lastLoss.toFixed(3)})`);
        modelResults.push(m);
      }
    } catch {
      // Recorded in `failures`; go on with the next backend.
    } finally {
      setExplicitTranspose(undefined);
    }
  }
  let torchNote: string | null = null;
  let torchInfo: string | null = null;
  if (values.torch === true && models.includes('mae')) {
    const t = torchBench(config, batch, steps, warmup, maskRatios);
    if (typeof t === 'string') {
      torchNote = t;
      console.log(`torch: ${t}`);
    } else {
      torchInfo = t.info;
      console.log(`reference ${t.info}`);
      for (const m of t.results) console.log(`  torch mask ${m.maskRatio}: median ${m.medianMs.toFixed(0)} ms/step, ${m.imagesPerSecond.toFixed(1)} img/s`);
      results.push(...t.results);
    }
  }

  if (values.torch === true) {
    for (const name of others) {
      const t = torchBench(benchModelSpec(name, size), batch, steps, warmup, [], name);
      if (typeof t === 'string') {
        torchNote = `${torchNote ? `${torchNote}; ` : ''}${name}: ${t}`;
        console.log(`torch ${name}: ${t}`);
        continue;
      }
      torchInfo ??= t.info;
      for (const m of t.results) {
        const mm = { ...m, model: name, maskRatio: null, flopsPerStep: benchModelFlops(name, batch, size) };
        mm.gflops = mm.flopsPerStep / (mm.medianMs * 1e6);
        console.log(`  torch ${benchModelLabel(name, size)}: median ${mm.medianMs.toFixed(0)} ms/step, ${mm.imagesPerSecond.toFixed(1)} img/s`);
        modelResults.push(mm);
      }
    }
  }

  const find = (list: Measurement[], backend: string, mask: number, explicit?: boolean): Measurement | undefined =>
    list.find((m) => m.backend === backend && m.maskRatio === mask && (explicit === undefined || m.explicitTranspose === explicit));
  const torch75 = find(results, 'torch', 0.75);
  const torch0 = find(results, 'torch', 0);
  const rows = [...new Set(results.map((m) => m.backend))].map((b) => {
    const a = find(results, b, 0.75);
    const z = find(results, b, 0);
    const ratio = (x: number | undefined, y: number | undefined): number | undefined => (x === undefined || y === undefined ? undefined : x / y);
    const row = [
      b,
      String((a ?? z)!.batch),
      fmt(a?.medianMs, 0),
      fmt(a?.imagesPerSecond),
      fmt(z?.medianMs, 0),
      fmt(z?.imagesPerSecond),
      `${fmt(ratio(a?.imagesPerSecond, z?.imagesPerSecond), 2)}x`,
    ];
    if (torch75) {
      row.push(
        b === 'torch' ? '1' : fmt(ratio(torch75.imagesPerSecond, a?.imagesPerSecond), 1),
        b === 'torch' ? '1' : fmt(ratio(torch0?.imagesPerSecond, z?.imagesPerSecond), 1),
      );
    }
    return row;
  });
  const header = ['backend', 'batch', 'ms/step (0.75)', 'img/s (0.75)', 'ms/step (0)', 'img/s (0)', 'speed-up 0.75 vs 0'];
  if (torch75) header.push('torch/this img/s (0.75)', 'torch/this img/s (0)');
  if (results.length > 0) printTable('MAE training step (forward, backward, AdamW), median of timed steps; mask ratio in brackets', header, rows);
  const mb = (b: number | null): string => (b === null ? '-' : (b / 2 ** 20).toFixed(0));
  if (results.length > 0) printTable(
    `Per step: achieved GFLOP/s (model FLOPs), peak memory (MiB: live tensors; WASM heap; torch: process RSS), kernels dispatched; activation checkpointing ${ckptFlag}`,
    ['backend', 'mask', 'GFLOP/step', 'GFLOP/s', 'peak tensors', 'wasm heap', 'torch RSS', 'kernels/step'],
    results.map((m) => [
      m.backend, String(m.maskRatio), fmt(m.flopsPerStep === null ? undefined : m.flopsPerStep / 1e9, 2), fmt(m.gflops ?? undefined, 2),
      m.backend === 'torch' ? '-' : mb(m.peakTensorBytes), mb(m.wasmHeapBytes), m.backend === 'torch' ? mb(m.peakTensorBytes) : '-',
      m.kernelsPerStep === null ? '-' : String(m.kernelsPerStep),
    ]),
  );

  if (modelResults.length > 0) {
    const torchOf = (name: string): Measurement | undefined => modelResults.find((m) => m.model === name && m.backend === 'torch');
    printTable(
      `Other pretraining steps (forward, backward, AdamW; ${quick ? 'quick size' : 'ViT D 192 x 12 x 3 heads at 32 px, patch 4'}), median of timed steps; memory in MiB; activation checkpointing ${ckptFlag}`,
      ['model', 'backend', 'batch', 'ms/step', 'img/s', 'GFLOP/s', 'peak tensors', 'wasm heap', 'torch RSS', 'kernels/step', 'torch/this img/s'],
      modelResults.map((m) => {
        const t = torchOf(m.model);
        return [
          benchModelLabel(m.model as BenchModel, size), m.backend, String(m.batch), fmt(m.medianMs, 0), fmt(m.imagesPerSecond), fmt(m.gflops ?? undefined, 2),
          m.backend === 'torch' ? '-' : mb(m.peakTensorBytes), mb(m.wasmHeapBytes), m.backend === 'torch' ? mb(m.peakTensorBytes) : '-',
          m.kernelsPerStep === null ? '-' : String(m.kernelsPerStep),
          m.backend === 'torch' ? '1' : t ? fmt(t.imagesPerSecond / m.imagesPerSecond, 1) : '-',
        ];
      }),
    );
  }

  if (transposeResults.length > 0) {
    const tRows = [true, false].map((explicit) => {
      const a = find(transposeResults, 'wasm', 0.75, explicit);
      const z = find(transposeResults, 'wasm', 0, explicit);
      return [explicit ? 'explicit transposes (default)' : 'transpose flags', fmt(a?.imagesPerSecond), fmt(z?.imagesPerSecond)];
    });
    const e = find(transposeResults, 'wasm', 0.75, true);
    const f = find(transposeResults, 'wasm', 0.75, false);
    tRows.push(['explicit / flags', `${fmt(e && f ? e.imagesPerSecond / f.imagesPerSecond : undefined, 2)}x`, (() => {
      const e0 = find(transposeResults, 'wasm', 0, true);
      const f0 = find(transposeResults, 'wasm', 0, false);
      return `${fmt(e0 && f0 ? e0.imagesPerSecond / f0.imagesPerSecond : undefined, 2)}x`;
    })()]);
    printTable('wasm matMul: explicit transposes vs transpose flags (setExplicitTranspose), img/s', ['matMul mode', 'mask 0.75', 'mask 0'], tRows);
  }

  const json = {
    benchmark: 'mae-train-step',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, node: process.version },
    config: { ...c, batch, cpuBatch, checkpointing: ckptFlag, wasmThreads: threads },
    quick,
    warmupSteps: warmup,
    results,
    speedUpMask075VsMask0: Object.fromEntries(
      [...new Set(results.map((m) => m.backend))].flatMap((b) => {
        const a = find(results, b, 0.75);
        const z = find(results, b, 0);
        return a && z ? [[b, a.imagesPerSecond / z.imagesPerSecond]] : [];
      }),
    ),
    failures,
    wasmTransposeComparison: transposeResults,
    models: { size, results: modelResults },
    torchNote,
    torchInfo,
  };
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`\nwrote ${out}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
