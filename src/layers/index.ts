/**
 * Building blocks: `Module` (weights by reference name, seeds, freezing), containers, linear and norm layers, patch and position embeddings, attention, MLP, ViT and Multiway blocks.
 * @module layers
 */
export { Module, type Weight, type TorchLayout, type ParamOptions } from './module.js';
export { initTensor, type Init } from './init.js';
export { Linear, type LinearConfig } from './linear.js';
export { LayerNorm, type LayerNormConfig } from './layer_norm.js';
export { patchify, unpatchify } from './patchify.js';
export { PatchEmbed, type PatchEmbedConfig } from './patch_embed.js';
export {
  sincos1d,
  sincosPosEmbed2d,
  sincosPosEmbed2dData,
  posEmbedInit,
  resamplePosEmbed,
  type PosEmbedKind,
  type ResampleMode,
  type ResamplePosEmbedOptions,
} from './pos_embed.js';
export {
  Attention,
  type AttentionConfig,
  type AttentionForwardOptions,
  type AttentionOutput,
  type QkvHeads,
  type QkvBias,
} from './attention.js';
export {
  RelativePositionBias,
  relativePositionIndex,
  numRelativeDistance,
  gatherRelativePositionBias,
  type RelativePositionBiasConfig,
} from './rel_pos_bias.js';
export { Mlp, gelu, quickGelu, type MlpConfig, type MlpActivation } from './mlp.js';
export { LayerScale, type LayerScaleConfig } from './layer_scale.js';
export { DropPath, dropPath, type DropPathConfig } from './drop_path.js';
export {
  Block,
  type BlockConfig,
  type BlockForwardOptions,
  type BlockOutput,
  type LayerScaleNaming,
} from './block.js';
export {
  Multiway,
  MultiwayAttention,
  MultiwayBlock,
  SubLnFeedForward,
  type MultiwayExpert,
  type TokenwiseModule,
  type MultiwayConfig,
  type MultiwayForwardOptions,
  type SubLnFeedForwardConfig,
  type MultiwayBlockConfig,
  type MultiwayBlockForwardOptions,
  type MultiwayAttentionForwardOptions,
  type MultiwayBlockOutput,
} from './multiway.js';
export { causalMask, keyPaddingMask, combineMasks, checkAttnMask, MASK_VALUE, HALF_PRECISION_MASK_VALUE, maskValue } from './attention_mask.js';
export {
  ModuleList,
  ModuleDict,
  Sequential,
  type ContainerOptions,
  type SequentialForwardOptions,
  type SequentialStep,
  type TensorModule,
} from './containers.js';
export { WeightNormLinear, type WeightNormLinearConfig } from './weight_norm_linear.js';
export { BatchNorm1d, batchNormModules, batchNormBuffers, type BatchNorm1dConfig, type BatchNormForwardOptions } from './batch_norm.js';
export { AttentionalPooler, type AttentionalPoolerConfig } from './attentional_pooler.js';
export { checkpoint, resolveCheckpointing, stackActivationBytes, AUTO_CHECKPOINT_BYTES, ACTIVATION_BYTES_PER_ELEMENT, type Checkpointing } from './checkpoint.js';
