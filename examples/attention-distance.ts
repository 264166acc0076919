/**
 * Mean attention distance of every head of every layer of a ViT checkpoint
 * (Dosovitskiy et al. 2021, Fig. 7; "Revealing the Dark Secrets of Masked
 * Image Modeling", Xie et al. 2022: MIM models keep local heads in every
 * layer, supervised ones lose them in deep layers):
 *
 *     npx tsx examples/attention-distance.ts                 # the tiny checkpoint in examples/data
 *     npx tsx examples/attention-distance.ts vit.safetensors --heads 12 --backend cpu
 *
 * The checkpoint is any safetensors file with timm `VisionTransformer`
 * names (`patch_embed.proj.weight`, `pos_embed`, `blocks.N.attn.qkv.weight`,
 * ...; a classifier's `head.*` is ignored). The architecture is read from the
 * weight shapes: width, patch size and channels from `patch_embed.proj.weight`
 * `[D, C, p, p]`, class token from `cls_token`, grid from `pos_embed`
 * `[1, P + N, D]` (square unless `--img-size HxW`), depth from `blocks.N`,
 * MLP ratio from `fc1`, qkv bias form and layer scale from the keys present.
 * The head count is not in the shapes: it comes from `--heads`, else from the
 * file's `__metadata__.config` (`num_heads`), else timm's head width of 64.
 *
 * Images: the held-out Fashion-MNIST images, zero-padded (or resized) to the
 * checkpoint's size, grey replicated to 3 channels for an RGB model (with
 * ImageNet's normalisation, as timm models expect); random images if the
 * channel count is neither 1 nor 3, or with `--random`.
 */
import { parseArgs } from 'node:util';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import {
  attentionDistanceByLayer,
  attentionMaps,
  composeConverters,
  defineConverter,
  loadWeights,
  patchDistanceMatrix,
  readSafetensorsFile,
  timmVit,
  VisionTransformer,
  type QkvBias,
  type SafetensorsFile,
  type VisionTransformerConfig,
} from '../src/index.js';
import { loadFashionMnist } from './lib/fashion-mnist.js';
import { describeBackend, intFlag, numberFlag, parseBackend, useBackend } from './lib/runtime.js';

const DEFAULT_CHECKPOINT = join(dirname(fileURLToPath(import.meta.url)), 'data', 'vit-tiny-mae-conformance.safetensors');

const USAGE = `usage: tsx examples/attention-distance.ts [checkpoint.safetensors] [options]
  checkpoint         timm-named ViT weights (default examples/data/vit-tiny-mae-conformance.safetensors)
  --heads N          attention heads (default: file metadata num_heads, else width / 64)
  --img-size S|HxW   image size (default: from pos_embed, square)
  --eps X            LayerNorm epsilon (default: file metadata norm_eps, else 1e-6)
  --images N         images to average over (default 64)
  --random           random images instead of Fashion-MNIST
  --seed N           seed of the random images (default 0)
  --backend cpu|wasm (default wasm)
  --help`;

/** What the shapes and metadata say about the checkpoint's architecture. */
interface InferredConfig {
  config: VisionTransformerConfig & { imgSize: [number, number]; patchSize: number; inChans: number; embedDim: number; numHeads: number };
  /** Where the head count came from. */
  headsFrom: string;
}

function shapeOf(file: SafetensorsFile, key: string): number[] | null {
  return file.names().includes(key) ? file.info(key).shape : null;
}

function parseImgSize(v: string): [number, number] {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v.trim());
  if (!m) throw new Error(`--img-size must be S or HxW (positive integers), got '${v}'`);
  const h = Number(m[1]);
  const w = Number(m[2] ?? m[1]);
  if (h <= 0 || w <= 0) throw new Error(`--img-size must be positive, got '${v}'`);
  return [h, w];
}

