/**
 * Heads put on top of an encoder: MLP projection and prediction heads (MoCo v3, SimSiam, BYOL) and the DINO head.
 * @module heads
 */
export { DINOHead, type DINOHeadConfig, type ResolvedDINOHeadConfig } from './dino_head.js';
export * from './mlp_head.js';
