import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, serializeSafetensors } from '../../src/index.js';
import { Rng } from '../../src/utils/random.js';
import { CASES_DIR } from '../conformance/paths.js';

/**
 * Fuzzing the reader with corrupted copies of real files: every parse must
 * either succeed or throw a plain `Error` of the reader's own (never a
 * TypeError/RangeError from deep inside, never a hang), and what a parse that
 * succeeds decodes must stay within the file's own size.
 */

const CONFORMANCE = CASES_DIR;
const MUTANTS = 1500;

function ownFile(): Uint8Array {
  const rng = new Rng(3);
  return serializeSafetensors(
    {
      'blocks.0.attn.qkv.weight': { dtype: 'F32', shape: [6, 2], data: Array.from({ length: 12 }, () => rng.normal()) },
      'blocks.0.norm1.bias': { dtype: 'F16', shape: [2], data: [0.5, -0] },
      'blocks.0.ls1.gamma': { dtype: 'BF16', shape: [2], data: [1e-5, 3] },
      ids: { dtype: 'I64', shape: [2, 2], data: [0, 3, 1, 2] },
      count: { dtype: 'I32', shape: [], data: [7] },
      mask: { dtype: 'BOOL', shape: [4], data: [1, 0, 0, 1] },
      pixels: { dtype: 'U8', shape: [3], data: [0, 128, 255] },
      empty: { dtype: 'F32', shape: [0, 3], data: [] },
    },
    { case: 'own', config: '{"shape": [6, 2]}' },
  );
}

function sources(): { name: string; bytes: Uint8Array }[] {
  const out = [{ name: 'own', bytes: ownFile() }];
  for (const f of readdirSync(CONFORMANCE).filter((f) => f.endsWith('.safetensors')).sort()) {
    out.push({ name: f, bytes: new Uint8Array(readFileSync(join(CONFORMANCE, f))) });
  }
  return out;
}

function headerLength(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
}

