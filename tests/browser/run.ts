/**
 * `npm run test:browser`: the library in a real browser on every tfjs
 * backend. Bundles `page.ts` with esbuild, serves it on 127.0.0.1 with
 * COOP/COEP headers (cross-origin isolation, so WASM threads can start), and
 * drives Debian's Chromium (`/usr/bin/chromium`, never a downloaded browser)
 * with playwright-core through these runs:
 *
 * - cpu (the reference for the values), wasm with threads off and on;
 * - WebGL on SwiftShader, WebGL on Mesa llvmpipe (ANGLE over EGL), and WebGL
 *   with forced 16-bit textures (`WEBGL_FORCE_F16_TEXTURES`, what tfjs uses
 *   on devices without float32 render targets);
 * - WebGPU on SwiftShader's Vulkan.
 *
 * Each run must pass the conformance cases (against their PyTorch
 * references, at the cases' tolerances), train a few MAE steps and a few
 * CLIP steps (padded causal texts, contrastive loss) with `trainStepAsync`
 * whose losses and final weights equal cpu's within 1e-5 (relative), with a
 * tensor count identical from step to step; the f16 run
 * must only train without NaN (float16 storage cannot match float32 values).
 *
 * Flags: `--only NAME[,NAME]` picks runs; `--browser PATH` another Chromium;
 * `--headed`. Exit status 1 when any run fails. A run whose backend cannot
 * start on this machine (no GPU adapter, no WebGL context) fails: CI
 * machines are expected to have SwiftShader and Mesa, as Debian's chromium
 * package brings them.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import type { PageReport } from './page.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The in-repo conformance cases the page runs (small ones: one per model kind). */
const CASES = ['mae_patch2', 'simmim_patch2', 'beit_noqv'];
const CASE_DIRS = ['tests/conformance/cases', 'tests/conformance/gen/cases'].map((d) => join(root, d));
/** Losses and final weights: relative to cpu. */
const TOL = 1e-5;
/**
 * Gradients at the initial weights, as a weighted sum relative to the
 * gradient's L1 norm: GPU reductions sum in another order, and a weighted sum
 * cancels, so this is looser than the values themselves.
 */
const GRAD_TOL = 1e-4;

/** Chromium flags every run needs (as root, headless, no network chatter). */
const BASE_FLAGS = [
  '--headless=new', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

interface RunSpec {
  name: string;
  query: string;
  flags: string[];
  /** Compare values with cpu (false: only finite values and a flat tensor count). */
  compare: boolean;
}

// Software GPUs compile every shader on the CPU (minutes on a busy machine):
// the GPU runs take one conformance case (MAE's) or none, besides training.
const RUNS: RunSpec[] = [
  { name: 'cpu', query: 'backend=cpu', flags: ['--disable-gpu'], compare: false },
  { name: 'wasm', query: 'backend=wasm', flags: ['--disable-gpu'], compare: true },
  { name: 'wasm-threads', query: 'backend=wasm&threads=1', flags: ['--disable-gpu'], compare: true },
  {
    name: 'webgl-swiftshader', query: 'backend=webgl&cases=mae_patch2',
    flags: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'], compare: true,
  },
  {
    name: 'webgl-llvmpipe', query: 'backend=webgl&cases=',
    flags: ['--use-gl=angle', '--use-angle=gl-egl', '--ignore-gpu-blocklist'], compare: true,
  },
  {
    name: 'webgl-f16', query: 'backend=webgl&f16=1&cases=',
    flags: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'], compare: false,
  },
  {
    name: 'webgpu', query: 'backend=webgpu&cases=mae_patch2',
    flags: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'],
    compare: true,
  },
];

/**
 * Per run. SwiftShader compiles every shader on the CPU: about 2.5 minutes
 * for a WebGL run on a 2-core machine under a load average of 20.
 */
const PAGE_TIMEOUT_MS = 360_000;

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json',
  '.safetensors': 'application/octet-stream',
};

