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
export { Mlp, gelu, type MlpConfig } from './mlp.js';
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
  type MultiwayBlockOutput,
} from './multiway.js';
export { checkpoint } from './checkpoint.js';
