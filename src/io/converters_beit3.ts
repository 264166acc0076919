/**
 * Converter for BEiT-3 checkpoints (microsoft/unilm `beit3/modeling_utils.py`
 * `BEiT3Wrapper`, whose backbone is torchscale's `BEiT3`). The library's
 * `BEiT3` uses torchscale's own names (`text_embed.weight`,
 * `vision_embed.proj`, `vision_embed.cls_token`, `vision_embed.mask_token`,
 * `encoder.embed_positions.{A,B}.weight`, `encoder.layers.N.*`,
 * `encoder.layer_norm.{A,B}`), so the converter only strips the wrapper's
 * `beit3.` prefix.
 */
import { defineConverter, type WeightConverter } from './converters.js';

/**
 * unilm BEiT-3 `state_dict` (keys `beit3.*`, as the released checkpoints and
 * `BEiT3Wrapper` hold them) into `BEiT3`: `beit3.` stripped; keys without it
 * (torchscale's `BEiT3.state_dict()`) are taken unchanged. Export writes the
 * `beit3.` prefix back. Strict like every converter: a key that the model
 * lacks (a task head of a fine-tuned checkpoint) is an error unless
 * `strict: false`.
 *
 * @example
 * loadWeights(new BEiT3(beit3BasePatch16), bytes, { converter: beit3Converter });
 * loadWeights(mdm.beit3, bytes, { converter: beit3Converter }); // into BEiT3Mdm's backbone
 */
export const beit3Converter: WeightConverter = defineConverter({
  name: 'beit3',
  doc:
    "unilm BEiT3Wrapper state_dict (beit3.text_embed, beit3.vision_embed.{proj,cls_token,mask_token}, " +
    'beit3.encoder.embed_positions.{A,B}, beit3.encoder.layers.N.*, beit3.encoder.layer_norm.{A,B}) into BEiT3: ' +
    "'beit3.' stripped (unprefixed torchscale keys accepted as they are), added back on export.",
  renames: [[/^beit3\./, '']],
  inverse: [[/^/, 'beit3.']],
});
