import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { serializeSafetensors, type SafetensorsEntry } from '../../src/io/index.js';
import { Rng } from '../../src/utils/random.js';
import { CASES_DIR, REPO_ROOT, SHARED_CONFORMANCE_DIR } from './paths.js';
import { runConformance } from './runner.js';

const KINDS_DIR = fileURLToPath(new URL('./kinds/', import.meta.url));
const KINDS = readdirSync(KINDS_DIR)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort();

/**
 * Kinds of the shared folder (../shared/conformance) whose `kinds/<kind>.ts`
 * has not landed yet: their cases there must fail as unknown kinds, every
 * other case must PASS. Remove a kind from here in the commit that adds its
 * kinds file (the first test fails until you do). The in-repo cases have no
 * such list: every one of them must pass.
 */
const NOT_YET_IMPLEMENTED: readonly string[] = [];

describe('conformance cases', () => {
  it('NOT_YET_IMPLEMENTED names only kinds that really have no kinds file', () => {
    for (const kind of NOT_YET_IMPLEMENTED) {
      expect(existsSync(join(KINDS_DIR, `${kind}.ts`)), `kinds/${kind}.ts exists: remove '${kind}' from NOT_YET_IMPLEMENTED`).toBe(
        false,
      );
    }
  });

  it('every in-repo case (tests/conformance/cases) passes, and every kind has one', async () => {
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const run = await runConformance(CASES_DIR, { log: (l) => lines.push(l) });
    expect(run.results.filter((r) => !r.passed).map((r) => r.line)).toEqual([]);
    // A kinds file without an in-repo case would be tested only where ../shared exists.
    const covered = new Set(run.results.map((r) => r.kind));
    expect(KINDS.filter((k) => !covered.has(k)), 'kinds with no case in tests/conformance/cases: add one to its gen/<kind>.py').toEqual([]);
    expect(run.results.find((r) => r.kind === 'dtypes')?.maxAbsErr).toBe(0);
    expect(lines.at(-1)).toBe(`${run.passed} passed, 0 failed`);
    expect(tf.memory().numTensors).toBe(before);
  });

  // The shared folder exists beside the repository on the developers' machines only.
  it.skipIf(SHARED_CONFORMANCE_DIR === null)('every shared case of an implemented kind passes (../shared/conformance)', async () => {
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const run = await runConformance(SHARED_CONFORMANCE_DIR!, { log: (l) => lines.push(l) });
    expect(run.results.length).toBeGreaterThan(0);
    const failures = run.results.filter((r) => !r.passed && !NOT_YET_IMPLEMENTED.includes(r.kind)).map((r) => r.line);
    expect(failures).toEqual([]);
    for (const r of run.results.filter((r) => NOT_YET_IMPLEMENTED.includes(r.kind))) {
      expect(r.line).toBe(`FAIL ${r.name} unknown case kind '${r.kind}'`);
    }
    expect(run.results.find((r) => r.kind === 'dtypes')?.line).toBe('PASS dtypes max_abs_err=0.000e+0');
    expect(lines.at(-1)).toBe(`${run.passed} passed, ${run.failed} failed`);
    expect(lines.length).toBe(run.results.length + 1);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('conformance runner on generated cases', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mimkit-conf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const META = { case: 'dtypes', reference: 'none: test', atol: '0', rtol: '0', layout: 'NCHW', seed: '0' };

  /** A `dtypes` case of another shape, with values exact in F16 and BF16. */
  function dtypesCase(shape: number[], seed: number): { values: number[]; entries: Record<string, SafetensorsEntry> } {
    const rng = new Rng(seed);
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, (_, i) =>
      i === 0 ? -0 : (rng.uniform() < 0.5 ? -1 : 1) * rng.randint(0, 15) * 2 ** rng.randint(-24, 8),
    );
    const entries: Record<string, SafetensorsEntry> = {
      'input.f32': { dtype: 'F32', shape, data: values },
      'input.f16': { dtype: 'F16', shape, data: values },
      'input.bf16': { dtype: 'BF16', shape, data: values },
      'expect.values': { dtype: 'F32', shape, data: values },
    };
    return { values, entries };
  }

  function write(name: string, entries: Record<string, SafetensorsEntry>, meta: Record<string, string>): void {
    writeFileSync(join(dir, `${name}.safetensors`), serializeSafetensors(entries, meta));
  }

  const shape = [3, 5];
  const config = JSON.stringify({ shape });
  const base = dtypesCase(shape, 1);
  write('a_ok', base.entries, { ...META, config });
  write('b_tolerance', { ...base.entries, 'expect.values': { dtype: 'F32', shape, data: base.values.map((v) => v + 1e-4) } }, {
    ...META,
    atol: '2e-4',
    config,
  });
  const off = [...base.values];
  off[7] = (off[7] ?? 0) + 1e-3;
  write('c_off', { ...base.entries, 'expect.values': { dtype: 'F32', shape, data: off } }, { ...META, config });
  write('d_bf16_round', { ...base.entries, 'input.bf16': { dtype: 'BF16', shape, data: base.values.map((v, i) => (i === 4 ? 1 + 2 ** -9 : v)) } }, {
    ...META,
    config,
  });
  write('e_neg_zero', { ...base.entries, 'input.f16': { dtype: 'F16', shape, data: base.values.map((v, i) => (i === 0 ? 0 : v)) } }, {
    ...META,
    config,
  });
  write('f_missing', { ...base.entries, 'expect.other': { dtype: 'I64', shape: [1], data: [1] } }, { ...META, config });
  write('g_shape', { ...base.entries, 'expect.values': { dtype: 'F32', shape: [15], data: base.values } }, { ...META, config });
  write('h_no_atol', base.entries, { case: 'dtypes', rtol: '0', config });
  write('i_config', base.entries, { ...META, config: JSON.stringify({ shape: [5, 3] }) });
  write('j_unknown', { 'expect.x': { dtype: 'F32', shape: [], data: [0] } }, { ...META, case: 'no_such_kind', config: '{}' });
  const other = dtypesCase([2, 3, 4], 2);
  write('k_rank3', other.entries, { ...META, config: JSON.stringify({ shape: [2, 3, 4] }) });
  writeFileSync(join(dir, 'l_corrupt.safetensors'), new Uint8Array([1, 2, 3]));
  writeFileSync(join(dir, 'not_a_case.txt'), 'ignored');

  it('passes mutated-config cases, fails each defect with its reason, memory flat', async () => {
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const run = await runConformance(dir, { log: (l) => lines.push(l) });
    expect(tf.memory().numTensors).toBe(before);
    const by = new Map(run.results.map((r) => [r.name, r]));
    expect([...by.keys()]).toEqual([
      'a_ok', 'b_tolerance', 'c_off', 'd_bf16_round', 'e_neg_zero', 'f_missing', 'g_shape', 'h_no_atol', 'i_config', 'j_unknown', 'k_rank3', 'l_corrupt',
    ]);
    expect(by.get('a_ok')!.line).toBe('PASS a_ok max_abs_err=0.000e+0');
    expect(by.get('k_rank3')!.passed).toBe(true);
    expect(by.get('b_tolerance')!.passed).toBe(true);
    expect(by.get('b_tolerance')!.maxAbsErr).toBeGreaterThan(0.9e-4);
    expect(by.get('b_tolerance')!.maxAbsErr).toBeLessThan(1.1e-4);
    expect(by.get('c_off')!.line).toMatch(/^FAIL c_off output 'values' element 7 \[1, 2\]: got .*, want .*, \|diff\| .* > atol 0 \+ rtol 0 \* \|want\|$/);
    expect(by.get('d_bf16_round')!.line).toMatch(/^FAIL d_bf16_round dtypes: input.bf16\[4\] decodes to 1 \(bits 0x3f800000\)/);
    expect(by.get('e_neg_zero')!.line).toMatch(/^FAIL e_neg_zero dtypes: input.f16\[0\] decodes to 0 \(bits 0x0\), input.f32\[0\] is -0/);
    expect(by.get('f_missing')!.line).toBe("FAIL f_missing missing output 'other'");
    expect(by.get('g_shape')!.line).toBe("FAIL g_shape output 'values' has shape [3,5], expected [15]");
    expect(by.get('h_no_atol')!.line).toBe('FAIL h_no_atol __metadata__.atol must be a non-negative number, got nothing');
    expect(by.get('i_config')!.line).toMatch(/^FAIL i_config dtypes: input.f32 is float32 \[3,5\], expected float32 \[5,3\]/);
    expect(by.get('j_unknown')!.line).toBe("FAIL j_unknown unknown case kind 'no_such_kind'");
    expect(by.get('l_corrupt')!.line).toBe('FAIL l_corrupt safetensors: file is 3 bytes, shorter than the 8-byte header length');
    expect(run.passed).toBe(3);
    expect(run.failed).toBe(9);
    expect(lines.at(-1)).toBe('3 passed, 9 failed');
  });

  it('an unknown kind alone fails the run', async () => {
    const solo = mkdtempSync(join(tmpdir(), 'mimkit-conf-unknown-'));
    try {
      writeFileSync(
        join(solo, 'x.safetensors'),
        serializeSafetensors({ 'expect.y': { dtype: 'F32', shape: [1], data: [1] } }, { ...META, case: 'no_such_kind' }),
      );
      const run = await runConformance(solo);
      expect(run.results.map((r) => r.line)).toEqual(["FAIL x unknown case kind 'no_such_kind'"]);
      expect(run.failed).toBe(1);
      await expect(runConformance(join(solo, 'missing'))).rejects.toThrow(/does not exist or is not a directory/);
    } finally {
      rmSync(solo, { recursive: true, force: true });
    }
  });

  it('the CLI prints the lines and exits 1 on a failure', () => {
    const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const r = spawnSync(tsx, ['tests/conformance/run.ts', dir, '--backend', tf.getBackend()], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const lines = r.stdout.split('\n').filter((l) => /^(PASS|FAIL|\d+ passed)/.test(l));
    expect(lines[0]).toBe('PASS a_ok max_abs_err=0.000e+0');
    expect(lines.at(-1)).toBe('3 passed, 9 failed');
    expect(r.status).toBe(1);
  });

  it('the CLI with no folder runs the in-repo cases and exits 0', () => {
    const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const r = spawnSync(tsx, ['tests/conformance/run.ts', '--backend', tf.getBackend()], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    const n = readdirSync(CASES_DIR).filter((f) => f.endsWith('.safetensors')).length;
    expect(r.stdout.trim().split('\n').at(-1)).toBe(`${n} passed, 0 failed`);
    expect(r.stderr).not.toMatch(/looks like you are running TensorFlow.js in Node.js/);
    expect(r.status).toBe(0);
  });
});
