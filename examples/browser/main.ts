/**
 * The MAE demo (`examples/mae-fashion-mnist.ts`) in a browser page: a small
 * Masked Autoencoder (He et al. 2021) pretrained on the shipped
 * Fashion-MNIST subset, with a live loss curve and MAE's reconstruction
 * panels (original / masked input / reconstruction with the visible patches
 * pasted back) for a few fixed held-out images.
 *
 * The backend is chosen at run time (`?backend=` or the select box): `auto`
 * tries WebGPU, then WebGL, then WASM, then the plain-JavaScript cpu backend.
 * The library itself imports no backend; this page does. `?threads=N` sets
 * the WASM backend's thread count (default: tfjs's choice).
 *
 * Training uses `trainStepAsync` (no synchronous read back, which stalls
 * WebGL and can lose a WebGPU device) and yields to the event loop after each
 * step, so the page stays responsive. Progress is published as
 * `window.__mimkitExample` for `tests/browser/example.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { AdamW, MAE, maeMicro, maskedImage, pasteVisible, Rng, trainStepAsync, type MAEConfig } from '../../src/index.js';
import { decodeFashionMnist, type FashionMnistData } from '../lib/fashion-mnist-decode.js';

/** The backends `auto` tries, fastest first. */
const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
type BackendName = (typeof BACKENDS)[number];
type BackendChoice = BackendName | 'auto';

/**
 * The Node demo's model (`maeMicro`: D 128, decoder 64 x 2 blocks, patch 4 on
 * 32 px, 75% masking, norm-pix loss) with 4 encoder blocks instead of 6, at a
 * quarter of its batch, so that a step stays well under a second on
 * single-threaded WASM.
 */
const MODEL: MAEConfig = { ...maeMicro, depth: 4, imgSize: 32, inChans: 1, normPixLoss: true, maskRatio: 0.75, seed: 0 };
const BATCH = 32;
/** Training images used (of 10,000), as the Node demo. */
const TRAIN_SIZE = 4096;
/** Held-out images shown; the first ones of the test split cover different classes. */
const SHOWN = 8;
/** Every shown image keeps the same mask across refreshes, so only the weights change the picture. */
const HELD_OUT_MASK_SEED = 1234;
/** Refresh the reconstructions (and the held-out loss) every this many steps. */
const REFRESH_EVERY = 10;
/** AdamW as MAE (betas 0.9/0.95, weight decay 0.05), linear warm-up to a constant peak: the run has no fixed length. */
const PEAK_LR = 2e-3;
const WARMUP_STEPS = 20;

/** What the page publishes as `window.__mimkitExample` (read by `tests/browser/example.ts`). */
export interface ExampleState {
  /** The backend that runs (`null` until one has started). */
  backend: BackendName | null;
  /** Backend details for the status line (threads, renderer). */
  backendInfo: string;
  /** For `auto`: the backends tried before, and why each could not start. */
  skipped: string[];
  crossOriginIsolated: boolean;
  /** Steps done. */
  step: number;
  /** Training loss of each step (`losses[i]` is step `i + 1`'s). */
  losses: number[];
  /** `tf.memory().numTensors` after each step (flat once the optimiser's state exists). */
  tensorCounts: number[];
  /** Loss on the shown held-out images with their fixed masks, at the steps where they were refreshed. */
  heldOut: { step: number; loss: number }[];
  /** Wall time of the last step, in ms. */
  lastStepMs: number;
  running: boolean;
  /** True once training has stopped (the `?steps` limit or Stop) and the last reconstructions are drawn. */
  done: boolean;
  error: string | null;
}

declare global {
  interface Window {
    __mimkitExample: ExampleState;
  }
}

const state: ExampleState = {
  backend: null, backendInfo: '', skipped: [], crossOriginIsolated: globalThis.crossOriginIsolated === true,
  step: 0, losses: [], tensorCounts: [], heldOut: [], lastStepMs: 0, running: false, done: false, error: null,
};
window.__mimkitExample = state;

