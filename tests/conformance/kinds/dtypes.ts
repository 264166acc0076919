/**
 * `dtypes`: the same values stored as F32, F16 and BF16 must decode exactly.
 * The three decodes are compared bit for bit here (so +0/-0 differ, which the
 * runner's `|got - want| <= 0` could not see); the F16 decode is returned as
 * `values` for the runner to compare with `expect.values`. The shape comes
 * from the config and must match every input.
 */
import type { KindRunner } from '../types.js';

export const run: KindRunner = (c) => {
  const shape = c.config['shape'];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`dtypes: config.shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const inputs = ['input.f32', 'input.f16', 'input.bf16'].map((n) => [n, c.tensor(n)] as const);
  try {
    const bits = new Map<string, Uint32Array>();
    for (const [n, t] of inputs) {
      if (t.dtype !== 'float32' || JSON.stringify(t.shape) !== JSON.stringify(shape)) {
        throw new Error(`dtypes: ${n} is ${t.dtype} [${t.shape}], expected float32 [${shape.join(',')}] (config.shape)`);
      }
      const v = Float32Array.from(t.dataSync() as Float32Array);
      bits.set(n, new Uint32Array(v.buffer));
    }
    const ref = bits.get('input.f32')!;
    for (const n of ['input.f16', 'input.bf16']) {
      const b = bits.get(n)!;
      const i = b.findIndex((x, k) => x !== ref[k]);
      if (i >= 0) {
        const f = (u: number): number => new Float32Array(new Uint32Array([u]).buffer)[0]!;
        throw new Error(
          `dtypes: ${n}[${i}] decodes to ${Object.is(f(b[i]!), -0) ? '-0' : f(b[i]!)} (bits 0x${b[i]!.toString(16)}), ` +
            `input.f32[${i}] is ${Object.is(f(ref[i]!), -0) ? '-0' : f(ref[i]!)} (bits 0x${ref[i]!.toString(16)})`,
        );
      }
    }
    return { values: inputs[1]![1].clone() };
  } finally {
    for (const [, t] of inputs) t.dispose();
  }
};
