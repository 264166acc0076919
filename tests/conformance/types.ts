import type * as tf from '@tensorflow/tfjs-core';

/**
 * One conformance case (a safetensors file of tests/conformance/cases or any folder of cases), as the
 * runner hands it to the implementation of its kind.
 */
export interface ConformanceCase {
  /** File name without extension. */
  name: string;
  /** `__metadata__.case`. */
  kind: string;
  /** `__metadata__.config`, parsed. */
  config: Record<string, unknown>;
  /** All of `__metadata__`. */
  metadata: Record<string, string>;
  /** Every tensor name in the file (`param.*`, `input.*`, `expect.*`). */
  names(): string[];
  has(name: string): boolean;
  /**
   * A tensor of the file as a new tf tensor (the caller disposes it; the
   * runner also disposes everything created inside a tidy). F32/F16/BF16 ->
   * float32; I64/I32 -> int32 (throws if a value does not fit); BOOL/U8 -> bool/int32.
   */
  tensor(name: string): tf.Tensor;
  /**
   * `param.<prefix>*` tensors keyed by the rest of the key, e.g.
   * `params('student.')` gives `blocks.11.norm1.weight` -> tensor.
   */
  params(prefix?: string): Map<string, tf.Tensor>;
}

/**
 * What a kind module under `tests/conformance/kinds/<kind>.ts` exports as
 * `run`: compute every `expect.<name>` of the case and return them keyed by
 * `<name>` (without `expect.`). Integer outputs as int32, BOOL as bool.
 */
export type KindRunner = (
  c: ConformanceCase,
) => Record<string, tf.Tensor> | Promise<Record<string, tf.Tensor>>;