/** Reads the ViT hyperparameters from the weight shapes (and metadata or flags where shapes are silent). */
function inferConfig(
  file: SafetensorsFile,
  path: string,
  flags: { heads?: number; imgSize?: [number, number]; eps?: number },
): InferredConfig {
  const pe = shapeOf(file, 'patch_embed.proj.weight');
  if (pe === null || pe.length !== 4 || pe[2] !== pe[3]) {
    throw new Error(
      `${path}: expected timm ViT weights with 'patch_embed.proj.weight' [D, C, p, p], got ${pe === null ? 'no such key' : `[${pe}]`}`,
    );
  }
  const [D, C, p] = pe as [number, number, number, number];
  let meta: Record<string, unknown> = {};
  if (file.metadata.config !== undefined) {
    try {
      meta = JSON.parse(file.metadata.config) as Record<string, unknown>;
    } catch {
      meta = {};
    }
  }
  const classToken = shapeOf(file, 'cls_token') !== null;
  const P = classToken ? 1 : 0;
  const pos = shapeOf(file, 'pos_embed');
  let imgSize = flags.imgSize;
  if (imgSize === undefined) {
    if (pos === null) throw new Error(`${path}: no 'pos_embed' to infer the image size from; pass --img-size`);
    const n = pos[1]! - P;
    const g = Math.round(Math.sqrt(n));
    if (g * g !== n) throw new Error(`${path}: pos_embed [${pos}] holds ${n} patch rows, not a square grid; pass --img-size HxW`);
    imgSize = [g * p, g * p];
  }
  let depth = 0;
  while (shapeOf(file, `blocks.${depth}.attn.qkv.weight`) !== null) depth++;
  if (depth === 0) throw new Error(`${path}: no 'blocks.0.attn.qkv.weight': not a timm ViT state_dict`);
  const fc1 = shapeOf(file, 'blocks.0.mlp.fc1.weight');
  if (fc1 === null) throw new Error(`${path}: no 'blocks.0.mlp.fc1.weight'`);
  const qkvBias: QkvBias = shapeOf(file, 'blocks.0.attn.qkv.bias')
    ? 'qkv'
    : shapeOf(file, 'blocks.0.attn.q_bias')
      ? 'qv'
      : 'none';
  const timmLs = shapeOf(file, 'blocks.0.ls1.gamma') !== null;
  const beitLs = shapeOf(file, 'blocks.0.gamma_1') !== null;
  let numHeads: number;
  let headsFrom: string;
  if (flags.heads !== undefined) {
    numHeads = flags.heads;
    headsFrom = '--heads';
  } else if (typeof meta.num_heads === 'number') {
    numHeads = meta.num_heads;
    headsFrom = 'file metadata';
  } else {
    numHeads = Math.max(1, Math.round(D / 64));
    headsFrom = 'guessed as width / 64 (timm); pass --heads if wrong';
  }
  if (D % numHeads !== 0) throw new Error(`--heads ${numHeads} does not divide the width ${D}`);
  const eps = flags.eps ?? (typeof meta.norm_eps === 'number' ? meta.norm_eps : 1e-6);
  return {
    config: {
      imgSize,
      patchSize: p,
      inChans: C,
      embedDim: D,
      depth,
      numHeads,
      mlpRatio: fc1[0]! / D,
      qkvBias,
      initValues: timmLs || beitLs ? 1 : null,
      layerScaleNaming: beitLs ? 'beit' : 'timm',
      classToken,
      posEmbed: pos === null ? 'none' : 'learned',
      normEps: eps,
    },
    headsFrom,
  };
}