/** The same data section behind a new header text (length field recomputed). */
function withHeader(b: Uint8Array, text: string): Uint8Array {
  const h = new TextEncoder().encode(text);
  const data = b.subarray(8 + headerLength(b));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const NUMBER_EDITS: ((n: number) => string)[] = [
  (n) => String(n + 1),
  (n) => String(n - 1),
  (n) => String(n + 8),
  (n) => String(n * 2),
  () => '0',
  () => '-1',
  () => '1.5',
  () => '1e300',
  () => '9007199254740993',
  () => '4294967296',
  () => '"3"',
  () => 'null',
  () => '[]',
  (n) => String(n * 1000003),
];
const DTYPE_EDITS = ['F32', 'F16', 'BF16', 'I64', 'I32', 'BOOL', 'U8', 'F64', 'I8', '', 'f32'];
const JUNK = ['{', '}', '[', ']', '"', ',', ':', '\\', '\u00e9', '0', ' ', 'null'];

type Strategy = (b: Uint8Array, rng: Rng) => Uint8Array;

const STRATEGIES: Record<string, Strategy> = {
  flipHeaderBytes: (b, rng) => {
    const m = b.slice();
    const end = Math.min(m.length, 8 + headerLength(m));
    for (let k = rng.randint(1, 4); k > 0; k--) m[rng.randint(0, end - 1)] = rng.randint(0, 255);
    return m;
  },
  truncate: (b, rng) => b.slice(0, rng.randint(0, b.length - 1)),
  headerLength: (b, rng) => {
    const m = b.slice();
    const dv = new DataView(m.buffer);
    const n = headerLength(m);
    const choices = [n + rng.randint(1, 16), Math.max(0, n - rng.randint(1, 16)), 0, rng.nextUint32(), m.length - 8, m.length];
    dv.setUint32(0, choices[rng.randint(0, choices.length - 1)]! >>> 0, true);
    if (rng.uniform() < 0.2) dv.setUint32(4, rng.randint(1, 0xffff), true);
    return m;
  },
  editNumber: (b, rng) => {
    const text = new TextDecoder().decode(b.subarray(8, 8 + headerLength(b)));
    // Numbers outside string literals: the shapes and data offsets.
    const spans = [...text.matchAll(/(?<=[[,])-?\d+(?=[\],])/g)];
    if (spans.length === 0) return b;
    const s = spans[rng.randint(0, spans.length - 1)]!;
    const edit = NUMBER_EDITS[rng.randint(0, NUMBER_EDITS.length - 1)]!(Number(s[0]));
    return withHeader(b, text.slice(0, s.index) + edit + text.slice(s.index! + s[0].length));
  },
  editDtype: (b, rng) => {
    const text = new TextDecoder().decode(b.subarray(8, 8 + headerLength(b)));
    const spans = [...text.matchAll(/"dtype":"([A-Z0-9]*)"/g)];
    if (spans.length === 0) return b;
    const s = spans[rng.randint(0, spans.length - 1)]!;
    const to = DTYPE_EDITS[rng.randint(0, DTYPE_EDITS.length - 1)]!;
    return withHeader(b, text.slice(0, s.index) + `"dtype":"${to}"` + text.slice(s.index! + s[0].length));
  },
  editStructure: (b, rng) => {
    const text = new TextDecoder().decode(b.subarray(8, 8 + headerLength(b)));
    const at = rng.randint(0, text.length - 1);
    const r = rng.uniform();
    if (r < 0.3) return withHeader(b, text.slice(0, at) + text.slice(at + 1));
    if (r < 0.6) return withHeader(b, text.slice(0, at) + JUNK[rng.randint(0, JUNK.length - 1)] + text.slice(at));
    // Swap the two offsets of one entry, or duplicate one entry's offsets into another.
    const offs = [...text.matchAll(/"data_offsets":\[(\d+),(\d+)\]/g)];
    if (offs.length === 0) return b;
    const o = offs[rng.randint(0, offs.length - 1)]!;
    const other = offs[rng.randint(0, offs.length - 1)]!;
    const repl = r < 0.8 ? `"data_offsets":[${o[2]},${o[1]}]` : other[0];
    return withHeader(b, text.slice(0, o.index) + repl + text.slice(o.index! + o[0].length));
  },
  flipDataBytes: (b, rng) => {
    const m = b.slice();
    const start = 8 + headerLength(m);
    if (start >= m.length) return m;
    for (let k = rng.randint(1, 8); k > 0; k--) m[rng.randint(start, m.length - 1)] = rng.randint(0, 255);
    return m;
  },
};

describe('safetensors reader under corruption', () => {
  it(`${MUTANTS} corrupted copies: succeed or throw the reader's own Error, decode within the file size`, () => {
    const files = sources();
    const rng = new Rng(20261122);
    const names = Object.keys(STRATEGIES);
    let parsed = 0;
    let rejected = 0;
    const kinds = new Set<string>();
    const started = Date.now();
    for (let i = 0; i < MUTANTS; i++) {
      const src = files[i % files.length]!;
      const strategy = names[rng.randint(0, names.length - 1)]!;
      const m = STRATEGIES[strategy]!(src.bytes, rng);
      const where = `mutant ${i} (${strategy} of ${src.name})`;
      let decoded = 0;
      try {
        const f = parseSafetensors(m);
        for (const name of f.names()) {
          const info = f.info(name);
          const arr = f.decode(name);
          expect(arr.length, where).toBe(info.shape.reduce((a, d) => a * d, 1));
          expect(arr.byteLength, where).toBeLessThanOrEqual(2 * info.byteLength);
          decoded += arr.byteLength;
        }
        parsed++;
      } catch (e) {
        if (!(e instanceof Error) || e.constructor !== Error || !e.message.startsWith('safetensors: ')) {
          throw new Error(`${where}: threw something other than the reader's Error: ${String(e)}`);
        }
        // The kind of failure, without tensor names and numbers.
        kinds.add(e.message.replace(/'[^']*'/g, "'_'").replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/g, 'N').slice(0, 40));
        rejected++;
      }
      expect(decoded, where).toBeLessThanOrEqual(2 * m.length);
    }
    // The corruption must really exercise both outcomes and many validators.
    expect(parsed).toBeGreaterThan(MUTANTS / 10);
    expect(rejected).toBeGreaterThan(MUTANTS / 3);
    expect(kinds.size).toBeGreaterThanOrEqual(10);
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
