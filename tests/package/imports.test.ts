import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The built package (`dist/`, what `npm run build` makes) used the way users
 * load it, WITH gradients: plain Node ESM, Node CJS, tsx, an esbuild browser
 * bundle, and vitest. Each way runs the same script: build a Linear and a
 * LayerNorm from the package, take `tf.variableGrads` of a loss that uses
 * matMul, add/mul, mean, square, rsqrt, gather and softmax, and report the
 * gradient norms. The script never calls ensureGradients itself: the library
 * must register what it needs.
 *
 * `import 'mimkit'` resolves through a temporary folder whose node_modules
 * links `mimkit` to this repository (its package.json `exports`) and
 * `@tensorflow` to the repository's copy.
 */

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dist = join(root, 'dist');

/** Newest modification time of the files under `dir`. */
function newest(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((t, e) => {
    const p = join(dir, e.name);
    return Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }, 0);
}

/**
 * Builds `dist/` with tsup when it is missing or older than `src/`. The cpu
 * and wasm projects run this file in parallel, so a lock directory makes one
 * of them build while the other waits.
 */
async function ensureDist(): Promise<void> {
  const outputs = ['index.js', 'index.cjs'].map((f) => join(dist, f));
  const fresh = (): boolean => outputs.every((f) => existsSync(f) && statSync(f).mtimeMs >= newest(join(root, 'src')));
  if (fresh()) return;
  const lock = join(root, 'node_modules', '.cache', 'mimkit-dist.lock');
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 240_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another run is building; a lock older than 5 minutes is abandoned.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${lock}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    if (!fresh()) {
      try {
        await run('npx', ['tsup'], { cwd: root, maxBuffer: 1 << 26 });
      } catch (e) {
        const err = e as { stderr?: string; stdout?: string; message: string };
        throw new Error(`building dist/ with tsup failed:\n${err.stdout ?? ''}\n${err.stderr ?? err.message}`);
      }
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** What every script prints (one JSON line). */
interface Report {
  backend: string;
  /** StridedSlice has no stock tfjs gradient: defined only once the library registered its own. */
  registeredBefore: boolean;
  registeredAfter: boolean;
  loss: number;
  norms: number[];
}

/** The user script, shared by every way of loading; `tf`, `Linear`, `LayerNorm`, `matMul` in scope. */
const BODY = `
const registeredBefore = tf.getGradient('StridedSlice') !== undefined;
const lin = new Linear({ inFeatures: 4, outFeatures: 3, seed: 1 });
const ln = new LayerNorm({ dim: 3, eps: 1e-5, seed: 2 });
const registeredAfter = tf.getGradient('StridedSlice') !== undefined;
const x = tf.tensor2d([[0.5, -1, 2, 0.1], [1.5, 0.2, -0.3, 0.7], [-0.4, 0.9, 0.3, -1.2], [0.05, 0.6, -0.8, 1.1]]);
const ids = tf.tensor1d([3, 0, 3], 'int32');
const loss = () => {
  const h = ln.forward(lin.forward(x)); // matMul, add, mean, sub, square, rsqrt, mul
  const g = tf.gather(h, ids);
  const p = tf.softmax(matMul(g, g, false, true));
  return tf.mean(tf.square(tf.sub(p, tf.scalar(0.2))));
};
const vars = [...lin.trainableVariables(), ...ln.trainableVariables()];
const { value, grads } = tf.variableGrads(loss, vars);
const norms = vars.map((v) => tf.norm(grads[v.name]).dataSync()[0]);
console.log(JSON.stringify({ backend: tf.getBackend(), registeredBefore, registeredAfter, loss: value.dataSync()[0], norms }));
`;

const ESM_HEAD = `import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Linear, LayerNorm, matMul } from 'mimkit';
await tf.setBackend('cpu');`;

const CJS_SCRIPT = `const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const { Linear, LayerNorm, matMul } = require('mimkit');
(async () => {
await tf.setBackend('cpu');
${BODY}
})().catch((e) => { console.error(e); process.exit(1); });`;

/** The bundle runs without top-level await (an IIFE). */
const BUNDLE_ENTRY = `import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Linear, LayerNorm, matMul } from 'mimkit';
(async () => {
await tf.setBackend('cpu');
${BODY}
})().catch((e) => console.log('ERROR ' + (e && e.stack ? e.stack : String(e))));`;

function parseReport(stdout: string, how: string): Report {
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`${how}: no JSON report in output:\n${stdout}`);
  return JSON.parse(line) as Report;
}

function expectUsable(r: Report, how: string, backend = 'cpu', checkRegistration = true): void {
  expect(r.backend, how).toBe(backend);
  if (checkRegistration) {
    expect(r.registeredBefore, `${how}: no StridedSlice gradient before the library ran`).toBe(false);
    expect(r.registeredAfter, `${how}: the library registered its gradients`).toBe(true);
  }
  expect(Number.isFinite(r.loss), how).toBe(true);
  expect(r.norms.length, `${how}: Linear weight+bias, LayerNorm weight+bias`).toBe(4);
  for (const n of r.norms) {
    expect(Number.isFinite(n), `${how}: finite gradient norm`).toBe(true);
    expect(n, `${how}: non-zero gradient norm`).toBeGreaterThan(0);
  }
}

let work = '';
const reports = new Map<string, Report>();

/** A plain environment for child processes (no vitest loader flags). */
const childEnv = { ...process.env, NODE_OPTIONS: '' };

async function node(file: string): Promise<string> {
  const { stdout } = await run(process.execPath, [file], { cwd: work, env: childEnv, maxBuffer: 1 << 24 });
  return stdout;
}

beforeAll(async () => {
  await ensureDist();
  work = mkdtempSync(join(tmpdir(), 'mimkit-imports-'));
  mkdirSync(join(work, 'node_modules'));
  symlinkSync(root, join(work, 'node_modules', 'mimkit'), 'dir');
  symlinkSync(join(root, 'node_modules', '@tensorflow'), join(work, 'node_modules', '@tensorflow'), 'dir');
  writeFileSync(join(work, 'esm.mjs'), `${ESM_HEAD}\n${BODY}`);
  writeFileSync(join(work, 'cjs.cjs'), CJS_SCRIPT);
  writeFileSync(join(work, 'user.mts'), `${ESM_HEAD}\n${BODY}`);
  writeFileSync(join(work, 'entry.mjs'), BUNDLE_ENTRY);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// The child-process ways set the cpu backend themselves: run them once, in the cpu project.
describe.runIf(tf.getBackend() === 'cpu')('the built package, loaded as a user would (cpu backend)', () => {
  it('plain Node ESM: import { ... } from "mimkit"', async () => {
    const r = parseReport(await node('esm.mjs'), 'node esm');
    expectUsable(r, 'node esm');
    reports.set('esm', r);
  });

  it('Node CJS: require("mimkit")', async () => {
    const r = parseReport(await node('cjs.cjs'), 'node cjs');
    expectUsable(r, 'node cjs');
    reports.set('cjs', r);
  });

  it('tsx: a TypeScript script importing "mimkit"', async () => {
    const tsx = join(root, 'node_modules', '.bin', 'tsx');
    const { stdout } = await run(tsx, ['user.mts'], { cwd: work, env: childEnv, maxBuffer: 1 << 24 });
    const r = parseReport(stdout, 'tsx');
    expectUsable(r, 'tsx');
    reports.set('tsx', r);
  });

  it('esbuild: a browser-platform bundle, run in a fresh vm context', async () => {
    const built = await esbuild.build({
      entryPoints: [join(work, 'entry.mjs')],
      absWorkingDir: work,
      bundle: true,
      platform: 'browser',
      format: 'iife',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    // The bundler took the package's ESM build (the `import` condition of `exports`).
    const inputs = Object.keys(built.metafile.inputs);
    expect(inputs.some((p) => /(^|\/)dist\/index\.js$/.test(p))).toBe(true);
    expect(inputs.some((p) => /(^|\/)dist\/index\.cjs$/.test(p))).toBe(false);
    const lines: string[] = [];
    // A minimal browser-like global: no process, no require, no Node builtins.
    const ctx: Record<string, unknown> = {
      console: { log: (s: unknown) => lines.push(String(s)), warn: () => {}, error: (s: unknown) => lines.push(`ERROR ${String(s)}`) },
      setTimeout,
      clearTimeout,
      setInterval,
      clearInterval,
      queueMicrotask,
      performance,
      TextEncoder,
      TextDecoder,
      document: {},
      navigator: { userAgent: 'vm', hardwareConcurrency: 1 },
    };
    ctx['window'] = ctx;
    ctx['self'] = ctx;
    vm.createContext(ctx);
    vm.runInContext(built.outputFiles[0]!.text, ctx);
    const deadline = Date.now() + 30_000;
    while (lines.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const r = parseReport(lines.join('\n'), 'esbuild bundle');
    expectUsable(r, 'esbuild bundle');
    reports.set('bundle', r);
  });

  it('tree shaking: a bundle importing only Rng carries neither the rest of the library nor tfjs-layers', async () => {
    writeFileSync(join(work, 'rng.mjs'), "import { Rng } from 'mimkit';\nconsole.log(new Rng(3).uniform());\n");
    const built = await esbuild.build({
      entryPoints: [join(work, 'rng.mjs')],
      absWorkingDir: work,
      bundle: true,
      minify: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    // What made it into the output (metafile.inputs also lists what was parsed and then dropped).
    const out = Object.values(built.metafile.outputs)[0]!;
    const inputs = Object.entries(out.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k);
    // Only the random-number module and the tiny helper chunk of the library; no tfjs at all.
    expect(inputs.filter((p) => p.includes('@tensorflow')), 'tfjs modules in the bundle').toEqual([]);
    const lib = inputs.filter((p) => /(^|\/)dist\//.test(p) && !/dist\/(index|utils\/index|chunk-[^/]*)\.js$/.test(p));
    expect(lib.map((p) => p.replace(/^.*dist\//, ''))).toEqual(['utils/random.js']);
    const bytes = built.outputFiles[0]!.contents.length;
    expect(bytes, `bundle of { Rng } is ${bytes} bytes`).toBeLessThan(8 * 1024);
  });

  it('every way of loading computes the same loss and gradients', () => {
    const all = [...reports.entries()];
    expect(all.map(([k]) => k).sort()).toEqual(['bundle', 'cjs', 'esm', 'tsx']);
    const [, first] = all[0]!;
    for (const [how, r] of all) {
      expect(r.loss, how).toBeCloseTo(first.loss, 6);
      r.norms.forEach((n, i) => expect(n, `${how} norm ${i}`).toBeCloseTo(first.norms[i]!, 6));
    }
  });
});

type Pkg = typeof import('../../src/index.js');

/** The user script of BODY, in-process, with the given copy of the library. */
function trainStep(pkg: Pkg): { loss: number; norms: number[] } {
  const { Linear, LayerNorm, matMul } = pkg;
  const lin = new Linear({ inFeatures: 4, outFeatures: 3, seed: 1 });
  const ln = new LayerNorm({ dim: 3, eps: 1e-5, seed: 2 });
  const x = tf.tensor2d([[0.5, -1, 2, 0.1], [1.5, 0.2, -0.3, 0.7], [-0.4, 0.9, 0.3, -1.2], [0.05, 0.6, -0.8, 1.1]]);
  const ids = tf.tensor1d([3, 0, 3], 'int32');
  const loss = (): tf.Scalar =>
    tf.tidy(() => {
      const g = tf.gather(ln.forward(lin.forward(x)), ids);
      const p = tf.softmax(matMul(g, g, false, true));
      return tf.mean(tf.square(tf.sub(p, tf.scalar(0.2)))) as tf.Scalar;
    });
  const vars = [...lin.trainableVariables(), ...ln.trainableVariables()];
  const { value, grads } = tf.variableGrads(loss, vars);
  const norms = vars.map((v) => tf.tidy(() => tf.norm(grads[v.name]!).dataSync()[0]!));
  const out = { loss: value.dataSync()[0]!, norms };
  tf.dispose([value, ...Object.values(grads), x, ids]);
  lin.dispose();
  ln.dispose();
  return out;
}

describe('the built package under vitest, on the current backend', () => {
  it('dist/index.js imported by vitest trains with gradients, like src, leaking nothing', async () => {
    const built = (await import(/* @vite-ignore */ pathToFileURL(join(dist, 'index.js')).href)) as Pkg;
    const src = (await import('../../src/index.js')) as Pkg;
    const before = tf.memory().numTensors;
    const r = trainStep(built);
    expect(tf.memory().numTensors).toBe(before);
    const how = `vitest (${tf.getBackend()})`;
    expectUsable({ backend: tf.getBackend(), registeredBefore: false, registeredAfter: true, ...r }, how, tf.getBackend(), false);
    const fromSrc = trainStep(src);
    expect(r.loss).toBeCloseTo(fromSrc.loss, 6);
    r.norms.forEach((n, i) => expect(n, `${how} norm ${i}`).toBeCloseTo(fromSrc.norms[i]!, 6));
    // And the same numbers as the child processes (which ran on cpu).
    const esm = reports.get('esm');
    if (esm) {
      expect(r.loss).toBeCloseTo(esm.loss, 5);
      r.norms.forEach((n, i) => expect(n).toBeCloseTo(esm.norms[i]!, 5));
    }
  });
});
