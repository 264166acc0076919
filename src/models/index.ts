export {
  VisionTransformer,
  vitTiny,
  vitSmall,
  vitBase,
  vitLarge,
  vitHuge,
  type VisionTransformerConfig,
  type VitBackboneConfig,
  type ResolvedVitConfig,
  type VitForwardOptions,
  type VitFeatures,
} from './vit.js';
export {
  MAE,
  maeVitBasePatch16,
  maeVitLargePatch16,
  maeVitHugePatch14,
  maeTiny,
  maeMicro,
  type MAEConfig,
  type ResolvedMAEConfig,
  type MaeTarget,
  type MaeMaskOptions,
  type MaeForwardOptions,
  type MaeEncoderOutput,
  type MaeOutput,
} from './mae.js';
export {
  BEiT,
  beitBasePatch16,
  beitLargePatch16,
  beitTiny,
  beitInitWeights,
  forwardWithMaskToken,
  readPatchMask,
  type BEiTConfig,
  type BeitBackboneConfig,
  type ResolvedBeitBackboneConfig,
  resolveBeitBackbone,
  type ResolvedBEiTConfig,
  type BeitTargets,
  type BeitOutput,
} from './beit.js';
export { SimMIM, simmimVitBasePatch16, simmimTiny, type SimMIMConfig, type ResolvedSimMIMConfig, type SimMIMOutput } from './simmim.js';
export {
  TextTransformer,
  checkTokenIds,
  openClipInitBlocks,
  type TextTransformerConfig,
  type ResolvedTextTransformerConfig,
  type TextForwardOptions,
  type TextPool,
} from './text_transformer.js';
export {
  ClipVisionTransformer,
  type ClipVisionConfig,
  type ResolvedClipVisionConfig,
  type ClipVisionForwardOptions,
} from './clip_vision.js';
export {
  CLIP,
  FLIP,
  clipVitB32,
  clipVitB16,
  clipVitB32QuickGelu,
  type CLIPConfig,
  type FLIPConfig,
  type ClipForwardOptions,
  type ClipOutput,
} from './clip.js';
export {
  zeroShotClassifier,
  zeroShotLogits,
  type PromptTemplate,
  type ZeroShotClassifierOptions,
  type ZeroShotLogitsOptions,
} from './zero_shot.js';
