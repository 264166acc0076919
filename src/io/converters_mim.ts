/**
 * Converters for the masked-image-modeling checkpoints: MAE
 * (facebookresearch/mae `models_mae.py`), BEiT (microsoft/unilm
 * `beit/modeling_pretrain.py`) and SimMIM (microsoft/SimMIM
 * `models/simmim.py`). The library's `MAE`, `BEiT` and
 * `SimMIM` use the references' own `state_dict` names, so the full-model
 * converters are identities; the `...Encoder` converters load only the
 * encoder of a pretraining checkpoint into a `VisionTransformer` (for
 * fine-tuning, a linear probe or feature analysis).
 *
 * None of the three supports relative position bias (BEiT's and SimMIM's
 * released ViT checkpoints use it): {@link loadMimWeights} refuses such a
 * checkpoint with a clear error unless told to drop those keys.
 */
import type { Module } from '../layers/module.js';
import { composeConverters, defineConverter, type WeightConverter } from './converters.js';
import { parseSafetensors, SafetensorsFile } from './safetensors.js';
import { loadWeights, type LoadReport, type LoadWeightsOptions, type StateDictSource } from './state_dict.js';

/** MAE pretraining checkpoints (`MaskedAutoencoderViT`) into `MAE`: identical names. */
export const maeConverter: WeightConverter = defineConverter({
  name: 'mae',
  doc:
    'MAE MaskedAutoencoderViT state_dict (patch_embed.proj, cls_token, pos_embed, blocks.N.*, norm, decoder_embed, ' +
    'mask_token, decoder_pos_embed, decoder_blocks.N.*, decoder_norm, decoder_pred) into MAE: identical names.',
});

/**
 * MAE pretraining checkpoints into a `VisionTransformer` built with
 * `posEmbed: 'sincos'` (timm names): the decoder (`decoder_*`) and the
 * decoder's `mask_token` are skipped.
 */
export const maeEncoderConverter: WeightConverter = defineConverter({
  name: 'mae-encoder',
  doc: "MAE pretraining state_dict into a VisionTransformer (posEmbed 'sincos'): encoder keys unchanged, decoder_* and mask_token skipped.",
  skip: ['decoder_', 'mask_token'],
});

/**
 * BEiT pretraining checkpoints (`VisionTransformerForMaskedImageModeling`)
 * into `BEiT`: identical names (`cls_token`, `mask_token`, `pos_embed`,
 * `patch_embed.proj`, `blocks.N.{norm1, attn.qkv, attn.q_bias, attn.v_bias,
 * attn.proj, gamma_1, norm2, mlp.fc1, mlp.fc2, gamma_2}`, `norm`, `lm_head`).
 * Relative position bias keys are not handled here: see {@link loadMimWeights}.
 */
export const beitConverter: WeightConverter = defineConverter({
  name: 'beit',
  doc:
    'BEiT VisionTransformerForMaskedImageModeling state_dict (cls_token, mask_token, pos_embed, patch_embed.proj, ' +
    'blocks.N.{attn.q_bias,attn.v_bias,gamma_1,gamma_2,...}, norm, lm_head) into BEiT: identical names.',
});

/**
 * BEiT pretraining checkpoints into a `VisionTransformer` built with
 * `qkvBias: 'qv'`, `layerScaleNaming: 'beit'`, `posEmbed: 'learned'`:
 * `mask_token` and `lm_head` are skipped.
 */
export const beitEncoderConverter: WeightConverter = defineConverter({
  name: 'beit-encoder',
  doc: "BEiT pretraining state_dict into a BEiT-form VisionTransformer: mask_token and lm_head.* skipped, other keys unchanged.",
  skip: ['mask_token', 'lm_head.'],
});

/**
 * SimMIM pretraining checkpoints (`SimMIM` with `VisionTransformerForSimMIM`)
 * into `SimMIM`: identical names (`encoder.*`, `encoder.mask_token`,
 * `decoder.0.weight`, `decoder.0.bias`).
 */
