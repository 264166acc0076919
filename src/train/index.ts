/**
 * Training tools: AdamW with parameter groups, schedules, gradient clipping, EMA and the training step.
 * @module train
 */
export {
  AdamW,
  adamWStateFromTensors,
  adamWStateToTensors,
  halfPrecisionBackend,
  type AdamWConfig,
  type AdamWParamState,
  type AdamWState,
  type GradientOptimizer,
  type ResolvedGroup,
} from './adamw.js';
export {
  DEFAULT_NO_WEIGHT_DECAY,
  decays,
  joinParams,
  layerId,
  layerwiseLrScales,
  namedTrainableVariables,
  namedVariables,
  paramGroupsLrd,
  paramGroupsWeightDecay,
  type LayerDecayGroupsConfig,
  type NamedVariables,
  type ParamGroup,
  type WeightDecayGroupsConfig,
} from './param_groups.js';
export {
  cosineMomentum,
  cosineSchedule,
  cosineScheduler,
  type CosineScheduleConfig,
  type CosineSchedulerConfig,
} from './schedules.js';
export { clipGradNorm, clipGradNormAsync, globalGradNorm, globalGradNormAsync, type ClippedGrads } from './clip_grad.js';
export { EMA, type EMAConfig } from './ema.js';
export { trainStep, trainStepAsync, type TrainStepOptions, type TrainStepResult } from './train_step.js';
export { releaseTapeEarly } from './release_tape.js';
