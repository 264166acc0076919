/**
 * Small helpers shared by the examples (not part of the library): choosing a
 * tfjs backend in Node, a log-friendly progress display, and number
 * formatting. Examples may import backend packages; `src/` never does.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Worker as NodeWorker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';

/** The backends an example can run on in Node without native add-ons. */
export type ExampleBackend = 'cpu' | 'wasm';

/** The backends registered by this module, in the order the benchmark tries them. */
export const EXAMPLE_BACKENDS: readonly ExampleBackend[] = ['cpu', 'wasm'];

/**
 * Checks a `--backend` value, before anything else runs, with a message that
 * names the flag, the value and what was expected.
 */
export function parseBackend(value: string | undefined, fallback: ExampleBackend = 'wasm'): ExampleBackend {
  const v = (value ?? fallback).toLowerCase();
  if (v !== 'cpu' && v !== 'wasm') {
    throw new Error(`--backend must be 'cpu' or 'wasm', got '${value}'`);
  }
  return v;
}

/**
 * tfjs-backend-cpu prints "Hi, looks like you are running TensorFlow.js in
 * Node.js..." on the first tensor it stores under Node; the examples run on
 * the cpu or wasm backends on purpose. Stores one throw-away value with
 * tfjs's logging off (the `PROD` flag, which in tfjs 4.22 only gates tfjs's
 * own `console.warn`/`console.log`), then restores the flag: that banner never
 * shows and every other tfjs warning still does.
 */
export function silenceNodeBanner(): void {
  const cpu = tf.findBackend('cpu');
  if (!cpu) return;
  const env = tf.env();
  const prod = env.getBool('PROD');
  env.set('PROD', true);
  try {
    cpu.disposeData(cpu.write(new Float32Array(1), [1], 'float32'));
  } finally {
    env.set('PROD', prod);
  }
}

/**
 * Most threads tfjs-backend-wasm 4.22 runs: its XNNPACK thread pool is capped
 * at 8 (the pthread workers its build pre-creates).
 */
export const MAX_WASM_THREADS = 8;

/** Options of {@link useBackend}. */
export interface BackendOptions {
  /**
   * Threads of the wasm backend's XNNPACK pool, in `[1, MAX_WASM_THREADS]`.
   * Default 1: tfjs's own choice under Node, single-threaded SIMD build, the
   * reference every figure in the README was measured with. More than 1 loads
   * tfjs's threaded SIMD build with Node worker_threads (see
   * {@link initWasmThreads}). Ignored by `cpu` (plain JavaScript, one thread).
   */
  threads?: number;
}

/**
 * Checks a thread count before any backend work, with a message naming the
 * flag, the value and what was expected.
 */
export function parseThreads(value: string | number | undefined, flag = '--threads'): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if ((typeof value === 'string' && value.trim() === '') || !Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new Error(`${flag} must be an integer in [1, ${MAX_WASM_THREADS}] (wasm threads; 1 is the single-threaded reference), got '${value}'`);
  }
  return n;
}

/**
 * Makes `name` the active tfjs backend and waits until it is ready; on wasm,
 * with `options.threads` XNNPACK threads. The thread count is fixed when the
 * wasm backend first initialises (tfjs offers no way to change it after):
 * asking for another count afterwards throws, leaving `threads` out accepts
 * the count it has.
 */
export async function useBackend(name: ExampleBackend, options: BackendOptions = {}): Promise<void> {
  const asked = options.threads === undefined ? undefined : parseThreads(options.threads, 'threads');
  const threads = asked ?? 1;
  silenceNodeBanner();
  if (name === 'wasm') {
    if ('wasm' in tf.engine().registry) {
      const actual = getThreadsCount();
      if (asked !== undefined && actual !== asked) {
        throw new Error(`threads must be ${actual} (the wasm backend is already initialised with ${actual} thread(s) in this process), got ${asked}`);
      }
    } else if (threads > 1) {
      await initWasmThreads(threads);
    }
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`could not initialise the tfjs backend '${name}'`);
  await tf.ready();
  if (name === 'wasm' && asked !== undefined && getThreadsCount() !== asked) {
    throw new Error(`threads: asked the wasm backend for ${asked} thread(s), tfjs runs ${getThreadsCount()}`);
  }
}

/** Node's pthread worker for tfjs's threaded build (see the file's comment). */
const WASM_THREAD_WORKER = fileURLToPath(new URL('./wasm-thread-worker.cjs', import.meta.url));

/**
 * Initialises tfjs-backend-wasm 4.22 with `threads` XNNPACK threads under
 * Node, where tfjs itself turns threads off (`WASM_HAS_MULTITHREAD_SUPPORT`
 * is false when `IS_NODE`, tensorflow/tfjs#3830). Three things stand in the
 * way, each worked around here for the duration of the backend's
 * initialisation only (the globals are restored afterwards), and a fourth
 * after it ({@link unrefPoolWorkers}):
 *
 * - the flag: set to true (Node 20 has SharedArrayBuffer, wasm threads and
 *   worker_threads);
 * - the pthread worker: tfjs's `locateFile` returns
 *   `URL.createObjectURL(new Blob([workerCode]))`, and Node's `Worker` only
 *   starts files (`ERR_WORKER_PATH` on a `blob:` URL). `URL.createObjectURL`
 *   answers that one JavaScript Blob with the path of
 *   `wasm-thread-worker.cjs`, which runs tfjs's worker code and gives it the
 *   standalone Emscripten glue instead of the main-script Blob tfjs sends
 *   (whose text cannot run outside tfjs's Node bundle);
 * - the cap: tfjs's C++ limits the pool to `emscripten_num_logical_cores() / 2`
 *   (it assumes two hyper-threads per core), which Emscripten reads from
 *   `os.cpus().length` when the module starts: 1 on a 2-vCPU machine.
 *   `os.cpus()` reports `2 * threads` entries while the module starts, so the
 *   count asked for is the count run (tfjs still caps it at 8).
 */
