export { DINOHead, type DINOHeadConfig, type ResolvedDINOHeadConfig } from './dino_head.js';
export * from './mlp_head.js';