/** `count` images `[count, H, W, C]` for the model: Fashion-MNIST fitted to its size and channels, or random. */
async function makeImages(
  count: number,
  size: [number, number],
  channels: number,
  random: boolean,
  seed: number,
): Promise<{ x: tf.Tensor4D; source: string }> {
  const [h, w] = size;
  if (random || (channels !== 1 && channels !== 3)) {
    const why = random ? '--random' : `${channels} channels`;
    return { x: tf.randomUniform([count, h, w, channels], 0, 1, 'float32', seed) as tf.Tensor4D, source: `random uniform images (${why})` };
  }
  const side = Math.min(h, w);
  const pad = Math.max(28, side);
  const data = await loadFashionMnist('test', { limit: count, pad });
  const x = tf.tidy(() => {
    let t: tf.Tensor4D = tf.tensor4d(data.images, data.shape);
    if (pad !== h || pad !== w) t = tf.image.resizeBilinear(t, [h, w], true);
    if (channels === 3) {
      // Grey to RGB, then timm's ImageNet normalisation.
      const mean = tf.tensor1d([0.485, 0.456, 0.406]);
      const std = tf.tensor1d([0.229, 0.224, 0.225]);
      t = tf.div(tf.sub(tf.tile(t, [1, 1, 1, 3]), mean), std) as tf.Tensor4D;
    }
    return t;
  });
  const how = pad === h && pad === w ? `zero-padded to ${h}x${w}` : `padded to ${pad} and resized to ${h}x${w}`;
  return { x, source: `${data.count} held-out Fashion-MNIST images, ${how}${channels === 3 ? ', grey to RGB, ImageNet-normalised' : ''}` };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    strict: true,
    options: {
      heads: { type: 'string' },
      'img-size': { type: 'string' },
      eps: { type: 'string' },
      images: { type: 'string' },
      random: { type: 'boolean' },
      seed: { type: 'string' },
      backend: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length > 1) throw new Error(`expected at most one checkpoint path, got ${positionals.length}: ${positionals.join(' ')}`);
  const path = positionals[0] ?? DEFAULT_CHECKPOINT;
  const backend = parseBackend(values.backend);
  const flags = {
    heads: values.heads === undefined ? undefined : intFlag('heads', values.heads, 1),
    imgSize: values['img-size'] === undefined ? undefined : parseImgSize(values['img-size']),
    eps: values.eps === undefined ? undefined : numberFlag('eps', values.eps, 1e-6, 0),
  };
  const count = intFlag('images', values.images, 64);
  const seed = intFlag('seed', values.seed, 0, 0);

  await useBackend(backend);
  console.log(`backend: ${await describeBackend()}`);
  const file = await readSafetensorsFile(path);
  const { config, headsFrom } = inferConfig(file, path, flags);
  const vit = new VisionTransformer(config);
  // A classifier checkpoint's head (and timm's global-pool fc_norm) is not part of the encoder.
  const converter = composeConverters(
    'timm-vit-encoder',
    'timm ViT weights without the classifier head',
    timmVit,
    defineConverter({ name: 'drop-head', doc: 'ignores head.* and fc_norm.*', skip: ['head.', 'fc_norm.'] }),
  );
  const report = loadWeights(vit, file, { converter });
  const [gh, gw] = vit.gridSize;
  console.log(
    `checkpoint: ${path}\n  ViT ${config.imgSize[0]}x${config.imgSize[1]}x${config.inChans}, patch ${config.patchSize} (${gh}x${gw} grid), ` +
      `width ${config.embedDim}, depth ${config.depth}, ${config.numHeads} heads (${headsFrom}), MLP ratio ${config.mlpRatio}, ` +
      `qkv bias '${config.qkvBias}', ${config.classToken ? 'class token' : 'no class token'}, ` +
      `layer scale ${config.initValues === null ? 'none' : config.layerScaleNaming}; ` +
      `${report.loaded.length} tensors loaded${report.skipped.length ? `, ${report.skipped.length} skipped` : ''}`,
  );

  const { x, source } = await makeImages(count, config.imgSize, config.inChans, values.random === true, seed);
  console.log(`images: ${source}`);
  const maps = attentionMaps(vit, x);
  const opts = { gridSize: vit.gridSize, patchSize: config.patchSize, numPrefixTokens: vit.numPrefixTokens };
  const byLayer = attentionDistanceByLayer(maps, opts);
  const table = byLayer.arraySync() as number[][];
  // Uniform attention over the patches: the scale of "global".
  const dist = patchDistanceMatrix(gh, gw, config.patchSize);
  const uniformT = tf.mean(dist);
  const uniform = uniformT.dataSync()[0]!;
  uniformT.dispose();
  tf.dispose([...maps, byLayer, dist, x]);
  vit.dispose();

  const H = config.numHeads;
  const cell = (s: string): string => s.padStart(8);
  console.log(`\nmean attention distance (pixels) per layer and head, averaged over ${count} images:`);
  console.log(['layer', ...Array.from({ length: H }, (_, h) => `head ${h}`), 'mean'].map((s, i) => (i === 0 ? s.padEnd(5) : cell(s))).join(' |'));
  console.log(['-----', ...Array.from({ length: H + 1 }, () => '-'.repeat(8))].join('-|'));
  table.forEach((row, l) => {
    const mean = row.reduce((a, b) => a + b, 0) / row.length;
    console.log([String(l).padEnd(5), ...row.map((v) => cell(v.toFixed(2))), cell(mean.toFixed(2))].join(' |'));
  });
  console.log(`\nfor scale: uniform attention over all ${gh * gw} patches gives ${uniform.toFixed(2)} px; attending only to itself gives 0.`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
