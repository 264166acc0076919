/**
 * Where an MAE training step spends its time, kernel by kernel
 * (`tf.profile` of one `trainStep`: forward, backward, AdamW), after two
 * warm-up steps:
 *
 *     npx tsx examples/profile-step.ts                      # wasm, MAE tiny-32, batch 64, mask 0.75
 *     npx tsx examples/profile-step.ts --mask 0 --batch 16 --backend cpu
 *     npx tsx examples/profile-step.ts --quick              # a tiny model (smoke run)
 *     npx tsx examples/profile-step.ts --model clip         # another bench model's step
 *
 * Prints the step's wall time, then two tables: per kernel name (time,
 * calls) and per kernel with its input shapes for products, transposes and
 * convolutions (the rows that show which matrix product costs what, and at
 * what GFLOP/s). Times are tfjs's `kernelTimeMs`; composite entries (a
 * `customGrad` scope, `fusedMatMul__op`) contain the kernels listed under
 * their own names, so the columns do not add up to the step. No timing is
 * asserted anywhere: the numbers depend on the machine and its load.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, MAE, maeMicro, maeTiny, trainStep } from '../src/index.js';
import { BENCH_MODELS, BENCH_SIZE, QUICK_SIZE, buildBenchStep, type BenchModel } from './lib/bench-models.js';
import { describeBackend, intFlag, numberFlag, parseBackend, parseThreads, useBackend } from './lib/runtime.js';

const USAGE = `usage: tsx examples/profile-step.ts [options]
  --backend B     cpu or wasm (default wasm)
  --batch N       images per step (default 64; --quick: 4)
  --mask R        mask ratio in [0, 1) (default 0.75; at 0 the loss covers every patch)
  --top N         rows of each table (default 25)
  --threads N     wasm threads (default 1)
  --model M       mae (default) or one of ${BENCH_MODELS.join(', ')}: the bench's step
                  for that model (examples/lib/bench-models.ts; --mask is MAE's only)
  --quick         MAE micro instead of tiny-32 (other models: the bench's quick size)
  --help`;

/** Multiply-add FLOPs of a product from its input shapes (rank-2 or batched, no transposes). */
function productFlops(name: string, shapes: number[][]): number | null {
  if (!/MatMul/.test(name) || shapes.length < 2) return null;
  const [a, b] = shapes as [number[], number[]];
  if (a.length < 2 || b.length < 2) return null;
  const m = a[a.length - 2]!;
  const k = a[a.length - 1]!;
  const n = b[b.length - 1]!;
  const batch = a.slice(0, -2).reduce((x, y) => x * y, 1);
  return 2 * batch * m * k * n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string' }, batch: { type: 'string' }, mask: { type: 'string' }, top: { type: 'string' },
      threads: { type: 'string' }, model: { type: 'string' }, quick: { type: 'boolean' }, help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const quick = values.quick === true;
  const backend = parseBackend(values.backend);
  const batch = intFlag('batch', values.batch, quick ? 4 : 64);
  const mask = numberFlag('mask', values.mask, 0.75, 0, 0.99);
  const top = intFlag('top', values.top, 25);
  const modelName = values.model ?? 'mae';
  if (modelName !== 'mae' && !(BENCH_MODELS as readonly string[]).includes(modelName)) {
    throw new Error(`--model must be mae or one of ${BENCH_MODELS.join(', ')}, got '${modelName}'`);
  }
  await useBackend(backend, { threads: parseThreads(values.threads) });
  const step = modelName === 'mae' ? maeStep(quick, batch, mask) : otherStep(modelName as BenchModel, quick, batch);
  console.log(`backend ${await describeBackend()}; ${step.label}, batch ${batch}, checkpointing off`);
  try {
    for (let i = 0; i < 2; i++) step.run();
    const t0 = performance.now();
    step.run();
    console.log(`step ${(performance.now() - t0).toFixed(0)} ms (unprofiled)`);
    const prof = await tf.profile(() => {
      step.run();
    });
    const byName = new Map<string, { ms: number; n: number }>();
    const byShape = new Map<string, { ms: number; n: number; flops: number | null }>();
    for (const k of prof.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const a = byName.get(k.name) ?? { ms: 0, n: 0 };
      a.ms += ms;
      a.n++;
      byName.set(k.name, a);
      if (/MatMul|Transpose|Conv/.test(k.name)) {
        const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
        const s = byShape.get(key) ?? { ms: 0, n: 0, flops: productFlops(k.name, k.inputShapes as number[][]) };
        s.ms += ms;
        s.n++;
        byShape.set(key, s);
      }
    }
    console.log(`${prof.kernels.length} kernels`);
    console.log('\nkernel                        ms   calls');
    for (const [k, v] of [...byName].sort((p, q) => q[1].ms - p[1].ms).slice(0, top)) {
      console.log(`${k.padEnd(26)} ${v.ms.toFixed(0).padStart(6)} ${String(v.n).padStart(7)}`);
    }
    console.log('\n    ms  calls  GFLOP/s  kernel [input shapes]');
    for (const [k, v] of [...byShape].sort((p, q) => q[1].ms - p[1].ms).slice(0, top)) {
      const gflops = v.flops === null || v.ms === 0 ? '' : ((v.flops * v.n) / (v.ms * 1e6)).toFixed(1);
      console.log(`${v.ms.toFixed(0).padStart(6)} ${String(v.n).padStart(6)} ${gflops.padStart(8)}  ${k}`);
    }
  } finally {
    step.dispose();
  }
}

interface ProfiledStep {
  label: string;
  run(): void;
  dispose(): void;
}

/** MAE tiny-32 (or micro) at the given mask ratio; at 0 the loss covers every patch. */
function maeStep(quick: boolean, batch: number, mask: number): ProfiledStep {
  const model = new MAE({ ...(quick ? maeMicro : maeTiny), maskRatio: mask, checkpointing: false, seed: 0 });
  const opt = new AdamW(model, { lr: 1.5e-4, betas: [0.9, 0.95], weightDecay: 0.05 });
  const [h, w] = model.config.imgSize;
  const x = tf.randomUniform([batch, h, w, model.config.inChans], 0, 1, 'float32', 1);
  const loss = (): tf.Scalar => {
    if (mask > 0) return model.forward(x, { seed: 1 }).loss;
    const enc = model.forwardEncoder(x);
    return model.forwardLoss(x, model.forwardDecoder(enc.latent, enc.idsRestore), tf.onesLike(enc.mask));
  };
  return {
    label: `MAE ${quick ? 'micro' : 'tiny-32'}, mask ${mask}`,
    run: () => {
      trainStep(loss, model, opt);
    },
    dispose: () => {
      x.dispose();
      opt.dispose();
      model.dispose();
    },
  };
}

/** One of the bench's other models (`examples/lib/bench-models.ts`), its own masking. */
function otherStep(model: BenchModel, quick: boolean, batch: number): ProfiledStep {
  const runner = buildBenchStep(model, batch, false, quick ? QUICK_SIZE : BENCH_SIZE);
  return { label: model, run: () => void runner.step(), dispose: () => runner.dispose() };
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
