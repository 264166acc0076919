/**
 * Child process of threads.test.ts: initialises the wasm backend with the
 * thread count given as argv[2] through the examples' `useBackend`, then
 * prints one JSON line: the thread count tfjs reports, a rank-2 matMul, and
 * one tiny MAE training step (its loss and every weight after the AdamW
 * update). Run directly: `tsx tests/examples/threads-child.ts 2`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { AdamW, MAE, maeMicro, trainStep } from '../../src/index.js';
import { describeBackend, parseThreads, useBackend } from '../../examples/lib/runtime.js';

const threads = parseThreads(process.argv[2]);
await useBackend('wasm', { threads });

// Large enough that XNNPACK splits the product across the pool's threads.
const a = tf.randomUniform([192, 160], -1, 1, 'float32', 1);
const b = tf.randomUniform([160, 224], -1, 1, 'float32', 2);
const product = tf.matMul(a, b);
const matmul = Array.from(await product.data());
tf.dispose([a, b, product]);

const model = new MAE({ ...maeMicro, depth: 2, decoderDepth: 1, seed: 0 });
const optimizer = new AdamW(model, { lr: 1e-3, weightDecay: 0.05 });
const x = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 3);
const { loss } = trainStep(() => model.forward(x, { seed: 4 }).loss, model, optimizer);
const weights: Record<string, number[]> = {};
for (const [name, w] of model.namedWeights()) weights[name] = Array.from(await w.read().data());
x.dispose();
optimizer.dispose();
model.dispose();

console.log(JSON.stringify({ threads: getThreadsCount(), backend: await describeBackend(), matmul, loss, weights }));
