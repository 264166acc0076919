/**
 * Seeded pseudo-random numbers, independent of the tfjs backend, so that the
 * same seed gives bit-identical masks and initial weights on every backend.
 *
 * The generator is SplitMix32-style (Mulberry32): fast, 32-bit state, good
 * enough for initialisation and masking (not for cryptography).
 */
export class Rng {
  private state: number;

  /** @param seed any integer; equal seeds give equal streams. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    }
    this.state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniformRange(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Integer uniform in [lo, hi] (both inclusive). */
  randint(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fills a new Float32Array of `n` uniform [0, 1) values. */
  uniformArray(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform();
    return out;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      const tmp = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = tmp;
    }
    return arr;
  }
}

/**
 * Derives a child seed from a parent seed and a name (FNV-1a over the name),
 * so that every weight of a model gets its own stream from one model seed and
 * adding a layer does not shift the streams of the others.
 */
export function deriveSeed(seed: number, name: string): number {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new Error(`deriveSeed: seed must be a finite number, got ${String(seed)}`);
  if (typeof name !== 'string') throw new Error(`deriveSeed: name must be a string, got ${name === null ? 'null' : typeof name}`);
  let h = (0x811c9dc5 ^ (Math.floor(seed) >>> 0)) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
