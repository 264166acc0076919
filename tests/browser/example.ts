/**
 * `npm run test:browser:example`: the browser example page
 * (`examples/browser/`) really trains. Builds it with Vite's JS API into a
 * temporary folder, serves the build on 127.0.0.1 with COOP/COEP headers
 * (cross-origin isolation, so WASM threads can start), opens it in Debian's
 * Chromium (`/usr/bin/chromium`, never a downloaded browser) with
 * playwright-core at `?backend=wasm&steps=5`, waits until the page reports
 * `done`, and checks:
 *
 * - the page runs the backend asked for, and as many finite losses as steps;
 * - `tf.memory().numTensors` identical after every step;
 * - the loss canvas and the reconstruction canvas are drawn (their pixels,
 *   read back in the page, vary);
 *
 * then writes a screenshot and prints one PASS/FAIL line.
 *
 * Flags: `--backend auto|webgpu|webgl|wasm|cpu` (default wasm; the Chromium
 * flags follow `run.ts`: SwiftShader for WebGL and WebGPU), `--steps N`
 * (default 5), `--threads N` (WASM threads, `?threads=N`), `--screenshot PATH` (default
 * `bench-results/browser-example.png`), `--dev` (load it from Vite's dev
 * server, as `npm run example:browser` serves it, instead of a build),
 * `--browser PATH`, `--headed`. Exit
 * status 1 on failure.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { build, createServer as createViteServer, type ViteDevServer } from 'vite';
import type { ExampleState } from '../../examples/browser/main.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Chromium flags every run needs (as root, headless, no network chatter), as `run.ts`. */
const BASE_FLAGS = [
  '--headless=new', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];
/** Per backend, what lets it start on a machine without a GPU (SwiftShader), as `run.ts`. */
const BACKEND_FLAGS: Record<string, string[]> = {
  auto: [],
  cpu: ['--disable-gpu'],
  wasm: ['--disable-gpu'],
  webgl: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  webgpu: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'],
};
/** Loading, backend start and training: SwiftShader compiles shaders on the CPU (minutes on a busy 2-core machine). */
const PAGE_TIMEOUT_MS = 360_000;

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css',
};

async function buildPage(outDir: string): Promise<void> {
  await build({
    configFile: join(root, 'examples/browser/vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
}

/** Vite's dev server instead of a build (`--dev`): what `npm run example:browser` serves. */
async function startDevServer(): Promise<{ vite: ViteDevServer; port: number }> {
  const vite = await createViteServer({
    configFile: join(root, 'examples/browser/vite.config.ts'),
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0 },
  });
  await vite.listen();
  return { vite, port: (vite.httpServer!.address() as { port: number }).port };
}

/** Serves the built folder, cross-origin isolated. */
function serve(dir: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).slice(1);
    const path = normalize(join(dir, rel));
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    if (!path.startsWith(dir + sep) || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, port: (server.address() as { port: number }).port })));
}

/** What the page's canvases hold: distinct colours and pixels off the background. */
interface CanvasStats {
  width: number;
  height: number;
  distinct: number;
  /** Pixels that differ from the top-left one (the background). */
  nonBackground: number;
}

/** Runs in the page: reads a canvas back. */
function canvasStats(id: string): CanvasStats | null {
  const c = document.getElementById(id) as HTMLCanvasElement | null;
  const ctx = c?.getContext('2d');
  if (!c || !ctx || c.width === 0 || c.height === 0) return null;
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  const colours = new Set<number>();
  let nonBackground = 0;
  for (let i = 0; i < d.length; i += 4) {
    const v = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
    colours.add(v);
    if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) nonBackground++;
  }
  return { width: c.width, height: c.height, distinct: colours.size, nonBackground };
}

