/**
 * Gradient functions for the kernels the library uses (placeholder: filled in
 * by the gradients work; keep the exported API).
 */
export function ensureGradients(): void {}