async function bundle(dir: string): Promise<void> {
  await esbuild.build({
    entryPoints: [join(root, 'tests/browser/page.ts')],
    bundle: true, format: 'esm', platform: 'browser', target: 'es2022', outfile: join(dir, 'page.js'),
    logLevel: 'error',
    // tfjs-backend-wasm's Emscripten glue names Node modules it never loads in a browser.
    external: ['fs', 'path', 'worker_threads', 'perf_hooks', 'os', 'crypto'],
    define: { 'process.env.NODE_ENV': '"production"' },
  });
}

/** Serves the page, the WASM binaries and the cases, cross-origin isolated. */
function serve(dir: string, caseFiles: Map<string, string>): Promise<{ server: Server; port: number }> {
  const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let body: Buffer | string | null = null;
    let path = url.pathname;
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/' || path === '/index.html') {
      path = '/index.html';
      body = '<!doctype html><meta charset="utf-8"><title>mimkit browser test</title><script type="module" src="/page.js"></script>';
    } else if (path === '/page.js') body = readFileSync(join(dir, 'page.js'));
    else if (path.startsWith('/wasm/') && /^[\w.-]+\.wasm$/.test(path.slice(6))) body = readFileSync(join(wasmDir, path.slice(6)));
    else if (path === '/cases/index.json') body = JSON.stringify([...caseFiles.keys()]);
    else if (path.startsWith('/cases/')) {
      const f = caseFiles.get(path.slice(7).replace(/\.safetensors$/, ''));
      if (f) body = readFileSync(f);
    }
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (body === null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, port: (server.address() as { port: number }).port })));
}

