export { Rng, deriveSeed } from './random.js';
export {
  CONFIG_LIMITS,
  describeValue,
  checkConfigObject,
  requireInt,
  optionalInt,
  requireNumber,
  optionalNumber,
  optionalBool,
  optionalOneOf,
  optionalString,
  optionalSeed,
  checkTensorArg,
  type IntRange,
  type NumberRange,
  type TensorArgSpec,
} from './config.js';
