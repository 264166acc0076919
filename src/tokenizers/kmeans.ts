import * as tf from '@tensorflow/tfjs-core';
import { matMul } from '../ops/matmul.js';
import { Rng } from '../utils/random.js';
import { requireTensor } from '../utils/config.js';

/**
 * k-means (Lloyd's algorithm with k-means++ initialisation, Arthur and
 * Vassilvitskii 2007), the clustering behind iGPT's colour palette (Chen et
 * al. 2020, "Generative Pretraining from Pixels") and the patch codebooks of
 * this library's visual tokenizers.
 *
 * Where the work happens: the assignment step (every point against every
 * centroid) is a matrix product on the tfjs backend, chunked so that no
 * `[rows, k]` score block exceeds about 4M floats; the k-means++ seeding and
 * the centroid update (a segment mean, for which the WASM backend has no
 * kernel) run on the CPU in float64. Seeds drive the library's own `Rng`, so a
 * seed gives the same codebook every time on a given backend.
 */

/** Options of {@link kMeans}. */
export interface KMeansOptions {
  /** Number of clusters, >= 1 and at most the number of points used. */
  k: number;
  /** Maximum Lloyd iterations (default 20; the loop stops early once no assignment changes). */
  iterations?: number;
  /** Seed of the sampling and of the k-means++ draws (default 0). */
  seed?: number;
  /**
   * Cluster a random subset of this many points (drawn without replacement
   * with the seed) instead of all of them (default: all). k-means++ costs
   * O(n k d) on the CPU, so subsample large inputs.
   */
  sampleSize?: number;
}

/** What {@link kMeans} returns. */
export type KMeansResult = {
  /** `[k, dim]` row-major centroids. */
  centroids: Float32Array;
  /** Number of clusters. */
  k: number;
  /** Vector length. */
  dim: number;
  /** Nearest centroid of every point used (the sample when `sampleSize` < n). */
  assignments: Int32Array;
  /** Sum of squared distances of the points used to their nearest centroid. */
  inertia: number;
  /** Lloyd iterations run. */
  iterations: number;
  /** Whether the assignments stopped changing before `iterations` ran out. */
  converged: boolean;
}

/** Score-block size of the chunked assignment (elements of one `[rows, k]` block). */
const BLOCK_ELEMENTS = 1 << 22;

/**
 * Index of the nearest centroid (squared Euclidean distance) of each row of
 * `x`, computed as `argmin_j (||c_j||^2 - 2 x c_j^T)`: the `||x||^2` term of
 * `||x - c||^2` is the same for every centroid, so it is left out. Ties go
 * to the lowest index. The product goes through the library's `matMul`, in
 * row chunks so memory stays bounded for large `x` or `k`.
 *
 * @param x `[n, d]` float32.
 * @param centroids `[k, d]` float32.
 * @returns `[n]` int32 (a new tensor; intermediates are freed).
 */
export function nearestCentroid(x: tf.Tensor2D, centroids: tf.Tensor2D): tf.Tensor1D {
  requireTensor('nearestCentroid', 'x', x);
  requireTensor('nearestCentroid', 'centroids', centroids);
  if (x.rank !== 2 || centroids.rank !== 2 || x.shape[1] !== centroids.shape[1]) {
    throw new Error(
      `nearestCentroid: x must be [n, d] and centroids [k, d] with the same d, got x.shape=[${x.shape}], centroids.shape=[${centroids.shape}]`,
    );
  }
  const [n, d] = x.shape;
  const k = centroids.shape[0];
  if (k < 1) throw new Error(`nearestCentroid: centroids must have at least 1 row, got shape [${centroids.shape}]`);
  return tf.tidy(() => {
    // 2 c^T [d, k], once: each chunk is then one plain product and one subtraction.
    const cT2 = tf.mul(tf.transpose(centroids), 2);
    const cSq = tf.sum(tf.square(centroids), 1); // [k]
    const rows = Math.max(1, Math.floor(BLOCK_ELEMENTS / k));
    const parts: tf.Tensor[] = [];
    for (let s = 0; s < n; s += rows) {
      const xs = n <= rows ? x : tf.slice(x, [s, 0], [Math.min(rows, n - s), d]);
      const scores = tf.sub(cSq, matMul(xs, cT2));
      parts.push(tf.argMin(scores, 1));
    }
    if (parts.length === 0) return tf.zeros([0], 'int32') as tf.Tensor1D;
    return (parts.length === 1 ? parts[0]! : tf.concat(parts, 0)) as tf.Tensor1D;
  });
}

/** `m` distinct indices of `0 .. n-1`, sorted (Floyd's algorithm). */
function sampleIndices(n: number, m: number, rng: Rng): Int32Array {
  const chosen = new Set<number>();
  for (let j = n - m; j < n; j++) {
    const t = rng.randint(0, j);
    chosen.add(chosen.has(t) ? j : t);
  }
  return Int32Array.from([...chosen].sort((a, b) => a - b));
}

function sqDist(points: Float32Array, i: number, cents: Float64Array | Float32Array, j: number, dim: number): number {
  let s = 0;
  const a = i * dim;
  const b = j * dim;
  for (let t = 0; t < dim; t++) {
    const v = points[a + t]! - cents[b + t]!;
    s += v * v;
  }
  return s;
}