export const simmimConverter: WeightConverter = defineConverter({
  name: 'simmim',
  doc: 'SimMIM state_dict (encoder.patch_embed.proj, encoder.cls_token, encoder.pos_embed, encoder.mask_token, encoder.blocks.N.*, encoder.norm, decoder.0) into SimMIM: identical names.',
});

/**
 * SimMIM pretraining checkpoints into a BEiT-form `VisionTransformer`:
 * the `encoder.` prefix is stripped (added back on export);
 * `encoder.mask_token` and the decoder are skipped.
 */
export const simmimEncoderConverter: WeightConverter = defineConverter({
  name: 'simmim-encoder',
  doc: "SimMIM state_dict into a BEiT-form VisionTransformer: 'encoder.' stripped, encoder.mask_token and decoder.* skipped.",
  renames: [[/^encoder\./, '']],
  inverse: [[/^/, 'encoder.']],
  skip: ['decoder.', 'encoder.mask_token'],
});

/**
 * Keys of relative position bias parameters and buffers (BEiT/SimMIM:
 * `blocks.N.attn.relative_position_bias_table`,
 * `blocks.N.attn.relative_position_index`, shared
 * `rel_pos_bias.relative_position_bias_table`), which the library's models do
 * not implement.
 */
export const RELATIVE_POSITION_BIAS_KEY = /relative_position_bias_table|relative_position_index|(^|\.)rel_pos_bias\./;

/** Options of {@link loadMimWeights}. */
export interface LoadMimWeightsOptions extends LoadWeightsOptions {
  /**
   * Drop relative position bias keys instead of failing. Default `false`:
   * a model trained with relative position bias gives different outputs
   * without it (it would need fine-tuning), so dropping it must be explicit.
   */
  ignoreRelativePositionBias?: boolean;
}

/**
 * {@link loadWeights} for BEiT/SimMIM/MAE checkpoints, with a clear error
 * when the checkpoint holds relative position bias (unsupported), unless
 * `ignoreRelativePositionBias` is set, in which case those keys are skipped.
 *
 * @example
 * loadMimWeights(beit, bytes, { converter: beitConverter });
 * loadMimWeights(vit, bytes, { converter: simmimEncoderConverter, ignoreRelativePositionBias: true });
 */
export function loadMimWeights(module: Module, source: StateDictSource, options: LoadMimWeightsOptions = {}): LoadReport {
  const { ignoreRelativePositionBias = false, ...rest } = options;
  if (typeof ignoreRelativePositionBias !== 'boolean') {
    throw new Error(`loadMimWeights: ignoreRelativePositionBias must be a boolean, got ${String(ignoreRelativePositionBias)}`);
  }
  const src = source instanceof Uint8Array || source instanceof ArrayBuffer ? parseSafetensors(source) : source;
  const keys = src instanceof SafetensorsFile ? src.names() : [...src.keys()];
  const prefix = rest.prefix ?? '';
  const relPos = keys.filter((k) => k.startsWith(prefix) && RELATIVE_POSITION_BIAS_KEY.test(k.slice(prefix.length)));
  if (relPos.length === 0) return loadWeights(module, src, rest);
  if (!ignoreRelativePositionBias) {
    const shown = relPos.slice(0, 3).join(', ') + (relPos.length > 3 ? `, ... (${relPos.length} keys)` : '');
    throw new Error(
      `loadMimWeights(${module.getClassName()}): the checkpoint uses relative position bias (${shown}), which this ` +
        'library does not implement; pass ignoreRelativePositionBias: true to drop those keys (outputs will then differ ' +
        'from the reference until the model is fine-tuned)',
    );
  }
  const converter = composeConverters(
    `${(rest.converter ?? { name: 'identity' }).name}+drop-rel-pos`,
    'Drops relative position bias keys.',
    ...(rest.converter ? [rest.converter] : []),
    defineConverter({ name: 'drop-rel-pos', doc: 'Skips relative position bias keys.', skip: [RELATIVE_POSITION_BIAS_KEY] }),
  );
  return loadWeights(module, src, { ...rest, converter });
}
