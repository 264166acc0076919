/**
 * One-off script that makes the Fashion-MNIST subset shipped in
 * `examples/data/` from the Debian package `dataset-fashion-mnist`
 * (`apt-get install dataset-fashion-mnist`, files in
 * `/usr/share/datasets/fashion-mnist/`).
 *
 * - train split: the first 1,000 images of each class, in file order, from the
 *   official training files (10,000 images);
 * - test (held-out) split: the first 200 images of each class, in file order,
 *   from the official test files (2,000 images).
 *
 * The selected images keep their original relative order (classes stay
 * interleaved as in the source), so the first `n` images of a split are close
 * to balanced too. Output is uncompressed IDX (the original format without
 * gzip: readable in Node and in a browser without a zlib dependency), plus
 * `fashion-mnist-subset.json` describing the files.
 *
 * Run: `npx tsx examples/lib/make-fashion-mnist-subset.ts [sourceDir] [outDir]`.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { FASHION_MNIST_CLASS_NAMES, encodeIdx, parseIdx } from './idx.js';

const here = dirname(fileURLToPath(import.meta.url));
const sourceDir = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const outDir = process.argv[3] ?? join(here, '..', 'data');

interface SplitSpec {
  name: 'train' | 'test';
  source: 'train' | 't10k';
  perClass: number;
}

const SPLITS: SplitSpec[] = [
  { name: 'train', source: 'train', perClass: 1000 },
  { name: 'test', source: 't10k', perClass: 200 },
];

function readGz(file: string): Uint8Array {
  return new Uint8Array(gunzipSync(readFileSync(join(sourceDir, file))));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

mkdirSync(outDir, { recursive: true });
const manifest: Record<string, unknown> = {
  description: 'Balanced subset of Fashion-MNIST (first N images per class, original order), uncompressed IDX',
  source: 'https://github.com/zalandoresearch/fashion-mnist via Debian package dataset-fashion-mnist',
  license: 'MIT, Copyright (c) 2017 Zalando SE',
  classNames: FASHION_MNIST_CLASS_NAMES,
  splits: {} as Record<string, unknown>,
};

for (const spec of SPLITS) {
  const images = parseIdx(readGz(`${spec.source}-images-idx3-ubyte.gz`));
  const labels = parseIdx(readGz(`${spec.source}-labels-idx1-ubyte.gz`));
  const [n, h, w] = images.shape as [number, number, number];
  if (labels.shape[0] !== n) throw new Error(`${spec.source}: ${n} images but ${labels.shape[0]} labels`);
  const counts = new Array<number>(10).fill(0);
  const picked: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = labels.data[i]!;
    if (counts[y]! < spec.perClass) {
      counts[y]!++;
      picked.push(i);
    }
  }
  if (counts.some((c) => c !== spec.perClass)) {
    throw new Error(`${spec.source}: not enough images per class: ${counts}`);
  }
  const px = h * w;
  const outImages = new Uint8Array(picked.length * px);
  const outLabels = new Uint8Array(picked.length);
  picked.forEach((src, dst) => {
    outImages.set(images.data.subarray(src * px, (src + 1) * px), dst * px);
    outLabels[dst] = labels.data[src]!;
  });
  const imgFile = `fashion-mnist-${spec.name}-images-idx3-ubyte`;
  const lblFile = `fashion-mnist-${spec.name}-labels-idx1-ubyte`;
  const imgBytes = encodeIdx(outImages, [picked.length, h, w]);
  const lblBytes = encodeIdx(outLabels, [picked.length]);
  writeFileSync(join(outDir, imgFile), imgBytes);
  writeFileSync(join(outDir, lblFile), lblBytes);
  (manifest.splits as Record<string, unknown>)[spec.name] = {
    images: imgFile,
    labels: lblFile,
    count: picked.length,
    height: h,
    width: w,
    perClass: spec.perClass,
    sourceFile: `${spec.source}-images-idx3-ubyte.gz`,
    sha256: { images: sha256(imgBytes), labels: sha256(lblBytes) },
  };
  console.log(`${spec.name}: ${picked.length} images from ${spec.source} (${counts.join(',')} per class)`);
}

writeFileSync(join(outDir, 'fashion-mnist-subset.json'), JSON.stringify(manifest, null, 2) + '\n');
