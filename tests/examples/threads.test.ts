/**
 * Multi-threaded wasm under Node (examples/lib/runtime.ts, `useBackend('wasm',
 * { threads })`): tfjs 4.22 turns threads off in Node, the examples turn them
 * back on. Each thread count needs its own process (tfjs fixes it when the
 * backend first starts), so threads-child.ts runs once with 1 thread and once
 * with 2, and their results are compared: a rank-2 matMul and one tiny MAE
 * training step (loss and every weight after AdamW) must agree within 1e-5,
 * and tfjs must report the thread count asked for. Runs in the wasm project
 * only (the children pick their backend themselves).
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { MAX_WASM_THREADS, parseThreads } from '../../examples/lib/runtime.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsx = join(root, 'node_modules', '.bin', 'tsx');

interface ChildResult {
  threads: number;
  backend: string;
  matmul: number[];
  loss: number;
  weights: Record<string, number[]>;
}

/** Runs threads-child.ts with `threads` and parses its JSON line. */
function runChild(threads: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    execFile(
      tsx,
      [join(root, 'tests', 'examples', 'threads-child.ts'), String(threads)],
      { cwd: root, timeout: 25_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`threads-child.ts ${threads} failed: ${err.message}\n${stderr.slice(-2000)}`));
          return;
        }
        const line = stdout.split('\n').find((l) => l.startsWith('{'));
        if (line === undefined) reject(new Error(`threads-child.ts ${threads} printed no JSON:\n${stdout.slice(-2000)}`));
        else resolve(JSON.parse(line) as ChildResult);
      },
    );
  });
}

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Why threads cannot run here, or null when they can. */
async function threadsUnavailable(): Promise<string | null> {
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is unavailable in this Node runtime';
  try {
    await import('node:worker_threads');
  } catch {
    return 'node:worker_threads is unavailable in this Node runtime';
  }
  return null;
}

describe('wasm threads (examples/lib/runtime.ts)', () => {
  it('parseThreads accepts 1..8 and names flag, value and range otherwise', () => {
    expect(parseThreads(undefined)).toBe(1);
    expect(parseThreads('2')).toBe(2);
    expect(parseThreads(MAX_WASM_THREADS)).toBe(MAX_WASM_THREADS);
    for (const bad of ['0', '9', '1.5', 'two', '', ' ']) {
      expect(() => parseThreads(bad)).toThrow(`--threads must be an integer in [1, ${MAX_WASM_THREADS}]`);
    }
    expect(() => parseThreads(0, 'threads')).toThrow(/^threads must be .* got '0'$/);
  });

  it('2 threads: tfjs reports 2, matMul and an MAE step equal the 1-thread run', async (ctx) => {
    if (tf.getBackend() !== 'wasm') ctx.skip('runs in the wasm project only (the children choose their backend)');
    const why = await threadsUnavailable();
    if (why !== null) ctx.skip(why);
    const [one, two] = await Promise.all([runChild(1), runChild(2)]);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect(one.backend).toBe('wasm (SIMD on, 1 thread)');
    expect(two.backend).toBe('wasm (SIMD on, 2 threads)');
    expect(maxAbsDiff(one.matmul, two.matmul)).toBeLessThanOrEqual(1e-5);
    expect(Number.isFinite(one.loss)).toBe(true);
    expect(Math.abs(one.loss - two.loss)).toBeLessThanOrEqual(1e-5);
    expect(Object.keys(two.weights).sort()).toEqual(Object.keys(one.weights).sort());
    for (const name of Object.keys(one.weights)) {
      expect(maxAbsDiff(one.weights[name]!, two.weights[name]!), name).toBeLessThanOrEqual(1e-5);
    }
  }, 30_000);
});
