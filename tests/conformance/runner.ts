/**
 * The conformance runner as a function (the CLI `run.ts` and the vitest test
 * both call it): every `*.safetensors` case of a folder, sorted by name, is
 * parsed, handed to `kinds/<kind>.ts`, and every `expect.*` tensor is
 * compared with what the kind returns. Format and rules:
 * tests/conformance/cases/README.md (and the shared README where it exists).
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseSafetensors, type SafetensorsFile } from '../../src/io/index.js';
import { useBackend, type BackendName } from '../backend.js';
import { makeCase } from './case.js';
import type { KindRunner } from './types.js';

/** Outcome of one case. */
export interface CaseResult {
  /** File name without `.safetensors`. */
  name: string;
  /** `__metadata__.case` ('' when the file could not be read). */
  kind: string;
  passed: boolean;
  /** Largest `|got - want|` over the float outputs (0 when none were compared). */
  maxAbsErr: number;
  /** Why it failed (absent on PASS). */
  reason?: string;
  /** The printed line: `PASS <name> max_abs_err=<x>` or `FAIL <name> <reason>`. */
  line: string;
}

/** Options of {@link runConformance}. */
export interface RunConformanceOptions {
  /** Switch to this tfjs backend first. Default: keep the current one. */
  backend?: BackendName;
  /** Called with each result line as it is produced, then the summary line. */
  log?: (line: string) => void;
  /** Folder of `<kind>.ts` files. Default: `kinds/` next to this file. */
  kindsDir?: string;
}

/** Summary of a run. */
export interface ConformanceRun {
  results: CaseResult[];
  passed: number;
  failed: number;
}

const DEFAULT_KINDS_DIR = fileURLToPath(new URL('./kinds/', import.meta.url));

/** Runs every case of `folder`. Throws only if the folder itself is unusable. */
export async function runConformance(folder: string, opts: RunConformanceOptions = {}): Promise<ConformanceRun> {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new Error(`conformance folder '${folder}' does not exist or is not a directory`);
  }
  if (opts.backend) await useBackend(opts.backend);
  const kindsDir = opts.kindsDir ?? DEFAULT_KINDS_DIR;
  const files = readdirSync(folder)
    .filter((f) => f.endsWith('.safetensors'))
    .sort();
  const results: CaseResult[] = [];
  for (const f of files) {
    const r = await runCase(join(folder, f), kindsDir);
    results.push(r);
    opts.log?.(r.line);
  }
  const passed = results.filter((r) => r.passed).length;
  const failed = results.length - passed;
  opts.log?.(`${passed} passed, ${failed} failed`);
  return { results, passed, failed };
}

const kindCache = new Map<string, KindRunner>();

async function loadKind(kind: string, kindsDir: string): Promise<KindRunner> {
  const path = join(kindsDir, `${kind}.ts`);
  // Only plain names: a kind must never reach outside the kinds folder.
  if (!/^[A-Za-z0-9_]+$/.test(kind) || !existsSync(path)) throw new Error(`unknown case kind '${kind}'`);
  const cached = kindCache.get(path);
  if (cached) return cached;
  const mod = (await import(/* @vite-ignore */ pathToFileURL(path).href)) as { run?: unknown };
  if (typeof mod.run !== 'function') throw new Error(`kinds/${kind}.ts does not export a 'run' function`);
  kindCache.set(path, mod.run as KindRunner);
  return mod.run as KindRunner;
}

function tolerance(file: SafetensorsFile, key: 'atol' | 'rtol'): number {
  const raw = file.metadata[key];
  const v = raw === undefined ? NaN : Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(v) || v < 0) {
    throw new Error(`__metadata__.${key} must be a non-negative number, got ${raw === undefined ? 'nothing' : `'${raw}'`}`);
  }
  return v;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);

async function runCase(path: string, kindsDir: string): Promise<CaseResult> {
  const name = basename(path, '.safetensors');
  let kind = '';
  let maxAbsErr = 0;
  const varsBefore = new Set(Object.keys(tf.engine().registeredVariables));
  tf.engine().startScope();
  try {
    const file = parseSafetensors(readFileSync(path));
    const c = makeCase(name, file);
    kind = c.kind;
    const atol = tolerance(file, 'atol');
    const rtol = tolerance(file, 'rtol');
    const expected = file.names().filter((n) => n.startsWith('expect.'));
    if (expected.length === 0) throw new Error('the case has no expect.* tensors');
    const run = await loadKind(kind, kindsDir);
    const outputs = await run(c);
    if (outputs === null || typeof outputs !== 'object') {
      throw new Error(`kind '${kind}' returned ${String(outputs)} instead of a record of tensors`);
    }
    for (const exp of expected) {
      const out = exp.slice('expect.'.length);
      const got = (outputs as Record<string, unknown>)[out];
      if (got === undefined) throw new Error(`missing output '${out}'`);
      if (!(got instanceof tf.Tensor)) throw new Error(`output '${out}' is not a tf.Tensor`);
      if (got.isDisposed) throw new Error(`output '${out}' was disposed by the kind`);
      const info = file.info(exp);
      if (JSON.stringify(got.shape) !== JSON.stringify(info.shape)) {
        throw new Error(`output '${out}' has shape [${got.shape}], expected [${info.shape}]`);
      }
      const g = (await got.data()) as ArrayLike<number>;
      if (FLOAT_DTYPES.has(info.dtype)) {
        const want = file.float32(exp);
        for (let i = 0; i < want.length; i++) {
          const w = want[i]!;
          const v = g[i]!;
          let ok: boolean;
          if (Number.isNaN(w)) ok = Number.isNaN(v);
          else if (!Number.isFinite(w)) ok = v === w;
          else {
            const err = Math.abs(v - w);
            ok = err <= atol + rtol * Math.abs(w); // false for NaN or infinite v
            if (ok && err > maxAbsErr) maxAbsErr = err;
          }
          if (!ok) {
            throw new Error(
              `output '${out}' element ${i}${indexStr(i, info.shape)}: got ${v}, want ${w}, ` +
                `|diff| ${Math.abs(v - w)} > atol ${atol} + rtol ${rtol} * |want|`,
            );
          }
        }
      } else {
        const wantDtype = info.dtype === 'BOOL' ? 'bool' : 'int32';
        if (got.dtype !== wantDtype) {
          throw new Error(`output '${out}' is ${got.dtype}, expected ${wantDtype} (file dtype ${info.dtype})`);
        }
        const want = file.int32(exp);
        for (let i = 0; i < want.length; i++) {
          if (g[i] !== want[i]) {
            throw new Error(`output '${out}' element ${i}${indexStr(i, info.shape)}: got ${g[i]}, want ${want[i]} (exact)`);
          }
        }
      }
    }
    return { name, kind, passed: true, maxAbsErr, line: `PASS ${name} max_abs_err=${maxAbsErr.toExponential(3)}` };
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
    return { name, kind, passed: false, maxAbsErr, reason, line: `FAIL ${name} ${reason}` };
  } finally {
    tf.engine().endScope();
    // Variables a kind created (modules it did not dispose) go too.
    const vars = tf.engine().registeredVariables;
    for (const k of Object.keys(vars)) if (!varsBefore.has(k)) vars[k]!.dispose();
  }
}

/** ` [b, i, j]` for a flat index into `shape`. */
function indexStr(flat: number, shape: number[]): string {
  if (shape.length <= 1) return '';
  const idx: number[] = [];
  let r = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(r % shape[d]!);
    r = Math.floor(r / shape[d]!);
  }
  return ` [${idx.join(', ')}]`;
}
