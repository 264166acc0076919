/**
 * Could a matrix product of our own beat tfjs-wasm's (XNNPACK) on the
 * products of an MAE tiny-32 training step? Builds `gemm.c` with clang
 * (Debian's `clang-16`, `lld-16`: `apt-get install clang-16 lld-16`) twice,
 * with plain WebAssembly SIMD and with relaxed SIMD's fused multiply-add,
 * instantiates both on tfjs-wasm's own memory and times them against
 * `tf.matMul` on the step's shapes, each call with a fresh right operand (as
 * in a training step, where XNNPACK packs it on every call):
 *
 *     node --experimental-wasm-relaxed-simd --import tsx examples/wasm-gemm/gemm-bench.ts
 *
 * (Node 20 needs the flag for relaxed SIMD; Node 22 and current browsers
 * have it on. Without it the relaxed build is skipped.) Prints GFLOP/s per
 * shape and the largest difference from `tf.matMul`. `--quick`: small odd
 * shapes (edge tiles, several K blocks) instead of the step's, for a check
 * of the values. Not part of the library; the result is in
 * docs/performance.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../lib/runtime.js';

type Gemm = (M: number, N: number, K: number, a: number, ta: number, b: number, tb: number, c: number, bias: number, scratch: number) => void;
interface WasmBackendInternals {
  wasm: { asm: { memory: WebAssembly.Memory }; _malloc(bytes: number): number; _free(ptr: number): void };
  dataIdMap: { get(id: object): { memoryOffset: number } };
}

const SHAPES: [number, number, number][] = [
  [1088, 192, 192], [1088, 192, 768], [1088, 768, 192], [768, 1088, 192], [192, 1088, 192],
  [4160, 128, 128], [4160, 128, 512], [4160, 512, 128], [512, 4160, 128], [128, 4160, 128],
];
const QUICK_SHAPES: [number, number, number][] = [[1, 1, 1], [7, 300, 13], [70, 9, 530], [13, 600, 8]];
const VARIANTS: [string, string[]][] = [
  ['simd128 4x8', ['-DMR=4']],
  ['simd128 6x8', ['-DMR=6']],
  ['relaxed-fma 4x8', ['-DMR=4', '-DRELAXED', '-mrelaxed-simd']],
  ['relaxed-fma 6x8', ['-DMR=6', '-DRELAXED', '-mrelaxed-simd']],
];

function build(dir: string, name: string, flags: string[]): Uint8Array<ArrayBuffer> | null {
  const out = join(dir, `${name.replace(/\W+/g, '_')}.wasm`);
  const src = join(dirname(fileURLToPath(import.meta.url)), 'gemm.c');
  const r = spawnSync('clang-16', ['--target=wasm32', '-O3', '-msimd128', '-mbulk-memory', ...flags, '-nostdlib',
    '-Wl,--no-entry', '-Wl,--import-memory', '-Wl,--strip-all', '-o', out, src], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    console.log(`${name}: clang-16 failed (${r.error?.message ?? r.stderr.split('\n')[0]}); apt-get install clang-16 lld-16`);
    return null;
  }
  return new Uint8Array(readFileSync(out));
}

function timeMs(f: () => void, reps: number): number {
  f();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t0) / reps;
}

async function main(): Promise<void> {
  await useBackend('wasm', { threads: 1 });
  const be = tf.backend() as unknown as WasmBackendInternals;
  const dir = mkdtempSync(join(tmpdir(), 'wasm-gemm-'));
  const gemms: [string, Gemm][] = [];
  for (const [name, flags] of VARIANTS) {
    const bytes = build(dir, name, flags);
    if (bytes === null) continue;
    if (!WebAssembly.validate(bytes)) {
      console.log(`${name}: this engine does not accept the module (relaxed SIMD off? Node 20: --experimental-wasm-relaxed-simd)`);
      continue;
    }
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: be.wasm.asm.memory } });
    gemms.push([name, inst.exports['gemm'] as Gemm]);
  }
  rmSync(dir, { recursive: true, force: true });
  // KC * NC floats for B, MC * KC (MC = 16 MR <= 96) for A, 8 for an edge tile.
  const scratch = be.wasm._malloc(4 * (256 * 512 + 96 * 256 + 64));
  const ptr = (t: tf.Tensor): number => be.dataIdMap.get(t.dataId).memoryOffset;
  console.log(`GFLOP/s, ${gemms.length + 1} products per shape; each call gets a fresh right operand`);
  console.log(['M x K x N', 'tf.matMul (XNNPACK)', ...gemms.map(([n]) => n)].join(' | '));
  for (const [M, K, N] of process.argv.includes('--quick') ? QUICK_SHAPES : SHAPES) {
    const reps = Math.min(200, Math.max(3, Math.round(1.5e9 / (2 * M * K * N))));
    const a = tf.randomNormal([M, K], 0, 1, 'float32', 1);
    const bs = Array.from({ length: reps + 1 }, (_, i) => tf.randomNormal([K, N], 0, 1, 'float32', 2 + i));
    const gf = (ms: number): string => ((2 * M * K * N) / ms / 1e6).toFixed(1);
    let q = 0;
    const row = [`${M} x ${K} x ${N}`, gf(timeMs(() => tf.matMul(a, bs[q++ % bs.length]!).dispose(), reps))];
    const ref = tf.matMul(a, bs[0]!);
    for (const [, g] of gemms) {
      const c = tf.zeros([M, N]);
      q = 0;
      const ms = timeMs(() => g(M, N, K, ptr(a), 0, ptr(bs[q++ % bs.length]!), 0, ptr(c), 0, scratch), reps);
      g(M, N, K, ptr(a), 0, ptr(bs[0]!), 0, ptr(c), 0, scratch);
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(c, ref))).dataSync()[0]!);
      row.push(`${gf(ms)} (max diff ${err.toExponential(1)})`);
      c.dispose();
    }
    console.log(row.join(' | '));
    tf.dispose([a, ref, ...bs]);
  }
  be.wasm._free(scratch);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