async function initWasmThreads(threads: number): Promise<void> {
  if (typeof SharedArrayBuffer !== 'function') {
    throw new Error(`threads ${threads} needs SharedArrayBuffer, which this Node runtime does not have`);
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);
  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  URL.createObjectURL = (obj: Blob | MediaSource): string =>
    obj instanceof Blob && obj.type === 'application/javascript' ? WASM_THREAD_WORKER : createObjectURL(obj);
  os.cpus = (): os.CpuInfo[] => {
    const real = cpus();
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length] as os.CpuInfo);
  };
  try {
    // The backend's factory runs here: module start, then the thread pool.
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error(`could not initialise the tfjs backend 'wasm' with ${threads} threads`);
    unrefPoolWorkers();
  } finally {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
  }
}

/** The part of Emscripten's pthread bookkeeping (`Module.PThread`) used here. */
interface EmscriptenPThread {
  runningWorkers: NodeWorker[];
  unusedWorkers: NodeWorker[];
}

/**
 * Emscripten `ref()`s the Node worker of every running pthread so the process
 * waits for it; XNNPACK's pool threads never end, so a script would hang
 * after its last line. The pool's workers are unref'd (and kept so: the
 * workers are tfjs's own, nothing else holds them), and the process exits
 * when its own work is done, as it does single-threaded.
 */
function unrefPoolWorkers(): void {
  const backend = tf.engine().registry['wasm'] as unknown as { wasm?: { PThread?: EmscriptenPThread } } | undefined;
  const pthread = backend?.wasm?.PThread;
  if (pthread === undefined) {
    throw new Error('threads: tfjs-backend-wasm no longer exposes Module.PThread (expected in 4.22); its pool workers would keep Node running');
  }
  for (const worker of [...pthread.runningWorkers, ...pthread.unusedWorkers]) {
    worker.ref = () => undefined;
    worker.unref();
  }
}

/** One line describing the active backend (WASM: SIMD and thread count). */
export async function describeBackend(): Promise<string> {
  const name = tf.getBackend();
  if (name !== 'wasm') return name;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = getThreadsCount();
  return `wasm (SIMD ${simd ? 'on' : 'off'}, ${threads === 1 ? '1 thread' : `${threads} threads`})`;
}

/**
 * Parses a positive (or non-negative) integer flag, failing with the flag's
 * name, the value and what was expected.
 */
export function intFlag(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

/** Parses a finite number flag in `[min, max]`. */
export function numberFlag(name: string, value: string | undefined, fallback: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new Error(`--${name} must be a number in [${min}, ${max}], got '${value}'`);
  }
  return n;
}

/** `83.2 s` -> `1m23s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - 60 * m);
  return `${m}m${String(s).padStart(2, '0')}s`;
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Label at the start of every line. */
  label: string;
  /** Print a line every this many steps when not on a terminal (and always on the last step). Default 10. */
  every?: number;
  /** Draw a redrawn bar (true) or print lines (false). Default: whether stderr is a TTY. */
  tty?: boolean;
}

/**
 * Progress of a loop of `total` steps: a bar redrawn in place on stderr when
 * it is a terminal, otherwise one plain line on stdout every `every` steps (so
 * CI logs and `| tee` stay readable). Shows steps/s over the steps so far.
 */
export class Progress {
  private readonly start = performance.now();
  private readonly every: number;
  private readonly tty: boolean;
  private drawn = false;

  constructor(
    private readonly total: number,
    private readonly options: ProgressOptions,
  ) {
    this.every = options.every ?? 10;
    this.tty = options.tty ?? process.stderr.isTTY === true;
  }

  /** Reports that `done` steps are finished; `fields` are appended (`loss 0.7123`). */
  update(done: number, fields: Record<string, string>): void {
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const eta = (this.total - done) / Math.max(rate, 1e-9);
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k} ${v}`)
      .join('  ');
    const width = String(this.total).length;
    const counter = `${String(done).padStart(width)}/${this.total}`;
    const speed = `${rate.toFixed(2)} steps/s  eta ${formatDuration(eta)}`;
    if (this.tty) {
      const barWidth = 24;
      const filled = Math.round((barWidth * done) / this.total);
      const bar = '#'.repeat(filled) + '.'.repeat(barWidth - filled);
      process.stderr.write(`\r${this.options.label} [${bar}] ${counter}  ${extra}  ${speed}\x1b[K`);
      this.drawn = true;
      if (done === this.total) this.finish();
    } else if (done % this.every === 0 || done === this.total || done === 1) {
      console.log(`${this.options.label} ${counter}  ${extra}  ${speed}`);
    }
  }

  /** Ends the bar's line (no-op when printing lines). */
  finish(): void {
    if (this.tty && this.drawn) {
      process.stderr.write('\n');
      this.drawn = false;
    }
  }
}
