/**
 * The IDX file format of (Fashion-)MNIST, uncompressed: a 4-byte magic
 * (two zero bytes, a type code, the number of dimensions), each dimension as
 * a big-endian uint32, then the data. Only unsigned bytes (type 0x08) are
 * supported: that is what (Fashion-)MNIST uses. Pure TypeScript, no Node API,
 * so a browser can read the shipped files too.
 */

/** Fashion-MNIST's class names, by label (0 .. 9), as in Zalando's README. */
export const FASHION_MNIST_CLASS_NAMES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** A decoded IDX array of unsigned bytes. */
export interface IdxArray {
  /** Dimensions, outermost first (e.g. `[N, 28, 28]`). */
  shape: number[];
  /** Row-major data (a view into the input bytes). */
  data: Uint8Array;
}

/** Parses an uncompressed IDX file of unsigned bytes (type code 0x08). */
export function parseIdx(bytes: Uint8Array): IdxArray {
  if (bytes.length < 4) throw new Error(`parseIdx: file has ${bytes.length} bytes, expected at least 4`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`parseIdx: magic starts with ${bytes[0]},${bytes[1]}, expected 0,0 (is the file still gzipped?)`);
  }
  if (bytes[2] !== 0x08) throw new Error(`parseIdx: type code 0x${bytes[2]!.toString(16)}, expected 0x08 (uint8)`);
  const rank = bytes[3]!;
  const headerLen = 4 + 4 * rank;
  if (bytes.length < headerLen) throw new Error(`parseIdx: file has ${bytes.length} bytes, header needs ${headerLen}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const n = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== headerLen + n) {
    throw new Error(`parseIdx: shape [${shape}] needs ${headerLen + n} bytes, file has ${bytes.length}`);
  }
  return { shape, data: bytes.subarray(headerLen, headerLen + n) };
}

/** Encodes unsigned bytes of the given shape as an uncompressed IDX file. */
export function encodeIdx(data: Uint8Array, shape: number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`encodeIdx: ${data.length} values for shape [${shape}] (${n} elements)`);
  const headerLen = 4 + 4 * shape.length;
  const out = new Uint8Array(headerLen + n);
  out[2] = 0x08;
  out[3] = shape.length;
  const view = new DataView(out.buffer);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, headerLen);
  return out;
}