/** Why the run fails (empty when it passes). */
function check(backend: string, steps: number, s: ExampleState, loss: CanvasStats | null, rec: CanvasStats | null): string[] {
  const why: string[] = [];
  if (s.error) return [`page error: ${s.error}`];
  if (backend !== 'auto' && s.backend !== backend) why.push(`asked for ${backend}, the page runs ${s.backend}`);
  if (!s.crossOriginIsolated) why.push('the page is not cross-origin isolated (COOP/COEP headers missing?)');
  if (s.step !== steps || s.losses.length !== steps) why.push(`${s.losses.length} losses at step ${s.step}, expected ${steps}`);
  if (!s.losses.every(Number.isFinite)) why.push(`losses not finite: ${s.losses}`);
  if (s.tensorCounts.length !== steps || new Set(s.tensorCounts).size !== 1) why.push(`tensor count changes from step to step: ${s.tensorCounts}`);
  if (!loss || loss.distinct < 3 || loss.nonBackground < 500) why.push(`loss canvas looks blank: ${JSON.stringify(loss)}`);
  // Fashion-MNIST's gray levels: an image grid shows dozens of them.
  if (!rec || rec.distinct < 32 || rec.nonBackground < 0.1 * rec.width * rec.height) {
    why.push(`reconstruction canvas looks blank: ${JSON.stringify(rec)}`);
  }
  return why;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string', default: 'wasm' },
      steps: { type: 'string', default: '5' },
      threads: { type: 'string' },
      screenshot: { type: 'string', default: 'bench-results/browser-example.png' },
      browser: { type: 'string', default: '/usr/bin/chromium' },
      headed: { type: 'boolean' },
      dev: { type: 'boolean' },
    },
  });
  const backend = values.backend;
  const flags = BACKEND_FLAGS[backend];
  if (!flags) throw new Error(`--backend must be one of ${Object.keys(BACKEND_FLAGS).join(', ')}, got '${backend}'`);
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got '${values.steps}'`);
  if (!existsSync(values.browser)) {
    console.error(`test:browser:example: no browser at ${values.browser} (apt-get install -y chromium, or --browser PATH)`);
    return 1;
  }
  const screenshot = resolve(values.screenshot);
  const t0 = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'mimkit-example-'));
  const userDataDir = mkdtempSync(join(tmpdir(), 'mimkit-chromium-'));
  const log: string[] = [];
  let server: Server | undefined;
  let vite: ViteDevServer | undefined;
  let why: string[] = [];
  let s: ExampleState | undefined;
  try {
    let port: number;
    if (values.dev) {
      ({ vite, port } = await startDevServer());
    } else {
      await buildPage(dir);
      const served = await serve(dir);
      server = served.server;
      port = served.port;
    }
    const tBuild = performance.now();
    const ctx = await chromium.launchPersistentContext(userDataDir, {
      executablePath: values.browser, headless: false, ignoreDefaultArgs: ['--headless'],
      args: [...BASE_FLAGS.filter((f) => !(values.headed && f.startsWith('--headless'))), ...flags],
      viewport: { width: 1000, height: 900 },
    });
    try {
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      page.on('console', (m) => log.push(m.text()));
      // An uncaught error (e.g. in a WASM worker) can leave the page waiting forever: fail at once.
      const uncaught = new Promise<never>((_, reject) => {
        page.on('pageerror', (e) => {
          log.push(`pageerror: ${e.message}`);
          reject(new Error(`uncaught error in the page: ${e.message}`));
        });
      });
      uncaught.catch(() => undefined); // still seen by the race below; later errors only go to the log
      const threads = values.threads === undefined ? '' : `&threads=${encodeURIComponent(values.threads)}`;
      await page.goto(`http://127.0.0.1:${port}/?backend=${backend}&steps=${steps}${threads}`);
      await Promise.race([
        uncaught,
        page.waitForFunction(
          () => window.__mimkitExample !== undefined && (window.__mimkitExample.done || window.__mimkitExample.error !== null),
          undefined,
          { timeout: PAGE_TIMEOUT_MS, polling: 250 },
        ),
      ]);
      s = await page.evaluate(() => window.__mimkitExample);
      const lossStats = await page.evaluate(canvasStats, 'loss');
      const recStats = await page.evaluate(canvasStats, 'reconstructions');
      why = check(backend, steps, s, lossStats, recStats);
      mkdirSync(dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: true });
      const tTrain = (performance.now() - tBuild) / 1000;
      console.log(
        `${why.length === 0 ? 'PASS' : 'FAIL'} browser example on ${s.backend ?? backend}${s.backendInfo ? ` (${s.backendInfo})` : ''}` +
          `${s.skipped.length > 0 ? ` [not started: ${s.skipped.join('; ')}]` : ''}: ` +
          `${s.step} steps, losses ${s.losses.map((l) => l.toFixed(4)).join(' ')}, ` +
          `held-out ${s.heldOut.map((p) => `${p.step}:${p.loss.toFixed(4)}`).join(' ')}, tensors ${s.tensorCounts.join(',')}, ` +
          `last step ${s.lastStepMs.toFixed(0)} ms; ${values.dev ? 'dev server' : 'build'} ${((tBuild - t0) / 1000).toFixed(1)} s, page ${tTrain.toFixed(1)} s; screenshot ${screenshot}`,
      );
    } finally {
      await ctx.close();
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    why.push(msg);
    console.log(`FAIL browser example on ${backend}: ${msg.split('\n')[0]}`);
  } finally {
    server?.close();
    await vite?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(userDataDir, { recursive: true, force: true });
  }
  if (why.length > 0) {
    for (const w of why) console.log(`    ${w.split('\n').join('\n    ')}`);
    if (log.length > 0) console.log(`    console:\n      ${log.slice(-10).join('\n      ')}`);
  }
  return why.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
