/**
 * Loader for the Fashion-MNIST subset shipped in `examples/data/` (see its
 * README: 10,000 training and 2,000 held-out images, balanced over the 10
 * classes). Example-only helper: `loadFashionMnist` reads the files with
 * Node's `fs`; `decodeFashionMnist` (from `fashion-mnist-decode.ts`, free of
 * Node APIs) is pure and works on bytes that a browser fetched.
 */
import { readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeFashionMnist, type FashionMnistData, type FashionMnistDecodeOptions } from './fashion-mnist-decode.js';

export { FASHION_MNIST_CLASS_NAMES } from './idx.js';
export { decodeFashionMnist, type FashionMnistData, type FashionMnistDecodeOptions } from './fashion-mnist-decode.js';

/** Which split: `train` (10,000 images) or `test` (2,000 held-out images). */
export type FashionMnistSplit = 'train' | 'test';

/** Options of {@link loadFashionMnist}: {@link decodeFashionMnist}'s, and where the files are. */
export interface FashionMnistOptions extends FashionMnistDecodeOptions {
  /** Folder holding the data files (default: `examples/data` of this repository). */
  dataDir?: string;
}

const defaultDataDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'data');

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