/** k-means++ seeding: each next centre drawn with probability proportional to D(x)^2. */
function kMeansPlusPlus(points: Float32Array, n: number, dim: number, k: number, rng: Rng): Float64Array {
  const cents = new Float64Array(k * dim);
  const d2 = new Float64Array(n).fill(Infinity);
  let pick = rng.randint(0, n - 1);
  for (let c = 0; c < k; c++) {
    for (let t = 0; t < dim; t++) cents[c * dim + t] = points[pick * dim + t]!;
    if (c === k - 1) break;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const v = sqDist(points, i, cents, c, dim);
      if (v < d2[i]!) d2[i] = v;
      total += d2[i]!;
    }
    if (total > 0) {
      let r = rng.uniform() * total;
      pick = n - 1;
      for (let i = 0; i < n; i++) {
        r -= d2[i]!;
        if (r < 0 && d2[i]! > 0) {
          pick = i;
          break;
        }
      }
    } else {
      pick = rng.randint(0, n - 1); // every point is already a centre: duplicates are unavoidable
    }
  }
  return cents;
}

/**
 * Clusters `n` points of dimension `dim` (row-major in `points`) into `k`
 * clusters. Empty clusters are re-seeded with the point farthest from its
 * centroid, so every centroid stays a mean of real data.
 *
 * @param points `[n, dim]` row-major.
 */
export function kMeans(points: Float32Array, dim: number, options: KMeansOptions): KMeansResult {
  const fn = 'kMeans';
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`${fn}: dim must be a positive integer, got ${dim}`);
  if (!(points instanceof Float32Array) || points.length % dim !== 0) {
    throw new Error(`${fn}: points must be a Float32Array of n * dim values, got ${points?.length} values for dim ${dim}`);
  }
  const total = points.length / dim;
  const { k } = options;
  const iterations = options.iterations ?? 20;
  const seed = options.seed ?? 0;
  const sampleSize = options.sampleSize ?? total;
  if (!Number.isInteger(k) || k < 1) throw new Error(`${fn}: k must be a positive integer, got ${k}`);
  if (!Number.isInteger(iterations) || iterations < 0) {
    throw new Error(`${fn}: iterations must be a non-negative integer, got ${iterations}`);
  }
  if (!Number.isInteger(sampleSize) || sampleSize < 1) {
    throw new Error(`${fn}: sampleSize must be a positive integer, got ${sampleSize}`);
  }
  if (!Number.isFinite(seed)) throw new Error(`${fn}: seed must be a finite number, got ${seed}`);
  const rng = new Rng(seed);
  let data = points;
  let n = total;
  if (sampleSize < total) {
    const idx = sampleIndices(total, sampleSize, rng);
    n = sampleSize;
    data = new Float32Array(n * dim);
    idx.forEach((src, dst) => data.set(points.subarray(src * dim, (src + 1) * dim), dst * dim));
  }
  if (k > n) throw new Error(`${fn}: k must be at most the number of points used (${n}), got ${k}`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new Error(`${fn}: points must be finite, got ${data[i]} at index ${i}`);
  }

  const cents = kMeansPlusPlus(data, n, dim, k, rng);
  const xT = tf.tensor2d(data, [n, dim], 'float32');
  const assign = (): Int32Array => {
    const c = tf.tensor2d(Float32Array.from(cents), [k, dim], 'float32');
    const ids = nearestCentroid(xT, c);
    const out = ids.dataSync() as Int32Array;
    tf.dispose([c, ids]);
    return Int32Array.from(out);
  };
  let labels: Int32Array = new Int32Array(n).fill(-1);
  let converged = false;
  let it = 0;
  try {
    for (; it < iterations; it++) {
      const next = assign();
      if (next.every((v, i) => v === labels[i])) {
        converged = true;
        break;
      }
      labels = next;
      const sums = new Float64Array(k * dim);
      const counts = new Int32Array(k);
      for (let i = 0; i < n; i++) {
        const c = labels[i]!;
        counts[c]!++;
        for (let t = 0; t < dim; t++) sums[c * dim + t]! += data[i * dim + t]!;
      }
      let far: Float64Array | null = null;
      for (let c = 0; c < k; c++) {
        if (counts[c]! > 0) {
          for (let t = 0; t < dim; t++) cents[c * dim + t] = sums[c * dim + t]! / counts[c]!;
          continue;
        }
        // Empty cluster: move it onto the point that is worst served now.
        if (far === null) {
          far = new Float64Array(n);
          for (let i = 0; i < n; i++) far[i] = sqDist(data, i, cents, labels[i]!, dim);
        }
        let best = 0;
        for (let i = 1; i < n; i++) if (far[i]! > far[best]!) best = i;
        for (let t = 0; t < dim; t++) cents[c * dim + t] = data[best * dim + t]!;
        far[best] = -1;
      }
    }
    if (!converged) labels = assign();
  } finally {
    xT.dispose();
  }
  const centroids = Float32Array.from(cents);
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += sqDist(data, i, centroids, labels[i]!, dim);
  return { centroids, k, dim, assignments: labels, inertia, iterations: it, converged };
}
