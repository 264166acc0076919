/**
 * Converters for open_clip checkpoints (mlfoundations/open_clip
 * `model.py` `CLIP`, `transformer.py` `VisionTransformer`,
 * `TextTransformer`, `ResidualAttentionBlock`). The library's `CLIP`,
 * `ClipVisionTransformer` and `TextTransformer` keep open_clip's top-level
 * names (`visual.class_embedding`, `visual.positional_embedding`,
 * `visual.ln_pre`, `visual.ln_post`, `visual.proj`, `visual.attn_pool.*`,
 * `token_embedding.weight`, `positional_embedding`, `ln_final`,
 * `text_projection`, `logit_scale`) but reuse the library's `Block` and
 * `PatchEmbed`, so two things are renamed:
 *
 * - inside every `transformer.resblocks.<i>.`: `ln_1` <-> `norm1`,
 *   `attn.in_proj_weight` <-> `attn.qkv.weight`, `attn.in_proj_bias` <->
 *   `attn.qkv.bias` (same q | k | v row order), `attn.out_proj` <->
 *   `attn.proj`, `ln_2` <-> `norm2`, `mlp.c_fc` <-> `mlp.fc1`, `mlp.c_proj`
 *   <-> `mlp.fc2`, `ls_1.gamma` <-> `ls1.gamma`, `ls_2.gamma` <-> `ls2.gamma`;
 * - `visual.conv1.weight` <-> `visual.conv1.proj.weight`.
 *
 * Layouts (Linear `[out, in]`, the Conv2d kernel) are converted by
 * `loadWeights` / `exportWeights` from each weight's recorded layout.
 * open_clip's non-persistent `attn_mask` buffer is not in its `state_dict`.
 */
import { defineConverter, type RenameRule, type WeightConverter } from './converters.js';

/** `[open_clip block key, library block key]`, inside `transformer.resblocks.<i>.`. */
const BLOCK_KEYS: readonly (readonly [string, string])[] = [
  ['ln_1.', 'norm1.'],
  ['attn.in_proj_weight', 'attn.qkv.weight'],
  ['attn.in_proj_bias', 'attn.qkv.bias'],
  ['attn.out_proj.', 'attn.proj.'],
  ['ln_2.', 'norm2.'],
  ['mlp.c_fc.', 'mlp.fc1.'],
  ['mlp.c_proj.', 'mlp.fc2.'],
  ['ls_1.gamma', 'ls1.gamma'],
  ['ls_2.gamma', 'ls2.gamma'],
];

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function blockRules(from: 0 | 1): RenameRule[] {
  const to = from === 0 ? 1 : 0;
  return BLOCK_KEYS.map((k) => [new RegExp(`(^|\\.)(transformer\\.resblocks\\.\\d+\\.)${esc(k[from])}`), `$1$2${k[to]}`] as const);
}

/**
 * open_clip `CLIP` state_dicts (ViT image tower, built-in text transformer)
 * into the library's `CLIP` / `FLIP`, and back (strict both ways with
 * `loadWeights(..., { converter: openClipConverter })`).
 */
export const openClipConverter: WeightConverter = defineConverter({
  name: 'open-clip',
  doc:
    'open_clip CLIP state_dict (visual.conv1, visual.class_embedding, visual.positional_embedding, visual.ln_pre, ' +
    'visual.transformer.resblocks.N.*, visual.attn_pool.*, visual.ln_post, visual.proj, token_embedding, positional_embedding, ' +
    'transformer.resblocks.N.*, ln_final, text_projection, logit_scale) into CLIP: block keys ln_1/attn.in_proj_*/attn.out_proj/' +
    'ln_2/mlp.c_fc/mlp.c_proj/ls_1/ls_2 renamed to the library Block names, visual.conv1.weight to visual.conv1.proj.weight.',
  renames: [[/^visual\.conv1\.weight$/, 'visual.conv1.proj.weight'], ...blockRules(0)],
  inverse: [[/^visual\.conv1\.proj\.weight$/, 'visual.conv1.weight'], ...blockRules(1)],
});

/**
 * An open_clip image tower alone (`VisionTransformer` state_dict, or a CLIP
 * checkpoint loaded with `prefix: 'visual.'`) into `ClipVisionTransformer`.
 */
export const openClipVisionConverter: WeightConverter = defineConverter({
  name: 'open-clip-visual',
  doc: "open_clip VisionTransformer state_dict (conv1, class_embedding, ..., proj; or a CLIP file with prefix 'visual.') into ClipVisionTransformer.",
  renames: [[/^conv1\.weight$/, 'conv1.proj.weight'], ...blockRules(0)],
  inverse: [[/^conv1\.proj\.weight$/, 'conv1.weight'], ...blockRules(1)],
});

/**
 * The text tower of an open_clip CLIP checkpoint into a `TextTransformer`:
 * the `visual.*` keys and `logit_scale` are skipped, block keys renamed.
 */
export const openClipTextConverter: WeightConverter = defineConverter({
  name: 'open-clip-text',
  doc: 'open_clip CLIP state_dict into TextTransformer: token_embedding, positional_embedding, transformer.*, ln_final, text_projection; visual.* and logit_scale skipped.',
  renames: blockRules(0),
  inverse: blockRules(1),
  skip: ['visual.', 'logit_scale', 'logit_bias'],
});
