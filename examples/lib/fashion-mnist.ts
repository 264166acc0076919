/**
 * Loader for the Fashion-MNIST subset shipped in `examples/data/` (see its
 * README: 10,000 training and 2,000 held-out images, balanced over the 10
 * classes). Example-only helper: `loadFashionMnist` reads the files with
 * Node's `fs`; `decodeFashionMnist` is pure and works on bytes that a browser
 * fetched.
 */
import { readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FASHION_MNIST_CLASS_NAMES, parseIdx } from './idx.js';

export { FASHION_MNIST_CLASS_NAMES } from './idx.js';

/** Which split: `train` (10,000 images) or `test` (2,000 held-out images). */
export type FashionMnistSplit = 'train' | 'test';

/** Options of {@link loadFashionMnist} and {@link decodeFashionMnist}. */
export interface FashionMnistOptions {
  /** Keep only the first `limit` images (default: all). The split keeps the source's interleaved class order, so a prefix is close to balanced. */
  limit?: number;
  /**
   * Pad each 28x28 image with zeros (the background colour) to
   * `pad x pad` pixels, centred (default: no padding, 28). The usual MIM
   * setup on Fashion-MNIST pads to 32 so that patch sizes 2, 4, 8 and 16
   * divide the image.
   */
  pad?: number;
  /** Folder holding the data files (default: `examples/data` of this repository). */
  dataDir?: string;
}

/** A loaded split. */
export interface FashionMnistData {
  /** Pixels scaled to [0, 1], NHWC `[count, height, width, 1]`, row-major. */
  images: Float32Array;
  /** `[count, height, width, 1]`. */
  shape: [number, number, number, 1];
  /** Class labels 0..9, one per image. */
  labels: Int32Array;
  /** Class names by label. */
  classNames: readonly string[];
  /** Number of images. */
  count: number;
}

const defaultDataDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'data');

/**
 * Decodes the (uncompressed IDX) image and label files of a split into
 * float images in [0, 1], optionally zero-padded to `pad x pad`.
 */
export function decodeFashionMnist(
  imageBytes: Uint8Array,
  labelBytes: Uint8Array,
  options: Omit<FashionMnistOptions, 'dataDir'> = {},
): FashionMnistData {
  const img = parseIdx(imageBytes);
  const lbl = parseIdx(labelBytes);
  if (img.shape.length !== 3) throw new Error(`decodeFashionMnist: image file has shape [${img.shape}], expected [N, H, W]`);
  if (lbl.shape.length !== 1 || lbl.shape[0] !== img.shape[0]) {
    throw new Error(`decodeFashionMnist: label file has shape [${lbl.shape}], expected [${img.shape[0]}]`);
  }
  const [total, h, w] = img.shape as [number, number, number];
  const limit = options.limit ?? total;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new Error(`decodeFashionMnist: limit must be a non-negative integer, got ${limit}`);
  }
  const pad = options.pad ?? Math.max(h, w);
  if (!Number.isInteger(pad) || pad < h || pad < w) {
    throw new Error(`decodeFashionMnist: pad must be an integer >= ${Math.max(h, w)} (the image size), got ${pad}`);
  }
  const n = Math.min(limit, total);
  const top = Math.floor((pad - h) / 2);
  const left = Math.floor((pad - w) / 2);
  const images = new Float32Array(n * pad * pad);
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      const src = (i * h + y) * w;
      const dst = (i * pad + y + top) * pad + left;
      for (let x = 0; x < w; x++) images[dst + x] = img.data[src + x]! / 255;
    }
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = lbl.data[i]!;
  return { images, shape: [n, pad, pad, 1], labels, classNames: FASHION_MNIST_CLASS_NAMES, count: n };
}

/**
 * Loads a split of the shipped Fashion-MNIST subset (Node only).
 *
 * @example
 * const { images, shape, labels } = await loadFashionMnist('train', { limit: 2000, pad: 32 });
 * const x = tf.tensor4d(images, shape); // [2000, 32, 32, 1]
 */
export async function loadFashionMnist(
  split: FashionMnistSplit,
  options: FashionMnistOptions = {},
): Promise<FashionMnistData> {
  if (split !== 'train' && split !== 'test') {
    throw new Error(`loadFashionMnist: split must be 'train' or 'test', got '${String(split)}'`);
  }
  const dir = options.dataDir ?? defaultDataDir;
  const [imageBytes, labelBytes] = await Promise.all([
    readFile(join(dir, `fashion-mnist-${split}-images-idx3-ubyte`)),
    readFile(join(dir, `fashion-mnist-${split}-labels-idx1-ubyte`)),
  ]);
  return decodeFashionMnist(new Uint8Array(imageBytes), new Uint8Array(labelBytes), options);
}
