/**
 * The seeded random generator every random choice of the library draws from.
 * @module utils
 */
export { Rng, deriveSeed } from './random.js';
export {
  CONFIG_LIMITS,
  describeValue,
  orDefault,
  checkConfigObject,
  requireConfig,
  requireInt,
  optionalInt,
  requireNumber,
  optionalNumber,
  optionalBool,
  optionalOneOf,
  optionalString,
  optionalSeed,
  checkTensorArg,
  requireTensor,
  requireObject,
  checkSize2d,
  checkTransformerStack,
  checkParamBudget,
  type TransformerStackSpec,
  type IntRange,
  type NumberRange,
  type TensorArgSpec,
} from './config.js';