const el = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`index.html has no #${id}`);
  return e as T;
};
const ui = {
  backend: el<HTMLSelectElement>('backend'),
  start: el<HTMLButtonElement>('start'),
  stop: el<HTMLButtonElement>('stop'),
  status: el<HTMLDivElement>('status'),
  error: el<HTMLDivElement>('error'),
  loss: el<HTMLCanvasElement>('loss'),
  reconstructions: el<HTMLCanvasElement>('reconstructions'),
};

function parseChoice(value: string | null): BackendChoice {
  const v = (value ?? 'auto').toLowerCase();
  if (v === 'auto' || (BACKENDS as readonly string[]).includes(v)) return v as BackendChoice;
  throw new Error(`?backend must be auto, ${BACKENDS.join(', ')}; got '${value}'`);
}

function positiveInt(name: string, value: string | null): number | null {
  if (value === null) return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`?${name} must be a positive integer, got '${value}'`);
  return n;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Starts the chosen backend, or for `auto` the first of {@link BACKENDS} that
 * starts: `tf.setBackend` resolves false (or throws) when a backend cannot
 * initialise, e.g. no WebGPU adapter or no WebGL context.
 */
async function startBackend(choice: BackendChoice, threads: number | null, skipped: string[]): Promise<BackendName> {
  // Vite gives each binary its own (hashed) URL; tfjs picks one of the three by the browser's features.
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlainUrl,
    'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimdUrl,
  });
  // Threads need cross-origin isolation (SharedArrayBuffer); without it tfjs runs one.
  if (threads !== null) setThreadsCount(threads);
  for (const name of choice === 'auto' ? BACKENDS : [choice]) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
      skipped.push(`${name}: could not start`);
    } catch (e) {
      skipped.push(`${name}: ${message(e)}`);
    }
  }
  throw new Error(`no backend started (${skipped.join('; ')})`);
}

