// The README's short example, runnable: `npx tsx examples/quickstart.ts`.
import { writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { AdamW, MAE, maeConverter, maeMicro, Rng, cosineSchedule, saveWeights, trainStep } from '../src/index.js';

await tf.setBackend('wasm');

// Data: 32x32 grey images of 1-3 bright rectangles on black, drawn from a seed.
function batch(rng: Rng, n: number): tf.Tensor4D {
  const px = new Float32Array(n * 32 * 32);
  for (let i = 0; i < n; i++) {
    for (let r = rng.randint(1, 3); r > 0; r--) {
      const [y, x, h, w, v] = [rng.randint(0, 24), rng.randint(0, 24), rng.randint(4, 8), rng.randint(4, 8), rng.uniformRange(0.3, 1)];
      for (let a = y; a < y + h; a++) for (let b = x; b < x + w; b++) px[i * 1024 + a * 32 + b] = v;
    }
  }
  return tf.tensor4d(px, [n, 32, 32, 1]); // NHWC
}

const steps = 60;
const mae = new MAE({ ...maeMicro, imgSize: 32, inChans: 1, normPixLoss: true, seed: 0 });
const opt = new AdamW(mae, { lr: 3e-3, betas: [0.9, 0.95], weightDecay: 0.05 });
const lr = cosineSchedule({ baseLr: 3e-3, warmupSteps: 6, totalSteps: steps + 1 });
const rng = new Rng(0);
const start = performance.now();
for (let step = 1; step <= steps; step++) {
  const x = batch(rng, 64);
  const { loss } = trainStep(() => mae.forward(x, { training: true }).loss, mae, opt, { lr: lr(step) });
  x.dispose();
  if (step % 10 === 0) console.log(`step ${step}  loss ${loss.toFixed(4)}  ${((performance.now() - start) / 1000).toFixed(0)} s`);
}
await writeFile('mae-micro.safetensors', saveWeights(mae, { converter: maeConverter }));
console.log('saved mae-micro.safetensors');
