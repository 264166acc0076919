/**
 * Builds the {@link ConformanceCase} that a kind receives from a parsed
 * safetensors file (format: tests/conformance/cases/README.md).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { SafetensorsFile } from '../../src/io/index.js';
import type { ConformanceCase } from './types.js';

/**
 * The case view of a file named `name`. Throws (a FAIL for the runner) when
 * `__metadata__.case` is missing or `config` is not a JSON object.
 */
export function makeCase(name: string, file: SafetensorsFile): ConformanceCase {
  const metadata = { ...file.metadata };
  const kind = metadata['case'];
  if (kind === undefined || kind === '') throw new Error(`__metadata__ has no 'case' (the case kind)`);
  let config: Record<string, unknown> = {};
  if (metadata['config'] !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(metadata['config']);
    } catch (e) {
      throw new Error(`__metadata__.config is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error(`__metadata__.config must be a JSON object, got ${metadata['config'].slice(0, 60)}`);
    }
    config = parsed as Record<string, unknown>;
  }
  const names = file.names();
  return {
    name,
    kind,
    config,
    metadata,
    names: () => [...names],
    has: (n: string) => file.has(n),
    tensor: (n: string): tf.Tensor => file.toTensor(n),
    params(prefix = ''): Map<string, tf.Tensor> {
      const p = `param.${prefix}`;
      const out = new Map<string, tf.Tensor>();
      for (const n of names) if (n.startsWith(p)) out.set(n.slice(p.length), file.toTensor(n));
      return out;
    },
  };
}