async function runOne(spec: RunSpec, port: number, browserPath: string, headed: boolean): Promise<PageReport> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'mimkit-chromium-'));
  const flags = [...BASE_FLAGS.filter((f) => !(headed && f.startsWith('--headless'))), ...spec.flags];
  const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: browserPath, headless: false, args: flags, ignoreDefaultArgs: ['--headless'],
  });
  const console: string[] = [];
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('console', (m) => console.push(m.text()));
    page.on('pageerror', (e) => console.push(`pageerror: ${e.message}`));
    await page.goto(`http://127.0.0.1:${port}/?${spec.query}`);
    await page.waitForFunction('globalThis.__mimkitReport !== undefined', undefined, { timeout: PAGE_TIMEOUT_MS, polling: 250 });
    const r = (await page.evaluate('globalThis.__mimkitReport')) as PageReport;
    if (r.error) r.error += `\nconsole:\n${console.slice(-10).join('\n')}`;
    return r;
  } catch (e) {
    return {
      backend: spec.name, info: {}, conformance: [], losses: [], counts: [], weightSum: NaN, weightSumSq: NaN, gradChecks: {},
      clip: { losses: [], counts: [], weightSum: NaN, weightSumSq: NaN },
      error: `${e instanceof Error ? e.message : String(e)}\nconsole:\n${console.slice(-10).join('\n')}`,
    };
  } finally {
    await ctx.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(1, Math.abs(b));

/** Why a run fails (empty when it passes). */
function check(spec: RunSpec, r: PageReport, ref: PageReport | undefined): string[] {
  const why: string[] = [];
  if (r.error) return [`error: ${r.error}`];
  for (const c of r.conformance) if (!c.passed) why.push(`conformance ${c.name}: ${c.reason}`);
  if (r.losses.length === 0 || !r.losses.every(Number.isFinite)) why.push(`losses not finite: ${r.losses}`);
  if (!Number.isFinite(r.weightSumSq)) why.push(`weights not finite after training (sum of squares ${r.weightSumSq})`);
  if (new Set(r.counts).size !== 1) why.push(`tensor count changes from step to step: ${r.counts}`);
  const c = r.clip;
  if (c.losses.length === 0 || !c.losses.every(Number.isFinite)) why.push(`CLIP losses not finite: ${c.losses}`);
  if (!Number.isFinite(c.weightSumSq)) why.push(`CLIP weights not finite after training (sum of squares ${c.weightSumSq})`);
  if (new Set(c.counts).size !== 1) why.push(`CLIP tensor count changes from step to step: ${c.counts}`);
  if (spec.compare && ref) {
    c.losses.forEach((l, i) => {
      if (!(rel(l, ref.clip.losses[i]!) <= TOL)) why.push(`CLIP step ${i} loss ${l} vs cpu ${ref.clip.losses[i]} (> ${TOL})`);
    });
    if (!(rel(c.weightSum, ref.clip.weightSum) <= TOL)) why.push(`CLIP weight sum ${c.weightSum} vs cpu ${ref.clip.weightSum}`);
    if (!(rel(c.weightSumSq, ref.clip.weightSumSq) <= TOL)) why.push(`CLIP weight sum of squares ${c.weightSumSq} vs cpu ${ref.clip.weightSumSq}`);
  }
  if (spec.compare && ref) {
    r.losses.forEach((l, i) => {
      if (!(rel(l, ref.losses[i]!) <= TOL)) why.push(`step ${i} loss ${l} vs cpu ${ref.losses[i]} (> ${TOL})`);
    });
    for (const [k, g] of Object.entries(r.gradChecks)) {
      if (k.endsWith('|l1')) continue;
      const want = ref.gradChecks[k]!;
      const scale = ref.gradChecks[`${k}|l1`]!;
      if (!(Math.abs(g - want) <= GRAD_TOL * scale)) why.push(`gradient of ${k}: check ${g} vs cpu ${want} (L1 ${scale})`);
    }
    if (!(rel(r.weightSum, ref.weightSum) <= TOL)) why.push(`weight sum ${r.weightSum} vs cpu ${ref.weightSum}`);
    if (!(rel(r.weightSumSq, ref.weightSumSq) <= TOL)) why.push(`weight sum of squares ${r.weightSumSq} vs cpu ${ref.weightSumSq}`);
  }
  return why;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, browser: { type: 'string' }, headed: { type: 'boolean' } },
  });
  const browserPath = values.browser ?? '/usr/bin/chromium';
  if (!existsSync(browserPath)) {
    console.error(`test:browser: no browser at ${browserPath} (apt-get install -y chromium, or --browser PATH)`);
    return 1;
  }
  const only = values.only?.split(',');
  const runs = only ? RUNS.filter((r) => only.includes(r.name) || r.name === 'cpu') : RUNS;
  const caseFiles = new Map<string, string>();
  for (const c of CASES) {
    const f = CASE_DIRS.map((d) => join(d, `${c}.safetensors`)).find((p) => existsSync(p));
    if (f) caseFiles.set(c, f);
  }
  if (caseFiles.size === 0) {
    console.error(`test:browser: none of the cases ${CASES} in ${CASE_DIRS.join(' or ')}`);
    return 1;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mimkit-browser-'));
  const t0 = performance.now();
  await bundle(dir);
  const { server, port } = await serve(dir, caseFiles);
  let failed = 0;
  let ref: PageReport | undefined;
  try {
    for (const spec of runs) {
      const t = performance.now();
      const r = await runOne(spec, port, browserPath, values.headed === true);
      if (spec.name === 'cpu') ref = r;
      const why = check(spec, r, ref);
      const maxErr = Math.max(0, ...r.conformance.map((c) => c.maxAbsErr));
      const lossErr = ref && r !== ref ? Math.max(0, ...r.losses.map((l, i) => rel(l, ref!.losses[i]!))) : 0;
      const clipErr = ref && r !== ref ? Math.max(0, ...r.clip.losses.map((l, i) => rel(l, ref!.clip.losses[i]!))) : 0;
      console.log(
        `${why.length === 0 ? 'PASS' : 'FAIL'} ${spec.name.padEnd(18)} ${((performance.now() - t) / 1000).toFixed(1).padStart(5)} s  ` +
          `cases ${r.conformance.filter((c) => c.passed).length}/${r.conformance.length} (max |err| ${maxErr.toExponential(2)})  ` +
          `MAE losses ${r.losses.map((l) => l.toFixed(6)).join(' ')}  vs cpu ${lossErr.toExponential(2)}  tensors ${r.counts.join(',')}  ` +
          `CLIP losses ${r.clip.losses.map((l) => l.toFixed(6)).join(' ')}  vs cpu ${clipErr.toExponential(2)}  ${JSON.stringify(r.info)}`,
      );
      for (const w of why) console.log(`    ${w.split('\n').join('\n    ')}`);
      if (why.length > 0) failed++;
    }
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${runs.length - failed} passed, ${failed} failed (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
