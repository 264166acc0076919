export { DINOHead, type DINOHeadConfig, type ResolvedDINOHeadConfig } from './dino_head.js';
