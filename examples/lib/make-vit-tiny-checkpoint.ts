/**
 * One-off script that makes `examples/data/vit-tiny-mae-conformance.safetensors`:
 * the ViT encoder weights (`patch_embed.*`, `cls_token`, `pos_embed`,
 * `blocks.*`, `norm.*`) of the MAE conformance case
 * (`/work/shared/conformance/mae.safetensors`, keys `param.<key>`), copied
 * byte for byte under timm's own state_dict names. MAE's decoder, the inputs
 * and the expected outputs are left out.
 *
 * The safetensors container is parsed and written here by hand (8-byte
 * little-endian header length, JSON header, raw data; header padded with
 * spaces to a multiple of 8 like the Python library), so the script has no
 * dependency on the library.
 *
 * Run: `npx tsx examples/lib/make-vit-tiny-checkpoint.ts [mae.safetensors] [out]`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = process.argv[2] ?? '/work/shared/conformance/mae.safetensors';
const out = process.argv[3] ?? join(here, '..', 'data', 'vit-tiny-mae-conformance.safetensors');

interface Entry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const bytes = new Uint8Array(readFileSync(src));
const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))) as Record<string, unknown>;
const dataStart = 8 + headerLen;
const srcMeta = header.__metadata__ as Record<string, string>;
const maeConfig = JSON.parse(srcMeta.config!) as Record<string, unknown>;

const ENCODER = /^(patch_embed\.|cls_token$|pos_embed$|blocks\.|norm\.)/;
const picked: [string, Entry][] = [];
for (const [key, value] of Object.entries(header)) {
  if (!key.startsWith('param.')) continue;
  const name = key.slice('param.'.length);
  if (ENCODER.test(name)) picked.push([name, value as Entry]);
}
picked.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

const dtypeSize: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, BOOL: 1 };
const outHeader: Record<string, unknown> = {
  __metadata__: {
    format: 'pt',
    description:
      'Tiny timm-style ViT encoder (random weights, not trained): the encoder part of the MAE conformance case',
    source: `mimkit conformance case mae.safetensors (seed ${srcMeta.seed}); reference ${srcMeta.reference}`,
    config: JSON.stringify({
      img_size: maeConfig.img_size,
      patch_size: maeConfig.patch_size,
      in_chans: maeConfig.in_chans,
      embed_dim: maeConfig.embed_dim,
      depth: maeConfig.depth,
      num_heads: maeConfig.num_heads,
      mlp_ratio: maeConfig.mlp_ratio,
      qkv_bias: maeConfig.qkv_bias,
      norm_eps: 1e-6,
      class_token: true,
      pos_embed: 'sincos',
    }),
  },
};
const chunks: Uint8Array[] = [];
let offset = 0;
for (const [name, e] of picked) {
  const [s, t] = e.data_offsets;
  const n = e.shape.reduce((a, b) => a * b, 1);
  if (t - s !== n * dtypeSize[e.dtype]!) throw new Error(`${name}: ${t - s} bytes for ${e.dtype} [${e.shape}]`);
  const data = bytes.subarray(dataStart + s, dataStart + t);
  outHeader[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + data.length] };
  chunks.push(data);
  offset += data.length;
}
let headerText = JSON.stringify(outHeader);
while ((8 + headerText.length) % 8 !== 0) headerText += ' ';
const headerBytes = new TextEncoder().encode(headerText);
const file = new Uint8Array(8 + headerBytes.length + offset);
new DataView(file.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
file.set(headerBytes, 8);
let at = 8 + headerBytes.length;
for (const c of chunks) {
  file.set(c, at);
  at += c.length;
}
writeFileSync(out, file);
console.log(`wrote ${picked.length} tensors (${offset} bytes of data) to ${out}`);