async function describeBackend(name: BackendName): Promise<string> {
  if (name === 'wasm') {
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threaded = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    const threads = getThreadsCount();
    return `${simd ? 'SIMD' : 'no SIMD'}, ${threaded ? 'threaded build' : 'single-threaded build'}, ${threads} thread${threads === 1 ? '' : 's'}`;
  }
  if (name === 'webgl') {
    const gl = document.createElement('canvas').getContext('webgl2');
    const ext = gl?.getExtension('WEBGL_debug_renderer_info');
    const renderer = gl ? String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER)) : '?';
    return `WebGL ${tf.env().getNumber('WEBGL_VERSION')}, ${renderer}`;
  }
  return '';
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetch ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** A split of `examples/data/` (Vite's public folder: served next to the page), zero-padded to 32 px. */
async function loadSplit(split: 'train' | 'test', limit: number): Promise<FashionMnistData> {
  const base = import.meta.env.BASE_URL;
  const [images, labels] = await Promise.all([
    fetchBytes(`${base}fashion-mnist-${split}-images-idx3-ubyte`),
    fetchBytes(`${base}fashion-mnist-${split}-labels-idx1-ubyte`),
  ]);
  return decodeFashionMnist(images, labels, { pad: 32, limit });
}

/** A batch of `b` training images drawn with replacement, gathered on the host: `[b, 32, 32, 1]`. */
function sampleBatch(data: FashionMnistData, rng: Rng, b: number): tf.Tensor4D {
  const [, h, w] = data.shape;
  const size = h * w;
  const buf = new Float32Array(b * size);
  for (let i = 0; i < b; i++) {
    const k = rng.randint(0, data.count - 1);
    buf.set(data.images.subarray(k * size, (k + 1) * size), i * size);
  }
  return tf.tensor4d(buf, [b, h, w, 1]);
}

const lrAt = (step: number): number => PEAK_LR * Math.min(1, (step + 1) / WARMUP_STEPS);

/**
 * Rows `[B, H, W, 1]` as one gray picture `[R * (H + 2), B * (W + 2)]`, each
 * image framed by a 1-pixel border.
 */
function gridOf(rows: tf.Tensor4D[]): tf.Tensor2D {
  return tf.tidy(() => {
    const strips = rows.map((r) => {
      const [b, h, w] = r.shape;
      const framed = tf.pad(r, [[0, 0], [1, 1], [1, 1], [0, 0]], 0.6);
      return tf.reshape(tf.transpose(framed, [1, 0, 2, 3]), [h + 2, b * (w + 2)]);
    });
    return tf.concat(strips, 0) as tf.Tensor2D;
  });
}

/** Draws MAE's panels for the shown images; returns their loss under the fixed masks. */
async function drawReconstructions(model: MAE, shown: tf.Tensor4D): Promise<number> {
  const p = model.config.patchSize;
  const [grid, loss] = tf.tidy(() => {
    const o = model.forward(shown, { seed: HELD_OUT_MASK_SEED });
    const rec = tf.clipByValue(model.predToImages(o.pred, shown), 0, 1);
    return [gridOf([shown, maskedImage(shown, o.mask, p), pasteVisible(rec, shown, o.mask, p)]), o.loss] as const;
  });
  try {
    const [pixels, lossValue] = await Promise.all([grid.data(), loss.data()]);
    const [h, w] = grid.shape;
    const canvas = ui.reconstructions;
    canvas.width = w;
    canvas.height = h;
    const img = new ImageData(w, h);
    for (let i = 0; i < w * h; i++) {
      const v = Math.round(Math.min(1, Math.max(0, pixels[i]!)) * 255);
      img.data[4 * i] = v;
      img.data[4 * i + 1] = v;
      img.data[4 * i + 2] = v;
      img.data[4 * i + 3] = 255;
    }
    canvas.getContext('2d')!.putImageData(img, 0, 0);
    return lossValue[0]!;
  } finally {
    tf.dispose([grid, loss]);
  }
}

/** The loss curve, by hand: training loss per step as a line, held-out loss as dots. */
function drawLoss(): void {
  const canvas = ui.loss;
  const ctx = canvas.getContext('2d')!;
  const { width: w, height: h } = canvas;
  const m = { left: 56, right: 16, top: 14, bottom: 34 };
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.font = '12px system-ui, sans-serif';
  const values = [...state.losses, ...state.heldOut.map((p) => p.loss)].filter(Number.isFinite);
  if (values.length === 0) {
    ctx.fillStyle = '#888';
    ctx.fillText('no steps yet', m.left, h / 2);
    return;
  }
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo < 1e-6) [lo, hi] = [lo - 0.5, hi + 0.5];
  const pad = 0.05 * (hi - lo);
  [lo, hi] = [lo - pad, hi + pad];
  const lastStep = Math.max(1, state.step);
  const x = (step: number): number => m.left + (step / lastStep) * (w - m.left - m.right);
  const y = (v: number): number => m.top + ((hi - v) / (hi - lo)) * (h - m.top - m.bottom);

  // Axes, with four ticks on each.
  ctx.strokeStyle = '#999';
  ctx.fillStyle = '#444';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(m.left, m.top);
  ctx.lineTo(m.left, h - m.bottom);
  ctx.lineTo(w - m.right, h - m.bottom);
  ctx.stroke();
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    ctx.fillText(v.toFixed(3), m.left - 6, y(v));
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const s of new Set([0, 1, 2, 3, 4].map((i) => Math.round((lastStep * i) / 4)))) {
    ctx.fillText(String(s), x(s), h - m.bottom + 5);
  }
  ctx.fillText('step', (m.left + w - m.right) / 2, h - 14);

  ctx.strokeStyle = '#1f77b4';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  state.losses.forEach((l, i) => (i === 0 ? ctx.moveTo(x(i + 1), y(l)) : ctx.lineTo(x(i + 1), y(l))));
  if (state.losses.length === 1) ctx.arc(x(1), y(state.losses[0]!), 2, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.fillStyle = '#ff7f0e';
  for (const p of state.heldOut) {
    ctx.beginPath();
    ctx.arc(x(p.step), y(p.loss), 3.5, 0, 2 * Math.PI);
    ctx.fill();
  }

  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  ctx.fillStyle = '#1f77b4';
  ctx.fillRect(w - 250, m.top + 2, 14, 3);
  ctx.fillStyle = '#444';
  ctx.fillText('training loss (batch of 32)', w - 230, m.top + 4);
  ctx.fillStyle = '#ff7f0e';
  ctx.beginPath();
  ctx.arc(w - 243, m.top + 20, 3.5, 0, 2 * Math.PI);
  ctx.fill();
  ctx.fillStyle = '#444';
  ctx.fillText(`held-out (${SHOWN} images, fixed masks)`, w - 230, m.top + 20);
}

