export {
  VisionTransformer,
  vitTiny,
  vitSmall,
  vitBase,
  vitLarge,
  vitHuge,
  type VisionTransformerConfig,
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
  type BeitTargets,
  type BeitOutput,
} from './beit.js';
export { SimMIM, simmimVitBasePatch16, simmimTiny, type SimMIMConfig, type SimMIMOutput } from './simmim.js';
