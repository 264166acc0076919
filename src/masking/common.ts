/**
 * Shared conventions of the maskers.
 *
 * MASK CONVENTION (every masker, every result): in a 0/1 mask, **1 means
 * masked / removed** (the token is hidden from the encoder, or replaced by a
 * mask token, and is a prediction target) and **0 means kept / visible**.
 * Index forms list kept tokens first: `idsKeep` are the visible positions,
 * `idsShuffle` is "visible, then masked", `idsRestore` is its inverse
 * (`idsShuffle[idsRestore[i]] = i`).
 *
 * All randomness comes from the library's seeded {@link utils.Rng | Rng}, drawn on the
 * host in plain JavaScript, so a seed gives bit-identical masks on every
 * backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../utils/random.js';
import { requireObject } from '../utils/config.js';

/**
 * Where a masker's randomness comes from: a seed (a fresh {@link utils.Rng | Rng} per
 * call, so equal seeds give equal masks) or a caller-owned {@link utils.Rng | Rng}
 * (advanced by the call, so successive calls give fresh masks).
 */
export type RandomSource = number | Rng;

/** Turns a {@link RandomSource} into an Rng, validating it. */
export function toRng(who: string, random: RandomSource): Rng {
  if (random instanceof Rng) return random;
  if (typeof random === 'number' && Number.isFinite(random)) return new Rng(random);
  throw new Error(`${who}: random must be a finite seed number or an Rng, got ${String(random)}`);
}

/** Throws unless `value` is an integer >= `min`. */
export function checkInt(who: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    const what = min === 1 ? 'a positive integer' : `an integer >= ${min}`;
    throw new Error(`${who}: ${name} must be ${what}, got ${String(value)}`);
  }
  return value;
}

/** Throws unless `value` is a number in [0, 1) (or [0, 1] when `closed`). */
export function checkRatio(who: string, name: string, value: unknown, closed = false): number {
  const ok =
    typeof value === 'number' && Number.isFinite(value) && value >= 0 && (closed ? value <= 1 : value < 1);
  if (!ok) {
    throw new Error(`${who}: ${name} must be a number in [0, 1${closed ? ']' : ')'}, got ${String(value)}`);
  }
  return value as number;
}

/**
 * Index form of 0/1 masks: the flattened `[B, L]` arrays that put the visible
 * tokens first.
 */
export interface MaskIndexArrays {
  /** Number of samples `B`. */
  batchSize: number;
  /** Tokens per sample `L`. */
  numTokens: number;
  /** Visible tokens per sample (equal for every sample). */
  lenKeep: number;
  /** `[B * lenKeep]` row-major: the visible positions of each sample. */
  idsKeep: Int32Array;
  /** `[B * L]` row-major: visible positions, then masked positions. */
  idsShuffle: Int32Array;
  /** `[B * L]` row-major: the inverse permutation of `idsShuffle`. */
  idsRestore: Int32Array;
}

/**
 * Builds the index form of flattened 0/1 masks `[B * L]` (1 = masked): per
 * sample, `idsShuffle` lists the visible positions in grid order, then the
 * masked positions in grid order; `idsRestore` is its inverse; `idsKeep` is
 * the visible part. Needs the same number of masked tokens in every sample
 * (otherwise the rows have different lengths); throws naming the counts.
 */
export function maskToIndexArrays(
  mask: ArrayLike<number>,
  batchSize: number,
  numTokens: number,
): MaskIndexArrays {
  const who = 'maskToIndexArrays';
  checkInt(who, 'batchSize', batchSize, 1);
  checkInt(who, 'numTokens', numTokens, 1);
  if (mask.length !== batchSize * numTokens) {
    throw new Error(
      `${who}: mask length ${mask.length} must equal batchSize * numTokens = ${batchSize * numTokens}`,
    );
  }
  const counts: number[] = [];
  for (let b = 0; b < batchSize; b++) {
    let c = 0;
    for (let i = 0; i < numTokens; i++) {
      const v = mask[b * numTokens + i]!;
      if (v !== 0 && v !== 1) {
        throw new Error(`${who}: mask values must be 0 or 1, got ${v} at [${b}, ${i}]`);
      }
      c += v;
    }
    counts.push(c);
  }
  if (counts.some((c) => c !== counts[0])) {
    throw new Error(
      `${who}: every sample must mask the same number of tokens for an index form, got counts [${counts.join(', ')}]`,
    );
  }
  const lenKeep = numTokens - counts[0]!;
  const idsKeep = new Int32Array(batchSize * lenKeep);
  const idsShuffle = new Int32Array(batchSize * numTokens);
  const idsRestore = new Int32Array(batchSize * numTokens);
  for (let b = 0; b < batchSize; b++) {
    let v = 0;
    let m = lenKeep;
    for (let i = 0; i < numTokens; i++) {
      const rank = mask[b * numTokens + i] === 0 ? v++ : m++;
      idsShuffle[b * numTokens + rank] = i;
      idsRestore[b * numTokens + i] = rank;
      if (rank < lenKeep) idsKeep[b * lenKeep + rank] = i;
    }
  }
  return { batchSize, numTokens, lenKeep, idsKeep, idsShuffle, idsRestore };
}

/**
 * Tensor form of {@link MaskIndexArrays}. The tensors are new: the caller
 * disposes them (`tf.dispose(result)`; a type alias, not an interface, so
 * that it is a `TensorContainer`).
 */
export type MaskIndexTensors = {
  /** Visible tokens per sample. */
  lenKeep: number;
  /** int32 `[B, lenKeep]`: visible positions. */
  idsKeep: tf.Tensor2D;
  /** int32 `[B, L]`: visible positions, then masked positions. */
  idsShuffle: tf.Tensor2D;
  /** int32 `[B, L]`: inverse of `idsShuffle`. */
  idsRestore: tf.Tensor2D;
};

/** Wraps {@link MaskIndexArrays} in new int32 tensors. */
export function indexArraysToTensors(a: MaskIndexArrays): MaskIndexTensors {
  requireObject('indexArraysToTensors', 'arrays', a);
  return {
    lenKeep: a.lenKeep,
    idsKeep: tf.tensor2d(a.idsKeep, [a.batchSize, a.lenKeep], 'int32'),
    idsShuffle: tf.tensor2d(a.idsShuffle, [a.batchSize, a.numTokens], 'int32'),
    idsRestore: tf.tensor2d(a.idsRestore, [a.batchSize, a.numTokens], 'int32'),
  };
}