function showStatus(): void {
  const last = state.losses.at(-1);
  const held = state.heldOut.at(-1);
  ui.status.textContent =
    `backend ${state.backend ?? '?'}${state.backendInfo ? ` (${state.backendInfo})` : ''}, ` +
    `cross-origin isolated: ${state.crossOriginIsolated ? 'yes' : 'no'}` +
    `${state.skipped.length > 0 ? `\nnot started: ${state.skipped.join('; ')}` : ''}\n` +
    `step ${state.step}${last === undefined ? '' : `, loss ${last.toFixed(4)}`}` +
    `${held === undefined ? '' : `, held-out ${held.loss.toFixed(4)} (step ${held.step})`}` +
    `${state.lastStepMs ? `, ${state.lastStepMs.toFixed(0)} ms/step` : ''}, ` +
    `tensors ${tf.memory().numTensors}${state.running ? ', training' : state.done ? ', stopped' : ''}`;
  ui.start.disabled = state.running || state.error !== null;
  ui.stop.disabled = !state.running;
}

function fail(e: unknown): void {
  state.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  state.running = false;
  ui.error.textContent = state.error;
  showStatus();
}

async function main(): Promise<void> {
  const q = new URLSearchParams(location.search);
  // A model's weights live on one backend: another backend is another page
  // load (installed first, so that a bad `?backend` can be fixed from here).
  ui.backend.addEventListener('change', () => {
    q.set('backend', ui.backend.value);
    location.search = q.toString();
  });
  const choice = parseChoice(q.get('backend'));
  let stepLimit = positiveInt('steps', q.get('steps'));
  const threads = positiveInt('threads', q.get('threads'));
  ui.backend.value = choice;

  state.backend = await startBackend(choice, threads, state.skipped);
  state.backendInfo = await describeBackend(state.backend);
  ui.status.textContent = `backend ${state.backend}: loading Fashion-MNIST...`;
  const [train, test] = await Promise.all([
    loadSplit('train', TRAIN_SIZE),
    loadSplit('test', SHOWN),
  ]);

  const model = new MAE(MODEL);
  const opt = new AdamW(model, { lr: PEAK_LR, betas: [0.9, 0.95], weightDecay: 0.05 });
  const shown = tf.tensor4d(test.images, test.shape);
  const rng = new Rng(MODEL.seed ?? 0);
  state.heldOut.push({ step: 0, loss: await drawReconstructions(model, shown) });
  drawLoss();
  showStatus();

  const run = async (): Promise<void> => {
    state.running = true;
    state.done = false;
    showStatus();
    try {
      while (state.running && (stepLimit === null || state.step < stepLimit)) {
        const t0 = performance.now();
        const x = sampleBatch(train, rng, BATCH);
        try {
          // No mask option: the model's own generator draws a fresh mask each step.
          const r = await trainStepAsync(() => model.forward(x, { training: true }).loss, model, opt, { lr: lrAt(state.step) });
          state.losses.push(r.loss);
        } finally {
          x.dispose();
        }
        state.step++;
        state.lastStepMs = performance.now() - t0;
        if (state.step % REFRESH_EVERY === 0) state.heldOut.push({ step: state.step, loss: await drawReconstructions(model, shown) });
        state.tensorCounts.push(tf.memory().numTensors);
        drawLoss();
        showStatus();
        await tf.nextFrame();
      }
      if (state.heldOut.at(-1)!.step !== state.step) {
        state.heldOut.push({ step: state.step, loss: await drawReconstructions(model, shown) });
      }
      // A later Start goes on without a limit.
      stepLimit = null;
      state.running = false;
      state.done = true;
      drawLoss();
      showStatus();
    } catch (e) {
      fail(e);
    }
  };
  ui.start.addEventListener('click', () => void run());
  ui.stop.addEventListener('click', () => {
    state.running = false;
    ui.stop.disabled = true;
  });
  showStatus();
  if (stepLimit !== null) await run();
}

main().catch(fail);
