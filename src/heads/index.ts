export * from './mlp_head.js';
