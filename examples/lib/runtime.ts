/**
 * Small helpers shared by the examples (not part of the library): choosing a
 * tfjs backend in Node, a log-friendly progress display, and number
 * formatting. Examples may import backend packages; `src/` never does.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

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

/** Makes `name` the active tfjs backend and waits until it is ready. */
export async function useBackend(name: ExampleBackend): Promise<void> {
  silenceNodeBanner();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`could not initialise the tfjs backend '${name}'`);
  await tf.ready();
}

/** One line describing the active backend (WASM: SIMD and thread count). */
export async function describeBackend(): Promise<string> {
  const name = tf.getBackend();
  if (name !== 'wasm') return name;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  return `wasm (SIMD ${simd ? 'on' : 'off'}, ${threads ? 'multi-threaded' : 'single thread'})`;
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
