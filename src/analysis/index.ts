/**
 * Analysis: attention maps, mean attention distance and head diversity.
 * @module analysis
 */
export {
  meanAttentionDistance,
  meanAttentionDistancePerHead,
  attentionDistanceByLayer,
  patchDistanceMatrix,
  type AttentionDistanceOptions,
} from './attention_distance.js';
export { attentionMaps, type AttentionSource } from './attention_maps.js';
export { attentionHeadDiversity, type HeadDiversityOptions } from './head_diversity.js';
