/**
 * The pure half of the Fashion-MNIST loader: decodes the IDX bytes of a split
 * into float images, with no Node API, so a browser page can use it on
 * fetched bytes (`examples/browser/`). `fashion-mnist.ts` re-exports it next
 * to the Node file reader.
 */
import { FASHION_MNIST_CLASS_NAMES, parseIdx } from './idx.js';

/** Options of {@link decodeFashionMnist}. */
export interface FashionMnistDecodeOptions {
  /** Keep only the first `limit` images (default: all). The split keeps the source's interleaved class order, so a prefix is close to balanced. */
  limit?: number;
  /**
   * Pad each 28x28 image with zeros (the background colour) to
   * `pad x pad` pixels, centred (default: no padding, 28). The usual MIM
   * setup on Fashion-MNIST pads to 32 so that patch sizes 2, 4, 8 and 16
   * divide the image.
   */
  pad?: number;
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

/**
 * Decodes the (uncompressed IDX) image and label files of a split into
 * float images in [0, 1], optionally zero-padded to `pad x pad`.
 */
export function decodeFashionMnist(
  imageBytes: Uint8Array,
  labelBytes: Uint8Array,
  options: FashionMnistDecodeOptions = {},
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
