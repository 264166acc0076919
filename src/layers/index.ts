export { Module, type Weight, type TorchLayout, type ParamOptions } from './module.js';
export { initTensor, type Init } from './init.js';
export { Linear, type LinearConfig } from './linear.js';
export { LayerNorm, type LayerNormConfig } from './layer_norm.js';
